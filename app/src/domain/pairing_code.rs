//! Pairing codes: what a store clerk types into the POS app.
//!
//! Letters from a 20-letter alphabet without vowels (no accidental words) and without
//! letters that are easily confused with digits. A code that lives up to two hours has 8
//! (20^8 ≈ 2.56 × 10^10 codes, typed by hand); one that lives longer has 16 (20^16 ≈ 2^69),
//! copied rather than typed, so that guessing stays hopeless over its longer life.

use std::fmt;

/// The letters a code is made of.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How many letters a short code has, without the display hyphens.
pub const CODE_LENGTH: usize = 8;
/// How many letters a long code has.
pub const LONG_CODE_LENGTH: usize = 16;
/// Codes living longer than this (seconds) are long.
pub const SHORT_CODE_MAX_LIFETIME_SECONDS: i64 = 2 * 3600;

/// The code length for an enrollment that lives `lifetime_seconds`.
pub fn length_for_lifetime(lifetime_seconds: i64) -> usize {
    if lifetime_seconds > SHORT_CODE_MAX_LIFETIME_SECONDS {
        LONG_CODE_LENGTH
    } else {
        CODE_LENGTH
    }
}

/// A well-formed pairing code in canonical form (8 or 16 upper-case letters, no hyphens).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PairingCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingCodeError {
    #[error("the pairing code is empty")]
    Empty,
    #[error("a pairing code has 8 or 16 letters")]
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
        if canonical.len() != CODE_LENGTH && canonical.len() != LONG_CODE_LENGTH {
            return Err(PairingCodeError::WrongLength);
        }
        Ok(Self(canonical))
    }

    /// Reads either a code or the `qr_payload` URL that carries one, so a scanned QR code
    /// and a typed code go through the same door. The link carries the code in its
    /// fragment (`.../pair#code=XXXX-XXXX`); links printed before that used the query
    /// (`?code=`) and still work.
    pub fn parse_code_or_link(input: &str) -> Result<Self, PairingCodeError> {
        let trimmed = input.trim();
        if !trimmed.contains("://") {
            return Self::parse(trimmed);
        }
        let (before_fragment, fragment) = trimmed.split_once('#').unwrap_or((trimmed, ""));
        let query = before_fragment
            .split_once('?')
            .map_or("", |(_, query)| query);
        match code_parameter(fragment).or_else(|| code_parameter(query)) {
            Some(code) => Self::parse(code),
            None => Err(PairingCodeError::Empty),
        }
    }

    /// Builds a fresh random code of `length` letters from a source of random indexes
    /// below 20.
    pub fn from_indexes(length: usize, mut next_index: impl FnMut() -> usize) -> Self {
        let code = (0..length)
            .map(|_| ALPHABET[next_index() % ALPHABET.len()] as char)
            .collect();
        Self(code)
    }

    /// The canonical form, as stored: `BCDFGHJK`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people, in groups of four: `BCDF-GHJK`, or
    /// `BCDF-GHJK-LMNP-QRST` for a long code.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|group| std::str::from_utf8(group).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Whether this is a long (16-letter) code.
    pub fn is_long(&self) -> bool {
        self.0.len() == LONG_CODE_LENGTH
    }
}

#[cfg(feature = "ssr")]
impl PairingCode {
    /// A new code of `length` letters from the operating system's cryptographic random
    /// source.
    pub fn generate(length: usize) -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        Self::from_indexes(length, || rng.random_range(0..ALPHABET.len()))
    }
}

// Codes are secrets while they are live: keep them out of debug output and logs.
impl fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingCode(****)")
    }
}

/// The value of `code=` in a `name=value&...` list (a query or a fragment).
pub fn code_parameter(parameters: &str) -> Option<&str> {
    parameters
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "code")
        .map(|(_, value)| value)
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
        for link in [
            "https://portal.example.com/pair#code=BCDF-GHJK",
            // As printed before the code moved into the fragment.
            "https://portal.example.com/pair?code=BCDF-GHJK",
            "https://portal.example.com/pair?x=1#code=bcdf-ghjk",
        ] {
            let code = PairingCode::parse_code_or_link(link).unwrap();
            assert_eq!(code.as_str(), "BCDFGHJK", "{link}");
        }
        assert_eq!(
            PairingCode::parse_code_or_link("https://portal.example.com/pair#x=1"),
            Err(PairingCodeError::Empty)
        );
        assert_eq!(
            PairingCode::parse_code_or_link("https://portal.example.com/pair?x=1"),
            Err(PairingCodeError::Empty)
        );
    }

    #[test]
    fn generated_codes_use_the_alphabet_and_differ() {
        let codes: std::collections::HashSet<String> = (0..1000)
            .map(|_| PairingCode::generate(CODE_LENGTH).as_str().to_owned())
            .collect();
        // 1000 draws from 2.56e10 codes: a repeat would mean a broken generator.
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn long_lifetimes_get_long_codes_in_four_groups() {
        assert_eq!(length_for_lifetime(2 * 3600), CODE_LENGTH);
        assert_eq!(length_for_lifetime(2 * 3600 + 1), LONG_CODE_LENGTH);
        assert_eq!(length_for_lifetime(72 * 3600), LONG_CODE_LENGTH);
        let long = PairingCode::generate(LONG_CODE_LENGTH);
        assert!(long.is_long());
        let shown = long.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        // Typed or scanned, in any case and grouping, it reads back the same.
        assert_eq!(PairingCode::parse(&shown.to_lowercase()).unwrap(), long);
        assert_eq!(PairingCode::parse(long.as_str()).unwrap(), long);
        assert_eq!(
            PairingCode::parse("BCDF-GHJK-LMNP"),
            Err(PairingCodeError::WrongLength)
        );
    }

    #[test]
    fn debug_output_hides_the_code() {
        let code = PairingCode::parse("BCDFGHJK").unwrap();
        assert!(!format!("{code:?}").contains("BCDF"));
    }
}
