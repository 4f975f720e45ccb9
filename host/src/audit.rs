//! The signed audit log without HTTP or SQL: every entry's HMAC-SHA256 covers the previous
//! entry's HMAC and the entry's canonical form, under a key derived from the host secret, so
//! changing, removing or reordering a stored row breaks the chain from that row on. `AuditLog`
//! appends (never failing the caller: errors are logged and counted) and verifies.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::SecretBox;
use crate::store::{AuditRow, AuditWrite, Store, StoreResult};

/// Label of the audit key derived from the host secret; a new scheme gets a new label.
const KEY_LABEL: &str = "vigia/audit-log/v1";
/// How many entries verification reads at a time.
const PAGE: i64 = 1000;

/// Where a chain stops verifying, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first entry that does not verify (the one altered, or the first after a gap).
    pub id: i64,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit entry {} does not verify: {}", self.id, self.reason)
    }
}

/// Appends to and verifies the chain.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    key: [u8; 32],
}

impl AuditLog {
    pub fn new(store: Store, secrets: &SecretBox) -> AuditLog {
        AuditLog { store, key: secrets.derive_key(KEY_LABEL) }
    }

    /// Appends an entry. An audit failure never fails the audited action: it is logged and
    /// counted (`vigia_audit_append_failures_total`), so a monitoring alert can notice it.
    pub async fn record(&self, entry: AuditWrite) {
        let key = self.key;
        let signed = self.store.append_audit(&entry, |id, prev| sign(&key, id, prev, &entry)).await;
        if let Err(e) = signed {
            metrics::counter!("vigia_audit_append_failures_total").increment(1);
            tracing::error!(error = %e, action = %entry.action, "could not append to the audit log");
        }
    }

    /// Checks the chain from its start through entry `until` (the whole chain with `None`):
    /// `Ok(number of entries checked)` or the first broken entry. Walking from the start is what
    /// makes an altered row fail every later entry, not only itself.
    pub async fn verify(&self, until: Option<i64>) -> StoreResult<Result<i64, Broken>> {
        let (head_id, head_hmac) = self.store.audit_head().await?;
        let until = until.unwrap_or(head_id);
        let (mut prev_id, mut prev_hmac) = (0_i64, String::new());
        loop {
            let page = self.store.audit_chain_page(prev_id, until, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for row in &page {
                if let Err(reason) = check(&self.key, row, prev_id, &prev_hmac) {
                    return Ok(Err(Broken { id: row.id, reason }));
                }
                (prev_id, prev_hmac) = (row.id, row.hmac.clone());
            }
        }
        // Rows cut off the end: the head says the chain went further than what is stored.
        if prev_id < until.min(head_id) {
            let reason = format!("entries after {prev_id} are missing (the chain's head is at {head_id})");
            return Ok(Err(Broken { id: prev_id + 1, reason }));
        }
        if until >= head_id && prev_hmac != head_hmac {
            return Ok(Err(Broken { id: head_id, reason: "it differs from the chain's head".into() }));
        }
        Ok(Ok(prev_id))
    }
}

/// One link: ids follow each other and the stored hmac is the one the key gives.
fn check(key: &[u8; 32], row: &AuditRow, prev_id: i64, prev_hmac: &str) -> Result<(), String> {
    if row.id != prev_id + 1 {
        return Err(format!("entries {} to {} are missing", prev_id + 1, row.id - 1));
    }
    let expected = sign(key, row.id, prev_hmac, &row.write());
    match constant_time_eq(expected.as_bytes(), row.hmac.as_bytes()) {
        true => Ok(()),
        false => Err("its HMAC does not match its content and the previous entry".into()),
    }
}

/// HMAC-SHA256(key, version ‖ previous hmac ‖ canonical entry), hex.
fn sign(key: &[u8; 32], id: i64, prev_hmac: &str, e: &AuditWrite) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(b"vigia-audit-v1\n");
    mac.update(prev_hmac.as_bytes());
    mac.update(b"\n");
    mac.update(canonical(id, e).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The signed form of an entry: a JSON array of every field in a fixed order, so field
/// boundaries are unambiguous (no concatenation can make two entries sign alike).
fn canonical(id: i64, e: &AuditWrite) -> String {
    serde_json::json!([
        id,
        e.at,
        e.tenant_id,
        e.actor,
        e.token_prefix,
        e.source_ip,
        e.request_id,
        e.action,
        e.target,
        e.success,
        e.status,
        e.details
    ])
    .to_string()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditWrite {
        AuditWrite {
            at: 1,
            tenant_id: 1,
            actor: "admin".into(),
            token_prefix: None,
            source_ip: None,
            request_id: "r".into(),
            action: action.into(),
            target: String::new(),
            success: true,
            status: 200,
            details: "{}".into(),
        }
    }

    #[test]
    fn the_signature_covers_every_field_the_previous_link_and_the_key() {
        let key = [1; 32];
        let base = sign(&key, 1, "", &entry("a"));
        assert_eq!(base, sign(&key, 1, "", &entry("a")));
        assert_ne!(base, sign(&key, 2, "", &entry("a")));
        assert_ne!(base, sign(&key, 1, "x", &entry("a")));
        assert_ne!(base, sign(&key, 1, "", &entry("b")));
        assert_ne!(base, sign(&[2; 32], 1, "", &entry("a")));
        let mut other = entry("a");
        other.success = false;
        assert_ne!(base, sign(&key, 1, "", &other));
        // Field boundaries count: moving text from one field to the next changes the signature.
        let (mut a, mut b) = (entry("a"), entry("a"));
        (a.actor, a.target, b.actor, b.target) = ("ab".into(), "c".into(), "a".into(), "bc".into());
        assert_ne!(sign(&key, 1, "", &a), sign(&key, 1, "", &b));
    }
}
