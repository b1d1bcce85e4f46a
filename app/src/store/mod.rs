//! Storage: the one place that speaks SQL, for SQLite and PostgreSQL alike.
//!
//! Queries are checked at run time (no live database is needed to compile), written once
//! with `$N` placeholders, which both backends accept. Times are BIGINT milliseconds since
//! the epoch and ids are TEXT, so the same rows read the same way on either backend.
//! Each backend has its own migrations folder, since their DDL differs in details.

mod api_keys;
mod audit;
#[cfg(feature = "bench")]
mod bulk;
mod devices;
mod enrollments;
mod group_writer;
mod locations;
mod merchants;
mod overview;
mod passkeys;
mod rate_limits;
mod registration;
mod second_factors;
mod sessions;
mod sqlite;
mod users;
mod webhooks;

use std::str::FromStr;

use sqlx::Arguments;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions};

use crate::domain::metadata::MetadataFilter;

pub use api_keys::{ApiKeyRow, NewApiKey};
pub use audit::{AuditEventRow, AuditFilter, NewAuditEvent};
#[cfg(feature = "bench")]
pub use bulk::RegistrationOutcome;
pub use devices::{DeviceCursor, DeviceFilter, DeviceRow, DeviceUpdate};
pub use enrollments::{EnrollmentFilter, EnrollmentRow, NewEnrollment};
pub use locations::LocationRow;
pub use merchants::MerchantRow;
pub use overview::OverviewScope;
pub use passkeys::{NewPasskey, PasskeyRow};
pub use rate_limits::CountedAttempt;
pub use registration::NewDevice;
pub use second_factors::UserTotpRow;
pub use sessions::{SESSIONS_TABLE, SessionStorage};
pub use users::{NewUser, UserRow};
pub use webhooks::{
    AttemptRecord, ClaimedDelivery, NewWebhookEvent, WebhookAttemptRow, WebhookDeliveryRow,
    WebhookEndpointRow, WebhookEndpointUpdate,
};

pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: use sqlite:// or postgres://")]
    UnsupportedUrl,
    /// A unique constraint refused the row: the caller decides what that means.
    #[error("a unique constraint refused the change")]
    UniqueViolation,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder: {0}")]
    Io(#[from] std::io::Error),
    /// The shared transaction this write was part of failed (see the log for why).
    #[error("the group of writes failed: {0}")]
    GroupFailed(String),
    #[error("the database writer has stopped")]
    WriterStopped,
}

impl StoreError {
    fn classify(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database, whichever backend the URL names.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where changes go. On SQLite a single connection: SQLite has one writer at a time,
    /// and queueing writers here is far faster than letting them collide and retry.
    writer: AnyPool,
    backend: Backend,
    url: String,
    /// The writer task for registrations, and on SQLite for attempt counts (see
    /// `group_writer.rs`).
    group_writer: group_writer::GroupWriter,
    /// The writer task that counts attempts: on SQLite the same one; on PostgreSQL a
    /// second, so that counts never wait for a group of registrations being written.
    attempt_writer: group_writer::GroupWriter,
}

impl Store {
    /// Opens the database named by `url`; a SQLite file (and its folder) is created when
    /// missing. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = match backend {
            Backend::Sqlite => {
                sqlite::create_folder(url)?;
                sqlite::connect_options(url)?
            }
            Backend::Postgres => AnyConnectOptions::from_str(url)?,
        }
        .disable_statement_logging();
        let pool = pool_options(
            backend,
            match backend {
                // One writer at a time; a few readers beside it.
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            },
            sqlite::READER_CACHE_KIB,
        )
        .connect_with(options.clone())
        .await?;
        let writer = match backend {
            Backend::Sqlite => {
                pool_options(backend, 1, sqlite::WRITER_CACHE_KIB)
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => pool.clone(),
        };
        let group_writer = group_writer::GroupWriter::start(backend, writer.clone());
        let attempt_writer = match backend {
            Backend::Sqlite => group_writer.clone(),
            Backend::Postgres => group_writer::GroupWriter::start(backend, writer.clone()),
        };
        Ok(Self {
            pool,
            writer,
            backend,
            url: url.to_owned(),
            group_writer,
            attempt_writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        }
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrator().run(&self.pool).await?;
        self.hash_unhashed_codes().await
    }

    /// Whether the database answers and has every migration this build knows applied
    /// (an instance of an older build beside a newer schema is fine; the reverse is not).
    pub async fn is_current(&self) -> StoreResult<bool> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await?;
        Ok(self
            .migrator()
            .iter()
            .all(|migration| applied.contains(&migration.version)))
    }

