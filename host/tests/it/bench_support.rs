//! Shared by the `*_bench` modules: a deterministic day of Active Session History of a busy OLTP
//! instance (the same day every run), and percentiles of latency samples.

use vigia::model::{AshSession, AshTick};

/// Midnight of the benchmarks' stored day: 2026-01-10 00:00:00 UTC.
pub const DAY_START: i64 = 1_768_003_200_000;

/// A deterministic xorshift, so every run stores the same day.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A busy OLTP instance: 10 active sessions, each running a statement of ~2 s on average from a
/// set of 50, with the usual wait-event mix; a session reconnects (new pid) every ~10 minutes.
pub struct Workload {
    rng: Rng,
    sessions: Vec<AshSession>,
    next_pid: i32,
}

const WAITS: [(&str, &str); 6] = [
    ("CPU", "CPU"),
    ("CPU", "CPU"),
    ("CPU", "CPU"),
    ("IO", "DataFileRead"),
    ("Lock", "transactionid"),
    ("LWLock", "WALWrite"),
];

impl Workload {
    pub fn new(seed: u64) -> Workload {
        let mut w = Workload { rng: Rng(seed), sessions: Vec::new(), next_pid: 1000 };
        for _ in 0..10 {
            let s = w.fresh(DAY_START);
            w.sessions.push(s);
        }
        w
    }

    fn fresh(&mut self, now: i64) -> AshSession {
        self.next_pid += 1;
        AshSession {
            pid: self.next_pid,
            backend_start_ms: now - self.rng.below(600_000) as i64,
            state: "active".into(),
            wait_event_type: "CPU".into(),
            wait_event: "CPU".into(),
            blocking_pids: vec![],
            query_id: 0,
            database: "sales".into(),
            user: format!("app{}", self.rng.below(3)),
            application: "checkout".into(),
            client: format!("10.0.0.{}", self.rng.below(20)),
            backend_type: "client backend".into(),
            command: "SELECT".into(),
            query_start_ms: Some(now),
            xact_start_ms: Some(now),
        }
    }

    /// The sessions at `now` (epoch ms); call with increasing times, one a second.
    pub fn tick(&mut self, now: i64) -> AshTick {
        for i in 0..self.sessions.len() {
            if self.rng.below(600) == 0 {
                self.sessions[i] = self.fresh(now);
            }
            let r = self.rng.below(1000);
            let neighbour = self.sessions[(i + 1) % 10].pid;
            let s = &mut self.sessions[i];
            if r < 500 {
                // A new statement (about every two seconds).
                s.query_id = 7_000_000_000_000_000_000 + (r % 50) as i64;
                s.command = ["SELECT", "UPDATE", "INSERT"][(r % 3) as usize].into();
                s.query_start_ms = Some(now);
                if r % 5 == 0 {
                    s.xact_start_ms = Some(now);
                }
            }
            let (t, e) = WAITS[(r % WAITS.len() as u64) as usize];
            s.wait_event_type = t.into();
            s.wait_event = e.into();
            s.blocking_pids = if t == "Lock" { vec![neighbour] } else { vec![] };
        }
        AshTick { ts_ms: now, sessions: self.sessions.clone() }
    }
}

/// The `p` quantile (0..=1, nearest rank) of `samples`, which it sorts.
pub fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}
