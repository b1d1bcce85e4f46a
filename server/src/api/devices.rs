//! `/ipp/v1/devices`: registration by the POS app, and the fleet for merchant systems.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use app::client_address::ClientAddress;
use app::domain::FieldError;
use app::domain::device::Platform;
use app::domain::metadata::Metadata;
use app::domain::paging::Page;
use app::model::{Device, Registration};
use app::services::{
    DeviceListQuery, DevicePatch, DeviceReplacement, RegisterDevice, ServiceError, Services,
};

use super::auth::{DeviceAuth, MerchantAuth};
use super::problem::{ApiError, ApiResult, Body, Problem, QueryParams, parse_json};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    /// As the clerk typed it (case, spaces and hyphens do not matter), or the `qr_payload` link.
    pub enrollment_code: String,
    pub hardware_id: String,
    /// IOS or ANDROID.
    #[schema(value_type = Platform)]
    pub platform: String,
    pub name: Option<String>,
}

/// Register a device with a pairing code. Unauthenticated: the POS app calls it.
#[utoipa::path(post, path = "/ipp/v1/devices/register", tag = "devices",
    request_body = RegisterBody,
    responses(
        (status = 201, body = Registration),
        (status = 400, body = Problem), (status = 404, body = Problem, description = "Unknown code"),
        (status = 409, body = Problem, description = "Hardware already registered"),
        (status = 410, body = Problem, description = "Code expired, used or cancelled"),
        (status = 413, body = Problem, description = "Body larger than 64 KB"),
        (status = 429, body = Problem, description = "Too many failed attempts; see Retry-After")))]
pub async fn register(
    State(services): State<Services>,
    client: ClientAddress,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Registration>)> {
    let body: RegisterBody = parse_json(&body)?;
    let registration = services
        .register_device(
            &client.to_string(),
            RegisterDevice {
                enrollment_code: body.enrollment_code,
                hardware_id: body.hardware_id,
                platform: body.platform,
                name: body.name,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(registration)))
}

/// The calling device's own record; records that it was seen.
#[utoipa::path(get, path = "/ipp/v1/devices/me", tag = "devices",
    responses((status = 200, body = Device), (status = 401, body = Problem)),
    security(("device_token" = [])))]
pub async fn me(DeviceAuth(device): DeviceAuth) -> Json<Device> {
    Json(device)
}

/// List devices, newest first.
#[utoipa::path(get, path = "/ipp/v1/devices", tag = "devices",
    params(
        ("location_id" = Option<String>, Query),
        ("metadata" = Option<Vec<String>>, Query, description = "key:value, repeatable up to 5; all must match"),
        ("platform" = Option<Platform>, Query),
        ("q" = Option<String>, Query, description = "name contains, case-insensitive"),
        ("page_number" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
        ("cursor" = Option<String>, Query, description = "an earlier page's next_cursor: the page after it (page_number is then ignored); total_elements on a cursor page is the count when the walk began")),
    responses((status = 200, body = Page<Device>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn list(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<Device>>> {
    let params = QueryParams::parse(raw.as_deref());
    let query = DeviceListQuery {
        location_id: params.one("location_id"),
        metadata: params.all("metadata"),
        platform: params.one("platform"),
        name_contains: params.one("q"),
        page: params.page()?,
    };
    let cursor = params.one("cursor");
    Ok(Json(
        services
            .list_devices_from(&actor, query, cursor.as_deref())
            .await?,
    ))
}

#[utoipa::path(get, path = "/ipp/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path)),
    responses((status = 200, body = Device), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn get(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Device>> {
    Ok(Json(services.device(&actor, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplaceDeviceBody {
    pub name: String,
    /// Replaces all metadata; absent means none.
    #[serde(default)]
    pub metadata: Metadata,
    /// Absent keeps the current location.
    pub location_id: Option<String>,
}

/// Replace a device's name and metadata (and location, when given).
#[utoipa::path(put, path = "/ipp/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path)), request_body = ReplaceDeviceBody,
    responses((status = 200, body = Device), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem, description = "Body larger than 64 KB")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn replace(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Device>> {
    let body: ReplaceDeviceBody = parse_json(&body)?;
    let replacement = DeviceReplacement {
        name: body.name,
        metadata: body.metadata,
        location_id: body.location_id,
    };
    Ok(Json(
        services.replace_device(&actor, &id, replacement).await?,
    ))
}

/// Change some of a device's fields (JSON merge patch): a rename keeps the location and
/// metadata; a metadata key set to null is removed.
#[utoipa::path(patch, path = "/ipp/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/merge-patch+json",
        description = "Any of name, location_id, metadata (values of null remove a key)"),
    responses((status = 200, body = Device), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem, description = "Body larger than 64 KB")),
    security(("api_key" = []), ("basic" = [])))]
pub async fn patch(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Device>> {
    let body: Value = parse_json(&body)?;
    let patch = merge_patch(&body)?;
    Ok(Json(services.patch_device(&actor, &id, patch).await?))
}

/// Reads a merge patch, telling "absent" from "null" as RFC 7396 does.
fn merge_patch(body: &Value) -> Result<DevicePatch, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| FieldError::new("body", "a merge patch is a JSON object"))?;
    let text = |field: &str| -> Result<Option<String>, FieldError> {
        match object.get(field) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(FieldError::new(field, format!("{field} is a string"))),
        }
    };
    let mut errors = Vec::new();
    let name = text("name").map_err(|e| errors.push(e)).ok().flatten();
    let location_id = text("location_id")
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let clear_metadata = matches!(object.get("metadata"), Some(Value::Null));
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(changes)) => {
            let mut parsed = BTreeMap::new();
            for (key, value) in changes {
                match value {
                    Value::String(value) => {
                        parsed.insert(key.clone(), Some(value.clone()));
                    }
                    Value::Null => {
                        parsed.insert(key.clone(), None);
                    }
                    _ => errors.push(FieldError::new(
                        format!("metadata.{key}"),
                        "a metadata value is a string or null",
                    )),
                }
            }
            Some(parsed)
        }
        Some(_) => {
            errors.push(FieldError::new("metadata", "metadata is an object"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError(ServiceError::Validation(errors)));
    }
    Ok(DevicePatch {
        name,
        location_id,
        metadata,
        clear_metadata,
    })
}

/// Deregister a device: its token is refused from this moment on.
#[utoipa::path(delete, path = "/ipp/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deregistered"), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []), ("basic" = [])))]
pub async fn deregister(
    State(services): State<Services>,
    MerchantAuth(actor): MerchantAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    services.deregister_device(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
