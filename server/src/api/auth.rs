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

/// The credentials in the request: the secret, and the merchant the client claims to be.
fn credentials(parts: &Parts) -> Result<(String, Option<String>), ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(unauthorized())?;
    let (scheme, value) = header.split_once(' ').ok_or(unauthorized())?;
    let value = value.trim();
    let (secret, mut claimed) = if scheme.eq_ignore_ascii_case("bearer") {
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
    if let Some(header_merchant) = parts
        .headers
        .get("x-merchant-id")
        .and_then(|v| v.to_str().ok())
    {
        if claimed
            .as_deref()
            .is_some_and(|user| user != header_merchant)
        {
            return Err(unauthorized());
        }
        claimed = Some(header_merchant.to_owned());
    }
    if secret.is_empty() {
        return Err(unauthorized());
    }
    Ok((secret, claimed))
}

impl FromRequestParts<AppState> for MerchantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (key, claimed) = credentials(parts)?;
        let services: &Services = &state.services;
        Ok(MerchantAuth(
            services
                .authenticate_api_key(&key, claimed.as_deref())
                .await?,
        ))
    }
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, _) = credentials(parts)?;
        Ok(DeviceAuth(
            state.services.authenticate_device(&token).await?,
        ))
    }
}
