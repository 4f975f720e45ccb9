//! Regression tests of issue 11's multi-tenant hardening, one module per hole: user management
//! cannot escalate (`users`), monitored-instance passwords cannot be redirected and `sslmode`
//! is applied (`instances`), channel overrides cannot redirect the notifier's secrets
//! (`channels`), notifiers do not reach private addresses and unreachable channels are refused
//! (`destinations`), plugins are the operator's alone and bounded by its policy (`operator`), tokens
//! never outlive their parents and revocations reach every process (`tokens`), every security
//! event lands in a signed, tamper-evident audit log (`audit`), sealed secrets are bound to their
//! row and open nowhere else (`sealed`); and its abuse resistance: rate limits and the sign-in
//! lockout (`limits`).

mod audit;
mod channels;
mod destinations;
mod instances;
mod limits;
mod operator;
mod posture;
mod reads;
mod sealed;
mod series;
mod tokens;
mod users;
