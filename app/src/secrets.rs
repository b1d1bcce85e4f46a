//! Random secrets: API keys and device tokens, and the random bytes of every secret.
//!
//! They are 192 random bits, shown once and stored only as a SHA-256 hash: with that much
//! entropy a fast hash is enough and lets every request be checked by an index look-up.
//! Passwords, chosen by people, are another matter: see `passwords`.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const API_KEY_PREFIX: &str = "ipp_sk_";
pub const DEVICE_TOKEN_PREFIX: &str = "ipp_dt_";
const SECRET_BYTES: usize = 24;

/// A freshly made secret: the plain text goes to its owner once, the hash to the store.
pub struct NewSecret {
    pub plaintext: String,
    pub hash: String,
}

/// `N` bytes from the operating system's random generator (through `rand`'s thread-local
/// generator, seeded from it): the material of every secret the server makes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

pub fn new_secret(prefix: &str) -> NewSecret {
    let plaintext = format!("{prefix}{}", hex::encode(random_bytes::<SECRET_BYTES>()));
    let hash = hash_secret(&plaintext);
    NewSecret { plaintext, hash }
}

pub fn hash_secret(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// The start of a key, safe to show in lists so people can tell keys apart.
pub fn display_prefix(plaintext: &str) -> String {
    plaintext.chars().take(API_KEY_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret(API_KEY_PREFIX);
        let b = new_secret(API_KEY_PREFIX);
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(API_KEY_PREFIX));
        assert_eq!(a.plaintext.len(), API_KEY_PREFIX.len() + 2 * SECRET_BYTES);
        assert_eq!(a.hash, hash_secret(&a.plaintext));
        assert_ne!(a.hash, a.plaintext);
        assert_eq!(display_prefix(&a.plaintext).len(), API_KEY_PREFIX.len() + 6);
    }
}
