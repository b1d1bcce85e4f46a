//! Free-text fields (names, cities): trimmed, and within a length people can read.

use super::FieldError;

/// The longest email address there can be (RFC 5321's path limit, less the brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;
/// A location's name, and its city.
pub const MAX_PLACE_LENGTH: usize = 200;
/// An API key's name (what it is for).
pub const MAX_KEY_NAME_LENGTH: usize = 100;
/// A short choice sent by a form (a role, a lifetime, a number).
pub const MAX_CHOICE_LENGTH: usize = 20;
/// Ids are UUIDs (36 characters): a longer one is nobody's, and is refused unread.
pub const MAX_ID_LENGTH: usize = 64;

/// A value that may be at most `max` characters long, checked before it goes anywhere
/// (a query, the database, an error message).
pub fn at_most(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} has at most {max} characters"),
        ));
    }
    Ok(())
}

/// An id given to find something by: at most [`MAX_ID_LENGTH`] characters.
pub fn plausible_id(field: &str, value: &str) -> Result<(), FieldError> {
    at_most(field, value, MAX_ID_LENGTH)
}

/// A text that must be there: trimmed, 1 to `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} has 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A text that may be left out (empty or blank is the same as none).
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => required_text(field, value, max).map(Some),
        None => Ok(None),
    }
}

/// Whether an address looks like an email address (a local part, `@`, a dotted domain).
pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.chars().count() <= MAX_EMAIL_LENGTH
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Till 1 ", 10).unwrap(), "Till 1");
        assert_eq!(required_text("name", "   ", 10).unwrap_err().field, "name");
        assert!(required_text("name", "ééééé", 5).is_ok());
        assert!(required_text("name", "éééééé", 5).is_err());
        assert_eq!(optional_text("city", Some("  "), 5).unwrap(), None);
        assert_eq!(optional_text("city", None, 5).unwrap(), None);
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(is_plausible_email("ops@shop.example"));
        assert!(!is_plausible_email("ops@shop"));
        assert!(!is_plausible_email("@shop.example"));
        assert!(!is_plausible_email("ops shop@x.example"));
        assert!(!is_plausible_email("ops.example"));
        let longest = format!("{}@shop.example", "a".repeat(MAX_EMAIL_LENGTH - 13));
        assert!(is_plausible_email(&longest));
        assert!(!is_plausible_email(&format!("a{longest}")));
    }

    #[test]
    fn lengths_are_capped_by_characters() {
        assert!(at_most("q", "ééé", 3).is_ok());
        assert_eq!(at_most("q", "éééé", 3).unwrap_err().field, "q");
        assert!(plausible_id("location_id", "0192f3c4-7d2a-7c3b-9e1f-0a1b2c3d4e5f").is_ok());
        assert!(plausible_id("location_id", &"x".repeat(MAX_ID_LENGTH + 1)).is_err());
    }
}
