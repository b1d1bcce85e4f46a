//! `/ipp/v1/locations` and `/ipp/v1/audit-events`.

use axum::Json;
use axum::extract::{RawQuery, State};

use app::domain::paging::Page;
use app::model::{AuditEvent, Location};
use app::services::{AuditQuery, Services};

use super::auth::MerchantAuth;
use super::problem::{ApiResult, Problem, QueryParams};

/// The merchant's locations, by name.
#[utoipa::path(get, path = "/ipp/v1/locations", tag = "locations",
    params(("page_number" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Page<Location>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn locations(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<Location>>> {
    let params = QueryParams::parse(raw.as_deref());
    Ok(Json(services.list_locations(&actor, params.page()?).await?))
}

/// Who did what, newest first.
#[utoipa::path(get, path = "/ipp/v1/audit-events", tag = "audit",
    params(
        ("actor_id" = Option<String>, Query), ("action" = Option<String>, Query),
        ("target_id" = Option<String>, Query),
        ("page_number" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn audit_events(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let params = QueryParams::parse(raw.as_deref());
    let filter = AuditQuery {
        actor_id: params.one("actor_id").filter(|v| !v.is_empty()),
        action: params.one("action").filter(|v| !v.is_empty()),
        target_id: params.one("target_id").filter(|v| !v.is_empty()),
    };
    Ok(Json(
        services
            .list_audit_events(&actor, filter, params.page()?)
            .await?,
    ))
}
