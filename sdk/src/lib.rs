//! Vigia plugin SDK: write collectors, notifiers and reporters in Rust, compiled to wasm32-wasip2 components.
//!
//! Implement one trait ([`Collector`], [`Notifier`] or [`Reporter`]) and call its export macro
//! ([`export_collector!`], [`export_notifier!`], [`export_reporter!`]). Read the configuration with
//! [`config`], log with [`info!`] and friends, keep data between calls in [`state`]; notifiers may
//! send mail through the host with [`smtp::send`] (capability `smtp`). Build with
//! `cargo build --release --target wasm32-wasip2` and ship the `.wasm` beside a `plugin.toml`.
#![deny(missing_docs)]

// Lets the generated code (which also expands inside plugin crates) name this crate the same way everywhere.
extern crate self as vigia_sdk;

#[doc(hidden)]
pub mod bindings;
mod collector;
mod export;
mod host;
#[cfg(feature = "http")]
pub mod http;
mod notifier;
pub mod report;
mod reporter;
pub mod smtp;
pub mod time;
mod types;

pub use collector::Collector;
pub use host::{config, log, raw_config, state};
pub use notifier::Notifier;
pub use reporter::{DocumentReporter, Reporter};
pub use types::*;

#[doc(hidden)]
pub mod __private {
    pub use crate::collector::CollectorExport;
    pub use crate::export::CargoPackage;
    pub use crate::notifier::NotifierExport;
    pub use crate::reporter::{DocumentReporterExport, ReporterExport};
    pub use wit_bindgen;
}
