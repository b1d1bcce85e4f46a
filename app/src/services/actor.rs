//! Who is acting: a signed-in user, a merchant system with an API key, a device, or an
//! operator at the command line; for which merchant; and what they may do.

use crate::domain::Permission;
use crate::domain::permission::api_key_may;
use crate::domain::role::Role;

use super::{ServiceError, ServiceResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// Merchant staff in the portal, with their role.
    User(Role),
    ApiKey,
    Device,
    /// The command line and other operator tools.
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User(_) => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Device => "device",
            ActorKind::System => "system",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub merchant_id: String,
    pub kind: ActorKind,
    pub id: Option<String>,
    pub label: String,
    /// `Some` limits the actor to these locations (a store manager); `None` sees all.
    pub allowed_locations: Option<Vec<String>>,
}

impl Actor {
    pub fn system(merchant_id: &str) -> Self {
        Self {
            merchant_id: merchant_id.to_owned(),
            kind: ActorKind::System,
            id: None,
            label: "command line".into(),
            allowed_locations: None,
        }
    }

    /// Whether this actor may do `permission` at all (locations are checked apart).
    pub fn may(&self, permission: Permission) -> bool {
        match self.kind {
            ActorKind::User(role) => role.may(permission),
            ActorKind::ApiKey => api_key_may(permission),
            ActorKind::System => true,
            // A device acts on its own record only, through its own operations.
            ActorKind::Device => false,
        }
    }

    /// Refuses with [`ServiceError::Forbidden`] unless this actor may do `permission`.
    pub fn require(&self, permission: Permission) -> ServiceResult<()> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    pub fn may_use_location(&self, location_id: &str) -> bool {
        self.allowed_locations
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|id| id == location_id))
    }

    /// The user's id when a person acts (for "created by").
    pub fn user_id(&self) -> Option<&str> {
        matches!(self.kind, ActorKind::User(_))
            .then_some(self.id.as_deref())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Actor {
        Actor {
            merchant_id: "m".into(),
            kind: ActorKind::User(role),
            id: Some("u".into()),
            label: "u@example.com".into(),
            allowed_locations: None,
        }
    }

    #[test]
    fn permissions_follow_the_kind_of_actor() {
        assert!(user(Role::Admin).require(Permission::ManageUsers).is_ok());
        assert!(matches!(
            user(Role::Ops).require(Permission::ManageUsers),
            Err(ServiceError::Forbidden)
        ));
        assert!(Actor::system("m").may(Permission::ManageApiKeys));
        let mut key = Actor::system("m");
        key.kind = ActorKind::ApiKey;
        assert!(key.may(Permission::ManageDevices));
        assert!(!key.may(Permission::ManageUsers));
    }
}
