//! Metadata: the key-value labels an enrollment carries over to its device, used to
//! filter devices later (`store:berlin-01`, `type:android`).

use std::collections::BTreeMap;

use super::FieldError;

pub type Metadata = BTreeMap<String, String>;

pub const MAX_PAIRS: usize = 20;
pub const MAX_KEY_LENGTH: usize = 40;
pub const MAX_VALUE_LENGTH: usize = 500;
/// How many `key:value` filters one list query may combine.
pub const MAX_FILTERS: usize = 5;

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Checks a key on its own; used for each pair and for filters.
pub fn validate_key(key: &str) -> Result<(), String> {
    let length = key.chars().count();
    if length == 0 || length > MAX_KEY_LENGTH {
        return Err(format!(
            "a metadata key has 1 to {MAX_KEY_LENGTH} characters"
        ));
    }
    if !key.chars().all(is_key_char) {
        return Err("a metadata key uses only letters, digits, '_', '.' and '-'".into());
    }
    Ok(())
}

/// Checks a whole metadata map; every problem is reported under `field.key`.
pub fn validate(field: &str, metadata: &Metadata) -> Vec<FieldError> {
    if metadata.len() > MAX_PAIRS {
        // Said once, not for each of however many pairs were sent.
        return vec![FieldError::new(
            field,
            format!("at most {MAX_PAIRS} metadata pairs are allowed"),
        )];
    }
    let mut errors = Vec::new();
    for (key, value) in metadata {
        if let Err(message) = validate_key(key) {
            errors.push(FieldError::new(format!("{field}.{key}"), message));
        }
        if value.chars().count() > MAX_VALUE_LENGTH {
            errors.push(FieldError::new(
                format!("{field}.{key}"),
                format!("a metadata value has at most {MAX_VALUE_LENGTH} characters"),
            ));
        }
    }
    errors
}

/// One `key:value` filter of a list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFilter {
    pub key: String,
    pub value: String,
}

/// Parses the repeated `metadata=key:value` query parameters; every pair must match.
pub fn parse_filters(raw: &[String]) -> Result<Vec<MetadataFilter>, FieldError> {
    if raw.len() > MAX_FILTERS {
        return Err(FieldError::new(
            "metadata",
            format!("at most {MAX_FILTERS} metadata filters can be combined"),
        ));
    }
    raw.iter()
        .map(|filter| {
            if filter.chars().count() > MAX_KEY_LENGTH + 1 + MAX_VALUE_LENGTH {
                return Err(FieldError::new(
                    "metadata",
                    format!(
                        "a metadata filter is a key of at most {MAX_KEY_LENGTH} characters, ':' and a value of at most {MAX_VALUE_LENGTH}"
                    ),
                ));
            }
            let (key, value) = filter.split_once(':').ok_or_else(|| {
                FieldError::new(
                    "metadata",
                    format!("'{filter}' is not of the form key:value"),
                )
            })?;
            validate_key(key).map_err(|message| FieldError::new("metadata", message))?;
            if value.chars().count() > MAX_VALUE_LENGTH {
                return Err(FieldError::new(
                    "metadata",
                    format!("a metadata value has at most {MAX_VALUE_LENGTH} characters"),
                ));
            }
            Ok(MetadataFilter {
                key: key.to_owned(),
                value: value.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_metadata_passes() {
        assert!(
            validate(
                "metadata",
                &map(&[("store.id", "B-01"), ("type", "android")])
            )
            .is_empty()
        );
        assert!(validate("metadata", &Metadata::new()).is_empty());
    }

    #[test]
    fn bad_keys_and_long_values_are_named() {
        let long_value = "x".repeat(MAX_VALUE_LENGTH + 1);
        let errors = validate(
            "metadata",
            &map(&[("bad key", "v"), ("ok", &long_value), ("", "v")]),
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["metadata.", "metadata.bad key", "metadata.ok"]);
        let too_long_key = "k".repeat(MAX_KEY_LENGTH + 1);
        assert!(validate_key(&too_long_key).is_err());
        assert!(validate_key(&"k".repeat(MAX_KEY_LENGTH)).is_ok());
    }

    #[test]
    fn too_many_pairs_are_refused() {
        let metadata: Metadata = (0..=MAX_PAIRS)
            .map(|i| (format!("k{i}"), "v".into()))
            .collect();
        let errors = validate("metadata", &metadata);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata");
    }

    #[test]
    fn filters_split_on_the_first_colon() {
        let filters = parse_filters(&["url:https://x".into(), "type:".into()]).unwrap();
        assert_eq!(filters[0].key, "url");
        assert_eq!(filters[0].value, "https://x");
        assert_eq!(filters[1].value, "");
        assert!(parse_filters(&["novalue".into()]).is_err());
        assert!(parse_filters(&["bad key:v".into()]).is_err());
        let six: Vec<String> = (0..6).map(|i| format!("k{i}:v")).collect();
        assert!(parse_filters(&six).is_err());
        let longest = format!("k:{}", "v".repeat(MAX_VALUE_LENGTH));
        assert!(parse_filters(std::slice::from_ref(&longest)).is_ok());
        assert!(parse_filters(&[format!("{longest}v")]).is_err());
        let huge = parse_filters(&["x".repeat(1_000_000)]).unwrap_err();
        assert!(huge.message.len() < 200, "the filter is not echoed");
    }
}
