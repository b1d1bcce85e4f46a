//! Bulk loading, for benchmarks and load tests that need a database the size of a large
//! merchant's in minutes rather than hours; and the checks a benchmark makes after
//! registrations raced.

use sqlx::{AnyConnection, Connection};

use crate::domain::pairing_code::{CODE_LENGTH, PairingCode};

use super::{Backend, DeviceRow, SqlBuilder, SqlValue, Store, StoreResult};

/// Rows per multi-row INSERT on SQLite: about 500 bound values each (devices bind 10 a
/// row, enrollments 11, metadata 5), far below SQLite's 32,766. Bigger is slower: sqlx
/// finds each `$N` by name, which SQLite looks up in linear time, so binding a statement
/// costs the square of its values.
const DEVICES_PER_STATEMENT: usize = 50;
const METADATA_ROWS_PER_STATEMENT: usize = 100;
/// Few commits keep the load fast; a bounded transaction keeps the write-ahead log small.
const DEVICES_PER_TRANSACTION: usize = 50_000;
/// SQLite's page cache while loading, in KiB.
const SQLITE_LOAD_CACHE_KIB: i64 = 256 * 1024;

const ENROLLMENT_COLUMNS: &str = "id, merchant_id, location_id, code_hash, status, expires_at, \
     created_at, created_by_kind, created_by_label, consumed_at, device_id";
const DEVICE_COLUMNS: &str = "id, merchant_id, location_id, enrollment_id, hardware_id, name, \
     platform, created_at, updated_at, last_seen_at";
const METADATA_COLUMNS: &str = "device_id, merchant_id, key, value, device_created_at";

/// What registrations that raced left behind, for a benchmark to check (see
/// [`Store::registration_outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationOutcome {
    /// Devices whose hardware id starts with the prefix asked about.
    pub devices: i64,
    /// Enrollments of the merchant with more than one device (none may have).
    pub enrollments_with_several_devices: i64,
    /// Enrollments created since the time asked about that are consumed.
    pub consumed: i64,
    /// Of those, the ones whose device is missing or names another enrollment (none may).
    pub consumed_without_their_device: i64,
}

impl Store {
    /// Inserts the devices as given, for benchmarks and load tests only: each gets a
    /// CONSUMED enrollment under its `enrollment_id` (with a random code) and its metadata.
    /// SQLite takes multi-row INSERTs inside large transactions; PostgreSQL takes COPY,
    /// and has its planner statistics and visibility map brought up to date afterwards,
    /// as autovacuum would in time. Unlike registration it writes no device tokens and no
    /// audit events, and checks nothing beyond the schema's constraints. Returns how many
    /// devices were inserted.
    pub async fn bulk_insert_devices(
        &self,
        devices: impl IntoIterator<Item = DeviceRow>,
    ) -> StoreResult<u64> {
        match self.backend {
            Backend::Sqlite => self.insert_into_sqlite(devices).await,
            Backend::Postgres => self.copy_into_postgres(devices).await,
        }
    }

    async fn insert_into_sqlite(
        &self,
        devices: impl IntoIterator<Item = DeviceRow>,
    ) -> StoreResult<u64> {
        let mut connection = self.pool().acquire().await?;
        // Closed when done rather than returned to the pool, so its big cache goes with it.
        connection.close_on_drop();
        // The default 2 MB cache keeps evicting and re-reading index pages; a big one
        // makes a million-device load about a third faster. Negative means KiB.
        sqlx::query(&format!("PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}"))
            .execute(&mut *connection)
            .await?;
        let mut devices = devices.into_iter().peekable();
        let mut inserted = 0;
        while devices.peek().is_some() {
            let mut tx = connection.begin().await?;
            let mut in_transaction = 0;
            while in_transaction < DEVICES_PER_TRANSACTION {
                let batch: Vec<DeviceRow> = devices.by_ref().take(DEVICES_PER_STATEMENT).collect();
                if batch.is_empty() {
                    break;
                }
                insert_rows(
                    &mut tx,
                    "enrollments",
                    ENROLLMENT_COLUMNS,
                    enrollment_rows(&batch),
                )
                .await?;
                insert_rows(&mut tx, "devices", DEVICE_COLUMNS, device_rows(&batch)).await?;
                for chunk in metadata_rows(&batch).chunks(METADATA_ROWS_PER_STATEMENT) {
                    insert_rows(&mut tx, "device_metadata", METADATA_COLUMNS, chunk.to_vec())
                        .await?;
                }
                in_transaction += batch.len();
            }
            tx.commit().await?;
            inserted += in_transaction as u64;
        }
        Ok(inserted)
    }

