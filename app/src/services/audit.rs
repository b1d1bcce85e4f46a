//! Reading the audit log.

use crate::domain::paging::{Page, PageRequest};
use crate::model::{AuditActor, AuditEvent};
use crate::store::{AuditEventRow, AuditFilter};

use super::{Actor, ServiceResult, Services, rfc3339};

fn audit_view(row: AuditEventRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        occurred_at: rfc3339(row.occurred_at),
        actor: AuditActor {
            kind: row.actor_kind,
            id: row.actor_id,
            label: row.actor_label,
        },
        action: row.action,
        target_kind: row.target_kind,
        target_id: row.target_id,
        details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
    }
}

impl Services {
    pub async fn list_audit_events(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        page: PageRequest,
    ) -> ServiceResult<Page<AuditEvent>> {
        let (rows, total) = self
            .store
            .audit_events(&actor.merchant_id, &filter, page.page_size, page.offset())
            .await?;
        Ok(Page::new(
            rows.into_iter().map(audit_view).collect(),
            total,
            page,
        ))
    }
}
