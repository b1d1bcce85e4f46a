//! `/ipp/v1/webhook-endpoints`: the URLs a merchant's events are sent to, their secrets,
//! test events and delivery logs; and the `webhooks` section of the OpenAPI description,
//! which documents what is sent.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};

use app::domain::FieldError;
use app::domain::paging::Page;
use app::domain::webhook::{MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, WebhookEventType};
use app::model::{
    CreatedWebhookEndpoint, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookSecret,
};
use app::services::{NewWebhookEndpoint, Services, WebhookDeliveryQuery, WebhookEndpointPatch};

use super::auth::MerchantAuth;
use super::problem::{ApiResult, Body, Problem, QueryParams, parse_json};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateWebhookEndpointBody {
    /// Where events are POSTed: `https://`, to a public address.
    #[schema(max_length = 2048)]
    pub url: String,
    /// What the endpoint is for (at most 200 characters).
    pub description: Option<String>,
    /// `["*"]` (the default) for every event, or 1 to 7 event types.
    pub events: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Add an endpoint. The answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/ipp/v1/webhook-endpoints", tag = "webhooks",
    request_body = CreateWebhookEndpointBody,
    responses(
        (status = 201, body = CreatedWebhookEndpoint),
        (status = 400, body = Problem, description = "A URL that is not https, resolves to a private address or does not resolve; unknown events"),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "The merchant has 20 endpoints already"),
        (status = 413, body = Problem, description = "Body larger than 64 KB")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn create(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<CreatedWebhookEndpoint>)> {
    let body: CreateWebhookEndpointBody = parse_json(&body)?;
    let created = services
        .create_webhook_endpoint(
            &actor,
            NewWebhookEndpoint {
                url: body.url,
                description: body.description,
                events: body.events,
                enabled: body.enabled,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The merchant's endpoints, oldest first, each with its latest attempt.
#[utoipa::path(get, path = "/ipp/v1/webhook-endpoints", tag = "webhooks",
    params(("page_number" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Page<WebhookEndpoint>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn list(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<WebhookEndpoint>>> {
    let params = QueryParams::parse(raw.as_deref());
    Ok(Json(
        services
            .list_webhook_endpoints(&actor, params.page()?)
            .await?,
    ))
}

#[utoipa::path(get, path = "/ipp/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 200, body = WebhookEndpoint), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn get(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(services.webhook_endpoint(&actor, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateWebhookEndpointBody {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    pub description: Option<String>,
    /// `["*"]` for every event, or 1 to 7 event types.
    pub events: Option<Vec<String>>,
    /// false stops deliveries (what is pending waits); true sends again, and clears why
    /// the server disabled it.
    pub enabled: Option<bool>,
}

/// Change an endpoint: what is left out stays.
#[utoipa::path(patch, path = "/ipp/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path)), request_body = UpdateWebhookEndpointBody,
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem, description = "Body larger than 64 KB")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn update(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<WebhookEndpoint>> {
    let body: UpdateWebhookEndpointBody = parse_json(&body)?;
    let patch = WebhookEndpointPatch {
        url: body.url,
        description: body.description,
        events: body.events,
        enabled: body.enabled,
    };
    Ok(Json(
        services.update_webhook_endpoint(&actor, &id, patch).await?,
    ))
}

/// Delete an endpoint and its delivery log.
#[utoipa::path(delete, path = "/ipp/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn delete(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    services.delete_webhook_endpoint(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the previous one signs alongside it for 24 hours.
#[utoipa::path(post, path = "/ipp/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 200, body = WebhookSecret), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn rotate_secret(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    Ok(Json(services.rotate_webhook_secret(&actor, &id).await?))
}

/// Send `ipp.webhook.test` to this endpoint now.
#[utoipa::path(post, path = "/ipp/v1/webhook-endpoints/{id}/test", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 202, body = WebhookDelivery, description = "Queued: see its delivery"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The endpoint is disabled")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn test(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let delivery = services.send_test_webhook(&actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// The endpoint's deliveries, newest first. A list leaves out each delivery's
/// `attempt_log` and cuts its `response_excerpt` to 2 KB: read one delivery for those.
#[utoipa::path(get, path = "/ipp/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path),
        ("status" = Option<WebhookDeliveryStatus>, Query),
        ("page_number" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Page<WebhookDelivery>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn deliveries(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<WebhookDelivery>>> {
    let params = QueryParams::parse(raw.as_deref());
    let status = params
        .one("status")
        .filter(|status| !status.is_empty())
        .map(|status| {
            WebhookDeliveryStatus::parse(&status)
                .ok_or_else(|| FieldError::new("status", "status is PENDING, SUCCEEDED or FAILED"))
        })
        .transpose()?;
    let query = WebhookDeliveryQuery {
        status,
        page: params.page()?,
    };
    Ok(Json(
        services.list_webhook_deliveries(&actor, &id, query).await?,
    ))
}

/// One delivery: the event sent, every attempt (`attempt_log`), the last answer (up to
/// 64 KB).
#[utoipa::path(get, path = "/ipp/v1/webhook-endpoints/{id}/deliveries/{event_id}", tag = "webhooks",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, body = WebhookDelivery), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn delivery(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(
        services.webhook_delivery(&actor, &id, &event_id).await?,
    ))
}

/// Send a delivery again now, with the same `webhook-id` and body.
#[utoipa::path(post, path = "/ipp/v1/webhook-endpoints/{id}/deliveries/{event_id}/resend", tag = "webhooks",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 202, body = WebhookDelivery, description = "Queued"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The endpoint is disabled, or an attempt is under way")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn resend(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let delivery = services
        .resend_webhook_delivery(&actor, &id, &event_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// The `webhooks` section of the description (OpenAPI 3.1): what each event sends, with
/// a schema per event in the components. utoipa 5 has no field for it, so it travels as
/// a top-level member of the document beside `paths`.
pub struct WebhooksSection;

impl utoipa::Modify for WebhooksSection {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut webhooks = serde_json::Map::new();
        for kind in WebhookEventType::ALL {
            let (name, data) = event_schema_names(kind);
            components
                .schemas
                .insert(name.to_owned(), event_schema(kind, data));
            webhooks.insert(kind.as_str().to_owned(), webhook_operation(kind, name));
        }
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .insert("webhooks".to_owned(), Value::Object(webhooks));
    }
}

/// The schema's name, and that of its `data`.
fn event_schema_names(kind: WebhookEventType) -> (&'static str, &'static str) {
    match kind {
        WebhookEventType::EnrollmentCreated => ("EnrollmentCreatedEvent", "EnrollmentEventData"),
        WebhookEventType::EnrollmentConsumed => ("EnrollmentConsumedEvent", "EnrollmentEventData"),
        WebhookEventType::EnrollmentCancelled => {
            ("EnrollmentCancelledEvent", "EnrollmentEventData")
        }
        WebhookEventType::EnrollmentExpired => ("EnrollmentExpiredEvent", "EnrollmentEventData"),
        WebhookEventType::DeviceRegistered => ("DeviceRegisteredEvent", "DeviceEventData"),
        WebhookEventType::DeviceUpdated => ("DeviceUpdatedEvent", "DeviceEventData"),
        WebhookEventType::DeviceDeregistered => ("DeviceDeregisteredEvent", "DeviceEventData"),
        WebhookEventType::Test => ("WebhookTestEvent", "TestEventData"),
    }
}

fn event_schema(kind: WebhookEventType, data: &str) -> RefOr<Schema> {
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    ObjectBuilder::new()
        .description(Some(format!(
            "`{}`: {}.",
            kind.as_str(),
            kind.description()
        )))
        .property(
            "id",
            text("The event id (`kevt_...`), also sent as `webhook-id`; the same on every retry.")
                .pattern(Some("^kevt_")),
        )
        .required("id")
        .property("merchant_id", text("The merchant the event belongs to."))
        .required("merchant_id")
        .property(
            "timestamp",
            text("When it happened (RFC 3339).").format(Some(
                utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::DateTime,
                ),
            )),
        )
        .required("timestamp")
        .property(
            "type",
            text("The event type.").enum_values(Some([kind.as_str()])),
        )
        .required("type")
        .property("data", Ref::from_schema_name(data))
        .required("data")
        .into()
}

fn webhook_operation(kind: WebhookEventType, schema: &str) -> Value {
    let retries = RETRY_DELAYS_SECONDS
        .iter()
        .map(|seconds| wait(*seconds))
        .collect::<Vec<_>>()
        .join(", ");
    let header = |name: &str, description: &str| {
        json!({"name": name, "in": "header", "required": true, "description": description,
               "schema": {"type": "string"}})
    };
    json!({
        "post": {
            "summary": kind.description(),
            "description": format!(
                "POSTed to every enabled endpoint subscribed to `{}`, signed as Standard \
                 Webhooks specifies. Any 2xx within 10 s is success; otherwise the same body \
                 with the same `webhook-id` is sent again after about {retries} (with jitter), \
                 {MAX_ATTEMPTS} attempts in all.",
                kind.as_str()
            ),
            "operationId": format!("webhook-{}", kind.as_str()),
            "tags": ["webhooks"],
            "parameters": [
                header("webhook-id", "The event id (`kevt_...`): deduplicate on it."),
                header("webhook-timestamp", "Unix seconds when this attempt was sent; refuse one more than 300 s from your clock."),
                header("webhook-signature", "`v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\">` keyed by the base64-decoded part of the secret after `whsec_`; several, separated by spaces, for 24 hours after a rotation."),
            ],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            },
            "responses": {
                "2XX": {"description": "Received. Any other answer, or none within 10 s, is retried."}
            }
        }
    })
}

fn wait(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}
