//! The overview: what needs attention now, for the merchant or a store manager's
//! locations. Every part is a bounded index read (see `store::overview`).

use std::future::Future;

use crate::domain::Permission;
use crate::model::MerchantOverview;
use crate::store::{AuditFilter, DeviceFilter, OverviewScope, StoreResult};

use super::audit::audit_view;
use super::devices::device_view;
use super::{Actor, ServiceResult, Services};

/// Counts on the portal's pages (the overview, the device list, the audit log) stop
/// here: past it they read "10,000+".
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
    ///
    /// Its reads do not depend on each other, so they run side by side; a list shorter
    /// than its limit holds every match, so only a full one is counted.
    #[tracing::instrument(skip_all)]
    pub async fn overview(&self, actor: &Actor, zone: &str) -> ServiceResult<MerchantOverview> {
        actor.require(Permission::ViewEnrollments)?;
        actor.require(Permission::ViewDevices)?;
        let now = self.now();
        let scope = scope_of(actor);
        let store = &self.store;
        let cap = OVERVIEW_COUNT_CAP;
        let soon = now + EXPIRING_WITHIN_SECONDS * 1000;
        let today = crate::local_time::Zone::named_or_utc(zone).start_of_day(now);
        let quiet_before = now - QUIET_AFTER_DAYS * 24 * 3600 * 1000;
        // Only what the actor may read of the audit log: all of it, or their own doing.
        let own_activity = !actor.may(Permission::ViewAudit);
        let activity_filter = AuditFilter {
            actor_id: own_activity.then(|| actor.id.clone().unwrap_or_default()),
            ..AuditFilter::default()
        };
        let all_devices = DeviceFilter {
            merchant_id: actor.merchant_id.clone(),
            allowed_locations: actor.allowed_locations.clone(),
            ..DeviceFilter::default()
        };

        let (expiring_soon, registered_today, quiet, activity, live_codes, devices, locations) = tokio::try_join!(
            store.enrollments_expiring(scope, now, soon, EXPIRING_SHOWN),
            store.devices_registered_since(scope, today, DEVICES_SHOWN),
            store.devices_quiet_since(scope, quiet_before, DEVICES_SHOWN),
            store.latest_audit_events(&actor.merchant_id, &activity_filter, ACTIVITY_SHOWN),
            store.count_live_enrollments(scope, now, None, cap),
            store.count_devices_at_most(&all_devices, cap),
            store.count_locations_at_most(scope, cap),
        )?;
        let (expiring_soon_count, registered_today_count, quiet_count) = tokio::try_join!(
            total_of(
                &expiring_soon,
                EXPIRING_SHOWN,
                store.count_live_enrollments(scope, now, Some(soon), cap),
            ),
            total_of(
                &registered_today,
                DEVICES_SHOWN,
                store.count_devices_registered_since(scope, today, cap),
            ),
            total_of(
                &quiet,
                DEVICES_SHOWN,
                store.count_devices_quiet_since(scope, quiet_before, cap),
            ),
        )?;
        Ok(MerchantOverview {
            count_cap: cap,
            live_codes,
            devices,
            locations,
            expiring_soon_count,
            expiring_soon: expiring_soon
                .into_iter()
                .map(|row| self.enrollment_view(row))
                .collect(),
            registered_today_count,
            registered_today: registered_today.into_iter().map(device_view).collect(),
            quiet_count,
            quiet: quiet.into_iter().map(device_view).collect(),
            activity: activity.into_iter().map(audit_view).collect(),
            own_activity,
        })
    }

    /// The names of the locations `overview`'s lists mention, as `(id, name)`: one
    /// look-up of those few, however many locations the merchant has.
    pub async fn overview_location_names(
        &self,
        actor: &Actor,
        overview: &MerchantOverview,
    ) -> ServiceResult<Vec<(String, String)>> {
        actor.require(Permission::ViewLocations)?;
        let mut ids: Vec<String> = overview
            .expiring_soon
            .iter()
            .map(|code| code.location_id.clone())
            .chain(
                overview
                    .registered_today
                    .iter()
                    .chain(&overview.quiet)
                    .map(|device| device.location_id.clone()),
            )
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.location_names(scope_of(actor), &ids).await?)
    }
}

fn scope_of(actor: &Actor) -> OverviewScope<'_> {
    OverviewScope {
        merchant_id: &actor.merchant_id,
        allowed_locations: actor.allowed_locations.as_deref(),
    }
}

/// How many match a list read with `limit`: the list's length when it came back shorter
/// (it holds them all), else what `count` says.
async fn total_of<T>(
    list: &[T],
    limit: i64,
    count: impl Future<Output = StoreResult<i64>>,
) -> StoreResult<i64> {
    let shown = list.len() as i64;
    if shown < limit {
        Ok(shown)
    } else {
        count.await
    }
}
