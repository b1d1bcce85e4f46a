//! Reading the audit log.

use crate::domain::Permission;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::text::plausible_id;
use crate::model::{AuditActor, AuditEvent};
use crate::store::{AuditEventRow, AuditFilter};

use super::overview::OVERVIEW_COUNT_CAP;
use super::{Actor, ServiceError, ServiceResult, Services, rfc3339};

pub(crate) fn audit_view(row: AuditEventRow) -> AuditEvent {
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

/// Which audit events to list; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// The id of the user, API key or device that acted.
    pub actor_id: Option<String>,
    /// An action (`device.deregistered`).
    pub action: Option<String>,
    /// The id of the object acted on.
    pub target_id: Option<String>,
}

impl Services {
    /// A page of the audit log with how many events match, all counted (the API's pages).
    pub async fn list_audit_events(
        &self,
        actor: &Actor,
        query: AuditQuery,
        page: PageRequest,
    ) -> ServiceResult<Page<AuditEvent>> {
        self.audit_events_counted(actor, query, page, None).await
    }

    /// The portal's page of the audit log: its count stops past [`OVERVIEW_COUNT_CAP`]
    /// (though never before this page ends), so a page of a long log costs what the first
    /// does.
    pub async fn audit_log_page(
        &self,
        actor: &Actor,
        query: AuditQuery,
        page: PageRequest,
    ) -> ServiceResult<Page<AuditEvent>> {
        self.audit_events_counted(actor, query, page, Some(OVERVIEW_COUNT_CAP))
            .await
    }

    async fn audit_events_counted(
        &self,
        actor: &Actor,
        query: AuditQuery,
        page: PageRequest,
        count_cap: Option<i64>,
    ) -> ServiceResult<Page<AuditEvent>> {
        actor.require(Permission::ViewAudit)?;
        let mut errors = Vec::new();
        for (field, value) in [
            ("actor_id", &query.actor_id),
            ("action", &query.action),
            ("target_id", &query.target_id),
        ] {
            if let Some(value) = value {
                errors.extend(plausible_id(field, value).err());
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let filter = AuditFilter {
            actor_id: query.actor_id,
            action: query.action,
            target_id: query.target_id,
        };
        self.audit_page(actor, &filter, page, count_cap).await
    }

    /// What happened to one device, newest first: for anyone who may see the device,
    /// without the rest of the audit log.
    pub async fn device_history(
        &self,
        actor: &Actor,
        device_id: &str,
        page: PageRequest,
    ) -> ServiceResult<Page<AuditEvent>> {
        let device = self.device(actor, device_id).await?;
        let filter = AuditFilter {
            target_id: Some(device.id),
            ..Default::default()
        };
        self.audit_page(actor, &filter, page, Some(OVERVIEW_COUNT_CAP))
            .await
    }

    async fn audit_page(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        page: PageRequest,
        count_cap: Option<i64>,
    ) -> ServiceResult<Page<AuditEvent>> {
        let (rows, total) = self
            .store
            .audit_events(
                &actor.merchant_id,
                filter,
                page.page_size,
                page.offset(),
                count_cap,
            )
            .await?;
        Ok(Page::new(
            rows.into_iter().map(audit_view).collect(),
            total,
            page,
        ))
    }
}
