//! What stands in front of the portal's pages and server functions: sign-in for pages,
//! and same-origin checks for every change.

use app::portal_session::PortalSession;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// Pages anyone may open.
const PUBLIC_PAGES: &[&str] = &["/login", "/pair"];

fn is_page_request(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path.starts_with("/ipp/")
        // Files of `public/` have an extension; pages do not.
        && !path.rsplit('/').next().is_some_and(|last| last.contains('.'))
        && !PUBLIC_PAGES.contains(&path)
}

/// Sends a visitor without a (still good) session to the login page, and back to where
/// they were going afterwards; a user on a one-time password to choose their own first.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: PortalSession,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !is_page_request(request.method(), &path) {
        return next.run(request).await;
    }
    let user = session.user(&state.services).await.ok().flatten();
    match user {
        None => {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let next: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Some(user) if user.must_change_password && path != "/account" => {
            Redirect::to("/account").into_response()
        }
        Some(_) => next.run(request).await,
    }
}

/// Refuses a change (any non-GET request to the portal) sent from another site, so a
/// signed-in browser cannot be made to act by a page elsewhere.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && !is_same_origin(request.headers())
    {
        return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    next.run(request).await
}

fn is_same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers send Sec-Fetch-Site; it is the clearest signal when there.
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    // Otherwise an Origin header, when sent, must name this host.
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        (Some(_), None) => false,
        // No browser sends a cross-site POST without Origin.
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_files_and_calls() {
        assert!(is_page_request(&Method::GET, "/"));
        assert!(is_page_request(&Method::GET, "/users"));
        assert!(!is_page_request(&Method::GET, "/login"));
        assert!(!is_page_request(&Method::GET, "/pair"));
        assert!(!is_page_request(&Method::GET, "/favicon.svg"));
        assert!(!is_page_request(&Method::GET, "/pkg/ipp-portal.wasm"));
        assert!(!is_page_request(&Method::POST, "/users"));
        assert!(!is_page_request(&Method::GET, "/api/users"));
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        assert!(is_same_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_same_origin(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(!is_same_origin(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(is_same_origin(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_same_origin(&headers(&[("host", "127.0.0.1:3000")])));
    }
}
