use serde::{Deserialize, Serialize};

/// What a member of the merchant's staff may do in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and API keys.
    Admin,
    /// Enrollments, devices and locations of the whole merchant.
    Ops,
    /// Enrollments and devices of the locations assigned to them only.
    StoreManager,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Ops, Role::StoreManager];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::StoreManager => "store_manager",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }

    /// Whether the role sees every location of the merchant, not only assigned ones.
    pub fn sees_all_locations(self) -> bool {
        !matches!(self, Role::StoreManager)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(!Role::StoreManager.sees_all_locations());
        assert!(Role::Ops.sees_all_locations());
    }
}
