//! Where each instance is sampled: rendezvous (highest random weight) hashing over the live
//! members, and the moves one member makes toward it. Every member computes the same owner from
//! the same list, a member joining or leaving moves only the instances it wins or held (about
//! 1/N of them), and nothing is stored but the leases themselves. Pure: `leases` feeds it what
//! the database says, and tests feed it tables.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::store::LeaseRow;

/// The weight of `host` for `instance_id`: the first 8 bytes of SHA-256, so every version of
/// every member agrees (a std hasher may change between Rust releases, which would make two
/// members of a rolling upgrade disagree and trade leases forever).
fn weight(host: &str, instance_id: i64) -> u64 {
    let digest = Sha256::new().chain_update(host.as_bytes()).chain_update(instance_id.to_be_bytes()).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// How long `host` waits into a shared slot (`work`'s run at `slot_ms`) before claiming it:
/// a hash of the three below `spread`, so whichever member waits least differs from slot to
/// slot and the runs spread over the members, while no member needs to know the others (a
/// favoured member that is gone just lets the next one claim a little later).
pub fn claim_delay(host: &str, work: &str, slot_ms: i64, spread: std::time::Duration) -> std::time::Duration {
    let digest = Sha256::new()
        .chain_update(host.as_bytes())
        .chain_update([0])
        .chain_update(work.as_bytes())
        .chain_update(slot_ms.to_be_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let fraction = u64::from_be_bytes(first) as f64 / u64::MAX as f64;
    spread.mul_f64(fraction)
}

/// The member that should sample `instance_id` among `live` (none when nobody is live).
pub fn owner_of(instance_id: i64, live: &[String]) -> Option<&str> {
    live.iter().max_by_key(|host| (weight(host, instance_id), host.as_str())).map(String::as_str)
}

/// What one member sees at a pass.
pub struct Inputs<'a> {
    pub me: &'a str,
    /// The database's clock (leases lapse by it).
    pub now: i64,
    /// Members that beat recently, `me` included.
    pub live: &'a [String],
    /// Instances to sample (enabled).
    pub instances: &'a [i64],
    pub leases: &'a [LeaseRow],
}

/// The lease moves of one pass, in instance order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moves {
    /// Free or lapsed leases this member wins: take them.
    pub claim: Vec<i64>,
    /// Leases this member holds and another member wins (or of instances no longer sampled):
    /// store what is buffered, then let them lapse at once.
    pub release: Vec<i64>,
}

