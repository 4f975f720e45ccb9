//! Secrets at rest: values such as plugin config secrets and monitored servers' passwords are
//! sealed with XChaCha20-Poly1305 under a host key kept in `data_dir/secret.key` (0600) or given
//! by `VIGIA_SECRET_KEY` (base64), so a stolen database alone reveals nothing.
//!
//! A sealed value is bound to its owner, the row (and place in it) it was sealed for
//! (`SealedFor`): the owner is the AEAD's associated data, so a value copied or moved to another
//! row, tenant, plugin or JSON path does not open there. Format `v2:<base64(tag || nonce ||
//! ciphertext)>`, where `tag` (8 bytes of SHA-256 of the associated data) only lets an error say
//! "sealed for another owner" rather than "tampered"; the AEAD alone decides what opens. The
//! retired `v1:` format (no associated data) is re-sealed as `v2:` once at start
//! (`crate::reseal`) and refused by `open` afterwards.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_KEY_ENV: &str = "VIGIA_SECRET_KEY";
pub const KEY_FILE: &str = "secret.key";
/// Sealed values carry a version so the scheme can change without guessing.
const SEALED_PREFIX: &str = "v2:";
/// The retired format: sealed without associated data, so it opened in any row.
pub(crate) const LEGACY_PREFIX: &str = "v1:";
/// Versions the associated data, so a later scheme cannot be confused with this one.
const AD_LABEL: &[u8] = b"vigia/sealed-for/v2";
const TAG_LEN: usize = 8;
const NONCE_LEN: usize = 24;

/// What a sealed value belongs to: sealed for one owner, it opens only for that owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedFor<'a> {
    /// `instances.password_sealed` of one row.
    InstancePassword { tenant_id: i64, instance_id: i64 },
    /// `notification_channels.config_sealed` of one row.
    ChannelConfig { tenant_id: i64, channel_id: i64 },
    /// One secret of a plugin's configuration (`plugin_settings.config_json`), at its JSON path.
    PluginSecret { plugin_id: &'a str, path: &'a [String] },
}

impl SealedFor<'_> {
    /// The canonical bytes the AEAD authenticates: the label, the kind, then each field, every
    /// piece length-prefixed so no two owners encode alike (`("ab", ["c"])` ≠ `("a", ["bc"])`).
    fn associated_data(&self) -> Vec<u8> {
        fn field(ad: &mut Vec<u8>, bytes: &[u8]) {
            ad.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            ad.extend_from_slice(bytes);
        }
        let mut ad = Vec::with_capacity(64);
        field(&mut ad, AD_LABEL);
        match self {
            SealedFor::InstancePassword { tenant_id, instance_id } => {
                field(&mut ad, b"instance-password");
                field(&mut ad, &tenant_id.to_be_bytes());
                field(&mut ad, &instance_id.to_be_bytes());
            }
            SealedFor::ChannelConfig { tenant_id, channel_id } => {
                field(&mut ad, b"channel-config");
                field(&mut ad, &tenant_id.to_be_bytes());
                field(&mut ad, &channel_id.to_be_bytes());
            }
            SealedFor::PluginSecret { plugin_id, path } => {
                field(&mut ad, b"plugin-secret");
                field(&mut ad, plugin_id.as_bytes());
                field(&mut ad, &(path.len() as u64).to_be_bytes());
                for key in *path {
                    field(&mut ad, key.as_bytes());
                }
            }
        }
        ad
    }

    /// A short fingerprint of the owner stored in clear beside the ciphertext, so opening a
    /// value under another owner can say so (`WrongOwner`); it protects nothing by itself.
    fn tag(&self) -> [u8; TAG_LEN] {
        let digest = <Sha256 as sha2::Digest>::digest(self.associated_data());
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&digest[..TAG_LEN]);
        tag
    }
}

