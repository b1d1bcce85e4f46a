//! Who is calling: a merchant system with an API key, or a registered device with its
//! bearer token. Both come in the `Authorization` header only; no cookies here.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;

use app::model::Device;
use app::services::{Actor, BAD_API_CREDENTIALS, ServiceError, Services};
use app::state::AppState;

use super::problem::ApiError;

/// A merchant system, authenticated by API key.
pub struct MerchantAuth(pub Actor);

/// A registered device, authenticated by the token it got at registration.
pub struct DeviceAuth(pub Device);

fn unauthorized() -> ApiError {
    ApiError(ServiceError::Unauthorized(BAD_API_CREDENTIALS))
}

/// The credentials in the request: the secret, and the merchant the client claims to be
/// by its Basic user name.
fn credentials(parts: &Parts) -> Result<(String, Option<String>), ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(unauthorized())?;
    let (scheme, value) = header.split_once(' ').ok_or(unauthorized())?;
    let value = value.trim();
    let (secret, claimed) = if scheme.eq_ignore_ascii_case("bearer") {
        (value.to_owned(), None)
    } else if scheme.eq_ignore_ascii_case("basic") {
        // Kustom's convention: the merchant id as user name, the key as password.
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(unauthorized())?;
        let (user, password) = decoded.split_once(':').ok_or(unauthorized())?;
        (
            password.to_owned(),
            Some(user.to_owned()).filter(|user| !user.is_empty()),
        )
    } else {
        return Err(unauthorized());
    };
    if secret.is_empty() {
        return Err(unauthorized());
    }
    Ok((secret, claimed))
}

/// `x-merchant-id`, when sent, names the merchant the client acts for: it must be the
/// credentials' own (a key of one merchant cannot be pointed at another).
fn check_merchant_header(parts: &Parts, merchant_id: &str) -> Result<(), ApiError> {
    match parts.headers.get("x-merchant-id") {
        Some(value) if value.to_str().ok().map(str::trim) != Some(merchant_id) => {
            Err(ApiError(ServiceError::Forbidden))
        }
        _ => Ok(()),
    }
}

impl FromRequestParts<AppState> for MerchantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (key, claimed) = credentials(parts)?;
        let services: &Services = &state.services;
        let actor = services
            .authenticate_api_key(&key, claimed.as_deref())
            .await?;
        check_merchant_header(parts, &actor.merchant_id)?;
        Ok(MerchantAuth(actor))
    }
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, _) = credentials(parts)?;
        let device = state.services.authenticate_device(&token).await?;
        check_merchant_header(parts, &device.merchant_id)?;
        Ok(DeviceAuth(device))
    }
}