    /// COPY in text format, `DEVICES_PER_TRANSACTION` devices a transaction, on a
    /// connection of its own (COPY is PostgreSQL's alone, so not through the Any pool).
    async fn copy_into_postgres(
        &self,
        devices: impl IntoIterator<Item = DeviceRow>,
    ) -> StoreResult<u64> {
        let mut connection = sqlx::postgres::PgConnection::connect(&self.url).await?;
        let mut devices = devices.into_iter().peekable();
        let mut inserted = 0;
        while devices.peek().is_some() {
            let batch: Vec<DeviceRow> = devices.by_ref().take(DEVICES_PER_TRANSACTION).collect();
            let mut tx = connection.begin().await?;
            copy_rows(
                &mut tx,
                "enrollments",
                ENROLLMENT_COLUMNS,
                enrollment_rows(&batch),
            )
            .await?;
            copy_rows(&mut tx, "devices", DEVICE_COLUMNS, device_rows(&batch)).await?;
            copy_rows(
                &mut tx,
                "device_metadata",
                METADATA_COLUMNS,
                metadata_rows(&batch),
            )
            .await?;
            tx.commit().await?;
            inserted += batch.len() as u64;
        }
        sqlx::query("VACUUM (ANALYZE) enrollments, devices, device_metadata")
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        Ok(inserted)
    }

    /// The database's size on disk, in bytes (on SQLite without its write-ahead log).
    pub async fn database_bytes(&self) -> StoreResult<i64> {
        let query = match self.backend {
            Backend::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        Ok(sqlx::query_scalar(query).fetch_one(self.pool()).await?)
    }

    /// The settings that decide what a commit costs, as the database reports them.
    pub async fn commit_settings(&self) -> StoreResult<String> {
        let query = match self.backend {
            Backend::Sqlite => {
                "SELECT 'journal_mode ' || (SELECT journal_mode FROM pragma_journal_mode()) \
                 || ', synchronous ' || (SELECT synchronous FROM pragma_synchronous()) \
                 || ' (1: NORMAL), version ' || sqlite_version()"
            }
            Backend::Postgres => {
                "SELECT 'fsync ' || current_setting('fsync') || ', synchronous_commit ' \
                 || current_setting('synchronous_commit') || ', shared_buffers ' \
                 || current_setting('shared_buffers') || ', version ' \
                 || current_setting('server_version')"
            }
        };
        Ok(sqlx::query_scalar(query).fetch_one(self.pool()).await?)
    }

    /// What registrations of the merchant's enrollments created at or after `since` left
    /// behind, and how many devices carry a hardware id starting with `hardware_prefix`.
    pub async fn registration_outcome(
        &self,
        merchant_id: &str,
        since: i64,
        hardware_prefix: &str,
    ) -> StoreResult<RegistrationOutcome> {
        let devices: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE merchant_id = $1 AND hardware_id LIKE $2",
        )
        .bind(merchant_id)
        .bind(format!("{hardware_prefix}%"))
        .fetch_one(self.pool())
        .await?;
        let enrollments_with_several_devices: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT enrollment_id FROM devices WHERE merchant_id = $1 \
             GROUP BY enrollment_id HAVING COUNT(*) > 1) several",
        )
        .bind(merchant_id)
        .fetch_one(self.pool())
        .await?;
        let (consumed, consumed_without_their_device): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM devices d \
             WHERE d.id = e.device_id AND d.enrollment_id = e.id) THEN 1 ELSE 0 END), 0) \
             FROM enrollments e WHERE e.merchant_id = $1 AND e.created_at >= $2 \
             AND e.status = 'CONSUMED'",
        )
        .bind(merchant_id)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(RegistrationOutcome {
            devices,
            enrollments_with_several_devices,
            consumed,
            consumed_without_their_device,
        })
    }
}