impl std::fmt::Display for SealedFor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedFor::InstancePassword { tenant_id, instance_id } => {
                write!(f, "instances.password_sealed of instance id {instance_id} (tenant {tenant_id})")
            }
            SealedFor::ChannelConfig { tenant_id, channel_id } => {
                write!(f, "notification_channels.config_sealed of channel id {channel_id} (tenant {tenant_id})")
            }
            SealedFor::PluginSecret { plugin_id, path } => {
                write!(f, "plugin_settings.config_json of plugin {plugin_id:?}, secret {}", path.join("."))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("not a sealed value")]
    Malformed,
    #[error("cannot decrypt: wrong host key or tampered value")]
    Decrypt,
    /// The value was sealed for another row or place: copied or moved there, never opened.
    #[error("{owner}: sealed for another owner (copied or moved from another row), refused")]
    WrongOwner { owner: String },
    /// A `v1:` value, bound to no row, found after the start-up pass re-sealed every one it could
    /// open: planted or restored from an old backup, so it is not trusted.
    #[error("{owner}: sealed in the retired v1 format (bound to no row), refused; set the value again")]
    Legacy { owner: String },
}

/// Seals and opens secrets with the host key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// The host key itself, kept only to derive purpose-bound subkeys (`derive_key`).
    root: [u8; 32],
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> SecretBox {
        SecretBox { cipher: XChaCha20Poly1305::new(Key::from_slice(key)), root: *key }
    }

    /// A key for one purpose, HMAC-SHA256(host key, `label`): the raw host key never signs or
    /// seals anything but secrets, and knowing a subkey tells nothing about the host key or
    /// another label's subkey. Labels are versioned strings such as `vigia/audit-log/v1`.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.root).expect("HMAC takes keys of any length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Key from `VIGIA_SECRET_KEY`, else `data_dir/secret.key`, created on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<SecretBox> {
        if let Some(found) = SecretBox::load(data_dir)? {
            return Ok(found);
        }
        let path = data_dir.join(KEY_FILE);
        let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        std::fs::create_dir_all(data_dir)?;
        crate::fsutil::write_private(&path, B64.encode(key).as_bytes())?;
        tracing::info!(path = %path.display(), "generated the host secret key; back it up with the database");
        Ok(SecretBox::from_key(&key))
    }

    /// The existing key (`VIGIA_SECRET_KEY`, else `data_dir/secret.key`), never a new one: for
    /// checks such as `vigia audit verify`, where a fresh key would only make everything fail.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<SecretBox>> {
        if let Ok(encoded) = std::env::var(SECRET_KEY_ENV) {
            let bytes =
                B64.decode(encoded.trim()).map_err(|e| anyhow::anyhow!("{SECRET_KEY_ENV} is not base64: {e}"))?;
            let key: [u8; 32] =
                bytes.try_into().map_err(|_| anyhow::anyhow!("{SECRET_KEY_ENV} must decode to exactly 32 bytes"))?;
            return Ok(Some(SecretBox::from_key(&key)));
        }
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        refuse_readable_by_others(&path)?;
        let bytes = std::fs::read(&path)?;
        let key: [u8; 32] = B64
            .decode(String::from_utf8_lossy(&bytes).trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("{} is not a base64 32-byte key", path.display()))?;
        Ok(Some(SecretBox::from_key(&key)))
    }

    /// Seals `plaintext` for `owner`: it opens only with the same owner (and host key).
    pub fn seal(&self, plaintext: &str, owner: &SealedFor<'_>) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload { msg: plaintext.as_bytes(), aad: &owner.associated_data() };
        let ciphertext = self.cipher.encrypt(&nonce, payload).expect("XChaCha20 encryption cannot fail");
        let mut blob = owner.tag().to_vec();
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", B64.encode(blob))
    }

    /// Opens a value sealed for `owner`. Refused: another owner's value (`WrongOwner`), a `v1:`
    /// one (`Legacy`), a wrong key or any tampering (`Decrypt`).
    pub fn open(&self, sealed: &str, owner: &SealedFor<'_>) -> Result<String, SecretError> {
        if sealed.starts_with(LEGACY_PREFIX) {
            return Err(SecretError::Legacy { owner: owner.to_string() });
        }
        let blob = sealed.strip_prefix(SEALED_PREFIX).and_then(|b| B64.decode(b).ok()).ok_or(SecretError::Malformed)?;
        if blob.len() < TAG_LEN + NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (tag, rest) = blob.split_at(TAG_LEN);
        if tag != owner.tag() {
            return Err(SecretError::WrongOwner { owner: owner.to_string() });
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: &owner.associated_data() };
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), payload).map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    /// Opens a retired `v1:` value (no owner). Only the start-up pass that re-seals them
    /// (`crate::reseal`) calls this; everything else goes through `open`, which refuses them.
    pub(crate) fn open_legacy(&self, sealed: &str) -> Result<String, SecretError> {
        let blob = sealed.strip_prefix(LEGACY_PREFIX).and_then(|b| B64.decode(b).ok()).ok_or(SecretError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    /// Whether `value` is sealed (either format): masked on read, never shown.
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED_PREFIX) || value.starts_with(LEGACY_PREFIX)
    }

    /// Whether `value` is in the retired `v1:` format.
    pub fn is_legacy(value: &str) -> bool {
        value.starts_with(LEGACY_PREFIX)
    }
}

