//! Secrets at rest: values such as plugin config secrets and monitored servers' passwords are
//! sealed with XChaCha20-Poly1305 under a host key kept in `data_dir/secret.key` (0600) or given
//! by `VIGIA_SECRET_KEY` (base64), so a stolen database alone reveals nothing.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_KEY_ENV: &str = "VIGIA_SECRET_KEY";
pub const KEY_FILE: &str = "secret.key";
/// Sealed values carry a version so the scheme can change without guessing.
const SEALED_PREFIX: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("not a sealed value")]
    Malformed,
    #[error("cannot decrypt: wrong host key or tampered value")]
    Decrypt,
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

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self.cipher.encrypt(&nonce, plaintext.as_bytes()).expect("XChaCha20 encryption cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", B64.encode(blob))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let blob = sealed.strip_prefix(SEALED_PREFIX).and_then(|b| B64.decode(b).ok()).ok_or(SecretError::Malformed)?;
        if blob.len() < 24 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED_PREFIX)
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

    #[test]
    fn seal_round_trips_and_detects_tampering_and_wrong_keys() {
        let a = SecretBox::from_key(&[7; 32]);
        let sealed = a.seal("hunter2");
        assert!(SecretBox::is_sealed(&sealed) && !sealed.contains("hunter2"));
        assert_ne!(sealed, a.seal("hunter2"), "fresh nonce each time");
        assert_eq!(a.open(&sealed).unwrap(), "hunter2");
        assert!(matches!(SecretBox::from_key(&[8; 32]).open(&sealed), Err(SecretError::Decrypt)));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&tampered).is_err());
        assert!(matches!(a.open("plain"), Err(SecretError::Malformed)));
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
        let sealed = first.seal("x");
        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
