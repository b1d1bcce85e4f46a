//! Free-text fields (names, cities): trimmed, and within a length people can read.

use super::FieldError;

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
                && email.len() <= 254
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
    }
}
