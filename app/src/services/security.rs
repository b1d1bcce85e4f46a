//! Security events: one structured `tracing` event each, with target `security`, for
//! whoever watches the logs (a SIEM, an alert on lockouts). Each names the event
//! (`event`), the merchant, the user (id, email) and the client address where they are
//! known. Never a secret: no password, key, token or pairing code.
//!
//! Text a caller typed (the email of a failed sign-in) is recorded as a plain string
//! value, which the log formatter quotes and escapes: it cannot forge a line of its own.
//! The events happen inside the request's span, whose request id ties them to the
//! access log.

use crate::model::StaffUser;
use crate::store::UserRow;

use super::{Actor, ActorKind};

const TARGET: &str = "security";

/// Emails are at most 254 characters; a longer "email" typed at sign-in is logged cut.
const MOST_EMAIL_CHARS: usize = 254;

fn typed_email(email: &str) -> &str {
    match email.char_indices().nth(MOST_EMAIL_CHARS) {
        Some((end, _)) => &email[..end],
        None => email,
    }
}

/// The user acting, when a person acts (an API key or the command line has no user).
fn acting_user(actor: &Actor) -> (Option<&str>, Option<&str>) {
    match actor.kind {
        ActorKind::User(_) => (actor.id.as_deref(), Some(actor.label.as_str())),
        _ => (None, None),
    }
}

pub(crate) fn sign_in_succeeded(user: &UserRow, client_address: &str) {
    tracing::info!(
        target: TARGET,
        event = "sign_in.succeeded",
        merchant_id = user.merchant_id.as_str(),
        user_id = user.id.as_str(),
        email = user.email.as_str(),
        client_address,
        "sign-in succeeded"
    );
}

/// A wrong password, an unknown email (`user` is `None`), or a disabled account; `reason`
/// says which of the last two.
pub(crate) fn sign_in_failed(
    email: &str,
    user: Option<&UserRow>,
    client_address: &str,
    reason: &'static str,
) {
    tracing::warn!(
        target: TARGET,
        event = "sign_in.failed",
        reason,
        merchant_id = user.map(|u| u.merchant_id.as_str()),
        user_id = user.map(|u| u.id.as_str()),
        email = typed_email(email),
        client_address,
        "sign-in failed"
    );
}

/// Too many failed sign-ins for the account or from the address: refused unchecked.
pub(crate) fn sign_in_locked_out(email: &str, client_address: &str, per: &'static str) {
    tracing::warn!(
        target: TARGET,
        event = "sign_in.locked_out",
        limit = per,
        email = typed_email(email),
        client_address,
        "sign-in refused: too many failures"
    );
}

pub(crate) fn password_changed(user: &StaffUser) {
    tracing::info!(
        target: TARGET,
        event = "password.changed",
        merchant_id = user.merchant_id.as_str(),
        user_id = user.id.as_str(),
        email = user.email.as_str(),
        "password changed"
    );
}

/// A passkey added to or removed from the user's own account (`event` says which).
pub(crate) fn passkey_changed(user: &StaffUser, event: &'static str, passkey_id: &str) {
    tracing::info!(
        target: TARGET,
        event,
        merchant_id = user.merchant_id.as_str(),
        user_id = user.id.as_str(),
        email = user.email.as_str(),
        passkey_id,
        "passkeys changed"
    );
}

pub(crate) fn api_key_created(actor: &Actor, api_key_id: &str) {
    let (user_id, email) = acting_user(actor);
    tracing::info!(
        target: TARGET,
        event = "api_key.created",
        merchant_id = actor.merchant_id.as_str(),
        api_key_id,
        actor_kind = actor.kind.as_str(),
        user_id,
        email,
        "API key created"
    );
}

pub(crate) fn api_key_revoked(actor: &Actor, api_key_id: &str) {
    let (user_id, email) = acting_user(actor);
    tracing::info!(
        target: TARGET,
        event = "api_key.revoked",
        merchant_id = actor.merchant_id.as_str(),
        api_key_id,
        actor_kind = actor.kind.as_str(),
        user_id,
        email,
        "API key revoked"
    );
}

/// What was done to a webhook endpoint that matters to security: where the merchant's
/// events go, and who holds the key that proves they come from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookEndpointEvent {
    Created,
    Deleted,
    SecretRotated,
    SecretRevealed,
}

impl WebhookEndpointEvent {
    fn name(self) -> &'static str {
        match self {
            WebhookEndpointEvent::Created => "webhook_endpoint.created",
            WebhookEndpointEvent::Deleted => "webhook_endpoint.deleted",
            WebhookEndpointEvent::SecretRotated => "webhook_endpoint.secret_rotated",
            WebhookEndpointEvent::SecretRevealed => "webhook_endpoint.secret_revealed",
        }
    }

    fn message(self) -> &'static str {
        match self {
            WebhookEndpointEvent::Created => "webhook endpoint created",
            WebhookEndpointEvent::Deleted => "webhook endpoint deleted",
            WebhookEndpointEvent::SecretRotated => "webhook signing secret rotated",
            WebhookEndpointEvent::SecretRevealed => "webhook signing secret revealed",
        }
    }
}

