//! Sign-in lockout: too many failed password checks of one login lock it for a while, whether
//! the login exists or not, so guessing a password is slow and guessing logins tells nothing.
//!
//! *Why keys are the names as given, never the user found:* counting per user would let a
//! stranger learn which logins exist (lock a name under one spelling, see whether another
//! spelling is locked too). So every attempt counts against the login alone (`organization:
//! None`), which bounds the guesses at any one name however it is spelled, and, when an
//! organization is named, against that organization's login too: a tenant lifting a lock clears
//! the login alone and its own organization's, never another tenant's, which stays locked.
//! Kept in memory, per process (a restart or another host behind the same PostgreSQL starts
//! afresh), bounded in size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

/// A login as a sign-in names it (with or without an organization), as a SHA-256: the names come
/// from strangers, so a key has a fixed size whatever they send, and no login is kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockKey([u8; 32]);

impl LockKey {
    fn new(organization: Option<&str>, login: &str) -> LockKey {
        let mut digest = Sha256::new();
        if let Some(org) = organization {
            // Length-prefixed, so no organization/login split can collide with another.
            digest.update((org.len() as u64).to_le_bytes());
            digest.update(org.as_bytes());
        } else {
            digest.update(u64::MAX.to_le_bytes());
        }
        digest.update(login.as_bytes());
        LockKey(digest.finalize().into())
    }

    /// What an attempt with these names counts against: the login alone, then the login in the
    /// named organization (if any).
    pub fn for_attempt(organization: Option<&str>, login: &str) -> Vec<LockKey> {
        std::iter::once(LockKey::new(None, login))
            .chain(organization.map(|org| LockKey::new(Some(org), login)))
            .collect()
    }
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
    /// Attempts (epoch ms) in the window, the ones in progress included.
    attempts: VecDeque<i64>,
    locked_until: Option<i64>,
}

/// Failed attempts per key. An attempt is counted when it starts and forgotten if it succeeds,
/// so concurrent guesses cannot slip past the limit while their password checks run.
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Cache<LockKey, Arc<Mutex<Entry>>>,
}

/// Most keys tracked; under a flood of distinct logins the least useful entries go first.
const MAX_TRACKED: u64 = 100_000;

