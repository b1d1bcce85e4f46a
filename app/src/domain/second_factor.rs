//! Second factors: authenticator codes (TOTP, RFC 6238: 6 digits, 30 s steps, one step
//! either side for clocks that drift) and recovery codes (single use, stored hashed).
//!
//! The step arithmetic and the formats are plain rules; computing a code needs the HMAC
//! of `totp-rs`, on the server only.

/// Seconds per TOTP step.
pub const TOTP_STEP_SECONDS: i64 = 30;
/// Digits of an authenticator code.
pub const TOTP_DIGITS: usize = 6;
/// Steps accepted before and after the current one.
pub const TOTP_SKEW_STEPS: i64 = 1;
/// Random bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
pub const TOTP_SECRET_BYTES: usize = 20;
/// Recovery codes made at once; making new ones voids the old.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Random bytes of a recovery code: 80 bits, 16 symbols of 5 bits.
pub const RECOVERY_CODE_BYTES: usize = 10;
/// Symbols of a recovery code, written in four groups of four.
const RECOVERY_CODE_SYMBOLS: usize = 16;
/// The longest input taken for a code of either kind (spaces and dashes included).
pub const MAX_CODE_INPUT: usize = 40;

/// Crockford's base 32 in lower case: no i, l, o or u, so nothing reads as another.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The TOTP step a time (ms since the epoch) falls in.
pub fn step_at(now_ms: i64) -> i64 {
    now_ms.div_euclid(TOTP_STEP_SECONDS * 1000)
}

/// Whether a code of `step` may still be accepted: each is accepted once, and never one
/// older than the last accepted.
pub fn is_unused_step(step: i64, last_used_step: i64) -> bool {
    step > last_used_step
}

