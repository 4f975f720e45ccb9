//! WebAssembly plugin runtime (host side of `vigia:plugin@0.1.0`).
//!
//! Plugins are components in `<plugins dir>/<id>/` (a `plugin.toml` manifest plus the wasm). The
//! host loads them all at start, hot-reloads the directory, and runs each call in a fresh
//! sandbox with capability-based permissions, memory and time limits. `PluginHost` is the
//! entry point; everything else is internal structure:
//!
//! - `engine`: the single wasmtime configuration, epoch ticker, compile cache.
//! - `manifest`: `plugin.toml` parsing and validation.
//! - `loader`: directory/bundle → compiled, type-checked, version-checked plugin.
//! - `sandbox`, `http_policy`: per-call WASI context and outbound network policy.
//! - `policy`: the operator's `[plugins.policy]`, which bounds what any manifest may declare;
//!   `addresses`: which resolved addresses plugins may reach over HTTP.
//! - `bindings`: generated WIT bindings and the host side of the `host` and `smtp` imports.
//! - `invoke`: one call, deadline and error classification.
//! - `reach`: whether a channel's destinations are reachable under the manifest and policy.
//! - `registry`, `watcher`, `bundle`: the live set, hot reload, installs.
//! - `materialise`: the bundles stored in the database written into this host's directory (a
//!   cluster member's), hand-made directories left alone and reported.
//! - `services`: one trait per host capability (state, settings, logging, mail).
//! - `smtp`: mail for the `smtp` import (operator's server from `smtp_*` config keys), `LettreMailer`.
//! - `config`: configuration merge/validation and secret sealing/masking.
//! - `offline`: validation, install and listing without a server (the CLI).

mod addresses;
mod bindings;
mod bundle;
mod config;
mod engine;
mod errors;
mod host;
mod http_policy;
mod invoke;
mod loader;
pub mod manifest;
mod materialise;
pub mod offline;
pub mod policy;
mod reach;
mod registry;
mod sandbox;
pub mod services;
mod smtp;
mod stats;
mod types;
mod watcher;

pub use addresses::is_public as is_public_address;
pub use bundle::{digest as bundle_digest, pack as pack_bundle};
pub use config::MASK;
pub use engine::{CALLS_PER_PLUGIN, EPOCH_TICK};
pub use errors::{InvokeError, PluginError};
pub use host::{CacheStats, PluginHost, PluginHostOptions};
pub use invoke::{PhaseSamples, MAX_OUTPUT_BYTES};
pub use manifest::{Capabilities, Limits, Manifest, PluginKind, MAX_PLUGIN_MEMORY_MB};
pub use materialise::{Divergence, DivergenceState, MaterialiseError, Materialiser};
pub use offline::{scan_dir, validate_bundle, write_bundle};
pub use policy::{CapabilityBounds, PluginPolicy};
pub use registry::{LoadState, PluginStatus};
pub use services::{
    HostServices, LogLevel, MemoryStore, PluginBundleStore, PluginLogger, PluginSettingsStore, PluginStateStore,
};
pub use smtp::{LettreMailer, MailAttachment, MailError, MailMessage, MailSender, SmtpServer, SmtpTls};
/// The report document a document reporter renders (WIT `vigia:plugin/report`): plain records,
/// built by `reports`, handed over as they are.
pub mod document {
    pub use super::bindings::document_reporter::vigia::plugin::report::{
        Bar, Block, Cell, Chart, ChartData, Column, ColumnKind, Document, Section, Table, TimeSeries,
    };
}
pub use types::{
    Alert, CollectContext, ErrorKind, MetricSample, Notification, PluginInfo, Receipt, Rendered, Renderer,
    ReportRequest, Series, Severity,
};
pub use watcher::DEBOUNCE as RELOAD_DEBOUNCE;
