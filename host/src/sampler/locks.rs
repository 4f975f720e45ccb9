//! Blocking trees built in Rust from one ASH tick's `blocking_pids`, so lock monitoring costs no
//! query of its own: a root blocks others and waits on nobody we saw; its children are the
//! sessions it blocks, and so on. Only trees where someone has waited long enough are kept.

use std::collections::{HashMap, HashSet};

use crate::model::{AshSession, AshTick, LockNode, LockSnapshot};

/// How often persisting trees are sent again (they are sent at once when they change).
const REPEAT_MS: i64 = 60_000;

/// Decides when a snapshot is worth sending: when the trees changed shape (who blocks whom), or
/// once a minute while they persist, so storage sees long waits without a row per tick.
#[derive(Debug, Default)]
pub struct LockReporter {
    last_shape: Vec<(i32, i32)>,
    last_sent_ms: Option<i64>,
}

impl LockReporter {
    /// The snapshot to send for these trees at `ts_ms`, if any. The end of blocking is sent too
    /// (as an empty snapshot), once.
    pub fn observe(&mut self, trees: Vec<LockNode>, ts_ms: i64) -> Option<LockSnapshot> {
        let mut shape = Vec::new();
        for t in &trees {
            edges(t, &mut shape);
        }
        shape.sort_unstable();
        let changed = shape != self.last_shape;
        let due = !trees.is_empty() && self.last_sent_ms.is_none_or(|t| ts_ms - t >= REPEAT_MS);
        if !(changed || due) {
            return None;
        }
        self.last_shape = shape;
        self.last_sent_ms = Some(ts_ms);
        Some(LockSnapshot { ts_ms, roots: trees })
    }
}

/// `(blocker, waiter)` pairs, plus `(root, root)` so a lone root still has a shape.
fn edges(node: &LockNode, out: &mut Vec<(i32, i32)>) {
    out.push((node.pid, node.pid));
    for child in &node.blocked {
        out.push((node.pid, child.pid));
        edges(child, out);
    }
}

/// The blocking trees of `tick` holding at least one waiter blocked for `min_wait_seconds` or more.
pub fn build_trees(tick: &AshTick, min_wait_seconds: f64) -> Vec<LockNode> {
    // Nobody waits on a lock: the usual tick, answered without building the maps.
    if tick.sessions.iter().all(|s| s.blocking_pids.is_empty()) {
        return Vec::new();
    }
    let by_pid: HashMap<i32, &AshSession> = tick.sessions.iter().map(|s| (s.pid, s)).collect();
    let waiting: HashSet<i32> = tick.sessions.iter().filter(|s| !s.blocking_pids.is_empty()).map(|s| s.pid).collect();
    // One parent per waiter: a blocker that waits on nobody (the real holder) when there is one,
    // so that sessions queued behind another waiter still hang under the holder.
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for s in tick.sessions.iter().filter(|s| !s.blocking_pids.is_empty()) {
        let parent = s.blocking_pids.iter().copied().find(|p| !waiting.contains(p)).unwrap_or(s.blocking_pids[0]);
        children.entry(parent).or_default().push(s.pid);
    }
    // Roots: blockers that wait on nobody; a blocker we did not see (say a backend of ours, or
    // one gone since) becomes a bare node so its victims are still shown.
    let mut roots: Vec<i32> = children.keys().copied().filter(|p| !waiting.contains(p)).collect();
    roots.sort_unstable();
    let mut seen = HashSet::new();
    let mut trees: Vec<LockNode> =
        roots.into_iter().map(|pid| node(pid, tick.ts_ms, &by_pid, &children, &mut seen)).collect();
    // Waiters in a cycle (a deadlock not yet detected) have no root above: start from the
    // smallest pid of each cycle.
    let mut left: Vec<i32> = waiting.iter().copied().filter(|p| !seen.contains(p)).collect();
    left.sort_unstable();
    for pid in left {
        if !seen.contains(&pid) {
            trees.push(node(pid, tick.ts_ms, &by_pid, &children, &mut seen));
        }
    }
    trees.retain(|root| root.blocked.iter().any(|c| waited_long_enough(c, min_wait_seconds)));
    trees
}

fn waited_long_enough(node: &LockNode, min: f64) -> bool {
    node.waiting_seconds >= min || node.blocked.iter().any(|c| waited_long_enough(c, min))
}

fn node(
    pid: i32,
    ts_ms: i64,
    by_pid: &HashMap<i32, &AshSession>,
    children: &HashMap<i32, Vec<i32>>,
    seen: &mut HashSet<i32>,
) -> LockNode {
    seen.insert(pid);
    let blocked = children
        .get(&pid)
        .map(|kids| {
            kids.iter()
                .filter(|k| !seen.contains(k))
                .copied()
                .collect::<Vec<_>>()
                .into_iter()
                .map(|k| node(k, ts_ms, by_pid, children, seen))
                .collect()
        })
        .unwrap_or_default();
    match by_pid.get(&pid) {
        Some(s) => LockNode {
            pid,
            user: s.user.clone(),
            database: s.database.clone(),
            state: s.state.clone(),
            wait_event_type: s.wait_event_type.clone(),
            wait_event: s.wait_event.clone(),
            waiting_seconds: waiting_seconds(s, ts_ms),
            query_id: s.query_id,
            blocked,
        },
        None => LockNode {
            pid,
            user: String::new(),
            database: String::new(),
            state: "unknown".into(),
            wait_event_type: String::new(),
            wait_event: String::new(),
            waiting_seconds: 0.0,
            query_id: 0,
            blocked,
        },
    }
}

