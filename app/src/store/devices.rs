use crate::domain::device::DeviceSort;
use crate::domain::metadata::{Metadata, MetadataFilter};

use super::enrollments::load_metadata;
use super::{
    DEVICE_METADATA, SqlBuilder, SqlValue, Store, StoreResult, Tx, from_filtered_by_metadata,
    from_metadata_alone, narrow_to_locations,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: String,
    pub merchant_id: String,
    pub location_id: String,
    pub enrollment_id: String,
    pub hardware_id: String,
    pub name: String,
    pub platform: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seen_at: Option<i64>,
    #[sqlx(skip)]
    pub metadata: Metadata,
}

/// A device's new state; `None` keeps what is there.
#[derive(Debug, Clone, Default)]
pub struct DeviceUpdate {
    pub name: Option<String>,
    pub location_id: Option<String>,
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub merchant_id: String,
    /// When set, only devices of these locations (a store manager's view).
    pub allowed_locations: Option<Vec<String>>,
    pub location_id: Option<String>,
    pub metadata: Vec<MetadataFilter>,
    pub platform: Option<String>,
    pub name_contains: Option<String>,
}

pub(super) const COLUMNS: &str = "d.id, d.merchant_id, d.location_id, d.enrollment_id, d.hardware_id, \
    d.name, d.platform, d.created_at, d.updated_at, d.last_seen_at";

