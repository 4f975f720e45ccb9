//! Sampling gaps the writer infers from the order of what it receives: a silence longer than
//! 1.5 intervals before a tick is a gap. Outages the sampler observed itself (an unreachable
//! instance, a tick past its deadline) arrive as explicit `Gap`s; what is left is either the
//! time before a sampling task started (`host_down`: Vigia stopped or crashed, or sampling was
//! off) or ticks lost while a task ran (`skipped`). Pure bookkeeping: the writer stores the gaps.

use std::collections::HashMap;

use crate::model::{Gap, GapReason};

/// What is known of one instance's sampling.
struct Watch {
    interval_ms: i64,
    /// Longest interval expected before the next tick: after a restart with a new cadence, the
    /// slower of the old and the new one (the silence began under the old).
    expected_ms: i64,
    /// The latest time accounted for (a tick, or the end of a gap).
    last_ts: Option<i64>,
    /// No tick since a sampling task (re)started: a silence before the next one is `host_down`.
    restarted: bool,
}

impl Watch {
    /// The gap between what is accounted for and `next`, when the silence is too long.
    fn silence_before(&self, next: i64) -> Option<Gap> {
        let last = self.last_ts?;
        let reason = if self.restarted { GapReason::HostDown } else { GapReason::Skipped };
        (next - last > self.expected_ms * 3 / 2).then_some(Gap { start_ts: last, end_ts: next, reason })
    }

    fn accounted_until(&mut self, ts: i64) {
        self.last_ts = Some(self.last_ts.map_or(ts, |last| last.max(ts)));
        self.restarted = false;
        self.expected_ms = self.interval_ms;
    }
}

/// Per-instance bookkeeping of the ticks and outages seen by this process.
#[derive(Default)]
pub(super) struct GapTracker {
    watches: HashMap<i64, Watch>,
}

impl GapTracker {
    /// Whether this process has seen a sampling task of the instance yet (if not, the caller
    /// asks storage what it accounts for and passes it to `cadence`).
    pub fn knows(&self, instance_id: i64) -> bool {
        self.watches.contains_key(&instance_id)
    }

    /// Forgets the instance: its next sampling task asks storage again (a cluster member that
    /// handed its lease over may take it back later, after another host's ticks).
    pub fn forget(&mut self, instance_id: i64) {
        self.watches.remove(&instance_id);
    }

    /// A sampling task (re)started with this interval. `covered_until` (only used the first
    /// time) is the latest time storage accounts for, `None` for a new instance.
    pub fn cadence(&mut self, instance_id: i64, interval_ms: i64, covered_until: Option<i64>) {
        let interval_ms = interval_ms.max(1);
        let watch = self.watches.entry(instance_id).or_insert(Watch {
            interval_ms,
            expected_ms: interval_ms,
            last_ts: covered_until,
            restarted: true,
        });
        watch.expected_ms = watch.interval_ms.max(interval_ms);
        watch.interval_ms = interval_ms;
        watch.restarted = true;
    }

    /// A tick at `ts`: the gap before it, if the silence was too long. Instances whose cadence
    /// is unknown (no task announced it) get no inference.
    pub fn tick(&mut self, instance_id: i64, ts: i64) -> Option<Gap> {
        let watch = self.watches.get_mut(&instance_id)?;
        let gap = watch.silence_before(ts);
        watch.accounted_until(ts);
        gap
    }

    /// An outage the sampler observed: itself, preceded by any unexplained silence before it.
    pub fn outage(&mut self, instance_id: i64, gap: Gap) -> Vec<Gap> {
        let Some(watch) = self.watches.get_mut(&instance_id) else { return vec![gap] };
        let mut gaps: Vec<Gap> = watch.silence_before(gap.start_ts).into_iter().collect();
        gaps.push(gap);
        watch.accounted_until(gap.end_ts);
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GapReason::*;

    enum Step {
        /// A task starts with this interval; storage accounts until the given time.
        Start(i64, Option<i64>),
        Tick(i64),
        Outage(i64, i64, GapReason),
    }
    use Step::*;

    fn run(steps: &[Step]) -> Vec<Gap> {
        let mut tracker = GapTracker::default();
        let mut gaps = Vec::new();
        for step in steps {
            match *step {
                Start(interval, covered) => tracker.cadence(1, interval, covered),
                Tick(ts) => gaps.extend(tracker.tick(1, ts)),
                Outage(start_ts, end_ts, reason) => gaps.extend(tracker.outage(1, Gap { start_ts, end_ts, reason })),
            }
        }
        gaps
    }

    fn gap(start_ts: i64, end_ts: i64, reason: GapReason) -> Gap {
        Gap { start_ts, end_ts, reason }
    }

    #[test]
    fn gaps_by_table() {
        let cases: &[(&str, Vec<Step>, Vec<Gap>)] = &[
            ("steady ticks", vec![Start(1000, None), Tick(1000), Tick(2000), Tick(3000)], vec![]),
            ("jitter below 1.5 intervals", vec![Start(1000, None), Tick(1000), Tick(2400), Tick(3100)], vec![]),
            ("new instance: nothing before its first tick", vec![Start(1000, None), Tick(50_000)], vec![]),
            (
                "restart after a stop",
                vec![Start(1000, Some(10_000)), Tick(40_000)],
                vec![gap(10_000, 40_000, HostDown)],
            ),
            ("restart right away is no gap", vec![Start(1000, Some(10_000)), Tick(11_000)], vec![]),
            (
                "ticks lost while running",
                vec![Start(1000, None), Tick(1000), Tick(5000)],
                vec![gap(1000, 5000, Skipped)],
            ),
            (
                "task restarted in-process",
                vec![Start(1000, None), Tick(1000), Start(1000, None), Tick(8000)],
                vec![gap(1000, 8000, HostDown)],
            ),
            (
                "observed outage then recovery tick",
                vec![Start(1000, None), Tick(1000), Outage(2000, 9000, Unreachable), Tick(9000), Tick(10_000)],
                vec![gap(2000, 9000, Unreachable)],
            ),
            (
                "unreachable at start after a stop",
                vec![Start(10_000, Some(100_000)), Outage(400_000, 700_000, Unreachable), Tick(700_000)],
                vec![gap(100_000, 400_000, HostDown), gap(400_000, 700_000, Unreachable)],
            ),
            (
                "deadline",
                vec![Start(1000, None), Tick(1000), Outage(2000, 3000, Deadline), Tick(3000)],
                vec![gap(2000, 3000, Deadline)],
            ),
            ("clock going back is no gap", vec![Start(1000, None), Tick(5000), Tick(3000), Tick(5500)], vec![]),
            (
                "cadence raised from 10 s to 1 s: the silence began under 10 s",
                vec![Start(10_000, None), Tick(3000), Start(1000, None), Tick(9000), Tick(10_000), Tick(13_000)],
                vec![gap(10_000, 13_000, Skipped)],
            ),
            (
                "10 s cadence",
                vec![Start(10_000, None), Tick(0), Tick(14_000), Tick(40_000)],
                vec![gap(14_000, 40_000, Skipped)],
            ),
        ];
        for (name, steps, expected) in cases {
            assert_eq!(&run(steps), expected, "{name}");
        }
    }

    #[test]
    fn unknown_cadence_infers_nothing_but_keeps_observed_outages() {
        let mut tracker = GapTracker::default();
        assert_eq!(tracker.tick(7, 1000), None);
        assert_eq!(tracker.tick(7, 900_000), None);
        let g = gap(1, 2, Unreachable);
        assert_eq!(tracker.outage(7, g), vec![g]);
        assert!(!tracker.knows(7));
    }
}
