//! Staff passwords: their rules, and argon2id hashing kept off the async workers.
//!
//! Passwords are chosen by people, so they get a slow, salted hash; API keys and device
//! tokens are random and get a fast one (see `secrets`).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::domain::FieldError;
use crate::secrets;

pub const MIN_PASSWORD_LENGTH: usize = 12;
/// Long enough for any passphrase; short enough that hashing one costs nothing unusual.
pub const MAX_PASSWORD_LENGTH: usize = 1000;

/// A new password must be long enough, and not absurdly long.
pub fn validate_new_password(field: &str, password: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a password has at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a password has at most {MAX_PASSWORD_LENGTH} characters"),
        ));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("this password cannot be used")]
    Unusable,
    #[error("password hashing was interrupted")]
    Interrupted,
}

/// Hashes on a blocking thread: a hash takes a good fraction of a second on purpose.
pub async fn hash_off_runtime(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| HashError::Interrupted)?
        .map_err(|_| HashError::Unusable)
}

/// Verifies on a blocking thread; a failure to run counts as a mismatch.
pub async fn verify_off_runtime(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that the answer takes as long
/// as for a known one.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for unknown emails").unwrap_or_default())
}

/// A password an admin hands out once: four groups of four letters and digits, easy to
/// read out and type.
pub fn one_time_password() -> String {
    let raw = secrets::new_secret("").plaintext;
    raw.as_bytes()
        .chunks(4)
        .take(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn new_passwords_have_a_minimum_and_maximum_length() {
        assert!(validate_new_password("p", "short").is_err());
        assert!(validate_new_password("p", "long enough pass").is_ok());
        assert!(validate_new_password("p", &"x".repeat(MAX_PASSWORD_LENGTH + 1)).is_err());
    }

    #[test]
    fn one_time_passwords_are_long_enough_and_differ() {
        let a = one_time_password();
        assert_eq!(a.len(), 19);
        assert!(a.len() >= MIN_PASSWORD_LENGTH);
        assert_ne!(a, one_time_password());
    }
}
