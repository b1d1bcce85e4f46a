//! What each kind of caller may do. Services check these themselves, so a rule holds
//! whichever door the call came through: a page, the Device API, the command line or the
//! CSV export. The portal's navigation asks the same question to decide what to show.

use serde::{Deserialize, Serialize};

use super::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// See pairing codes and their status.
    ViewEnrollments,
    /// Create and cancel pairing codes.
    ManageEnrollments,
    /// See devices, filter and export them.
    ViewDevices,
    /// Rename, edit and deregister devices.
    ManageDevices,
    /// See locations (for pickers and lists).
    ViewLocations,
    /// Add and rename locations, and see their device counts.
    ManageLocations,
    /// Read the audit log.
    ViewAudit,
    /// Create users, change their roles, disable them.
    ManageUsers,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Add, change and delete webhook endpoints, see their secrets and delivery logs.
    ManageWebhooks,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Permission::ViewEnrollments,
        Permission::ManageEnrollments,
        Permission::ViewDevices,
        Permission::ManageDevices,
        Permission::ViewLocations,
        Permission::ManageLocations,
        Permission::ViewAudit,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ManageWebhooks,
    ];
}

impl Role {
    /// Whether staff with this role may do `permission`. A store manager's permissions
    /// are further limited to their locations by the services.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Ops => !matches!(permission, ManageUsers | ManageApiKeys | ManageWebhooks),
            Role::StoreManager => matches!(
                permission,
                ViewEnrollments | ManageEnrollments | ViewDevices | ManageDevices | ViewLocations
            ),
        }
    }
}

/// What a merchant system may do with an API key: the Device API (its webhook endpoints
/// included), nothing about staff.
pub fn api_key_may(permission: Permission) -> bool {
    use Permission::*;
    matches!(
        permission,
        ViewEnrollments
            | ManageEnrollments
            | ViewDevices
            | ManageDevices
            | ViewLocations
            | ViewAudit
            | ManageWebhooks
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_may_do_everything() {
        assert!(Permission::ALL.into_iter().all(|p| Role::Admin.may(p)));
    }

    #[test]
    fn ops_run_the_fleet_but_not_staff_or_keys() {
        assert!(Role::Ops.may(Permission::ManageLocations));
        assert!(Role::Ops.may(Permission::ViewAudit));
        assert!(!Role::Ops.may(Permission::ManageUsers));
        assert!(!Role::Ops.may(Permission::ManageApiKeys));
        assert!(!Role::Ops.may(Permission::ManageWebhooks));
    }

    #[test]
    fn store_managers_pair_and_manage_devices_only() {
        assert!(Role::StoreManager.may(Permission::ManageEnrollments));
        assert!(Role::StoreManager.may(Permission::ManageDevices));
        assert!(Role::StoreManager.may(Permission::ViewLocations));
        assert!(!Role::StoreManager.may(Permission::ManageLocations));
        assert!(!Role::StoreManager.may(Permission::ViewAudit));
        assert!(!Role::StoreManager.may(Permission::ManageUsers));
        assert!(!Role::StoreManager.may(Permission::ManageWebhooks));
    }

    #[test]
    fn api_keys_reach_the_device_api_only() {
        assert!(api_key_may(Permission::ManageEnrollments));
        assert!(api_key_may(Permission::ManageDevices));
        assert!(!api_key_may(Permission::ManageUsers));
        assert!(!api_key_may(Permission::ManageApiKeys));
        assert!(!api_key_may(Permission::ManageLocations));
        assert!(api_key_may(Permission::ManageWebhooks));
    }
}
