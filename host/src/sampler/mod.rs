//! The native PostgreSQL sampler: one task per enabled instance connects to the monitored server
//! and turns `pg_stat_activity`, `pg_stat_statements`, table/index statistics, locks and the
//! inventory into `model::Batch`es for storage and metric samples for the metric store.

pub mod model;
