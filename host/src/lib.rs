//! Vigia host library: configuration, storage, authentication and the HTTP API. `main.rs` only
//! parses the command line and calls into `cli`.

pub mod activity;
pub mod alerting;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod events;
pub mod fanout;
pub mod fsutil;
pub mod health;
pub mod instances;
pub mod lifecycle;
pub mod member;
pub mod model;
pub mod plugins;
pub mod rbac;
pub mod reports;
pub mod reseal;
pub mod sampler;
pub mod scheduler;
pub mod secrets;
pub mod security;
pub mod server;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod timeseries;
pub mod version;
pub mod web;
pub mod workload;

/// The allocator of every binary built on this library (the server, its tests and benchmarks):
/// mimalloc. The sampler allocates a few small buffers per tick and frees them on another thread
/// (the writer's); glibc's malloc spent a fifth of the sampler's CPU on them (BENCHMARKS.md, issue 13).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