/// Of the endpoint's URL only its host (and port): a receiver's path or query may carry a
/// token of its own.
pub(crate) fn webhook_endpoint(
    actor: &Actor,
    what: WebhookEndpointEvent,
    webhook_endpoint_id: &str,
    url: &str,
) {
    let (user_id, email) = acting_user(actor);
    let url_host = url::Url::parse(url).ok().and_then(|url| {
        let host = url.host_str()?;
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    });
    tracing::info!(
        target: TARGET,
        event = what.name(),
        merchant_id = actor.merchant_id.as_str(),
        webhook_endpoint_id,
        url_host = url_host.as_deref(),
        actor_kind = actor.kind.as_str(),
        user_id,
        email,
        "{}",
        what.message()
    );
}

/// `user_id` and `email` are the disabled user's; `by_*` who disabled them.
pub(crate) fn user_disabled(actor: &Actor, user_id: &str, email: &str) {
    let (by_user_id, by_email) = acting_user(actor);
    tracing::info!(
        target: TARGET,
        event = "user.disabled",
        merchant_id = actor.merchant_id.as_str(),
        user_id,
        email,
        actor_kind = actor.kind.as_str(),
        by_user_id,
        by_email,
        "user disabled"
    );
}

/// Too many failed pairing-code attempts from the address, or from all clients.
pub(crate) fn registration_locked_out(client_address: &str, per: &'static str) {
    tracing::warn!(
        target: TARGET,
        event = "registration.locked_out",
        limit = per,
        client_address,
        "registration refused: too many failed pairing attempts"
    );
}

/// What changed about a user's second factors, or how one was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactorEvent {
    /// An authenticator app was confirmed.
    Added,
    /// The user removed their authenticator app.
    Removed,
    /// An admin or operator removed all of a user's second factors.
    Reset,
    /// New recovery codes replaced the old.
    RecoveryCodesRegenerated,
    /// A recovery code finished a sign-in.
    RecoveryCodeUsed,
}

impl SecondFactorEvent {
    fn name(self) -> &'static str {
        match self {
            SecondFactorEvent::Added => "second_factor.added",
            SecondFactorEvent::Removed => "second_factor.removed",
            SecondFactorEvent::Reset => "second_factor.reset",
            SecondFactorEvent::RecoveryCodesRegenerated => "recovery_codes.regenerated",
            SecondFactorEvent::RecoveryCodeUsed => "recovery_code.used",
        }
    }

    fn message(self) -> &'static str {
        match self {
            SecondFactorEvent::Added => "authenticator app added",
            SecondFactorEvent::Removed => "authenticator app removed",
            SecondFactorEvent::Reset => "second factors reset",
            SecondFactorEvent::RecoveryCodesRegenerated => "recovery codes regenerated",
            SecondFactorEvent::RecoveryCodeUsed => "recovery code used",
        }
    }
}

/// `user_id` and `email` are the user whose factors these are; `by_*` who acted, when
/// someone else did (an admin, `actor_kind` "system" for the command line).
pub(crate) fn second_factor(
    actor: &Actor,
    what: SecondFactorEvent,
    user_id: &str,
    email: &str,
    client_address: Option<&str>,
) {
    let (by_user_id, by_email) = acting_user(actor);
    tracing::info!(
        target: TARGET,
        event = what.name(),
        merchant_id = actor.merchant_id.as_str(),
        user_id,
        email,
        actor_kind = actor.kind.as_str(),
        by_user_id,
        by_email,
        client_address,
        "{}",
        what.message()
    );
}

/// A code at the second step of a sign-in refused: wrong (`limit` `None`), or unchecked
/// past the limit of failures per "account" or "address". `kind` says which code
/// ("authenticator", "recovery").
pub(crate) fn second_step_refused(
    user: &UserRow,
    client_address: &str,
    kind: &'static str,
    limit: Option<&'static str>,
) {
    let (event, message) = match limit {
        None => ("second_step.failed", "second sign-in step failed"),
        Some(_) => (
            "second_step.locked_out",
            "second sign-in step refused: too many failures",
        ),
    };
    tracing::warn!(
        target: TARGET,
        event,
        kind,
        limit,
        merchant_id = user.merchant_id.as_str(),
        user_id = user.id.as_str(),
        email = user.email.as_str(),
        client_address,
        "{message}"
    );
}

/// The merchant's rule that every user needs a second factor was turned on or off.
pub(crate) fn second_factor_policy(actor: &Actor, required: bool) {
    let (user_id, email) = acting_user(actor);
    tracing::info!(
        target: TARGET,
        event = "second_factor.policy_changed",
        required,
        merchant_id = actor.merchant_id.as_str(),
        actor_kind = actor.kind.as_str(),
        user_id,
        email,
        "second factor rule changed"
    );
}
