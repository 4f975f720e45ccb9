//! Regression tests of issue 11's multi-tenant hardening, one module per hole: user management
//! cannot escalate (`users`), monitored-instance passwords cannot be redirected and `sslmode`
//! is applied (`instances`), channel overrides cannot redirect the notifier's secrets
//! (`channels`), plugins are the operator's alone and bounded by its policy (`operator`), tokens
//! never outlive their parents and revocations reach every process (`tokens`), and every
//! security event lands in a signed, tamper-evident audit log (`audit`).

mod audit;
mod channels;
mod instances;
mod operator;
mod tokens;
mod users;