/// An authenticator code as typed ("123 456", " 123456 ") as its six digits; `None` for
/// anything else.
pub fn normalize_totp_code(input: &str) -> Option<String> {
    if input.len() > MAX_CODE_INPUT {
        return None;
    }
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == TOTP_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn encode_5_bits(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    let mut text = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut bits: u32 = 0;
    let mut count = 0;
    for byte in bytes {
        bits = (bits << 8) | u32::from(*byte);
        count += 8;
        while count >= 5 {
            count -= 5;
            text.push(char::from(alphabet[((bits >> count) & 31) as usize]));
        }
        bits &= (1 << count) - 1;
    }
    if count > 0 {
        text.push(char::from(alphabet[((bits << (5 - count)) & 31) as usize]));
    }
    text
}

/// A TOTP secret in groups of four, easier to type into an app by hand.
pub fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` URI an authenticator app reads from the QR code: the issuer and the
/// account name label the entry; SHA-1, 6 digits and 30 s are what every app supports.
pub fn otpauth_uri(secret_base32: &str, issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
        percent_encode(issuer),
        percent_encode(account),
        percent_encode(issuer),
    )
}

/// Everything but letters, digits, `-._~` and `@` escaped (a space as `%20`, as apps want).
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A recovery code from 10 random bytes: 16 symbols in four groups, `7k2m-…`.
pub fn format_recovery_code(bytes: &[u8; RECOVERY_CODE_BYTES]) -> String {
    group_recovery_symbols(&encode_5_bits(bytes, RECOVERY_ALPHABET))
}

fn group_recovery_symbols(symbols: &str) -> String {
    symbols
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A recovery code as typed, in the form it was made in (what is hashed), or `None` if it
/// cannot be one: case, spaces and dashes do not matter, and `i`, `l` and `o` are read as
/// `1`, `1` and `0`.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    if input.len() > MAX_CODE_INPUT {
        return None;
    }
    let mut symbols = String::with_capacity(RECOVERY_CODE_SYMBOLS);
    for c in input.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' | '\t' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        };
        if !c.is_ascii() || !RECOVERY_ALPHABET.contains(&(c as u8)) {
            return None;
        }
        symbols.push(c);
    }
    (symbols.len() == RECOVERY_CODE_SYMBOLS).then(|| group_recovery_symbols(&symbols))
}

/// A TOTP secret of `bytes` in base 32, as apps take it (RFC 4648, no padding).
#[cfg(feature = "ssr")]
pub fn secret_to_base32(bytes: &[u8]) -> String {
    totp_rs::Secret::from(bytes.to_vec()).to_base32()
}

/// The bytes of a base-32 TOTP secret; `None` if it is not base 32.
#[cfg(feature = "ssr")]
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(text)
        .ok()
        .map(|secret| secret.as_ref().to_vec())
}

/// The TOTP of `secret`: SHA-1, six digits, 30 s steps, one step either side. `None` for
/// a secret shorter than RFC 4226's 128 bits.
#[cfg(feature = "ssr")]
fn totp(secret: &[u8]) -> Option<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_digits(TOTP_DIGITS as u8)
        .with_step_duration(TOTP_STEP_SECONDS as u64)
        .with_skew(TOTP_SKEW_STEPS as u16)
        .build()
        .ok()
}

/// The code an authenticator app shows for `secret` in `step`.
#[cfg(feature = "ssr")]
pub fn totp_code(secret: &[u8], step: i64) -> String {
    let seconds = u64::try_from(step.max(0)).unwrap_or(0) * TOTP_STEP_SECONDS as u64;
    totp(secret)
        .map(|totp| totp.generate(seconds).to_string())
        .unwrap_or_default()
}

/// The step of `code` (six digits), if it is the code of `secret` for the step of `now_ms`
/// or one either side, and that step is still unused (see [`is_unused_step`]).
#[cfg(feature = "ssr")]
pub fn matching_step(secret: &[u8], code: &str, now_ms: i64, last_used_step: i64) -> Option<i64> {
    let seconds = u64::try_from(now_ms.div_euclid(1000)).ok()?;
    let step = i64::try_from(totp(secret)?.check(code, seconds)?).ok()?;
    is_unused_step(step, last_used_step).then_some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_thirty_seconds_and_each_is_used_once() {
        assert_eq!(step_at(59_999), 1);
        assert_eq!(step_at(60_000), 2);
        assert_eq!(step_at(-1), -1);
        assert!(is_unused_step(3, 2));
        // A step used already, and those before it, are out.
        assert!(!is_unused_step(2, 2));
        assert!(!is_unused_step(1, 2));
    }

    #[test]
    fn codes_are_six_digits_whatever_the_spacing() {
        assert_eq!(normalize_totp_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_totp_code("012345").as_deref(), Some("012345"));
        for wrong in [
            "12345",
            "1234567",
            "12345a",
            "",
            "１２３４５６",
            &"1".repeat(100),
        ] {
            assert_eq!(normalize_totp_code(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn secrets_are_shown_in_groups_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn secrets_are_rfc_4648_base_32() {
        assert_eq!(secret_to_base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(secret_to_base32(&[7; TOTP_SECRET_BYTES]).len(), 32);
        assert_eq!(secret_from_base32("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(secret_from_base32("MZXW1"), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("MZXW6YTBOI", "ipp-portal (Shop & Co)", "ann@shop.example");
        assert_eq!(
            uri,
            "otpauth://totp/ipp-portal%20%28Shop%20%26%20Co%29:ann@shop.example?secret=MZXW6YTBOI\
             &issuer=ipp-portal%20%28Shop%20%26%20Co%29&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_read_back_however_typed() {
        let code = format_recovery_code(&[0xff; RECOVERY_CODE_BYTES]);
        assert_eq!(code, "zzzz-zzzz-zzzz-zzzz");
        let code = format_recovery_code(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(code.len(), 19);
        assert_eq!(
            normalize_recovery_code(&code).as_deref(),
            Some(code.as_str())
        );
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(
            normalize_recovery_code(&typed).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(
            normalize_recovery_code("OIL0-0000-0000-0000").as_deref(),
            Some("0110-0000-0000-0000")
        );
        for wrong in [
            "zzzz-zzzz-zzzz",
            "zzzz-zzzz-zzzz-zzzz-z",
            "uuuu-zzzz-zzzz-zzzz",
            "é",
        ] {
            assert_eq!(normalize_recovery_code(wrong), None, "{wrong:?}");
        }
    }

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890", cut to six digits.
    #[cfg(feature = "ssr")]
    #[test]
    fn codes_match_rfc_6238() {
        let secret = b"12345678901234567890";
        for (seconds, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp_code(secret, seconds / 30), code, "{seconds}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_code_matches_its_step_once_and_only_near_now() {
        let secret = b"12345678901234567890";
        let now_ms = 1_111_111_111_000;
        let now = step_at(now_ms);
        let code = totp_code(secret, now);
        assert_eq!(matching_step(secret, &code, now_ms, 0), Some(now));
        assert_eq!(matching_step(secret, &code, now_ms, now), None, "replayed");
        let previous = totp_code(secret, now - 1);
        assert_eq!(matching_step(secret, &previous, now_ms, 0), Some(now - 1));
        assert_eq!(matching_step(secret, &previous, now_ms, now - 1), None);
        let too_old = totp_code(secret, now - 2);
        assert_eq!(matching_step(secret, &too_old, now_ms, 0), None);
        let next = totp_code(secret, now + 1);
        assert_eq!(matching_step(secret, &next, now_ms, 0), Some(now + 1));
        assert_eq!(matching_step(b"too short", &code, now_ms, 0), None);
    }
}