    /// Starts a transaction whose first statement must be a write: on SQLite that takes
    /// the write lock at once, so concurrent writers wait for each other instead of
    /// failing when a read transaction tries to upgrade.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(self.writer.begin().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// The connections this instance holds: in use, and idle (the writer's too on SQLite).
    pub fn connection_counts(&self) -> ConnectionCounts {
        let mut counts = ConnectionCounts::of(&self.pool);
        if self.backend == Backend::Sqlite {
            let writer = ConnectionCounts::of(&self.writer);
            counts.in_use += writer.in_use;
            counts.idle += writer.idle;
        }
        counts
    }

    /// For reads.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For a change made outside a transaction.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// `COUNT(*)` of what `from_where` (` FROM .. WHERE ..`) selects, reading at most
    /// `cap + 1` rows: an exact count of a million rows reads a million index entries, and
    /// a page that says "10,000+" needs no more. 0 when it can select nothing (`None`).
    pub(crate) async fn count_at_most(
        &self,
        from_where: Option<&SqlBuilder>,
        cap: i64,
    ) -> StoreResult<i64> {
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

/// How many database connections are open, by whether a query holds them now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    pub in_use: u32,
    pub idle: u32,
}

impl ConnectionCounts {
    fn of(pool: &AnyPool) -> Self {
        let open = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
        Self {
            in_use: open - idle,
            idle,
        }
    }
}

/// A pool of `max_connections`; on SQLite each keeps `sqlite_cache_kib` of pages.
fn pool_options(backend: Backend, max_connections: u32, sqlite_cache_kib: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // A SQLite connection is a file handle in this process and cannot drop, and pinging
        // it costs a round trip to its thread on every query: the writer would hold
        // SQLite's one write lock through it. PostgreSQL connections can drop: test them.
        .test_before_acquire(backend == Backend::Postgres)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    sqlite::configure_connection(conn, sqlite_cache_kib).await?;
                }
                Ok(())
            })
        })
}

/// A table of key-value metadata rows and the column naming the row they belong to.
pub(crate) struct MetadataTable {
    pub table: &'static str,
    pub owner_column: &'static str,
}

pub(crate) const DEVICE_METADATA: MetadataTable = MetadataTable {
    table: "device_metadata",
    owner_column: "device_id",
};

pub(crate) const ENROLLMENT_METADATA: MetadataTable = MetadataTable {
    table: "enrollment_metadata",
    owner_column: "enrollment_id",
};

/// Narrows `query` (rows of `alias`) to the locations a viewer may see and the one a filter
/// asks for. False when the viewer may see no location, so nothing can match.
pub(crate) fn narrow_to_locations(
    query: &mut SqlBuilder,
    alias: &str,
    allowed: Option<&[String]>,
    location_id: Option<&str>,
) -> bool {
    if let Some(allowed) = allowed {
        if allowed.is_empty() {
            return false;
        }
        query
            .push(&format!(" AND {alias}.location_id IN ("))
            .bind_list(allowed.iter().cloned())
            .push(")");
    }
    if let Some(location_id) = location_id {
        query
            .push(&format!(" AND {alias}.location_id = "))
            .bind_text(location_id);
    }
    true
}

/// ` FROM <metadata> m0 CROSS JOIN <table> <alias> WHERE <alias>.merchant_id = ...` for a
/// list filtered by metadata. The first filter leads, an index range over (merchant, key,
/// value), so a filter over a million rows visits only the matching ones; each further
/// filter is a primary-key probe of the same row's metadata. CROSS JOIN keeps SQLite from
/// starting at the merchant's rows instead (PostgreSQL plans it freely either way).
pub(crate) fn from_filtered_by_metadata(
    table: &str,
    alias: &str,
    metadata: &MetadataTable,
    merchant_id: &str,
    filters: &[MetadataFilter],
) -> SqlBuilder {
    let mut query = SqlBuilder::new(" FROM ");
    if !filters.is_empty() {
        query.push(&format!("{} m0 CROSS JOIN ", metadata.table));
    }
    query
        .push(&format!("{table} {alias} WHERE {alias}.merchant_id = "))
        .bind_text(merchant_id);
    if !filters.is_empty() {
        query.push(&format!(" AND {alias}.id = m0.{}", metadata.owner_column));
        push_metadata_filters(&mut query, metadata, merchant_id, filters);
    }
    query
}

