//! Redis collector: AUTH (optional) then INFO over RESP, turned into `redis.*` samples.
// The parsers compile everywhere (tested natively); the plugin glue only for wasm32.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod info;
#[cfg(target_arch = "wasm32")]
mod plugin;
mod resp;
