//! Per-plugin call counters and a sliding window of latencies for the p50/p99 shown in listings.
//! A fixed ring keeps memory constant whatever the call rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::errors::InvokeError;

const WINDOW: usize = 1024;

#[derive(Default)]
pub(crate) struct CallStats {
    calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    latencies: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    values: Vec<f64>,
    next: usize,
}

/// A snapshot for `PluginStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub errors: u64,
    pub traps: u64,
    pub timeouts: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl CallStats {
    pub fn record(&self, ms: f64, outcome: Result<(), &InvokeError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {}
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                match e {
                    InvokeError::Trap { .. } | InvokeError::ResourceLimit(_) => {
                        self.traps.fetch_add(1, Ordering::Relaxed);
                    }
                    InvokeError::Timeout { .. } => {
                        self.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }
        let mut ring = self.latencies.lock().expect("stats lock");
        if ring.values.len() < WINDOW {
            ring.values.push(ms);
        } else {
            let i = ring.next;
            ring.values[i] = ms;
        }
        ring.next = (ring.next + 1) % WINDOW;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let mut values = self.latencies.lock().expect("stats lock").values.clone();
        values.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| -> Option<f64> {
            if values.is_empty() {
                return None;
            }
            let idx = ((values.len() as f64 - 1.0) * p).round() as usize;
            Some((values[idx] * 1000.0).round() / 1000.0)
        };
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_counters() {
        let s = CallStats::default();
        for i in 1..=100 {
            s.record(i as f64, Ok(()));
        }
        s.record(1.0, Err(&InvokeError::Timeout { timeout_ms: 1 }));
        let snap = s.snapshot();
        assert_eq!((snap.calls, snap.errors, snap.timeouts, snap.traps), (101, 1, 1, 0));
        assert_eq!(snap.p50_ms, Some(50.0));
        assert_eq!(snap.p99_ms, Some(99.0));
    }
}
