//! The security and caching headers of every answer.
//!
//! - Everywhere: `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (the
//!   portal's plain form posts find their way back by the Referer, which this still sends
//!   to the portal itself and to nobody else), and with an `https://` public URL
//!   `Strict-Transport-Security`.
//! - The portal: a `Content-Security-Policy` whose scripts must carry a nonce made for
//!   this one answer (Leptos puts it on its hydration and data scripts), and pages and
//!   server function answers that are never stored (`no-store`): they show live pairing
//!   codes, new API keys and one-time passwords.
//! - The Device API: a policy that allows nothing (its answers are data, never a page),
//!   and `private, no-store` on every answer: enrollments carry live codes, registrations
//!   a device token, and everything else is one merchant's data.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// What the headers depend on.
#[derive(Debug, Clone, Copy)]
pub struct HeaderSettings {
    /// The portal is reached over HTTPS: browsers are told to use nothing else.
    pub https: bool,
}

/// One year, the figure HSTS preload lists ask for.
const HSTS: &str = "max-age=31536000";

/// The portal's policy, around the nonce of one answer. Scripts: the page's own files
/// (the WASM loader imports `/pkg/*.js`) and inline scripts with the nonce, and compiling
/// WebAssembly. Styles: the stylesheet only (the pages have no inline styles). Nothing
/// may frame the portal, change the base of its links, post its forms elsewhere or embed
/// plugins.
pub fn portal_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The Device API's answers are JSON: nothing in them may run, load or be framed.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Portal pages and server function answers: never stored anywhere.
pub const PORTAL_CACHE_CONTROL: &str = "no-store";
/// Device API answers: for the one caller only, and never stored.
pub const API_CACHE_CONTROL: &str = "private, no-store";

/// Headers on every answer, API and portal alike.
pub async fn common_headers(
    State(settings): State<HeaderSettings>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if settings.https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// Makes the nonce of this answer (Leptos' own generator: 128 random bits), hands it to
/// the renderer through the request's extensions (see `startup::portal_context`) and
/// sends the policy naming it.
pub async fn portal_security_policy(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    if let Ok(policy) = HeaderValue::from_str(&portal_policy(&nonce)) {
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `no-store` on the portal's pages, server functions and exports.
pub async fn portal_no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_cache_control(response.headers_mut(), PORTAL_CACHE_CONTROL);
    response
}

/// The API's policy and `private, no-store` on each of its answers.
pub async fn api_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(API_POLICY),
    );
    set_cache_control(headers, API_CACHE_CONTROL);
    response
}

fn set_cache_control(headers: &mut HeaderMap, value: &'static str) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portal_policy_allows_no_inline_script_without_the_nonce() {
        let policy = portal_policy("abc123");
        let script_src = policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("script-src "))
            .unwrap();
        assert_eq!(
            script_src,
            "script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"
        );
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("'unsafe-eval'"));
        for directive in [
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
            "style-src 'self'",
        ] {
            assert!(policy.contains(directive), "{directive}");
        }
        assert!(HeaderValue::from_str(&policy).is_ok());
    }
}