fn lock(entry: &Mutex<Entry>) -> MutexGuard<'_, Entry> {
    entry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Lockout {
        // An entry is useless once its attempts left the window and its lock ended.
        let idle = policy.window.max(policy.lock);
        Lockout { policy, entries: Cache::builder().max_capacity(MAX_TRACKED).time_to_idle(idle).build() }
    }

    /// Admits an attempt at `now` (epoch ms) and counts it against every key, or answers how
    /// long one of them stays locked.
    pub fn begin(&self, keys: &[LockKey], now: i64) -> Result<(), Duration> {
        let entries: Vec<_> = keys.iter().map(|k| self.entries.get_with(k.clone(), Default::default)).collect();
        // Always taken in the order of `keys` (the login alone first), so no two attempts deadlock.
        let mut guards: Vec<_> = entries.iter().map(|e| lock(e)).collect();
        let window = self.policy.window.as_millis() as i64;
        let mut wait = Duration::ZERO;
        for e in guards.iter_mut() {
            if e.locked_until.is_some_and(|until| now >= until) {
                e.locked_until = None;
                e.attempts.clear();
            }
            while e.attempts.front().is_some_and(|&t| t <= now - window) {
                e.attempts.pop_front();
            }
            let locked_for = match e.locked_until {
                Some(until) => until - now,
                // Earlier attempts of the window are still being checked (or were dropped with
                // their request): no more guesses until they end or leave the window.
                None if e.attempts.len() >= self.policy.failures as usize => {
                    e.attempts.front().map_or(0, |oldest| oldest + window - now).max(1_000)
                }
                None => 0,
            };
            wait = wait.max(Duration::from_millis(locked_for as u64));
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for e in guards.iter_mut() {
            e.attempts.push_back(now);
        }
        Ok(())
    }

    /// The attempt begun at `now` failed: a key locks once its window holds enough failures.
    pub fn failed(&self, keys: &[LockKey], now: i64) {
        for key in keys {
            let Some(entry) = self.entries.get(key) else { continue };
            let mut e = lock(&entry);
            if e.attempts.len() >= self.policy.failures as usize && e.locked_until.is_none() {
                e.locked_until = Some(now + self.policy.lock.as_millis() as i64);
            }
        }
    }

    /// The attempt begun last was not checked after all (the server was too busy): uncount it.
    pub fn abandoned(&self, keys: &[LockKey]) {
        for key in keys {
            if let Some(entry) = self.entries.get(key) {
                lock(&entry).attempts.pop_back();
            }
        }
    }

    /// The attempt succeeded: earlier failures under its keys are forgiven.
    pub fn succeeded(&self, keys: &[LockKey]) {
        for key in keys {
            self.entries.invalidate(key);
        }
    }

    /// Lifts locks (and forgets the failures); answers whether one of the keys was locked.
    pub fn reset(&self, keys: &[LockKey], now: i64) -> bool {
        let mut was_locked = false;
        for key in keys {
            if let Some(entry) = self.entries.remove(key) {
                was_locked |= lock(&entry).locked_until.is_some_and(|until| now < until);
            }
        }
        was_locked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(LockoutPolicy { failures: 3, window: Duration::from_secs(60), lock: Duration::from_secs(120) })
    }

    fn fail(l: &Lockout, keys: &[LockKey], now: i64) -> Result<(), Duration> {
        l.begin(keys, now)?;
        l.failed(keys, now);
        Ok(())
    }

    #[test]
    fn failures_in_the_window_lock_then_the_lock_ends() {
        let (l, k) = (lockout(), LockKey::for_attempt(None, "alice"));
        for t in [0, 1_000, 2_000] {
            assert!(fail(&l, &k, t).is_ok());
        }
        assert_eq!(l.begin(&k, 3_000), Err(Duration::from_millis(119_000)));
        assert!(l.begin(&LockKey::for_attempt(None, "bob"), 3_000).is_ok(), "other logins are not locked");
        assert!(l.begin(&k, 122_000).is_ok(), "the lock ended");
    }

    #[test]
    fn old_failures_leave_the_window_and_success_forgives() {
        let (l, k) = (lockout(), LockKey::for_attempt(None, "x"));
        fail(&l, &k, 0).unwrap();
        fail(&l, &k, 1_000).unwrap();
        fail(&l, &k, 61_000).unwrap();
        assert!(l.begin(&k, 62_000).is_ok(), "the first failures left the window");
        l.succeeded(&k);
        fail(&l, &k, 63_000).unwrap();
        fail(&l, &k, 64_000).unwrap();
        assert!(l.begin(&k, 65_000).is_ok());
    }

    #[test]
    fn every_spelling_of_a_login_shares_one_bound() {
        let l = lockout();
        fail(&l, &LockKey::for_attempt(Some("a"), "alice"), 0).unwrap();
        fail(&l, &LockKey::for_attempt(Some("b"), "alice"), 0).unwrap();
        fail(&l, &LockKey::for_attempt(None, "alice"), 0).unwrap();
        for org in [None, Some("a"), Some("b"), Some("c")] {
            assert!(l.begin(&LockKey::for_attempt(org, "alice"), 1).is_err(), "{org:?}");
        }
    }

    #[test]
    fn a_tenant_lifting_its_lock_leaves_another_organizations_locked() {
        let l = lockout();
        let (a, b) = (LockKey::for_attempt(Some("a"), "alice"), LockKey::for_attempt(Some("b"), "alice"));
        for t in 0..3 {
            fail(&l, &b, t).unwrap();
        }
        assert!(l.reset(&a, 10), "the login alone was locked");
        assert!(l.begin(&a, 11).is_ok(), "organization a's alice signs in again");
        assert!(l.begin(&b, 11).is_err(), "organization b's stays locked");
    }

    #[test]
    fn concurrent_attempts_count_before_their_check_ends() {
        let (l, k) = (lockout(), LockKey::for_attempt(Some("a"), "alice"));
        for _ in 0..3 {
            l.begin(&k, 0).unwrap();
        }
        assert_eq!(l.begin(&k, 0), Err(Duration::from_secs(60)), "a fourth guess waits for the three in flight");
    }

    #[test]
    fn an_abandoned_attempt_is_not_counted() {
        let (l, k) = (lockout(), LockKey::for_attempt(Some("a"), "alice"));
        for t in 0..10 {
            l.begin(&k, t).unwrap();
            l.abandoned(&k);
        }
        fail(&l, &k, 10).unwrap();
        assert!(l.begin(&k, 11).is_ok());
    }

    #[test]
    fn reset_lifts_a_lock() {
        let (l, k) = (lockout(), LockKey::for_attempt(None, "alice"));
        assert!(!l.reset(&k, 0));
        for t in 0..3 {
            fail(&l, &k, t).unwrap();
        }
        assert!(l.reset(&k, 10));
        assert!(l.begin(&k, 11).is_ok());
    }
}
