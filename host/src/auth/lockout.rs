//! Sign-in lockout: too many failed password checks of one login lock it for a while, whether
//! the login exists or not, so guessing a password is slow and guessing logins tells nothing.
//! Kept in memory, per process (a restart or another host behind the same PostgreSQL starts
//! afresh), bounded in size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

/// What a sign-in attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// A login that resolved to one user: every way of naming it (with or without its
    /// organization) shares this count, and `reset-lockout` finds it by the user's id.
    User(i64),
    /// A login that resolved to no single user (unknown, or ambiguous without organization):
    /// counted like a real one so the answers cannot tell the two apart.
    Unknown { organization: Option<String>, login: String },
}

/// The policy (`[auth] lockout_*`).
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub failures: u32,
    pub window: Duration,
    pub lock: Duration,
}

#[derive(Default)]
struct Entry {
    /// Attempts (epoch ms) in the window, the one in progress included.
    attempts: VecDeque<i64>,
    locked_until: Option<i64>,
}

/// Failed attempts per login. An attempt is counted when it starts and forgotten if it succeeds,
/// so concurrent guesses cannot slip past the limit while their password checks run.
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Cache<LockKey, Arc<Mutex<Entry>>>,
}

/// Most logins tracked; under a flood of distinct logins the least useful entries go first.
const MAX_TRACKED: u64 = 100_000;

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Lockout {
        // An entry is useless once its attempts left the window and its lock ended.
        let idle = policy.window.max(policy.lock);
        Lockout { policy, entries: Cache::builder().max_capacity(MAX_TRACKED).time_to_idle(idle).build() }
    }

    /// Admits an attempt at `now` (epoch ms) and counts it, or answers how long the login stays
    /// locked.
    pub fn begin(&self, key: &LockKey, now: i64) -> Result<(), Duration> {
        let entry = self.entries.get_with(key.clone(), Default::default);
        let mut e = entry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = e.locked_until {
            if now < until {
                return Err(Duration::from_millis((until - now) as u64));
            }
            e.locked_until = None;
            e.attempts.clear();
        }
        let window = self.policy.window.as_millis() as i64;
        while e.attempts.front().is_some_and(|&t| t <= now - window) {
            e.attempts.pop_front();
        }
        if e.attempts.len() >= self.policy.failures as usize {
            // Earlier attempts of the window are still being checked (or were dropped with their
            // request): no more guesses until they end or leave the window.
            let oldest = e.attempts.front().copied().unwrap_or(now);
            return Err(Duration::from_millis((oldest + window - now).max(1_000) as u64));
        }
        e.attempts.push_back(now);
        Ok(())
    }

    /// The attempt begun at `now` failed: the login locks once the window holds enough failures.
    pub fn failed(&self, key: &LockKey, now: i64) {
        let Some(entry) = self.entries.get(key) else { return };
        let mut e = entry.lock().unwrap_or_else(|p| p.into_inner());
        if e.attempts.len() >= self.policy.failures as usize && e.locked_until.is_none() {
            e.locked_until = Some(now + self.policy.lock.as_millis() as i64);
        }
    }

    /// The attempt begun last was not checked after all (the server was too busy): uncount it.
    pub fn abandoned(&self, key: &LockKey) {
        if let Some(entry) = self.entries.get(key) {
            entry.lock().unwrap_or_else(|p| p.into_inner()).attempts.pop_back();
        }
    }

    /// The attempt succeeded: earlier failures are forgiven.
    pub fn succeeded(&self, key: &LockKey) {
        self.entries.invalidate(key);
    }

    /// Lifts a lock (and forgets the failures); answers whether the login was locked.
    pub fn reset(&self, key: &LockKey, now: i64) -> bool {
        let was_locked = self
            .entries
            .remove(key)
            .is_some_and(|e| e.lock().unwrap_or_else(|p| p.into_inner()).locked_until.is_some_and(|u| now < u));
        was_locked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(LockoutPolicy { failures: 3, window: Duration::from_secs(60), lock: Duration::from_secs(120) })
    }

    fn fail(l: &Lockout, key: &LockKey, now: i64) -> Result<(), Duration> {
        l.begin(key, now)?;
        l.failed(key, now);
        Ok(())
    }

    #[test]
    fn failures_in_the_window_lock_then_the_lock_ends() {
        let (l, k) = (lockout(), LockKey::User(1));
        for t in [0, 1_000, 2_000] {
            assert!(fail(&l, &k, t).is_ok());
        }
        assert_eq!(l.begin(&k, 3_000), Err(Duration::from_millis(119_000)));
        assert!(l.begin(&LockKey::User(2), 3_000).is_ok(), "other logins are not locked");
        assert!(l.begin(&k, 122_000).is_ok(), "the lock ended");
    }

    #[test]
    fn old_failures_leave_the_window_and_success_forgives() {
        let (l, k) = (lockout(), LockKey::Unknown { organization: None, login: "x".into() });
        fail(&l, &k, 0).unwrap();
        fail(&l, &k, 1_000).unwrap();
        fail(&l, &k, 61_000).unwrap();
        assert!(l.begin(&k, 62_000).is_ok(), "the first failure left the window");
        l.succeeded(&k);
        fail(&l, &k, 63_000).unwrap();
        fail(&l, &k, 64_000).unwrap();
        assert!(l.begin(&k, 65_000).is_ok());
    }

    #[test]
    fn concurrent_attempts_count_before_their_check_ends() {
        let (l, k) = (lockout(), LockKey::User(1));
        for _ in 0..3 {
            l.begin(&k, 0).unwrap();
        }
        assert_eq!(l.begin(&k, 0), Err(Duration::from_secs(60)), "a fourth guess waits for the three in flight");
    }

    #[test]
    fn an_abandoned_attempt_is_not_counted() {
        let (l, k) = (lockout(), LockKey::User(1));
        for t in 0..10 {
            l.begin(&k, t).unwrap();
            l.abandoned(&k);
        }
        fail(&l, &k, 10).unwrap();
        assert!(l.begin(&k, 11).is_ok());
    }

    #[test]
    fn reset_lifts_a_lock() {
        let (l, k) = (lockout(), LockKey::User(1));
        assert!(!l.reset(&k, 0));
        for t in 0..3 {
            fail(&l, &k, t).unwrap();
        }
        assert!(l.reset(&k, 10));
        assert!(l.begin(&k, 11).is_ok());
    }
}
