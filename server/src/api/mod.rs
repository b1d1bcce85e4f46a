//! The Device API, `/ipp/v1`: thin handlers over the services, JSON in and out.

mod auth;
mod devices;
mod enrollments;
mod misc;
pub mod problem;
mod webhooks;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use app::state::AppState;

use problem::{ApiError, ApiResult};
use webhooks::WebhooksSection;

/// The API's routes, to be nested under `/ipp/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/enrollments",
            post(enrollments::create).get(enrollments::list),
        )
        .route(
            "/enrollments/{id}",
            get(enrollments::get).delete(enrollments::cancel),
        )
        .route("/devices", get(devices::list))
        .route("/devices/register", post(devices::register))
        .route("/devices/me", get(devices::me))
        .route(
            "/devices/{id}",
            get(devices::get)
                .put(devices::replace)
                .patch(devices::patch)
                .delete(devices::deregister),
        )
        .route("/locations", get(misc::locations))
        .route("/audit-events", get(misc::audit_events))
        .route(
            "/webhook-endpoints",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/webhook-endpoints/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/webhook-endpoints/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route("/webhook-endpoints/{id}/test", post(webhooks::test))
        .route(
            "/webhook-endpoints/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries/{event_id}",
            get(webhooks::delivery),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries/{event_id}/resend",
            post(webhooks::resend),
        )
        .route("/openapi.json", get(openapi))
        .fallback(unknown_api_path)
        .layer(DefaultBodyLimit::max(problem::MAX_BODY_BYTES))
}

async fn unknown_api_path() -> ApiResult<()> {
    Err(ApiError(app::services::ServiceError::NotFound("endpoint")))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ipp-portal Device API", description = "Enroll payment terminals on a merchant account and manage the device fleet."),
    paths(
        enrollments::create, enrollments::list, enrollments::get, enrollments::cancel,
        devices::register, devices::me, devices::list, devices::get, devices::replace, devices::patch,
        devices::deregister, misc::locations, misc::audit_events,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::test, webhooks::deliveries, webhooks::delivery,
        webhooks::resend,
    ),
    components(schemas(
        app::model::EnrollmentEventData, app::model::DeviceEventData, app::model::TestEventData,
    )),
    modifiers(&SecuritySchemes, &ProblemContentType, &WebhooksSection),
)]
pub struct ApiDoc;

/// Errors are sent as `application/problem+json` (RFC 7807): the description says so for
/// every response whose body is a [`problem::Problem`].
struct ProblemContentType;

impl utoipa::Modify for ProblemContentType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        const PROBLEM: &str = "#/components/schemas/Problem";
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
        });
        for operation in operations.flatten() {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = response
                    .content
                    .get("application/json")
                    .and_then(|content| content.schema.as_ref())
                    .is_some_and(
                        |schema| matches!(schema, RefOr::Ref(r) if r.ref_location == PROBLEM),
                    );
                if is_problem
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response
                        .content
                        .insert("application/problem+json".to_owned(), content);
                }
            }
        }
    }
}

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("The merchant id as user name, an API key as password"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The access token a device received at registration"))
                    .build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
