use super::{SqlBuilder, Store, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: i64,
    pub merchant_id: String,
    pub occurred_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub details: String,
}

pub struct NewAuditEvent<'a> {
    pub merchant_id: &'a str,
    pub occurred_at: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub details: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
}

impl Store {
    /// Written inside the transaction of the change it describes, so the log never
    /// misses a change nor records one that did not happen.
    pub async fn insert_audit_event(tx: &mut Tx, event: &NewAuditEvent<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events \
             (merchant_id, occurred_at, actor_kind, actor_id, actor_label, action, target_kind, target_id, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(event.merchant_id)
        .bind(event.occurred_at)
        .bind(event.actor_kind)
        .bind(event.actor_id)
        .bind(event.actor_label)
        .bind(event.action)
        .bind(event.target_kind)
        .bind(event.target_id)
        .bind(&event.details)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The merchant's events, newest first, and how many match: all of them
    /// (`count_cap` `None`, the API's pages), or at most `count_cap + 1`, though always
    /// past this page, so whether an older page follows stays known.
    pub async fn audit_events(
        &self,
        merchant_id: &str,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
        count_cap: Option<i64>,
    ) -> StoreResult<(Vec<AuditEventRow>, i64)> {
        let query = filtered(merchant_id, filter);
        let total = match count_cap {
            None => {
                query
                    .with_prefix("SELECT COUNT(*)")
                    .query_scalar()?
                    .fetch_one(self.pool())
                    .await?
            }
            Some(cap) => {
                let past_this_page = offset.saturating_add(limit);
                self.count_at_most(Some(&query), cap.max(past_this_page))
                    .await?
            }
        };
        let rows = self.audit_page(&query, limit, offset).await?;
        Ok((rows, total))
    }

    /// The merchant's latest events that `filter` selects, newest first, without counting
    /// them (the overview's short list).
    pub async fn latest_audit_events(
        &self,
        merchant_id: &str,
        filter: &AuditFilter,
        limit: i64,
    ) -> StoreResult<Vec<AuditEventRow>> {
        self.audit_page(&filtered(merchant_id, filter), limit, 0)
            .await
    }

    async fn audit_page(
        &self,
        from_where: &SqlBuilder,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<AuditEventRow>> {
        let mut page = from_where.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(" ORDER BY id DESC LIMIT ")
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        Ok(page.query_as()?.fetch_all(self.pool()).await?)
    }
}

const COLUMNS: &str = "id, merchant_id, occurred_at, actor_kind, actor_id, actor_label, action, \
    target_kind, target_id, details";

/// ` FROM audit_events WHERE ..`: the merchant's events that `filter` selects.
fn filtered(merchant_id: &str, filter: &AuditFilter) -> SqlBuilder {
    let mut query = SqlBuilder::new(" FROM audit_events WHERE merchant_id = ");
    query.bind_text(merchant_id);
    if let Some(actor_id) = &filter.actor_id {
        query.push(" AND actor_id = ").bind_text(actor_id);
    }
    if let Some(action) = &filter.action {
        query.push(" AND action = ").bind_text(action);
    }
    if let Some(target_id) = &filter.target_id {
        query.push(" AND target_id = ").bind_text(target_id);
    }
    query
}