/// ` FROM <metadata> m0 WHERE ...`: the owners matching every metadata filter, read from
/// the metadata index alone. Counting these is a walk over index entries, with no row of
/// the owners' table read.
pub(crate) fn from_metadata_alone(
    metadata: &MetadataTable,
    merchant_id: &str,
    filters: &[MetadataFilter],
) -> SqlBuilder {
    let mut query = SqlBuilder::new(&format!(" FROM {} m0 WHERE TRUE", metadata.table));
    push_metadata_filters(&mut query, metadata, merchant_id, filters);
    query
}

/// ` AND m0.merchant_id = .. AND m0.key = .. AND m0.value = ..` for the first filter and
/// an `EXISTS` probe of the same owner's metadata for each further one.
fn push_metadata_filters(
    query: &mut SqlBuilder,
    metadata: &MetadataTable,
    merchant_id: &str,
    filters: &[MetadataFilter],
) {
    let MetadataTable {
        table,
        owner_column,
    } = metadata;
    let Some((first, further)) = filters.split_first() else {
        return;
    };
    query
        .push(" AND m0.merchant_id = ")
        .bind_text(merchant_id)
        .push(" AND m0.key = ")
        .bind_text(&first.key)
        .push(" AND m0.value = ")
        .bind_text(&first.value);
    for wanted in further {
        query
            .push(&format!(
                " AND EXISTS (SELECT 1 FROM {table} mx \
                 WHERE mx.{owner_column} = m0.{owner_column} AND mx.key = "
            ))
            .bind_text(&wanted.key)
            .push(" AND mx.value = ")
            .bind_text(&wanted.value)
            .push(")");
    }
}

/// A SQL statement built piece by piece, numbering `$N` placeholders as values are bound;
/// used for list queries whose filters vary.
#[derive(Default)]
pub(crate) struct SqlBuilder {
    sql: String,
    values: Vec<SqlValue>,
}

#[derive(Clone)]
pub(crate) enum SqlValue {
    Text(String),
    Int(i64),
    /// An integer column left empty.
    NullInt,
}

impl From<&str> for SqlValue {
    fn from(text: &str) -> Self {
        SqlValue::Text(text.to_owned())
    }
}

impl From<&String> for SqlValue {
    fn from(text: &String) -> Self {
        SqlValue::Text(text.clone())
    }
}

impl From<i64> for SqlValue {
    fn from(int: i64) -> Self {
        SqlValue::Int(int)
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(int: Option<i64>) -> Self {
        int.map_or(SqlValue::NullInt, SqlValue::Int)
    }
}

impl SqlBuilder {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            values: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn bind(&mut self, value: SqlValue) -> &mut Self {
        let placeholder = self.placeholder(value);
        self.sql.push_str(&placeholder);
        self
    }

    /// Binds `value` without writing its placeholder, which it returns (`$3`), for SQL
    /// built elsewhere from expressions.
    pub fn placeholder(&mut self, value: SqlValue) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    pub fn bind_text(&mut self, value: impl Into<String>) -> &mut Self {
        self.bind(SqlValue::Text(value.into()))
    }

    pub fn bind_int(&mut self, value: i64) -> &mut Self {
        self.bind(SqlValue::Int(value))
    }

    /// `$1, $2, ...` for each value, for `IN (...)`.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = String>) -> &mut Self {
        self.bind_separated(values.into_iter().map(SqlValue::Text))
    }

    /// `($1, $2, ...)` for one row of a multi-row `INSERT ... VALUES`, preceded by `, `
    /// unless it is the statement's first row (`row_index` 0).
    pub fn bind_row<const N: usize>(
        &mut self,
        row_index: usize,
        values: [SqlValue; N],
    ) -> &mut Self {
        self.push(if row_index == 0 { "(" } else { ", (" });
        self.bind_separated(values).push(")")
    }