impl Store {
    pub async fn device(&self, merchant_id: &str, id: &str) -> StoreResult<Option<DeviceRow>> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM devices d WHERE d.merchant_id = $1 AND d.id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        self.with_device_metadata(row).await
    }

    /// The device a bearer token belongs to; none once the device is deregistered.
    pub async fn device_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<DeviceRow>> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM device_tokens t JOIN devices d ON d.id = t.device_id \
             WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        self.with_device_metadata(row).await
    }

    pub async fn touch_device(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// A numbered page of the devices, newest first, without counting them.
    pub async fn devices_page(
        &self,
        filter: &DeviceFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<DeviceRow>> {
        let Some(query) = filter_sql(filter) else {
            return Ok(Vec::new());
        };
        let (created_at, id) = registration_order(filter);
        let mut page = query.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(&format!(" ORDER BY {created_at} DESC, {id} DESC LIMIT "))
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        self.with_metadata_of(page.query_as()?.fetch_all(self.pool()).await?)
            .await
    }

    /// The devices after `after` in `sort` order (the portal's pages): each page costs
    /// the same however deep into a million devices it is.
    pub async fn devices_after(
        &self,
        filter: &DeviceFilter,
        sort: DeviceSort,
        after: Option<&DeviceCursor>,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRow>> {
        let Some(mut query) = filter_sql(filter) else {
            return Ok(Vec::new());
        };
        let (registered, registered_id) = registration_order(filter);
        let (key, id, order) = match sort {
            DeviceSort::Registered => (registered, registered_id, "DESC"),
            DeviceSort::Name => ("d.name", "d.id", "ASC"),
            DeviceSort::LastSeen => ("COALESCE(d.last_seen_at, 0)", "d.id", "DESC"),
        };
        if let Some(cursor) = after {
            let (beyond, up_to) = if order == "DESC" {
                ("<", "<=")
            } else {
                (">", ">=")
            };
            let value = match &cursor.value {
                SortValue::Time(at) => SqlValue::Int(*at),
                SortValue::Name(name) => SqlValue::Text(name.clone()),
            };
            // The first bound says nothing the second does not, but only it lets the
            // database start the index range at the cursor: neither SQLite nor PostgreSQL
            // seeks on an OR, and without it a page 40,000 deep reads the 800,000 entries
            // before it.
            query
                .push(&format!(" AND {key} {up_to} "))
                .bind(value.clone())
                .push(&format!(" AND ({key} {beyond} "))
                .bind(value.clone())
                .push(&format!(" OR ({key} = "))
                .bind(value)
                .push(&format!(" AND {id} {beyond} "))
                .bind_text(&cursor.id)
                .push("))");
        }
        let mut page = query.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(&format!(" ORDER BY {key} {order}, {id} {order} LIMIT "))
            .bind_int(limit);
        self.with_metadata_of(page.query_as()?.fetch_all(self.pool()).await?)
            .await
    }

    /// How many devices match, all counted (the API's `total_elements`).
    pub async fn count_devices(&self, filter: &DeviceFilter) -> StoreResult<i64> {
        let Some(query) = count_sql(filter) else {
            return Ok(0);
        };
        Ok(query
            .with_prefix("SELECT COUNT(*)")
            .query_scalar()?
            .fetch_one(self.pool())
            .await?)
    }

    /// How many devices match, up to `cap + 1`: "10,000+ devices" above the portal's list
    /// (and on the overview) reads no more of a million than that.
    pub async fn count_devices_at_most(&self, filter: &DeviceFilter, cap: i64) -> StoreResult<i64> {
        self.count_at_most(count_sql(filter).as_ref(), cap).await
    }

    /// Devices per location of the merchant.
    pub async fn device_counts_by_location(
        &self,
        merchant_id: &str,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT location_id, COUNT(*) FROM devices WHERE merchant_id = $1 GROUP BY location_id",
        )
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn with_metadata_of(&self, mut rows: Vec<DeviceRow>) -> StoreResult<Vec<DeviceRow>> {
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut metadata = load_metadata(self, &DEVICE_METADATA, &ids).await?;
        for row in &mut rows {
            row.metadata = metadata.remove(&row.id).unwrap_or_default();
        }
        Ok(rows)
    }

    /// False when the merchant has no such device.
    pub async fn update_device(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        update: &DeviceUpdate,
        now: i64,
    ) -> StoreResult<bool> {
        let mut query = SqlBuilder::new("UPDATE devices SET updated_at = ");
        query.bind_int(now);
        if let Some(name) = &update.name {
            query.push(", name = ").bind_text(name);
        }
        if let Some(location_id) = &update.location_id {
            query.push(", location_id = ").bind_text(location_id);
        }
        query.push(" WHERE merchant_id = ").bind_text(merchant_id);
        query.push(" AND id = ").bind_text(id);
        query.push(" RETURNING created_at");
        let Some(created_at) = query
            .query_scalar::<i64>()?
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(false);
        };
        if let Some(metadata) = &update.metadata {
            sqlx::query("DELETE FROM device_metadata WHERE device_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            insert_device_metadata(tx, id, merchant_id, created_at, metadata).await?;
        }
        Ok(true)
    }

    /// Removes the device with its metadata and tokens: its token stops working as this
    /// transaction commits. False when the merchant has no such device.
    pub async fn delete_device(tx: &mut Tx, merchant_id: &str, id: &str) -> StoreResult<bool> {
        sqlx::query(
            "DELETE FROM device_tokens WHERE device_id IN \
             (SELECT id FROM devices WHERE merchant_id = $1 AND id = $2)",
        )
        .bind(merchant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM device_metadata WHERE merchant_id = $1 AND device_id = $2")
            .bind(merchant_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let result = sqlx::query("DELETE FROM devices WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn with_device_metadata(&self, row: Option<DeviceRow>) -> StoreResult<Option<DeviceRow>> {
        let Some(mut row) = row else { return Ok(None) };
        row.metadata = load_metadata(self, &DEVICE_METADATA, std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(Some(row))
    }
}

/// All pairs in one statement. Each row carries its device's registration time, so a
/// metadata filter reads its matches newest first straight from the index.
async fn insert_device_metadata(
    tx: &mut Tx,
    device_id: &str,
    merchant_id: &str,
    device_created_at: i64,
    metadata: &Metadata,
) -> StoreResult<()> {
    if metadata.is_empty() {
        return Ok(());
    }
    let mut query = SqlBuilder::new(
        "INSERT INTO device_metadata (device_id, merchant_id, key, value, device_created_at) \
         VALUES ",
    );
    for (index, (key, value)) in metadata.iter().enumerate() {
        query.bind_row(
            index,
            [
                device_id.into(),
                merchant_id.into(),
                key.into(),
                value.into(),
                device_created_at.into(),
            ],
        );
    }
    query.execute(tx).await?;
    Ok(())
}

/// The columns that order devices newest first: with a metadata filter, the leading
/// metadata row's copy of them, so the index range is read in order and no sort is needed.
fn registration_order(filter: &DeviceFilter) -> (&'static str, &'static str) {
    if filter.metadata.is_empty() {
        ("d.created_at", "d.id")
    } else {
        ("m0.device_created_at", "m0.device_id")
    }
}

/// `FROM ... WHERE ...` for counting what a filter matches; `None` when it can match
/// nothing.
fn count_sql(filter: &DeviceFilter) -> Option<SqlBuilder> {
    let only_metadata = filter.allowed_locations.is_none()
        && filter.location_id.is_none()
        && filter.platform.is_none()
        && filter.name_contains.is_none()
        && !filter.metadata.is_empty();
    if only_metadata {
        // Metadata rows exist only for existing devices: their index answers alone.
        Some(from_metadata_alone(
            &DEVICE_METADATA,
            &filter.merchant_id,
            &filter.metadata,
        ))
    } else {
        filter_sql(filter)
    }
}

/// `FROM ... WHERE ...` for a filter; `None` when it can match nothing.
fn filter_sql(filter: &DeviceFilter) -> Option<SqlBuilder> {
    let mut query = from_filtered_by_metadata(
        "devices",
        "d",
        &DEVICE_METADATA,
        &filter.merchant_id,
        &filter.metadata,
    );
    if !narrow_to_locations(
        &mut query,
        "d",
        filter.allowed_locations.as_deref(),
        filter.location_id.as_deref(),
    ) {
        return None;
    }
    if let Some(platform) = &filter.platform {
        query.push(" AND d.platform = ").bind_text(platform);
    }
    if let Some(needle) = &filter.name_contains {
        query
            .push(" AND LOWER(d.name) LIKE ")
            .bind_text(like_pattern(needle))
            .push(" ESCAPE '\\'");
    }
    Some(query)
}

/// Where a page of a device list ends: the sort value and id of its last device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCursor {
    value: SortValue,
    id: String,
}

/// A device's place in a sort: a time (registration, last seen) or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SortValue {
    Time(i64),
    Name(String),
}

impl DeviceCursor {
    /// After the device registered at `created_at` with id `id`, newest first.
    pub fn registered(created_at: i64, id: String) -> Self {
        Self {
            value: SortValue::Time(created_at),
            id,
        }
    }

    pub fn of(row: &DeviceRow, sort: DeviceSort) -> Self {
        let value = match sort {
            DeviceSort::Registered => SortValue::Time(row.created_at),
            DeviceSort::Name => SortValue::Name(row.name.clone()),
            DeviceSort::LastSeen => SortValue::Time(row.last_seen_at.unwrap_or(0)),
        };
        Self {
            value,
            id: row.id.clone(),
        }
    }

    /// `value~id`, as it travels in a URL.
    pub fn encode(&self) -> String {
        match &self.value {
            SortValue::Time(at) => format!("{at}~{}", self.id),
            SortValue::Name(name) => format!("{name}~{}", self.id),
        }
    }

    /// A cursor of a list in `sort` order; `None` when `text` is none (a time sort's
    /// value that is no number included).
    pub fn decode(text: &str, sort: DeviceSort) -> Option<Self> {
        let (value, id) = text.rsplit_once('~')?;
        let value = match sort {
            DeviceSort::Name => SortValue::Name(value.to_owned()),
            DeviceSort::Registered | DeviceSort::LastSeen => SortValue::Time(value.parse().ok()?),
        };
        Some(Self {
            value,
            id: id.to_owned(),
        })
    }
}

/// `%needle%` in lower case, with LIKE's wildcards in the needle taken literally.
fn like_pattern(needle: &str) -> String {
    let mut pattern = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::{DeviceCursor, DeviceSort, SortValue, like_pattern};

    #[test]
    fn cursors_survive_a_url() {
        let by_name = DeviceCursor {
            value: SortValue::Name("Till ~ 1".into()),
            id: "abc".into(),
        };
        let decode = DeviceCursor::decode;
        assert_eq!(decode(&by_name.encode(), DeviceSort::Name), Some(by_name));
        let by_time = DeviceCursor::registered(1_790_000_000_000, "abc".into());
        assert_eq!(
            decode(&by_time.encode(), DeviceSort::Registered),
            Some(by_time)
        );
        assert_eq!(decode("no separator", DeviceSort::Name), None);
        // A time sort goes on from a time: a name there is no cursor it gave out.
        assert_eq!(decode("Till 1~abc", DeviceSort::Registered), None);
        assert_eq!(decode("Till 1~abc", DeviceSort::LastSeen), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Till"), "%till%");
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
    }
}
