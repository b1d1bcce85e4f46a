use std::collections::HashMap;

use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::metadata::{Metadata, MetadataFilter};

use super::{
    ENROLLMENT_METADATA, MetadataTable, SqlBuilder, Store, StoreError, StoreResult, Tx,
    from_filtered_by_metadata, narrow_to_locations,
};

// No Debug: the row holds a live pairing code, which must never reach a log.
#[derive(Clone, sqlx::FromRow)]
pub struct EnrollmentRow {
    pub id: String,
    pub merchant_id: String,
    pub location_id: String,
    /// The canonical code, kept only while it can be used: cleared when the enrollment is
    /// consumed or cancelled, and by [`Store::forget_expired_codes`] once it expires. A
    /// late attempt still finds the enrollment by the code's hash and gets "gone".
    pub live_code: Option<String>,
    /// As stored: PENDING, CONSUMED or CANCELLED. Use [`EnrollmentRow::status_at`].
    pub status: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub created_by_kind: String,
    pub created_by_id: Option<String>,
    pub created_by_label: String,
    pub consumed_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub device_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    pub batch_id: Option<String>,
    #[sqlx(skip)]
    pub metadata: Metadata,
}

impl EnrollmentRow {
    pub fn status_at(&self, now_ms: i64) -> EnrollmentStatus {
        EnrollmentStatus::parse(&self.status)
            .unwrap_or(EnrollmentStatus::Cancelled)
            .at(self.expires_at, now_ms)
    }
}

/// An enrollment joined with one of its metadata pairs (none when it has none).
#[derive(sqlx::FromRow)]
struct EnrollmentWithPair {
    #[sqlx(flatten)]
    enrollment: EnrollmentRow,
    metadata_key: Option<String>,
    metadata_value: Option<String>,
}

pub struct NewEnrollment<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub location_id: &'a str,
    pub code: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
    pub created_by_kind: &'a str,
    pub created_by_id: Option<&'a str>,
    pub created_by_label: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: Option<&'a str>,
    pub batch_id: Option<&'a str>,
    pub metadata: &'a Metadata,
}

#[derive(Debug, Clone, Default)]
pub struct EnrollmentFilter {
    pub merchant_id: String,
    /// When set, only enrollments of these locations (a store manager's view).
    pub allowed_locations: Option<Vec<String>>,
    pub location_id: Option<String>,
    pub metadata: Vec<MetadataFilter>,
    pub statuses: Vec<EnrollmentStatus>,
    /// Only the codes created together as one sheet.
    pub batch_id: Option<String>,
}

pub(super) const COLUMNS: &str = "e.id, e.merchant_id, e.location_id, e.live_code, e.status, e.expires_at, \
    e.created_at, e.created_by_kind, e.created_by_id, e.created_by_label, e.consumed_at, \
    e.cancelled_at, e.device_id, e.idempotency_key, e.request_fingerprint, e.batch_id";

/// An enrollment still pending, for statements that name their enrollment by id. The
/// `|| ''` keeps PostgreSQL on that id: a bare `status = 'PENDING'` lets its planner scan a
/// partial index of pending enrollments instead, all of them, which it takes for nearly
/// empty whenever its statistics date from a time with few pending, as after a quiet night.
pub(super) const STILL_PENDING: &str = "status || '' = 'PENDING'";

impl Store {
    /// Fails with [`StoreError::UniqueViolation`] when the code or the idempotency key is
    /// taken; the caller tells which.
    pub async fn insert_enrollment(tx: &mut Tx, new: &NewEnrollment<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enrollments (id, merchant_id, location_id, live_code, code_hash, status, \
             expires_at, created_at, created_by_kind, created_by_id, created_by_label, \
             idempotency_key, request_fingerprint, batch_id) \
             VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(new.id)
        .bind(new.merchant_id)
        .bind(new.location_id)
        .bind(new.code)
        .bind(code_hash(new.code))
        .bind(new.expires_at)
        .bind(new.created_at)
        .bind(new.created_by_kind)
        .bind(new.created_by_id)
        .bind(new.created_by_label)
        .bind(new.idempotency_key)
        .bind(new.request_fingerprint)
        .bind(new.batch_id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::classify)?;
        if new.metadata.is_empty() {
            return Ok(());
        }
        // All pairs in one statement.
        let mut query = SqlBuilder::new(
            "INSERT INTO enrollment_metadata (enrollment_id, merchant_id, key, value) VALUES ",
        );
        for (index, (key, value)) in new.metadata.iter().enumerate() {
            query.bind_row(
                index,
                [
                    new.id.into(),
                    new.merchant_id.into(),
                    key.into(),
                    value.into(),
                ],
            );
        }
        query.execute(tx).await?;
        Ok(())
    }

