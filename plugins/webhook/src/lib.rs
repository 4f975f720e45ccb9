//! Webhook notifier: POSTs each notification as JSON (or a template), signed with HMAC-SHA256 when a secret is set.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod plugin;
mod signing;
mod template;
