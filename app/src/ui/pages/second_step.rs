//! `/login/verify`: the second step of a sign-in, for a user with a second factor. A code
//! of their authenticator app, or one of their recovery codes; plain forms, so both work
//! without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::passkeys::PasskeySecondStep;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;

/// What the second step offers the user waiting for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondStepData {
    pub authenticator: bool,
    pub passkeys: bool,
}

/// The sign-in waiting for its second step, or `None` (nothing waits: sign in first).
#[server(endpoint = "second_step")]
pub async fn second_step_page() -> Result<Option<SecondStepData>, PortalError> {
    use crate::ui::session::{portal_session, refuse, services};

    let Some(grant) = portal_session().await?.pending_second_step().await else {
        return Ok(None);
    };
    let options = services()?
        .second_step_options(&grant)
        .await
        .map_err(refuse)?;
    Ok(Some(SecondStepData {
        authenticator: options.0,
        passkeys: options.1,
    }))
}

/// Finishes the sign-in with a code of the user's authenticator app, and goes on to `next`.
#[server(endpoint = "verify_code")]
pub async fn verify_code(code: String, next: Option<String>) -> Result<(), PortalError> {
    use crate::services::SecondStepProof;
    server::finish(SecondStepProof::Authenticator(&code), next).await
}

/// Finishes the sign-in with one of the user's recovery codes (used up by this).
#[server(endpoint = "verify_recovery_code")]
pub async fn verify_recovery_code(
    recovery_code: String,
    next: Option<String>,
) -> Result<(), PortalError> {
    use crate::services::SecondStepProof;
    server::finish(SecondStepProof::RecoveryCode(&recovery_code), next).await
}

#[cfg(feature = "ssr")]
mod server {
    use crate::services::{SECOND_STEP_EXPIRED, SESSION_ENDED, SecondStepProof, ServiceError};
    use crate::ui::errors::PortalError;
    use crate::ui::session::{client_address, portal_session, refuse, safe_next, services};

    pub async fn finish(
        proof: SecondStepProof<'_>,
        next: Option<String>,
    ) -> Result<(), PortalError> {
        let session = portal_session().await?;
        let Some(grant) = session.pending_second_step().await else {
            return Err(refuse(ServiceError::Unauthorized(SESSION_ENDED)));
        };
        let services = services()?;
        let address = client_address().await;
        match services.second_step(&grant, proof, &address).await {
            Ok(grant) => {
                session.finish_second_step(&grant).await.map_err(refuse)?;
                leptos_axum::redirect(&safe_next(next.as_deref()));
                Ok(())
            }
            Err(error) => {
                if matches!(error, ServiceError::Unauthorized(message) if message == SECOND_STEP_EXPIRED || message == SESSION_ENDED)
                {
                    session.drop_second_step().await;
                }
                Err(refuse(error))
            }
        }
    }
}

#[component]
pub fn SecondStepPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let data = Resource::new(|| (), |_| second_step_page());
    let code = ServerAction::<VerifyCode>::new();
    let recovery = ServerAction::<VerifyRecoveryCode>::new();
    view! {
        <main class="narrow login">
            <h1>"Confirm it is you"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(Some(data)) => view! { <SecondStep data next=next() code recovery/> }.into_any(),
                        Ok(None) => view! {
                            <div class="notice" role="alert">
                                "There is no sign-in waiting for a code. " <a href="/login">"Sign in"</a>
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <div class="notice error" role="alert">{error.to_string()}</div> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn SecondStep(
    data: SecondStepData,
    next: String,
    code: ServerAction<VerifyCode>,
    recovery: ServerAction<VerifyRecoveryCode>,
) -> impl IntoView {
    let code_error = last_error(code.value());
    let recovery_error = last_error(recovery.value());
    let next_for_recovery = next.clone();
    // The recovery form opens by itself when it was the one refused.
    let recovery_open = recovery_error().is_some() || !data.authenticator;
    view! {
        {data.passkeys.then(|| {
            let next = next.clone();
            view! {
                <section aria-labelledby="passkey-heading">
                    <h2 id="passkey-heading">"Passkey"</h2>
                    <PasskeySecondStep next/>
                </section>
            }
        })}
        {data.authenticator.then(|| view! {
            <section aria-labelledby="code-heading">
                <h2 id="code-heading">"Authenticator app"</h2>
                <ActionForm action=code>
                    <input type="hidden" name="next" value=next/>
                    <label for="code">"The six-digit code your app shows"</label>
                    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9 ]*" maxlength="9" required autofocus aria-describedby="code-error"/>
                    <FieldMessage field="code" error=code_error/>
                    <FormMessage error=code_error/>
                    <SubmitButton label="Verify".to_owned() pending="Verifying…".to_owned()/>
                </ActionForm>
            </section>
        })}
        <details class="recovery" open=recovery_open>
            <summary>"Use a recovery code"</summary>
            <p class="muted">"Each of the recovery codes you saved works once."</p>
            <ActionForm action=recovery>
                <input type="hidden" name="next" value=next_for_recovery/>
                <label for="recovery_code">"Recovery code"</label>
                <input id="recovery_code" name="recovery_code" type="text" autocomplete="off"
                    spellcheck="false" maxlength="40" required aria-describedby="recovery_code-error"/>
                <FieldMessage field="recovery_code" error=recovery_error/>
                <FormMessage error=recovery_error/>
                <SubmitButton label="Use recovery code".to_owned() pending="Checking…".to_owned()/>
            </ActionForm>
        </details>
        <p><a href="/login">"Sign in as someone else"</a></p>
    }
}