/// The moves `inputs.me` makes. A lease held by another member and not lapsed is never taken:
/// its holder releases it (if it lives) or it lapses (if not), so an instance has at most one
/// sampler at any time.
pub fn moves(inputs: &Inputs) -> Moves {
    let held: HashMap<i64, &LeaseRow> = inputs.leases.iter().map(|l| (l.instance_id, l)).collect();
    let mine = |l: &LeaseRow| l.owner == inputs.me && l.expires_at > inputs.now;
    let mut out = Moves::default();
    for &id in inputs.instances {
        let lease = held.get(&id).copied();
        let wins = owner_of(id, inputs.live) == Some(inputs.me);
        match (wins, lease) {
            (true, None) => out.claim.push(id),
            (true, Some(l)) if l.expires_at <= inputs.now => out.claim.push(id),
            (false, Some(l)) if mine(l) => out.release.push(id),
            _ => {}
        }
    }
    let sampled: std::collections::HashSet<i64> = inputs.instances.iter().copied().collect();
    let mut gone: Vec<i64> =
        inputs.leases.iter().filter(|l| mine(l) && !sampled.contains(&l.instance_id)).map(|l| l.instance_id).collect();
    out.release.append(&mut gone);
    out.release.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shared_slots_are_favoured_evenly_across_members() {
        let members = hosts(&["host-a", "host-b", "host-c"]);
        let spread = std::time::Duration::from_millis(200);
        let mut first = HashMap::new();
        for slot in 0..3000i64 {
            let delays = members.iter().map(|m| (claim_delay(m, "collector", slot * 60_000, spread), m));
            let (delay, winner) = delays.min().unwrap();
            assert!(delay < spread);
            *first.entry(winner.clone()).or_insert(0usize) += 1;
        }
        for m in &members {
            let won = first.get(m).copied().unwrap_or_default();
            assert!((850..=1150).contains(&won), "{m} claims first in {won} of 3000 slots: {first:?}");
        }
        // The same inputs give the same delay on every member and every version.
        assert_eq!(claim_delay("host-a", "x", 1, spread), claim_delay("host-a", "x", 1, spread));
        assert_ne!(claim_delay("host-a", "x", 1, spread), claim_delay("host-a", "x", 2, spread));
    }

    fn lease(id: i64, owner: &str, expires_at: i64) -> LeaseRow {
        LeaseRow { instance_id: id, owner: owner.into(), generation: 1, expires_at }
    }

    #[test]
    fn instances_spread_evenly_and_a_new_member_takes_only_its_share() {
        let ids: Vec<i64> = (1..=3000).collect();
        let two = hosts(&["a", "b"]);
        let three = hosts(&["a", "b", "c"]);
        let count = |live: &[String], host: &str| ids.iter().filter(|&&i| owner_of(i, live) == Some(host)).count();
        for host in ["a", "b", "c"] {
            let share = count(&three, host);
            assert!((850..=1150).contains(&share), "{host} owns {share} of 3000");
        }
        // Joining moves only what the newcomer wins: no instance moves between a and b.
        let moved = ids.iter().filter(|&&i| owner_of(i, &two) != owner_of(i, &three)).count();
        assert_eq!(moved, count(&three, "c"));
        assert!(ids.iter().all(|&i| owner_of(i, &three) == Some("c") || owner_of(i, &two) == owner_of(i, &three)));
    }

    #[test]
    fn the_owner_does_not_depend_on_the_order_of_the_list() {
        let (ab, ba) = (hosts(&["a", "b", "c"]), hosts(&["c", "b", "a"]));
        assert!((1..500).all(|i| owner_of(i, &ab) == owner_of(i, &ba)));
        assert_eq!(owner_of(1, &[]), None);
    }

    /// One pass of member `me` over one instance, for each state of its lease.
    #[test]
    fn moves_per_lease_state() {
        let live = hosts(&["a", "b"]);
        let id = (1..).find(|&i| owner_of(i, &live) == Some("a")).expect("an instance a wins");
        let now = 1_000;
        let table: &[(&str, Option<LeaseRow>, Moves)] = &[
            ("winner, no lease: claims", None, Moves { claim: vec![id], release: vec![] }),
            (
                "winner, lapsed lease of b: claims",
                Some(lease(id, "b", now)),
                Moves { claim: vec![id], release: vec![] },
            ),
            ("winner, b still holds it: waits for b", Some(lease(id, "b", now + 1)), Moves::default()),
            ("winner, holds it: keeps it (renewed)", Some(lease(id, "a", now + 1)), Moves::default()),
            (
                "winner, its own lapsed lease: claims again",
                Some(lease(id, "a", now - 5)),
                Moves { claim: vec![id], release: vec![] },
            ),
        ];
        for (what, row, expected) in table {
            let leases: Vec<LeaseRow> = row.iter().cloned().collect();
            let inputs = Inputs { me: "a", now, live: &live, instances: &[id], leases: &leases };
            assert_eq!(&moves(&inputs), expected, "{what}");
        }
        // The loser's side of the same instance.
        let held_by_b = [lease(id, "b", now + 1)];
        let inputs = Inputs { me: "b", now, live: &live, instances: &[id], leases: &held_by_b };
        assert_eq!(moves(&inputs), Moves { claim: vec![], release: vec![id] }, "loser holding it hands it over");
        let inputs = Inputs { me: "b", now, live: &live, instances: &[], leases: &held_by_b };
        assert_eq!(
            moves(&inputs),
            Moves { claim: vec![], release: vec![id] },
            "an instance no longer sampled is released"
        );
        let inputs = Inputs { me: "b", now, live: &live, instances: &[id], leases: &[] };
        assert_eq!(moves(&inputs), Moves::default(), "loser never claims");
    }

    #[test]
    fn a_dead_member_drops_out_of_the_list_and_its_instances_go_to_the_others() {
        let ids: Vec<i64> = (1..=300).collect();
        let (all, left) = (hosts(&["a", "b", "c"]), hosts(&["a", "b"]));
        let of_c: Vec<i64> = ids.iter().copied().filter(|&i| owner_of(i, &all) == Some("c")).collect();
        let leases: Vec<LeaseRow> = of_c.iter().map(|&i| lease(i, "c", 500)).collect();
        let pass = |me: &str, now: i64| moves(&Inputs { me, now, live: &left, instances: &ids, leases: &leases });
        // Before c's leases lapse nobody takes them; after, a and b take them all between them.
        assert_eq!(pass("a", 499).claim.iter().filter(|i| of_c.contains(i)).count(), 0);
        let (a, b) = (pass("a", 500).claim, pass("b", 500).claim);
        let mut taken: Vec<i64> = a.iter().chain(&b).copied().filter(|i| of_c.contains(i)).collect();
        taken.sort_unstable();
        assert_eq!(taken, of_c);
        assert!(a.iter().all(|i| !b.contains(i)), "no instance claimed by both");
    }
}