/// An active session waits since its statement started; an idle-in-transaction holder has held
/// its locks since its transaction started.
fn waiting_seconds(s: &AshSession, ts_ms: i64) -> f64 {
    let since = if s.state == "active" { s.query_start_ms.or(s.xact_start_ms) } else { s.xact_start_ms };
    since.map_or(0.0, |t| ((ts_ms - t).max(0)) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: i32, state: &str, blockers: &[i32], started_ms: i64) -> AshSession {
        AshSession {
            pid,
            backend_start_ms: 0,
            state: state.into(),
            wait_event_type: if blockers.is_empty() { "CPU".into() } else { "Lock".into() },
            wait_event: if blockers.is_empty() { String::new() } else { "transactionid".into() },
            blocking_pids: blockers.to_vec(),
            query_id: pid as i64,
            database: "db".into(),
            user: "u".into(),
            application: String::new(),
            client: "local".into(),
            backend_type: "client backend".into(),
            command: "UPDATE".into(),
            query_start_ms: Some(started_ms),
            xact_start_ms: Some(started_ms),
        }
    }

    fn shape(n: &LockNode) -> String {
        let kids: Vec<String> = n.blocked.iter().map(shape).collect();
        if kids.is_empty() {
            n.pid.to_string()
        } else {
            format!("{}[{}]", n.pid, kids.join(","))
        }
    }

    #[test]
    fn holder_is_root_and_queued_waiters_hang_under_it() {
        // 1 holds (idle in transaction); 2 waits on 1; 3 queues behind 2 and 1; 4 waits on 3.
        let tick = AshTick {
            ts_ms: 100_000,
            sessions: vec![
                session(1, "idle in transaction", &[], 0),
                session(2, "active", &[1], 50_000),
                session(3, "active", &[2, 1], 60_000),
                session(4, "active", &[3], 90_000),
                session(5, "active", &[], 99_000),
            ],
        };
        let trees = build_trees(&tick, 0.0);
        assert_eq!(trees.iter().map(shape).collect::<Vec<_>>(), ["1[2,3[4]]"]);
        assert_eq!(trees[0].state, "idle in transaction");
        assert_eq!(trees[0].blocked[0].waiting_seconds, 50.0);
        assert_eq!(trees[0].waiting_seconds, 100.0, "a holder counts from its transaction start");
    }

    #[test]
    fn trees_of_short_waits_are_dropped() {
        let tick = AshTick {
            ts_ms: 100_000,
            sessions: vec![
                session(1, "idle in transaction", &[], 0),
                session(2, "active", &[1], 95_000),
                session(10, "active", &[], 0),
                session(11, "active", &[10], 40_000),
            ],
        };
        let kept: Vec<i32> = build_trees(&tick, 30.0).iter().map(|t| t.pid).collect();
        assert_eq!(kept, [10], "pid 2 waited 5 s only");
        assert_eq!(build_trees(&tick, 1.0).len(), 2);
        assert!(build_trees(&AshTick { ts_ms: 0, sessions: vec![] }, 0.0).is_empty());
    }

    #[test]
    fn reporter_sends_changes_at_once_and_repeats_once_a_minute() {
        let tick = |ts_ms, waiter| AshTick {
            ts_ms,
            sessions: vec![session(1, "idle in transaction", &[], 0), session(waiter, "active", &[1], 0)],
        };
        let mut r = LockReporter::default();
        assert!(r.observe(vec![], 0).is_none(), "no blocking, nothing to say");
        assert!(r.observe(build_trees(&tick(1_000, 2), 0.0), 1_000).is_some());
        assert!(r.observe(build_trees(&tick(2_000, 2), 0.0), 2_000).is_none(), "same trees a second later");
        assert!(r.observe(build_trees(&tick(3_000, 3), 0.0), 3_000).is_some(), "another waiter");
        assert!(r.observe(build_trees(&tick(62_000, 3), 0.0), 62_000).is_none());
        assert!(r.observe(build_trees(&tick(63_000, 3), 0.0), 63_000).is_some(), "a minute later");
        assert_eq!(r.observe(vec![], 64_000).map(|s| s.roots.len()), Some(0), "the end is sent once");
        assert!(r.observe(vec![], 65_000).is_none());
    }

    #[test]
    fn unseen_blockers_and_cycles_still_make_trees() {
        let tick = AshTick {
            ts_ms: 10_000,
            sessions: vec![
                session(2, "active", &[99], 0),
                session(5, "active", &[6], 0),
                session(6, "active", &[5], 0),
            ],
        };
        let shapes: Vec<String> = build_trees(&tick, 1.0).iter().map(shape).collect();
        assert_eq!(shapes, ["99[2]", "5[6]"]);
        assert_eq!(build_trees(&tick, 1.0)[0].state, "unknown");
    }
}
