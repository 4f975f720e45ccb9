//! Password hashing with argon2id (PHC strings). Only sign-ins pay for it, never token checks.
//!
//! argon2 needs ~19 MiB of working memory per check. Allocating and freeing it per check left
//! glibc holding the freed memory: a sign-in flood of 100 checks on four threads grew the host
//! to ~900 MiB while its live heap never passed 80 MiB (heaptrack). So each thread that hashes
//! keeps one working area and reuses it: the memory is threads × 19 MiB, taken once.

use std::cell::RefCell;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The most working memory a stored hash may ask for (KiB): a hash is our own data, but a
/// corrupt or planted one must not make a sign-in allocate gigabytes.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

thread_local! {
    /// This thread's argon2 working area, grown to the largest cost seen, wiped after each use.
    static WORKING_AREA: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` on this thread's working area.
fn argon2_into(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    if argon.params().m_cost() > MAX_MEMORY_KIB {
        return Err(argon2::Error::MemoryTooMuch);
    }
    WORKING_AREA.with_borrow_mut(|area| {
        let needed = argon.params().block_count();
        if area.len() < needed {
            area.resize(needed, Block::default());
        }
        let result = argon.hash_password_into_with_memory(password, salt, out, &mut area[..needed]);
        // What is left in it derives from the password.
        area[..needed].fill(Block::default());
        result
    })
}

/// Hashes with argon2id and the crate's recommended parameters. CPU-heavy: call off the runtime.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("hashing password: {e}");
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    argon2_into(&argon, password.as_bytes(), salt_bytes, &mut out).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Constant-time verification against a stored PHC string; a corrupt hash verifies as false.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    // `Output`'s equality is constant-time.
    argon2_into(&argon, password.as_bytes(), salt_bytes, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Rejects passwords too weak to protect an admin account.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("password must be at least 8 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("correct horse", "not-a-hash"));
    }

    /// Hashes written by the argon2 crate's own hasher (every stored hash so far) still verify,
    /// also with other costs, and ours verify with the crate's verifier.
    #[test]
    fn compatible_with_the_crates_own_hasher_both_ways() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = argon2::Argon2::default().hash_password(b"s3cret!!", &salt).unwrap().to_string();
        assert!(super::verify("s3cret!!", &theirs) && !super::verify("s3cret!?", &theirs));
        let cheap = argon2::Params::new(1024, 1, 1, None).unwrap();
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x10, cheap);
        let other = argon.hash_password(b"s3cret!!", &salt).unwrap().to_string();
        assert!(super::verify("s3cret!!", &other) && !super::verify("nope", &other));
        let ours = super::hash("s3cret!!").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2::Argon2::default().verify_password(b"s3cret!!", &parsed).is_ok());
    }

    #[test]
    fn a_hash_asking_for_too_much_memory_does_not_verify() {
        let h = super::hash("correct horse").unwrap().replace("m=19456", "m=4194304");
        assert!(!super::verify("correct horse", &h));
    }
}