    pub async fn enrollment(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> StoreResult<Option<EnrollmentRow>> {
        let row: Option<EnrollmentRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM enrollments e WHERE e.merchant_id = $1 AND e.id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        self.with_enrollment_metadata(row).await
    }

    /// The enrollment holding this (canonical) code, whatever its merchant: the live one
    /// if there is one, else the newest that ever had it. Found by the code's hash, since
    /// the plain code is gone once the enrollment is no longer pending.
    pub async fn enrollment_by_code(&self, code: &str) -> StoreResult<Option<EnrollmentRow>> {
        // With its metadata in the same query: every registration starts here.
        let rows: Vec<EnrollmentWithPair> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, md.key AS metadata_key, md.value AS metadata_value FROM \
             (SELECT * FROM enrollments e WHERE e.code_hash = $1 \
              ORDER BY CASE WHEN e.status = 'PENDING' THEN 0 ELSE 1 END, e.created_at DESC \
              LIMIT 1) e \
             LEFT JOIN enrollment_metadata md ON md.enrollment_id = e.id"
        ))
        .bind(code_hash(code))
        .fetch_all(self.pool())
        .await?;
        let mut pairs = rows.into_iter();
        let Some(first) = pairs.next() else {
            return Ok(None);
        };
        let mut enrollment = first.enrollment;
        for (key, value) in std::iter::once((first.metadata_key, first.metadata_value))
            .chain(pairs.map(|pair| (pair.metadata_key, pair.metadata_value)))
        {
            if let (Some(key), Some(value)) = (key, value) {
                enrollment.metadata.insert(key, value);
            }
        }
        Ok(Some(enrollment))
    }

    pub async fn enrollment_by_idempotency_key(
        &self,
        merchant_id: &str,
        key: &str,
    ) -> StoreResult<Option<EnrollmentRow>> {
        let row: Option<EnrollmentRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM enrollments e WHERE e.merchant_id = $1 AND e.idempotency_key = $2"
        ))
        .bind(merchant_id)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        self.with_enrollment_metadata(row).await
    }

    /// A page of enrollments, newest first, with the total count.
    pub async fn enrollments(
        &self,
        filter: &EnrollmentFilter,
        now: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<EnrollmentRow>, i64)> {
        let Some(query) = filtered_enrollments(filter, now) else {
            return Ok((Vec::new(), 0));
        };
        let total = self.count_of(&query).await?;
        let mut page = query.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(" ORDER BY e.created_at DESC, e.id DESC LIMIT ")
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        Ok((self.enrollment_rows(page).await?, total))
    }

    /// The enrollments after the one created at `created_at` with id `id`, newest first:
    /// read from the index however deep into the list, and not counted.
    pub async fn enrollments_after(
        &self,
        filter: &EnrollmentFilter,
        now: i64,
        (created_at, id): (i64, &str),
        limit: i64,
    ) -> StoreResult<Vec<EnrollmentRow>> {
        let Some(query) = filtered_enrollments(filter, now) else {
            return Ok(Vec::new());
        };
        let mut page = query.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(" AND (e.created_at < ")
            .bind_int(created_at)
            .push(" OR (e.created_at = ")
            .bind_int(created_at)
            .push(" AND e.id < ")
            .bind_text(id)
            .push(")) ORDER BY e.created_at DESC, e.id DESC LIMIT ")
            .bind_int(limit);
        self.enrollment_rows(page).await
    }

    async fn count_of(&self, query: &SqlBuilder) -> StoreResult<i64> {
        Ok(query
            .with_prefix("SELECT COUNT(*)")
            .query_scalar()?
            .fetch_one(self.pool())
            .await?)
    }

    async fn enrollment_rows(&self, page: SqlBuilder) -> StoreResult<Vec<EnrollmentRow>> {
        let rows = page.query_as()?.fetch_all(self.pool()).await?;
        self.with_metadata_of_enrollments(rows).await
    }

    /// PENDING and unexpired becomes CANCELLED. False when the
    /// enrollment was not in that state.
    pub async fn cancel_enrollment(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(&format!(
            "UPDATE enrollments SET status = 'CANCELLED', cancelled_at = $1, live_code = NULL \
             WHERE merchant_id = $2 AND id = $3 AND {STILL_PENDING} AND expires_at > $1"
        ))
        .bind(now)
        .bind(merchant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Clears the plain text of every code that expired by `now`; returns how many.
    pub async fn forget_expired_codes(&self, now: i64) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE enrollments SET live_code = NULL \
             WHERE live_code IS NOT NULL AND expires_at <= $1",
        )
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(result.rows_affected())
    }

    /// Fills the hash of live codes stored before codes were hashed (SQLite's migration
    /// cannot compute SHA-256 itself).
    pub(super) async fn hash_unhashed_codes(&self) -> StoreResult<()> {
        let unhashed: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, live_code FROM enrollments \
             WHERE code_hash IS NULL AND live_code IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        for (id, code) in unhashed {
            sqlx::query("UPDATE enrollments SET code_hash = $1 WHERE id = $2")
                .bind(code_hash(&code))
                .bind(id)
                .execute(self.writer())
                .await?;
        }
        Ok(())
    }

    /// Pending enrollments expired by `now` whose expiry has not been announced, the
    /// earliest first, with their metadata.
    pub async fn enrollments_to_announce_expired(
        &self,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<EnrollmentRow>> {
        let rows = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM enrollments e WHERE e.status = 'PENDING' \
             AND e.expiry_announced_at IS NULL AND e.expires_at <= $1 \
             ORDER BY e.expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        self.with_metadata_of_enrollments(rows).await
    }

    async fn with_metadata_of_enrollments(
        &self,
        mut rows: Vec<EnrollmentRow>,
    ) -> StoreResult<Vec<EnrollmentRow>> {
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut metadata = self.enrollment_metadata(&ids).await?;
        for row in &mut rows {
            row.metadata = metadata.remove(&row.id).unwrap_or_default();
        }
        Ok(rows)
    }

    /// Marks the enrollment's expiry as announced if it is still pending, expired and
    /// unannounced: true for exactly one caller, however many instances sweep. The plain
    /// code is left to [`Store::forget_expired_codes`], which runs with or without
    /// webhook delivery.
    pub async fn mark_expiry_announced(tx: &mut Tx, id: &str, now: i64) -> StoreResult<bool> {
        let result = sqlx::query(&format!(
            "UPDATE enrollments SET expiry_announced_at = $1 WHERE id = $2 \
             AND {STILL_PENDING} AND expiry_announced_at IS NULL AND expires_at <= $1"
        ))
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn with_enrollment_metadata(
        &self,
        row: Option<EnrollmentRow>,
    ) -> StoreResult<Option<EnrollmentRow>> {
        let Some(mut row) = row else { return Ok(None) };
        row.metadata = self
            .enrollment_metadata(std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(Some(row))
    }

    async fn enrollment_metadata(&self, ids: &[String]) -> StoreResult<HashMap<String, Metadata>> {
        load_metadata(self, &ENROLLMENT_METADATA, ids).await
    }
}

/// The enrollments `filter` selects at `now`, as a query to put a SELECT before; `None`
/// when it can select nothing.
fn filtered_enrollments(filter: &EnrollmentFilter, now: i64) -> Option<SqlBuilder> {
    let mut query = from_filtered_by_metadata(
        "enrollments",
        "e",
        &ENROLLMENT_METADATA,
        &filter.merchant_id,
        &filter.metadata,
    );
    if !narrow_to_locations(
        &mut query,
        "e",
        filter.allowed_locations.as_deref(),
        filter.location_id.as_deref(),
    ) {
        return None;
    }
    if let Some(batch_id) = &filter.batch_id {
        query.push(" AND e.batch_id = ").bind_text(batch_id);
    }
    // Expired is not stored: it is a pending enrollment whose time has passed.
    query.push(" AND (");
    for (index, status) in filter.statuses.iter().enumerate() {
        if index > 0 {
            query.push(" OR ");
        }
        match status {
            EnrollmentStatus::Pending => query
                .push("(e.status = 'PENDING' AND e.expires_at > ")
                .bind_int(now)
                .push(")"),
            EnrollmentStatus::Expired => query
                .push("(e.status = 'PENDING' AND e.expires_at <= ")
                .bind_int(now)
                .push(")"),
            EnrollmentStatus::Consumed => query.push("e.status = 'CONSUMED'"),
            EnrollmentStatus::Cancelled => query.push("e.status = 'CANCELLED'"),
        };
    }
    if filter.statuses.is_empty() {
        query.push("1 = 0");
    }
    query.push(")");

    Some(query)
}

/// What a code is found by once its plain text is gone. Unsalted: the codes it protects
/// can no longer be used, and a look-up must find a code from the code alone.
pub(super) fn code_hash(code: &str) -> String {
    crate::secrets::hash_secret(code)
}

/// Metadata of many rows in one query, keyed by owner id.
pub(super) async fn load_metadata(
    store: &Store,
    metadata: &MetadataTable,
    ids: &[String],
) -> StoreResult<HashMap<String, Metadata>> {
    let MetadataTable {
        table,
        owner_column,
    } = metadata;
    let mut by_owner: HashMap<String, Metadata> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_owner);
    }
    let mut query = SqlBuilder::new(&format!(
        "SELECT {owner_column}, key, value FROM {table} WHERE {owner_column} IN ("
    ));
    query.bind_list(ids.iter().cloned()).push(")");
    let rows: Vec<(String, String, String)> = query.query_as()?.fetch_all(store.pool()).await?;
    for (owner, key, value) in rows {
        by_owner.entry(owner).or_default().insert(key, value);
    }
    Ok(by_owner)
}
