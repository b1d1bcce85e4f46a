//! Errors as `application/problem+json` (RFC 7807), and the body and query readers that
//! turn malformed input into such errors, naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use app::domain::FieldError;
use app::services::{ErrorKind, ServiceError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Each invalid field (its path as sent: `ttl`, `metadata.store`) with one message
    /// saying what is wrong, as Kustom's API does: clients show the messages joined.
    #[serde(skip_serializing_if = "FieldMessages::is_empty")]
    #[schema(value_type = std::collections::HashMap<String, String>)]
    pub errors: FieldMessages,
}

/// Field paths with their messages, in the order the problems were found; sent as one
/// JSON object.
#[derive(Debug, Default)]
pub struct FieldMessages(Vec<(String, String)>);

impl FieldMessages {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, message)| message.as_str())
    }
}

impl Serialize for FieldMessages {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, message) in &self.0 {
            map.serialize_entry(field, message)?;
        }
        map.end()
    }
}

pub use app::domain::errors::MAX_FIELD_ERRORS;

/// Past this length a field's message takes no more messages joined to it.
const MAX_FIELD_MESSAGE_BYTES: usize = 1000;

/// Field errors as the `errors` object: one message per field, several joined; the first
/// [`MAX_FIELD_ERRORS`] fields only.
fn errors_by_field(errors: &[FieldError]) -> FieldMessages {
    let mut by_field: Vec<(String, String)> = Vec::new();
    for error in errors {
        let room = by_field.len() < MAX_FIELD_ERRORS;
        match by_field.iter_mut().find(|(field, _)| *field == error.field) {
            // Each message once, and no more once the field's says enough.
            Some((_, message))
                if message.len() < MAX_FIELD_MESSAGE_BYTES
                    && !message.split("; ").any(|said| said == error.message) =>
            {
                message.push_str("; ");
                message.push_str(&error.message);
            }
            Some(_) => {}
            None if room => by_field.push((error.field.clone(), error.message.clone())),
            None => {}
        }
    }
    FieldMessages(by_field)
}

/// Every error an API handler returns.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError(error)
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError(ServiceError::Validation(vec![error]))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn problem(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: &[FieldError],
) -> Response {
    let body = Problem {
        kind: format!("urn:ipp-portal:problem:{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        errors: errors_by_field(errors),
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The answer to an API request that took longer than the server allows: 408, as a
/// problem document. The connection is closed after it (the rest of a slow body may still
/// be on its way), so the client retries on a new one.
pub fn request_timed_out(limit: std::time::Duration) -> Response {
    let mut response = problem(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
        format!(
            "the request was not completed within {} s; send it again",
            limit.as_secs()
        ),
        &[],
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = error.status();
        let retry_after = error.retry_after_seconds();
        let (slug, title) = match error.kind() {
            ErrorKind::Invalid => ("invalid-request", "Invalid request"),
            ErrorKind::Unauthorized => ("unauthorized", "Unauthorized"),
            ErrorKind::Forbidden => ("forbidden", "Forbidden"),
            ErrorKind::NotFound => ("not-found", "Not found"),
            ErrorKind::Gone => ("gone", "Gone"),
            ErrorKind::Conflict => ("conflict", "Conflict"),
            ErrorKind::RateLimited => ("rate-limited", "Too many failed attempts"),
            ErrorKind::Unavailable => ("unavailable", "Service unavailable"),
            ErrorKind::Internal => ("internal", "Internal error"),
        };
        let (detail, errors) = match error {
            ServiceError::Validation(errors) => {
                let mut detail = errors
                    .iter()
                    .take(MAX_FIELD_ERRORS)
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                if errors.len() > MAX_FIELD_ERRORS {
                    detail.push_str(&format!("; and {} more", errors.len() - MAX_FIELD_ERRORS));
                }
                (detail, errors)
            }
            ServiceError::NotFound(what) => (format!("no {what} with this id or code"), vec![]),
            ServiceError::Forbidden => ("these credentials may not do this".into(), vec![]),
            ServiceError::Internal(cause) => {
                // The cause goes to the log only; clients never see database text.
                tracing::error!(error = %cause, "request failed");
                (
                    "the request could not be completed; try again".into(),
                    vec![],
                )
            }
            other => (other.to_string(), vec![]),
        };
        let mut response = problem(status, slug, title, detail, &errors);
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ipp\", Basic realm=\"ipp\""),
            );
        }
        response
    }
}

