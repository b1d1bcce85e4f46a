//! What the portal's overview reads: a few short lists and counts, each an index range
//! (see the migration `overview_and_time_zones`), so they cost the same at a million
//! devices as at ten. Counts stop at a cap: past it the overview says "10,000+".

use super::{DeviceRow, EnrollmentRow, SqlBuilder, Store, StoreResult, narrow_to_locations};

/// Whose rows: a merchant's, and for a store manager only those of their locations.
#[derive(Debug, Clone, Copy)]
pub struct OverviewScope<'a> {
    pub merchant_id: &'a str,
    /// `Some`: only these locations (may be empty: then nothing).
    pub allowed_locations: Option<&'a [String]>,
}

/// When a device was last heard from: its last call, or its registration if none since.
const ACTIVITY: &str = "COALESCE(d.last_seen_at, d.created_at)";

impl OverviewScope<'_> {
    /// ` FROM <table> <alias> WHERE <alias>.merchant_id = .. [AND location_id IN (..)]`;
    /// `None` when the scope holds no location at all.
    fn from(&self, table: &str, alias: &str) -> Option<SqlBuilder> {
        let mut query = SqlBuilder::new(&format!(
            " FROM {table} {alias} WHERE {alias}.merchant_id = "
        ));
        query.bind_text(self.merchant_id);
        narrow_to_locations(&mut query, alias, self.allowed_locations, None).then_some(query)
    }

    /// ` FROM locations l WHERE ..`: the scope's locations, or those of them among `only`.
    fn locations(&self, only: Option<&[String]>) -> Option<SqlBuilder> {
        let mut query = SqlBuilder::new(" FROM locations l WHERE l.merchant_id = ");
        query.bind_text(self.merchant_id);
        for ids in [self.allowed_locations, only].into_iter().flatten() {
            if ids.is_empty() {
                return None;
            }
            query
                .push(" AND l.id IN (")
                .bind_list(ids.iter().cloned())
                .push(")");
        }
        Some(query)
    }
}

impl Store {
    /// Live codes expiring within `(now, until]`, soonest first.
    pub async fn enrollments_expiring(
        &self,
        scope: OverviewScope<'_>,
        now: i64,
        until: i64,
        limit: i64,
    ) -> StoreResult<Vec<EnrollmentRow>> {
        let Some(query) = live_codes(scope, now, Some(until)) else {
            return Ok(Vec::new());
        };
        let mut page = query.with_prefix(&format!("SELECT {}", super::enrollments::COLUMNS));
        page.push(" ORDER BY e.expires_at LIMIT ").bind_int(limit);
        Ok(page.query_as()?.fetch_all(self.pool()).await?)
    }

    /// How many codes are live, or expire by `until`; at most `cap + 1`.
    pub async fn count_live_enrollments(
        &self,
        scope: OverviewScope<'_>,
        now: i64,
        until: Option<i64>,
        cap: i64,
    ) -> StoreResult<i64> {
        self.count_at_most(live_codes(scope, now, until).as_ref(), cap)
            .await
    }

    /// Devices registered at or after `since`, newest first.
    pub async fn devices_registered_since(
        &self,
        scope: OverviewScope<'_>,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRow>> {
        self.devices_in_order(
            registered_since(scope, since),
            "d.created_at DESC, d.id DESC",
            limit,
        )
        .await
    }

    /// How many devices registered at or after `since`; at most `cap + 1`.
    pub async fn count_devices_registered_since(
        &self,
        scope: OverviewScope<'_>,
        since: i64,
        cap: i64,
    ) -> StoreResult<i64> {
        self.count_at_most(registered_since(scope, since).as_ref(), cap)
            .await
    }

    /// Devices not heard from since `before` (last seen, else registered, earlier), the
    /// ones that went quiet last first.
    pub async fn devices_quiet_since(
        &self,
        scope: OverviewScope<'_>,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRow>> {
        self.devices_in_order(
            quiet_since(scope, before),
            &format!("{ACTIVITY} DESC"),
            limit,
        )
        .await
    }

    /// How many devices were not heard from since `before`; at most `cap + 1`.
    pub async fn count_devices_quiet_since(
        &self,
        scope: OverviewScope<'_>,
        before: i64,
        cap: i64,
    ) -> StoreResult<i64> {
        self.count_at_most(quiet_since(scope, before).as_ref(), cap)
            .await
    }

    /// The first `limit` devices `from_where` selects, in `order`.
    async fn devices_in_order(
        &self,
        from_where: Option<SqlBuilder>,
        order: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRow>> {
        let Some(query) = from_where else {
            return Ok(Vec::new());
        };
        let mut page = query.with_prefix(&format!("SELECT {}", super::devices::COLUMNS));
        page.push(&format!(" ORDER BY {order} LIMIT "))
            .bind_int(limit);
        Ok(page.query_as()?.fetch_all(self.pool()).await?)
    }

    /// How many locations the scope holds; at most `cap + 1`.
    pub async fn count_locations_at_most(
        &self,
        scope: OverviewScope<'_>,
        cap: i64,
    ) -> StoreResult<i64> {
        self.count_at_most(scope.locations(None).as_ref(), cap)
            .await
    }

    /// The names of the scope's locations among `ids`, as `(id, name)`: the few that the
    /// overview's lists mention.
    pub async fn location_names(
        &self,
        scope: OverviewScope<'_>,
        ids: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let Some(query) = scope.locations(Some(ids)) else {
            return Ok(Vec::new());
        };
        let query = query.with_prefix("SELECT l.id, l.name");
        Ok(query.query_as()?.fetch_all(self.pool()).await?)
    }
}

/// Pending codes that have not expired at `now`, and expire by `until` if given.
fn live_codes(scope: OverviewScope<'_>, now: i64, until: Option<i64>) -> Option<SqlBuilder> {
    let mut query = scope.from("enrollments", "e")?;
    query
        .push(" AND e.status = 'PENDING' AND e.expires_at > ")
        .bind_int(now);
    if let Some(until) = until {
        query.push(" AND e.expires_at <= ").bind_int(until);
    }
    Some(query)
}

fn registered_since(scope: OverviewScope<'_>, since: i64) -> Option<SqlBuilder> {
    let mut query = scope.from("devices", "d")?;
    query.push(" AND d.created_at >= ").bind_int(since);
    Some(query)
}

fn quiet_since(scope: OverviewScope<'_>, before: i64) -> Option<SqlBuilder> {
    let mut query = scope.from("devices", "d")?;
    query.push(&format!(" AND {ACTIVITY} < ")).bind_int(before);
    Some(query)
}
