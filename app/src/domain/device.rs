//! Devices: the POS terminals registered with a pairing code.

use serde::{Deserialize, Serialize};

use super::FieldError;

pub const MAX_NAME_LENGTH: usize = 100;
pub const MAX_HARDWARE_ID_LENGTH: usize = 200;
/// The most devices deregistered by one request (a page of the portal's list is 50).
pub const MAX_DEREGISTER_AT_ONCE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Platform {
    Ios,
    Android,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "IOS",
            Platform::Android => "ANDROID",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "IOS" => Some(Platform::Ios),
            "ANDROID" => Some(Platform::Android),
            _ => None,
        }
    }
}

/// How the portal's device list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSort {
    /// Newest registration first.
    #[default]
    Registered,
    /// By name, A to Z.
    Name,
    /// Most recently seen first; never seen last.
    LastSeen,
}

impl DeviceSort {
    pub fn parse(value: &str) -> Self {
        match value {
            "name" => DeviceSort::Name,
            "last_seen" => DeviceSort::LastSeen,
            _ => DeviceSort::Registered,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceSort::Registered => "registered",
            DeviceSort::Name => "name",
            DeviceSort::LastSeen => "last_seen",
        }
    }
}

/// A device name as people see it in lists: trimmed, 1 to 100 characters.
pub fn validate_name(field: &str, name: &str) -> Result<String, FieldError> {
    let trimmed = name.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_NAME_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a device name has 1 to {MAX_NAME_LENGTH} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "a device name has no control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// The identifier the POS app reports for its hardware.
pub fn validate_hardware_id(hardware_id: &str) -> Result<String, FieldError> {
    let trimmed = hardware_id.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_HARDWARE_ID_LENGTH {
        return Err(FieldError::new(
            "hardware_id",
            format!("hardware_id has 1 to {MAX_HARDWARE_ID_LENGTH} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// The name a device gets when the app sends none: recognisable in a list.
pub fn default_name(platform: Platform, hardware_id: &str) -> String {
    let tail: String = hardware_id
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let kind = match platform {
        Platform::Ios => "iOS device",
        Platform::Android => "Android device",
    };
    format!("{kind} {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("name", "  Till 1 ").unwrap(), "Till 1");
        assert!(validate_name("name", "   ").is_err());
        assert!(validate_name("name", &"x".repeat(101)).is_err());
        assert!(validate_name("name", "a\u{7}b").is_err());
        assert_eq!(validate_name("name", "").unwrap_err().field, "name");
    }

    #[test]
    fn platforms_and_default_names() {
        assert_eq!(Platform::parse("ios"), Some(Platform::Ios));
        assert_eq!(Platform::parse("Android"), Some(Platform::Android));
        assert_eq!(Platform::parse("windows"), None);
        assert_eq!(
            default_name(Platform::Android, "SN-0012345678"),
            "Android device 345678"
        );
        assert_eq!(default_name(Platform::Ios, "ab"), "iOS device ab");
        assert!(validate_hardware_id(" ").is_err());
    }
}
