//! Pairing codes: what a store clerk types into the POS app.
//!
//! Eight characters from a 20-letter alphabet without vowels (no accidental words) and
//! without letters that are easily confused with digits. 20^8 ≈ 2.56 × 10^10 codes.

use std::fmt;

/// The letters a code is made of.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How many letters a code has, without the display hyphen.
pub const CODE_LENGTH: usize = 8;

/// A well-formed pairing code in canonical form (eight upper-case letters, no hyphen).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PairingCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingCodeError {
    #[error("the pairing code is empty")]
    Empty,
    #[error("a pairing code has 8 letters")]
    WrongLength,
    #[error("a pairing code uses only the letters {}", std::str::from_utf8(ALPHABET).unwrap_or_default())]
    InvalidCharacter,
}

impl PairingCode {
    /// Reads a code as a person would type it: any case, spaces and hyphens ignored.
    pub fn parse(input: &str) -> Result<Self, PairingCodeError> {
        let canonical: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if canonical.is_empty() {
            return Err(PairingCodeError::Empty);
        }
        if !canonical.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(PairingCodeError::InvalidCharacter);
        }
        if canonical.len() != CODE_LENGTH {
            return Err(PairingCodeError::WrongLength);
        }
        Ok(Self(canonical))
    }

    /// Reads either a code or the `qr_payload` URL that carries one (`...?code=XXXX-XXXX`),
    /// so a scanned QR code and a typed code go through the same door.
    pub fn parse_code_or_link(input: &str) -> Result<Self, PairingCodeError> {
        let trimmed = input.trim();
        match trimmed.split_once('?') {
            Some((_, query)) if trimmed.contains("://") => {
                let code = query
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| *name == "code")
                    .map(|(_, value)| value)
                    .ok_or(PairingCodeError::Empty)?;
                Self::parse(code)
            }
            _ => Self::parse(trimmed),
        }
    }

    /// Builds a fresh random code from a source of random indexes below 20.
    pub fn from_indexes(mut next_index: impl FnMut() -> usize) -> Self {
        let code = (0..CODE_LENGTH)
            .map(|_| ALPHABET[next_index() % ALPHABET.len()] as char)
            .collect();
        Self(code)
    }

    /// The canonical form, as stored: `BCDFGHJK`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: `BCDF-GHJK`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

#[cfg(feature = "ssr")]
impl PairingCode {
    /// A new code from the operating system's cryptographic random source.
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        Self::from_indexes(|| rng.random_range(0..ALPHABET.len()))
    }
}

// Codes are secrets while they are live: keep them out of debug output and logs.
impl fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingCode(****-****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_any_case_spaces_and_hyphens() {
        let code = PairingCode::parse(" bcdf-ghjk ").unwrap();
        assert_eq!(code.as_str(), "BCDFGHJK");
        assert_eq!(PairingCode::parse("BC DF GH JK").unwrap(), code);
        assert_eq!(code.display(), "BCDF-GHJK");
    }

    #[test]
    fn parse_rejects_bad_input_with_the_reason() {
        assert_eq!(PairingCode::parse(" - "), Err(PairingCodeError::Empty));
        assert_eq!(
            PairingCode::parse("BCDF-GHJ"),
            Err(PairingCodeError::WrongLength)
        );
        assert_eq!(
            PairingCode::parse("BCDF-GHJKL"),
            Err(PairingCodeError::WrongLength)
        );
        // Vowels and digits are not in the alphabet.
        assert_eq!(
            PairingCode::parse("ABCD-FGHJ"),
            Err(PairingCodeError::InvalidCharacter)
        );
        assert_eq!(
            PairingCode::parse("BCD0-FGHJ"),
            Err(PairingCodeError::InvalidCharacter)
        );
    }

    #[test]
    fn a_qr_link_carries_the_code() {
        let code =
            PairingCode::parse_code_or_link("https://portal.example.com/pair?code=BCDF-GHJK")
                .unwrap();
        assert_eq!(code.as_str(), "BCDFGHJK");
        assert_eq!(
            PairingCode::parse_code_or_link("https://portal.example.com/pair?x=1"),
            Err(PairingCodeError::Empty)
        );
    }

    #[test]
    fn generated_codes_use_the_alphabet_and_differ() {
        let codes: std::collections::HashSet<String> = (0..1000)
            .map(|_| PairingCode::generate().as_str().to_owned())
            .collect();
        // 1000 draws from 2.56e10 codes: a repeat would mean a broken generator.
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn debug_output_hides_the_code() {
        let code = PairingCode::parse("BCDFGHJK").unwrap();
        assert!(!format!("{code:?}").contains("BCDF"));
    }
}
