//! What the portal's overview reads: a few short lists and counts, each an index range
//! (see the migration `overview_and_time_zones`), so they cost the same at a million
//! devices as at ten. Counts stop at a cap: past it the overview says "10,000+".

use super::{AuditEventRow, DeviceRow, EnrollmentRow, SqlBuilder, Store, StoreResult};

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
        if let Some(allowed) = self.allowed_locations {
            if allowed.is_empty() {
                return None;
            }
            query
                .push(&format!(" AND {alias}.location_id IN ("))
                .bind_list(allowed.iter().cloned())
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
        self.count_at_most(live_codes(scope, now, until), cap).await
    }

    /// How many devices the scope holds; at most `cap + 1` (an exact count of a million
    /// devices reads a million index entries).
    pub async fn count_devices_at_most(
        &self,
        scope: OverviewScope<'_>,
        cap: i64,
    ) -> StoreResult<i64> {
        self.count_at_most(scope.from("devices", "d"), cap).await
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
        self.count_at_most(registered_since(scope, since), cap)
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
        self.count_at_most(quiet_since(scope, before), cap).await
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

    /// The merchant's latest audit events, or only those `actor_id` made, newest first;
    /// without counting them all, as the audit log's pages do.
    pub async fn latest_audit_events(
        &self,
        merchant_id: &str,
        actor_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEventRow>> {
        let mut query = SqlBuilder::new(
            "SELECT id, merchant_id, occurred_at, actor_kind, actor_id, actor_label, action, \
             target_kind, target_id, details FROM audit_events WHERE merchant_id = ",
        );
        query.bind_text(merchant_id);
        if let Some(actor_id) = actor_id {
            query.push(" AND actor_id = ").bind_text(actor_id);
        }
        query.push(" ORDER BY id DESC LIMIT ").bind_int(limit);
        Ok(query.query_as()?.fetch_all(self.pool()).await?)
    }

    /// `COUNT(*)` of what `from_where` selects, reading at most `cap + 1` rows; 0 when it
    /// can select nothing (`None`).
    async fn count_at_most(&self, from_where: Option<SqlBuilder>, cap: i64) -> StoreResult<i64> {
        let Some(from_where) = from_where else {
            return Ok(0);
        };
        let mut query = from_where.with_prefix("SELECT COUNT(*) FROM (SELECT 1 AS one");
        query
            .push(" LIMIT ")
            .bind_int(cap.saturating_add(1))
            .push(") capped");
        Ok(query.query_scalar()?.fetch_one(self.pool()).await?)
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
