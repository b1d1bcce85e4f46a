//! The "Second factors" section of `/account`: the user's authenticator app (set up by QR
//! code or by typing its key, confirmed with one code; removed), and their recovery codes
//! (shown once when made; made anew). Plain forms: all of it works without JavaScript.
//!
//! A user whose merchant requires a second factor and who has none may use these server
//! functions (and nothing else but changing their password) until they have one.

use leptos::form::ActionForm;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::second_factor::{RECOVERY_CODE_COUNT, grouped};
use crate::model::{Authenticator, SecondFactors};
use crate::ui::components::format::Time;
use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::loading::Loaded;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondFactorsData {
    pub factors: SecondFactors,
    /// The QR code of a waiting authenticator app, as inline SVG.
    pub qr_svg: Option<String>,
    /// Recovery codes just made by a plain form post, to show this once.
    pub new_recovery_codes: Option<Vec<String>>,
}

#[server(endpoint = "second_factors")]
pub async fn second_factors_section() -> Result<SecondFactorsData, PortalError> {
    use crate::portal_session::Once;
    use crate::ui::session::{portal_session, refuse, services, signed_in_to_add_second_factor};

    let (user, _) = signed_in_to_add_second_factor().await?;
    let factors = services()?.second_factors(&user).await.map_err(refuse)?;
    let qr_svg = match &factors.authenticator {
        Authenticator::Waiting { otpauth_uri, .. } => {
            crate::ui::components::qr::qr_svg(otpauth_uri)
        }
        _ => None,
    };
    let new_recovery_codes = portal_session().await?.take_once(Once::RecoveryCodes).await;
    Ok(SecondFactorsData {
        factors,
        qr_svg,
        new_recovery_codes,
    })
}

/// A new key for an authenticator app, shown as a QR code until a code confirms it.
#[server(endpoint = "start_authenticator")]
pub async fn start_authenticator() -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in_to_add_second_factor};

    let (user, _) = signed_in_to_add_second_factor().await?;
    services()?.start_authenticator(&user).await.map_err(refuse)
}

/// Confirms the waiting authenticator app with a code it shows. The user's first second
/// factor comes with recovery codes, returned (and, for a plain form post, kept for the
/// page) this once.
#[server(endpoint = "confirm_authenticator")]
pub async fn confirm_authenticator(code: String) -> Result<Option<Vec<String>>, PortalError> {
    use crate::ui::session::{put_notice, refuse, services, signed_in_to_add_second_factor};

    let (user, _) = signed_in_to_add_second_factor().await?;
    let codes = services()?
        .confirm_authenticator(&user, &code)
        .await
        .map_err(refuse)?;
    keep_recovery_codes(codes.as_ref()).await;
    put_notice("Authenticator app added: sign-ins now ask for its code.").await;
    Ok(codes)
}

/// Removes the authenticator app; the user's other sessions end, this one stays.
#[server(endpoint = "remove_authenticator")]
pub async fn remove_authenticator() -> Result<(), PortalError> {
    use crate::ui::session::{
        put_notice, refuse, renew_grant, services, signed_in_to_add_second_factor,
    };

    let (user, _) = signed_in_to_add_second_factor().await?;
    let grant = services()?
        .remove_authenticator(&user)
        .await
        .map_err(refuse)?;
    renew_grant(&grant).await?;
    put_notice("Authenticator app removed. Your other sessions have ended.").await;
    Ok(())
}

/// Ten new recovery codes in place of the old, returned (and kept for the page) once.
#[server(endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<Vec<String>, PortalError> {
    use crate::ui::session::{refuse, services, signed_in_to_add_second_factor};

    let (user, _) = signed_in_to_add_second_factor().await?;
    let codes = services()?
        .regenerate_recovery_codes(&user)
        .await
        .map_err(refuse)?;
    keep_recovery_codes(Some(&codes)).await;
    Ok(codes)
}

/// Keeps new recovery codes for the page a plain form post goes back to, once.
#[cfg(feature = "ssr")]
async fn keep_recovery_codes(codes: Option<&Vec<String>>) {
    use crate::portal_session::Once;
    use crate::ui::session::{is_plain_form_post, portal_session};

    if let (Some(codes), true) = (codes, is_plain_form_post())
        && let Ok(session) = portal_session().await
    {
        session.put_once(Once::RecoveryCodes, codes).await;
    }
}