/// Refuses a key file every user of the machine may read: whoever reads it opens every sealed secret. (Written
/// 0600 by `load_or_create`; a copy restored from a backup may not be.)
fn refuse_readable_by_others(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o007 != 0 {
            anyhow::bail!(
                "{} is open to every user (mode {:o}): run `chmod 600 {}` (and check who read it)",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: SealedFor<'static> = SealedFor::InstancePassword { tenant_id: 1, instance_id: 5 };

    /// The retired format, as versions before v2 wrote it: what `open_legacy` reads.
    fn seal_legacy(key: &[u8; 32], plaintext: &str) -> String {
        let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&cipher.encrypt(&nonce, plaintext.as_bytes()).unwrap());
        format!("v1:{}", B64.encode(blob))
    }

    #[test]
    fn seal_round_trips_and_detects_tampering_and_wrong_keys() {
        let a = SecretBox::from_key(&[7; 32]);
        let sealed = a.seal("hunter2", &INSTANCE);
        assert!(sealed.starts_with("v2:") && SecretBox::is_sealed(&sealed) && !sealed.contains("hunter2"));
        assert!(!SecretBox::is_legacy(&sealed));
        assert_ne!(sealed, a.seal("hunter2", &INSTANCE), "fresh nonce each time");
        assert_eq!(a.open(&sealed, &INSTANCE).unwrap(), "hunter2");
        assert!(matches!(SecretBox::from_key(&[8; 32]).open(&sealed, &INSTANCE), Err(SecretError::Decrypt)));
        // Any byte of the nonce or the ciphertext changed: refused.
        let blob = B64.decode(&sealed[3..]).unwrap();
        for i in TAG_LEN..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 1;
            let tampered = format!("v2:{}", B64.encode(tampered));
            assert!(matches!(a.open(&tampered, &INSTANCE), Err(SecretError::Decrypt)), "byte {i}");
        }
        assert!(matches!(a.open("plain", &INSTANCE), Err(SecretError::Malformed)));
        assert!(matches!(a.open("v2:AAAA", &INSTANCE), Err(SecretError::Malformed)));
    }

    #[test]
    fn a_value_opens_only_for_the_owner_it_was_sealed_for() {
        let a = SecretBox::from_key(&[7; 32]);
        let path = ["smtp".to_string(), "password".to_string()];
        let owners = [
            INSTANCE,
            SealedFor::InstancePassword { tenant_id: 2, instance_id: 5 },
            SealedFor::InstancePassword { tenant_id: 1, instance_id: 6 },
            SealedFor::ChannelConfig { tenant_id: 1, channel_id: 5 },
            SealedFor::PluginSecret { plugin_id: "webhook", path: &path },
            SealedFor::PluginSecret { plugin_id: "webhook", path: &path[..1] },
            SealedFor::PluginSecret { plugin_id: "mail", path: &path },
        ];
        for (i, sealed_for) in owners.iter().enumerate() {
            let sealed = a.seal("pw", sealed_for);
            for (j, opened_for) in owners.iter().enumerate() {
                let opened = a.open(&sealed, opened_for);
                if i == j {
                    assert_eq!(opened.unwrap(), "pw");
                } else {
                    let e = opened.unwrap_err();
                    assert!(matches!(e, SecretError::WrongOwner { .. }), "{sealed_for} opened as {opened_for}: {e}");
                }
            }
        }
        let e = a.open(&a.seal("pw", &INSTANCE), &owners[2]).unwrap_err().to_string();
        assert_eq!(
            e,
            "instances.password_sealed of instance id 6 (tenant 1): sealed for another owner (copied or moved \
             from another row), refused"
        );
    }

    #[test]
    fn a_forged_owner_tag_still_does_not_open() {
        // Rewriting the clear tag to the target's gets past the diagnostic, not the AEAD.
        let a = SecretBox::from_key(&[7; 32]);
        let other = SealedFor::InstancePassword { tenant_id: 2, instance_id: 9 };
        let mut blob = B64.decode(&a.seal("pw", &INSTANCE)[3..]).unwrap();
        blob[..TAG_LEN].copy_from_slice(&other.tag());
        let forged = format!("v2:{}", B64.encode(blob));
        assert!(matches!(a.open(&forged, &other), Err(SecretError::Decrypt)));
    }

    #[test]
    fn associated_data_is_unambiguous() {
        let split = |a: &str, b: &str| {
            let path = [a.to_string(), b.to_string()];
            SealedFor::PluginSecret { plugin_id: "p", path: &path }.associated_data()
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
        let one = ["a.b".to_string()];
        let two = ["a".to_string(), "b".to_string()];
        assert_ne!(
            SealedFor::PluginSecret { plugin_id: "p", path: &one }.associated_data(),
            SealedFor::PluginSecret { plugin_id: "p", path: &two }.associated_data()
        );
        let channel = SealedFor::ChannelConfig { tenant_id: 1, channel_id: 5 };
        assert_ne!(INSTANCE.associated_data(), channel.associated_data());
        assert!(INSTANCE.associated_data().starts_with(&[0, 0, 0, 0, 0, 0, 0, 19]));
        assert!(INSTANCE.associated_data()[8..].starts_with(AD_LABEL));
    }

    #[test]
    fn v1_values_are_refused_by_open_and_read_only_by_the_upgrade() {
        let a = SecretBox::from_key(&[7; 32]);
        let legacy = seal_legacy(&[7; 32], "hunter2");
        assert!(SecretBox::is_sealed(&legacy) && SecretBox::is_legacy(&legacy));
        let e = a.open(&legacy, &INSTANCE).unwrap_err();
        assert!(matches!(e, SecretError::Legacy { .. }), "{e}");
        assert!(e
            .to_string()
            .starts_with("instances.password_sealed of instance id 5 (tenant 1): sealed in the retired v1"));
        assert_eq!(a.open_legacy(&legacy).unwrap(), "hunter2");
        assert!(matches!(SecretBox::from_key(&[8; 32]).open_legacy(&legacy), Err(SecretError::Decrypt)));
        assert!(matches!(a.open_legacy(&a.seal("x", &INSTANCE)), Err(SecretError::Malformed)));
    }

    #[test]
    #[cfg(unix)]
    fn a_world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        SecretBox::load_or_create(dir.path()).unwrap();
        let key = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SecretBox::load_or_create(dir.path()).err().unwrap().to_string();
        assert!(e.contains("open to every user (mode 644)") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SecretBox::load_or_create(dir.path()).is_ok());
    }

    #[test]
    fn derived_keys_depend_on_the_host_key_and_the_label() {
        let a = SecretBox::from_key(&[7; 32]);
        assert_eq!(a.derive_key("x"), SecretBox::from_key(&[7; 32]).derive_key("x"));
        assert_ne!(a.derive_key("x"), a.derive_key("y"));
        assert_ne!(a.derive_key("x"), SecretBox::from_key(&[8; 32]).derive_key("x"));
        assert_ne!(a.derive_key("x"), [7; 32]);
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load_or_create(dir.path()).unwrap();
        let sealed = first.seal("x", &INSTANCE);
        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed, &INSTANCE).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
