//! The scaffold of every page: wait for what the page shows, then show it, or why the
//! server refused it; and, for a form, what was typed into it before the server refused it.
//!
//! Pages are rendered whole on the server (`SsrMode::Async`), so these wait there and the
//! browser gets the finished page, with JavaScript or without.

use std::sync::Arc;

use leptos::prelude::*;

use super::format::Viewer;
use super::layout::CurrentUser;
use crate::ui::errors::PortalError;
use crate::ui::session::{OldInput, take_old_input};

/// The page's data once `resource` has loaded, rendered by `children`
/// (`<Loaded resource=data let:data>...</Loaded>`); a refusal instead when the server
/// function refused (session over, role not allowed, no such thing). The page's times
/// are shown in the signed-in user's zone ([`Viewer`]).
#[component]
pub fn Loaded<T, V>(
    resource: Resource<Result<T, PortalError>>,
    children: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let children = Arc::new(children);
    let me = use_context::<CurrentUser>();
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let children = Arc::clone(&children);
                Suspend::new(async move {
                    provide_viewer(me).await;
                    match resource.await {
                        Err(error) => view! { <Refusal error/> }.into_any(),
                        Ok(data) => children(data).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Makes the signed-in user's time zone the one the page's times are shown in.
pub async fn provide_viewer(me: Option<CurrentUser>) {
    let zone = match me {
        Some(CurrentUser(me)) => me.await.map(|me| me.zone().to_owned()),
        None => None,
    };
    provide_context(Viewer::new(zone.as_deref().unwrap_or("UTC")));
}

/// What the user typed into the form that posts to `form` (its server function's `PATH`),
/// when that post was refused and this page shows the error; empty otherwise
/// (`<WithKeptInput form=CreateLocation::PATH let:old>...</WithKeptInput>`).
///
/// The kept input is taken from the session: one of these a page.
#[component]
pub fn WithKeptInput<V>(
    form: &'static str,
    children: impl Fn(OldInput) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    V: IntoView + 'static,
{
    let old = Resource::new(|| (), |_| take_old_input());
    let children = Arc::new(children);
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = Arc::clone(&children);
                Suspend::new(async move { children(OldInput::of(&old.await.ok().flatten(), form)) })
            }}
        </Transition>
    }
}

/// What a page shows when its server function refused: sign in again, or not allowed.
#[component]
pub fn Refusal(error: PortalError) -> impl IntoView {
    match error {
        PortalError::Unauthorized(_) => view! {
            <div class="notice" role="alert">
                "Your session has ended. " <a href="/login">"Sign in again"</a>
            </div>
        }
        .into_any(),
        PortalError::PasswordChangeRequired(_) => view! {
            <div class="notice" role="alert">
                "You signed in with a one-time password. " <a href="/account">"Choose your own password"</a> " to go on."
            </div>
        }
        .into_any(),
        PortalError::SecondFactorRequired(_) => view! {
            <div class="notice" role="alert">
                "Your merchant requires a second factor. " <a href="/account#second-factors">"Set one up on My account"</a> " to go on."
            </div>
        }
        .into_any(),
        PortalError::Forbidden => view! {
            <div class="notice" role="alert">"Your role does not give access to this page."</div>
        }
        .into_any(),
        other => {
            view! { <div class="notice error" role="alert">{other.to_string()}</div> }.into_any()
        }
    }
}