/// The section, loaded on its own so a user who must add a second factor still sees it.
#[component]
pub fn SecondFactorsSection() -> impl IntoView {
    let start = ServerAction::<StartAuthenticator>::new();
    let confirm = ServerAction::<ConfirmAuthenticator>::new();
    let remove = ServerAction::<RemoveAuthenticator>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let data = Resource::new(
        move || {
            (
                start.version().get(),
                confirm.version().get(),
                remove.version().get(),
                regenerate.version().get(),
            )
        },
        |_| second_factors_section(),
    );
    view! {
        <section class="card" id="second-factors" aria-labelledby="second-factors-heading">
            <h2 id="second-factors-heading">"Second factors"</h2>
            <p class="muted">"A second factor keeps your account safe if your password leaks: signing in then also asks for it."</p>
            <Loaded resource=data let:data>
                <SecondFactorsView data start confirm remove regenerate/>
            </Loaded>
        </section>
    }
}

#[component]
fn SecondFactorsView(
    data: SecondFactorsData,
    start: ServerAction<StartAuthenticator>,
    confirm: ServerAction<ConfirmAuthenticator>,
    remove: ServerAction<RemoveAuthenticator>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
) -> impl IntoView {
    let SecondFactorsData {
        factors,
        qr_svg,
        new_recovery_codes,
    } = data;
    let has_factor =
        matches!(factors.authenticator, Authenticator::Confirmed { .. }) || factors.passkeys > 0;
    let start_error = last_error(start.value());
    let remove_error = last_error(remove.value());
    let regenerate_error = last_error(regenerate.value());
    view! {
        {(factors.required && !has_factor).then(|| view! {
            <div class="notice" role="alert">
                "Your merchant requires a second factor. Set up an authenticator app to go on."
            </div>
        })}
        <h3>"Authenticator app"</h3>
        {match factors.authenticator {
            Authenticator::None => view! {
                <p>"An app on your phone (such as Google Authenticator, Microsoft Authenticator or 1Password) shows a new six-digit code every 30 seconds."</p>
                <ActionForm action=start>
                    <FormMessage error=start_error/>
                    <SubmitButton label="Set up an authenticator app".to_owned() pending="Setting up…".to_owned()/>
                </ActionForm>
            }
            .into_any(),
            Authenticator::Waiting { secret, .. } => view! {
                <WaitingAuthenticator secret qr_svg confirm/>
            }
            .into_any(),
            Authenticator::Confirmed { since } => view! {
                <p data-testid="authenticator-on">"In use since " <Time at=since exact=true/> "."</p>
                <ActionForm action=remove>
                    <FormMessage error=remove_error/>
                    <button type="submit" class="danger">"Remove authenticator app"</button>
                </ActionForm>
            }
            .into_any(),
        }}
        <h3>"Recovery codes"</h3>
        {new_recovery_codes.map(|codes| view! { <NewRecoveryCodes codes/> })}
        {if has_factor {
            view! {
                <p data-testid="recovery-codes-left">
                    {format!("{} of {RECOVERY_CODE_COUNT} recovery codes unused. ", factors.recovery_codes_left)}
                    "Each works once, when you cannot use your second factor."
                </p>
                <ActionForm action=regenerate>
                    <FormMessage error=regenerate_error/>
                    <button type="submit" class="secondary">"Make new recovery codes"</button>
                </ActionForm>
            }
            .into_any()
        } else {
            view! { <p class="muted">"Recovery codes come with your first second factor."</p> }.into_any()
        }}
    }
}

/// The QR code and key of an authenticator app waiting for its first code, and the form
/// that confirms it.
#[component]
fn WaitingAuthenticator(
    secret: String,
    qr_svg: Option<String>,
    confirm: ServerAction<ConfirmAuthenticator>,
) -> impl IntoView {
    let error = last_error(confirm.value());
    view! {
        <ol class="steps">
            <li>
                "Scan this QR code with your authenticator app:"
                <div class="qr" role="img" aria-label="QR code of the key for your authenticator app" inner_html=qr_svg.unwrap_or_default()></div>
            </li>
            <li>
                "Or, if you cannot scan, type this key into the app: "
                <code data-testid="totp-secret" data-secret=secret.clone()>{grouped(&secret)}</code>
            </li>
            <li>
                <ActionForm action=confirm>
                    <label for="totp-code">"Then enter the six-digit code the app shows"</label>
                    <input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9 ]*" maxlength="9" required aria-describedby="code-error"/>
                    <FieldMessage field="code" error/>
                    <FormMessage error/>
                    <SubmitButton label="Confirm".to_owned() pending="Confirming…".to_owned()/>
                </ActionForm>
            </li>
        </ol>
    }
}

#[component]
fn NewRecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>"Your recovery codes, shown only now. Save them somewhere safe (print them, or keep them in a password manager): each signs you in once if you lose your phone."</p>
            <ol class="recovery-codes" data-testid="recovery-codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ol>
        </div>
    }
}