/// The largest request body the API reads: an enrollment or a device with 20 metadata
/// pairs of the longest values fits in it several times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body of at most [`MAX_BODY_BYTES`] (the router's `DefaultBodyLimit`); a
/// longer one is refused with a 413 problem before any of it is parsed.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                format!("a request body has at most {} KB", MAX_BODY_BYTES / 1024),
                &[],
            )),
            Err(rejection) => Err(problem(
                rejection.status(),
                "invalid-request",
                "Invalid request",
                rejection.body_text(),
                &[],
            )),
        }
    }
}

/// Reads a JSON body; an empty body reads as `{}`. A malformed body is a 400 naming the
/// field (`metadata.store`, `expires_in`) that failed.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::from(FieldError::new(
                "body",
                format!("the body is not valid JSON: {message}"),
            ));
        }
        let field = missing_field(&message)
            .map(|missing| {
                if path == "." {
                    missing.to_owned()
                } else {
                    format!("{path}.{missing}")
                }
            })
            .unwrap_or_else(|| if path == "." { "body".to_owned() } else { path });
        let message = strip_position(&message);
        ApiError::from(FieldError::new(field, message))
    })
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde_json appends " at line 1 column 17"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, repeatable ones included (`metadata=a:b&metadata=c:d`).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self(pairs)
    }

    pub fn one(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, FieldError> {
        self.one(name)
            .map(|value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| FieldError::new(name, format!("{name} is a whole number")))
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        self.one(name)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(FieldError::new(name, format!("{name} is true or false"))),
            })
            .transpose()
    }

    pub fn page(&self) -> Result<app::domain::paging::PageRequest, FieldError> {
        app::domain::paging::PageRequest::new(self.int("page_number")?, self.int("page_size")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        expires_in: Option<i64>,
        metadata: Option<std::collections::BTreeMap<String, String>>,
    }

    fn field_of(body: &str) -> String {
        match parse_json::<Body>(&Bytes::from(body.to_owned())) {
            Err(ApiError(ServiceError::Validation(errors))) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(field_of(r#"{"expires_in": 10}"#), "name");
        assert_eq!(
            field_of(r#"{"name": "x", "expires_in": "soon"}"#),
            "expires_in"
        );
        assert_eq!(
            field_of(r#"{"name": "x", "metadata": {"a": 1}}"#),
            "metadata.a"
        );
        assert_eq!(field_of(r#"{"name": "#), "body");
        assert_eq!(field_of(""), "name");
    }

    #[test]
    fn errors_map_each_field_to_one_message() {
        let errors = errors_by_field(&[
            FieldError::new("ttl", "must not be null"),
            FieldError::new("metadata.store", "too long"),
            FieldError::new("ttl", "is one of TWO_HOURS, ..."),
        ]);
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"ttl":"must not be null; is one of TWO_HOURS, ...","metadata.store":"too long"}"#
        );
        assert_eq!(errors.get("metadata.store"), Some("too long"));
    }

    #[test]
    fn a_problem_names_at_most_twenty_fields() {
        let many: Vec<FieldError> = (0..1000)
            .map(|i| FieldError::new(format!("metadata.k{i}"), "bad key"))
            .collect();
        let response = ApiError(ServiceError::Validation(many)).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let errors = errors_by_field(
            &(0..1000)
                .map(|i| FieldError::new(format!("f{i}"), "bad"))
                .collect::<Vec<_>>(),
        );
        assert_eq!(errors.0.len(), MAX_FIELD_ERRORS);
    }

    #[test]
    fn query_params_repeat_and_validate() {
        let params = QueryParams::parse(Some("metadata=a%3Ab&metadata=c:d&page_size=x&flag=TRUE"));
        assert_eq!(params.all("metadata"), vec!["a:b", "c:d"]);
        assert_eq!(params.int("page_size").unwrap_err().field, "page_size");
        assert_eq!(params.bool("flag"), Ok(Some(true)));
        assert_eq!(params.one("absent"), None);
    }
}
