//! `/ipp/v1/enrollments`: pairing codes for merchant systems.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use app::domain::FieldError;
use app::domain::enrollment::{EnrollmentStatus, Ttl};
use app::domain::metadata::Metadata;
use app::domain::paging::Page;
use app::model::Enrollment;
use app::services::{CreateEnrollment, EnrollmentListQuery, Services};

use super::auth::MerchantAuth;
use super::problem::{ApiResult, Body, Problem, QueryParams, parse_json};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateEnrollmentBody {
    /// Key-value labels carried over to the device (at most 20 pairs).
    #[serde(default)]
    pub metadata: Metadata,
    /// Lifetime in seconds, 60 to 259200; 7200 when neither this nor `ttl` is given.
    pub expires_in: Option<i64>,
    /// A named lifetime; an alias of `expires_in` (give one or the other).
    pub ttl: Option<Ttl>,
    /// Required when the merchant has more than one location.
    pub location_id: Option<String>,
}

/// Create an enrollment: a short-lived pairing code for one device.
#[utoipa::path(post, path = "/ipp/v1/enrollments", tag = "enrollments",
    request_body = CreateEnrollmentBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body give the same enrollment")),
    responses(
        (status = 201, body = Enrollment, description = "Created (or replayed for a repeated Idempotency-Key)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem, description = "Body larger than 64 KB")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn create(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Response> {
    let body: CreateEnrollmentBody = parse_json(&body)?;
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|value| value.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| FieldError::new("Idempotency-Key", "the idempotency key is plain text"))?;
    let (enrollment, created_now) = services
        .create_enrollment(
            &actor,
            CreateEnrollment {
                metadata: body.metadata,
                expires_in: body.expires_in,
                ttl: body.ttl,
                location_id: body.location_id,
                idempotency_key,
            },
        )
        .await?;
    let mut response = (StatusCode::CREATED, Json(enrollment)).into_response();
    if !created_now {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// List enrollments, newest first. CANCELLED and EXPIRED ones are left out unless
/// `status` asks for them.
#[utoipa::path(get, path = "/ipp/v1/enrollments", tag = "enrollments",
    params(
        ("location_id" = Option<String>, Query),
        ("metadata" = Option<Vec<String>>, Query, description = "key:value, repeatable up to 5; all must match"),
        ("status" = Option<Vec<EnrollmentStatus>>, Query, description = "repeatable"),
        ("include_consumed" = Option<bool>, Query, description = "default true"),
        ("page_number" = Option<i64>, Query, description = "from 0"),
        ("page_size" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "an earlier page's next_cursor: the page after it (page_number is then ignored); total_elements on a cursor page is the count when the walk began")),
    responses((status = 200, body = Page<Enrollment>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn list(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<Enrollment>>> {
    let params = QueryParams::parse(raw.as_deref());
    let statuses = params
        .all("status")
        .iter()
        .map(|status| {
            EnrollmentStatus::parse(status).ok_or_else(|| {
                FieldError::new(
                    "status",
                    "status is PENDING, CONSUMED, EXPIRED or CANCELLED",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let query = EnrollmentListQuery {
        location_id: params.one("location_id").filter(|id| !id.is_empty()),
        metadata: params.all("metadata"),
        statuses,
        include_consumed: params.bool("include_consumed")?,
        batch_id: None,
        page: params.page()?,
    };
    let cursor = params.one("cursor");
    Ok(Json(
        services
            .list_enrollments_from(&actor, query, cursor.as_deref())
            .await?,
    ))
}

/// One enrollment; the code is shown only while it is PENDING.
#[utoipa::path(get, path = "/ipp/v1/enrollments/{id}", tag = "enrollments",
    params(("id" = String, Path)),
    responses((status = 200, body = Enrollment), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn get(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    Ok(Json(services.enrollment(&actor, &id).await?))
}

/// Cancel a PENDING enrollment. Cancelling twice is harmless; a CONSUMED or EXPIRED one
/// is a 409.
#[utoipa::path(delete, path = "/ipp/v1/enrollments/{id}", tag = "enrollments",
    params(("id" = String, Path)),
    responses((status = 200, body = Enrollment), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn cancel(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    Ok(Json(services.cancel_enrollment(&actor, &id).await?))
}