    fn bind_separated(&mut self, values: impl IntoIterator<Item = SqlValue>) -> &mut Self {
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.sql.push_str(", ");
            }
            self.bind(value);
        }
        self
    }

    /// Appends `other`, text and values, its placeholders numbered on after this one's:
    /// statements built apart, sent as one batch.
    pub fn append(&mut self, other: &SqlBuilder) -> &mut Self {
        let offset = self.values.len();
        let mut rest = other.sql.as_str();
        while let Some(dollar) = rest.find('$') {
            self.sql.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            match after[..digits].parse::<usize>() {
                Ok(number) => self.sql.push_str(&format!("${}", number + offset)),
                Err(_) => self.sql.push('$'),
            }
            rest = &after[digits..];
        }
        self.sql.push_str(rest);
        self.values.extend(other.values.iter().cloned());
        self
    }

    /// This statement's text behind `prefix`, with the same values: one WHERE clause
    /// shared by a COUNT and a SELECT.
    pub fn with_prefix(&self, prefix: &str) -> Self {
        Self {
            sql: format!("{prefix}{}", self.sql),
            values: self.values.clone(),
        }
    }

    #[cfg(test)]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    fn arguments(&self) -> Result<AnyArguments<'_>, sqlx::Error> {
        let mut arguments = AnyArguments::default();
        for value in &self.values {
            match value {
                SqlValue::Text(text) => arguments.add(text.as_str()),
                SqlValue::Int(int) => arguments.add(*int),
                SqlValue::NullInt => arguments.add(None::<i64>),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }

    pub fn query(&self) -> Result<sqlx::query::Query<'_, Any, AnyArguments<'_>>, sqlx::Error> {
        Ok(sqlx::query_with(&self.sql, self.arguments()?))
    }

    /// Runs the statement on `connection` (a transaction's too); returns the rows written.
    /// A unique constraint's refusal comes back as [`StoreError::UniqueViolation`].
    pub async fn execute(&self, connection: &mut sqlx::AnyConnection) -> StoreResult<u64> {
        Ok(self
            .query()?
            .execute(connection)
            .await
            .map_err(StoreError::classify)?
            .rows_affected())
    }

    pub fn query_as<T>(
        &self,
    ) -> Result<sqlx::query::QueryAs<'_, Any, T, AnyArguments<'_>>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        Ok(sqlx::query_as_with(&self.sql, self.arguments()?))
    }

    pub fn query_scalar<T>(
        &self,
    ) -> Result<sqlx::query::QueryScalar<'_, Any, T, AnyArguments<'_>>, sqlx::Error>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        Ok(sqlx::query_scalar_with(&self.sql, self.arguments()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_numbers_placeholders_in_order() {
        let mut sql = SqlBuilder::new("SELECT * FROM t WHERE a = ");
        sql.bind_text("x")
            .push(" AND b IN (")
            .bind_list(["p".into(), "q".into()]);
        sql.push(") LIMIT ").bind_int(5);
        assert_eq!(
            sql.sql(),
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4"
        );
    }

    #[test]
    fn appended_statements_number_on() {
        let mut first = SqlBuilder::new("UPDATE t SET a = ");
        first.bind_int(1).push(" WHERE b = ").bind_text("x");
        let mut second = SqlBuilder::new("DELETE FROM t WHERE a = ");
        second
            .bind_int(2)
            .push(" AND b = '$' AND c = ")
            .bind_text("y");
        let mut batch = SqlBuilder::new("");
        batch.append(&first).push("; ").append(&second);
        assert_eq!(
            batch.sql(),
            "UPDATE t SET a = $1 WHERE b = $2; DELETE FROM t WHERE a = $3 AND b = '$' AND c = $4"
        );
        assert_eq!(batch.values.len(), 4);
    }

    #[test]
    fn rows_are_bound_in_order_and_separated() {
        let mut sql = SqlBuilder::new("INSERT INTO t (a, b) VALUES ");
        sql.bind_row(0, ["x".into(), 1.into()])
            .bind_row(1, ["y".into(), None.into()]);
        assert_eq!(sql.sql(), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert_eq!(sql.values.len(), 4);
        assert!(matches!(sql.values[3], SqlValue::NullInt));
    }
}
