//! What stands in front of the portal's pages and server functions: sign-in for pages,
//! and for every change a same-origin check and a cap on its size.

use app::portal_session::PortalSession;
use app::state::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower::{Layer, ServiceExt};

/// Pages anyone may open.
const PUBLIC_PAGES: &[&str] = &["/login", app::ui::session::SECOND_STEP_PAGE, "/pair"];

fn is_page_request(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path.starts_with("/ipp/")
        // Files of `public/` have an extension; pages do not.
        && !path.rsplit('/').next().is_some_and(|last| last.contains('.'))
        && !PUBLIC_PAGES.contains(&path)
}

/// Sends a visitor without a (still good) session to the login page (or, halfway through
/// signing in, to its second step), and back to where they were going afterwards; a user
/// on a one-time password to choose their own first, and one whose merchant requires a
/// second factor they lack to My account to add one.
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
            let page = match session.pending_second_step().await {
                Some(_) => app::ui::session::SECOND_STEP_PAGE,
                None => "/login",
            };
            Redirect::to(&format!("{page}?next={next}")).into_response()
        }
        Some(user)
            if (user.must_change_password || user.must_add_second_factor) && path != "/account" =>
        {
            Redirect::to("/account").into_response()
        }
        Some(_) => next.run(request).await,
    }
}

/// The largest body a portal form may send. The largest form (a pairing code with 20
/// metadata rows of 500 characters, each escaped) sends about 100 KB at most.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Refuses a change (any non-GET request to the portal) sent from another site, so a
/// signed-in browser cannot be made to act by a page elsewhere; and one with a body larger
/// than any of the portal's forms sends (413), so no server function reads more than
/// [`MAX_FORM_BYTES`], signed in or not. (Both checks stand in front of every change:
/// one middleware.)
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    if !is_same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_FORM_BYTES as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "this is larger than any form of the portal sends ({} KB at most)",
                MAX_FORM_BYTES / 1024
            ),
        )
            .into_response();
    }
    // A body without a length is read up to the cap only: past it, reading fails (a 400).
    DefaultBodyLimit::max(MAX_FORM_BYTES)
        .layer(next)
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {})
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
        assert!(!is_page_request(&Method::GET, "/login/verify"));
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