fn enrollment_rows(devices: &[DeviceRow]) -> Vec<[SqlValue; 11]> {
    devices
        .iter()
        .map(|device| {
            [
                (&device.enrollment_id).into(),
                (&device.merchant_id).into(),
                (&device.location_id).into(),
                (&super::enrollments::code_hash(PairingCode::generate(CODE_LENGTH).as_str()))
                    .into(),
                "CONSUMED".into(),
                device.created_at.into(),
                device.created_at.into(),
                "system".into(),
                "bulk load".into(),
                device.created_at.into(),
                (&device.id).into(),
            ]
        })
        .collect()
}

fn device_rows(devices: &[DeviceRow]) -> Vec<[SqlValue; 10]> {
    devices
        .iter()
        .map(|device| {
            [
                (&device.id).into(),
                (&device.merchant_id).into(),
                (&device.location_id).into(),
                (&device.enrollment_id).into(),
                (&device.hardware_id).into(),
                (&device.name).into(),
                (&device.platform).into(),
                device.created_at.into(),
                device.updated_at.into(),
                device.last_seen_at.into(),
            ]
        })
        .collect()
}

fn metadata_rows(devices: &[DeviceRow]) -> Vec<[SqlValue; 5]> {
    devices
        .iter()
        .flat_map(|device| {
            device.metadata.iter().map(move |(key, value)| {
                [
                    (&device.id).into(),
                    (&device.merchant_id).into(),
                    key.into(),
                    value.into(),
                    device.created_at.into(),
                ]
            })
        })
        .collect()
}

/// One multi-row INSERT of `rows` into `table`.
async fn insert_rows<const N: usize>(
    connection: &mut AnyConnection,
    table: &str,
    columns: &str,
    rows: Vec<[SqlValue; N]>,
) -> StoreResult<()> {
    let mut query = SqlBuilder::new(&format!("INSERT INTO {table} ({columns}) VALUES "));
    for (index, row) in rows.into_iter().enumerate() {
        query.bind_row(index, row);
    }
    query.execute(connection).await?;
    Ok(())
}

/// One COPY of `rows` into `table`, in PostgreSQL's text format.
async fn copy_rows<const N: usize>(
    connection: &mut sqlx::postgres::PgConnection,
    table: &str,
    columns: &str,
    rows: Vec<[SqlValue; N]>,
) -> StoreResult<()> {
    let mut text = String::with_capacity(rows.len() * N * 16);
    for row in &rows {
        for (index, value) in row.iter().enumerate() {
            if index > 0 {
                text.push('\t');
            }
            push_copy_value(&mut text, value);
        }
        text.push('\n');
    }
    let mut copy = connection
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// A value as COPY's text format writes it: `\N` for NULL, and the backslash, tab and
/// line breaks escaped.
fn push_copy_value(text: &mut String, value: &SqlValue) {
    match value {
        SqlValue::Int(int) => text.push_str(&int.to_string()),
        SqlValue::NullInt => text.push_str("\\N"),
        SqlValue::Text(plain) => {
            for character in plain.chars() {
                match character {
                    '\\' => text.push_str("\\\\"),
                    '\t' => text.push_str("\\t"),
                    '\n' => text.push_str("\\n"),
                    '\r' => text.push_str("\\r"),
                    other => text.push(other),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_separates_fields() {
        let mut text = String::new();
        for value in [
            SqlValue::Text("a\tb\\c\nd".into()),
            SqlValue::Int(-7),
            SqlValue::NullInt,
        ] {
            push_copy_value(&mut text, &value);
            text.push('|');
        }
        assert_eq!(text, "a\\tb\\\\c\\nd|-7|\\N|");
    }
}
