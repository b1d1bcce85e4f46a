//! The overview: what needs attention now, for the merchant or a store manager's
//! locations. Every part is a bounded index read (see `store::overview`).

use crate::domain::Permission;
use crate::domain::paging::PageRequest;
use crate::model::MerchantOverview;
use crate::store::OverviewScope;

use super::audit::audit_view;
use super::devices::device_view;
use super::{Actor, ServiceResult, Services};

/// Counts on the overview stop here: past it they read "10,000+".
pub const OVERVIEW_COUNT_CAP: i64 = 10_000;
/// "Expiring soon": within the hour.
pub const EXPIRING_WITHIN_SECONDS: i64 = 3600;
/// "Quiet": not heard from for a week.
pub const QUIET_AFTER_DAYS: i64 = 7;

const EXPIRING_SHOWN: i64 = 10;
const DEVICES_SHOWN: i64 = 5;
const ACTIVITY_SHOWN: i64 = 10;

impl Services {
    /// The overview as `actor` may see it; "today" is the day in the time zone `zone`
    /// (an IANA name; UTC if unknown).
    #[tracing::instrument(skip_all)]
    pub async fn overview(&self, actor: &Actor, zone: &str) -> ServiceResult<MerchantOverview> {
        actor.require(Permission::ViewEnrollments)?;
        actor.require(Permission::ViewDevices)?;
        let now = self.now();
        let scope = OverviewScope {
            merchant_id: &actor.merchant_id,
            allowed_locations: actor.allowed_locations.as_deref(),
        };
        let store = &self.store;
        let cap = OVERVIEW_COUNT_CAP;
        let soon = now + EXPIRING_WITHIN_SECONDS * 1000;
        let today = crate::local_time::Zone::named_or_utc(zone).start_of_day(now);
        let quiet_before = now - QUIET_AFTER_DAYS * 24 * 3600 * 1000;

        let expiring_soon = store
            .enrollments_expiring(scope, now, soon, EXPIRING_SHOWN)
            .await?;
        let registered_today = store
            .devices_registered_since(scope, today, DEVICES_SHOWN)
            .await?;
        let quiet = store
            .devices_quiet_since(scope, quiet_before, DEVICES_SHOWN)
            .await?;
        // Only what the actor may read of the audit log: all of it, or their own doing.
        let own_activity = !actor.may(Permission::ViewAudit);
        let activity = store
            .latest_audit_events(
                &actor.merchant_id,
                own_activity.then(|| actor.id.as_deref().unwrap_or_default()),
                ACTIVITY_SHOWN,
            )
            .await?;
        let devices = store.count_devices_at_most(scope, cap).await?;
        let locations = self
            .list_locations(actor, PageRequest::new(Some(0), Some(1))?)
            .await?
            .total_elements;
        Ok(MerchantOverview {
            count_cap: cap,
            live_codes: store.count_live_enrollments(scope, now, None, cap).await?,
            devices,
            locations,
            expiring_soon_count: store
                .count_live_enrollments(scope, now, Some(soon), cap)
                .await?,
            expiring_soon: expiring_soon
                .into_iter()
                .map(|row| self.enrollment_view(row))
                .collect(),
            registered_today_count: store
                .count_devices_registered_since(scope, today, cap)
                .await?,
            registered_today: registered_today.into_iter().map(device_view).collect(),
            quiet_count: store
                .count_devices_quiet_since(scope, quiet_before, cap)
                .await?,
            quiet: quiet.into_iter().map(device_view).collect(),
            activity: activity.into_iter().map(audit_view).collect(),
            own_activity,
        })
    }
}
