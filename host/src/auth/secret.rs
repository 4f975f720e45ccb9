//! Token secrets: random generation, the stored SHA-256 hash and the short clear prefix.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Clear marker of API tokens (`vg_…`), so leaked tokens are recognisable by secret scanners.
pub const API_TOKEN_MARKER: &str = "vg_";
/// Clear marker of user (sign-in) tokens.
pub const USER_TOKEN_MARKER: &str = "vgu_";
const PREFIX_LEN: usize = 8;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly minted token: the secret (shown once), its hash and its listing prefix.
pub struct Minted {
    pub token: String,
    pub hash: String,
    pub prefix: String,
}

/// Mints `marker` + 32 base62 characters (≈ 190 bits of entropy from the OS RNG).
pub fn mint(marker: &str) -> Minted {
    let mut rng = rand::rng();
    let body: String = (0..32).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    let token = format!("{marker}{body}");
    Minted { hash: hash(&token), prefix: body[..PREFIX_LEN].to_string(), token }
}

/// Hex SHA-256 of the whole token: a fast, sufficient hash for high-entropy secrets.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Random password for the first admin, printed once.
pub fn random_password() -> String {
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn minted_tokens_are_unique_and_hash_matches() {
        let a = super::mint(super::API_TOKEN_MARKER);
        let b = super::mint(super::API_TOKEN_MARKER);
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("vg_") && a.token.len() == 35);
        assert_eq!(super::hash(&a.token), a.hash);
        assert_eq!(&a.token[3..11], a.prefix);
    }
}
