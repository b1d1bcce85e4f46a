//! Bulk loading, for benchmarks and load tests that need a database the size of a large
//! merchant's in minutes rather than hours.

use sqlx::{AnyConnection, Connection};

use crate::domain::pairing_code::{CODE_LENGTH, PairingCode};

use super::{Backend, DeviceRow, SqlBuilder, Store, StoreResult};

/// Rows per multi-row INSERT: about 500 bound values each (devices bind 10 a row,
/// enrollments 11, metadata 5), far below SQLite's 32,766. Bigger is slower: sqlx finds
/// each `$N` by name, which SQLite looks up in linear time, so binding a statement costs
/// the square of its values.
const DEVICES_PER_STATEMENT: usize = 50;
const METADATA_ROWS_PER_STATEMENT: usize = 100;
/// Few commits keep the load fast; a bounded transaction keeps the write-ahead log small.
const DEVICES_PER_TRANSACTION: usize = 50_000;
/// SQLite's page cache while loading, in KiB.
const SQLITE_LOAD_CACHE_KIB: i64 = 256 * 1024;

impl Store {
    /// Inserts the devices as given, for benchmarks and load tests only: each gets a
    /// CONSUMED enrollment under its `enrollment_id` (with a random code) and its metadata,
    /// in multi-row INSERTs inside large transactions. Unlike registration it writes no
    /// device tokens and no audit events, and checks nothing beyond the schema's
    /// constraints. Returns how many devices were inserted.
    pub async fn bulk_insert_devices(
        &self,
        devices: impl IntoIterator<Item = DeviceRow>,
    ) -> StoreResult<u64> {
        let mut connection = self.pool().acquire().await?;
        // Closed when done rather than returned to the pool, so its big cache goes with it.
        connection.close_on_drop();
        if self.backend == Backend::Sqlite {
            // The default 2 MB cache keeps evicting and re-reading index pages; a big one
            // makes a million-device load about a third faster. Negative means KiB.
            sqlx::query(&format!("PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}"))
                .execute(&mut *connection)
                .await?;
        }
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
                insert_consumed_enrollments(&mut tx, &batch).await?;
                insert_device_rows(&mut tx, &batch).await?;
                insert_metadata_rows(&mut tx, &batch).await?;
                in_transaction += batch.len();
            }
            tx.commit().await?;
            inserted += in_transaction as u64;
        }
        Ok(inserted)
    }
}

async fn insert_consumed_enrollments(
    connection: &mut AnyConnection,
    devices: &[DeviceRow],
) -> StoreResult<()> {
    let mut query = SqlBuilder::new(
        "INSERT INTO enrollments (id, merchant_id, location_id, code_hash, status, expires_at, \
         created_at, created_by_kind, created_by_label, consumed_at, device_id) VALUES ",
    );
    for (index, device) in devices.iter().enumerate() {
        query.bind_row(
            index,
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
            ],
        );
    }
    query.execute(connection).await?;
    Ok(())
}

async fn insert_device_rows(
    connection: &mut AnyConnection,
    devices: &[DeviceRow],
) -> StoreResult<()> {
    let mut query = SqlBuilder::new(
        "INSERT INTO devices (id, merchant_id, location_id, enrollment_id, hardware_id, name, \
         platform, created_at, updated_at, last_seen_at) VALUES ",
    );
    for (index, device) in devices.iter().enumerate() {
        query.bind_row(
            index,
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
            ],
        );
    }
    query.execute(connection).await?;
    Ok(())
}

async fn insert_metadata_rows(
    connection: &mut AnyConnection,
    devices: &[DeviceRow],
) -> StoreResult<()> {
    let rows: Vec<(&DeviceRow, &String, &String)> = devices
        .iter()
        .flat_map(|device| {
            device
                .metadata
                .iter()
                .map(move |(key, value)| (device, key, value))
        })
        .collect();
    for chunk in rows.chunks(METADATA_ROWS_PER_STATEMENT) {
        let mut query = SqlBuilder::new(
            "INSERT INTO device_metadata (device_id, merchant_id, key, value, device_created_at) \
             VALUES ",
        );
        for (index, (device, key, value)) in chunk.iter().enumerate() {
            query.bind_row(
                index,
                [
                    (&device.id).into(),
                    (&device.merchant_id).into(),
                    (*key).into(),
                    (*value).into(),
                    device.created_at.into(),
                ],
            );
        }
        query.execute(connection).await?;
    }
    Ok(())
}
