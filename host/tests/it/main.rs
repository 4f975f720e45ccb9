//! The host's integration tests through the real router, storage and plugin runtime, as one
//! test binary with a module per area (ripgrep's layout): the suite links `vigia` and wasmtime
//! once instead of once per file. `cargo test -p vigia --test it alerting::` runs one area;
//! benchmarks are `#[ignore]`d modules (`--release --test it activity_bench:: -- --ignored`).

#[macro_use]
mod support;
mod alerting_support;
mod bench_support;
mod config_files;
mod plugins_support;
mod smtp_support;

mod activity_bench;
mod alerting;
mod alerting_delivery;
mod api_auth;
mod api_http;
mod ash_durability;
mod cluster_leases;
mod dashboard;
mod dashboard_bench;
mod dashboard_sources;
mod hardening;
mod instances;
mod isolation;
mod notifiers;
mod partitions;
mod partitions_bench;
mod plugins_bench;
mod plugins_containment;
mod plugins_examples;
mod plugins_first_party;
mod plugins_reload;
mod plugins_reporters;
mod plugins_store;
mod rbac;
mod report_schedules;
mod reports_bench;
mod sampler;
mod sampler_bench;
mod status;
mod status_bench;
mod store_suite;
mod timeseries;
mod web;
mod workload;
