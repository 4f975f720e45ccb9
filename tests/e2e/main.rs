//! End-to-end tests of the real `vigia` binary (declared as a test target of the host package so
//! Cargo builds the binary for them), as one test binary with a module per area:
//! `cargo test -p vigia --test e2e durability::` runs one area.

#[path = "../../host/tests/it/alerting_support/mod.rs"]
mod alerting_support;
mod e2e_support;
#[path = "../../host/tests/it/plugins_support/mod.rs"]
mod plugins_support;
#[path = "../../host/tests/it/smtp_support/mod.rs"]
mod smtp_support;
#[macro_use]
#[path = "../../host/tests/it/support/mod.rs"]
mod support;

mod alerting;
mod alerting_faults;
mod api_fuzz;
mod cluster;
mod cluster_bench;
mod cluster_burst;
mod cluster_leases;
mod cluster_plugins;
mod dashboard;
mod dashboard_bench;
mod dashboard_comfort;
mod durability;
mod fresh_ash;
mod live;
mod plugin_cli;
mod plugins;
mod rate_limit;
mod report_schedules;
mod reports;
mod sampler;
mod serve;
mod sign_in_flood;
mod status;
mod status_page;
