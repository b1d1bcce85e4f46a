//! The Device API, `/ipp/v1`: thin handlers over the services, JSON in and out.

mod auth;
mod devices;
mod enrollments;
mod misc;
pub mod problem;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use app::state::AppState;

use problem::{ApiError, ApiResult};

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
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

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
