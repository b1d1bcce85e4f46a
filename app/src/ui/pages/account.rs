//! `/account`: who I am, the time zone I read times in, changing my password, and my
//! second factors: an authenticator app and recovery codes (`second_factors`), passkeys.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::model::PasskeySummary;
use crate::ui::components::format::{Time, TimeOrNever, role_label};
use crate::ui::components::forms::{FieldMessage, FormMessage, Options, last_error};
use crate::ui::components::layout::CurrentUser;
use crate::ui::components::loading::Loaded;
use crate::ui::components::passkeys::AddPasskey;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;
use crate::ui::pages::second_factors::SecondFactorsSection;

/// The signed-in user's passkeys, and why the portal's address cannot have any if so.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PasskeysData {
    pub unavailable: Option<String>,
    pub passkeys: Vec<PasskeySummary>,
}

#[server(endpoint = "my_passkeys")]
pub async fn my_passkeys() -> Result<PasskeysData, PortalError> {
    use crate::ui::session::{refuse, services, signed_in_to_change_password};

    // Listed for a user on a one-time password too (adding one waits for their password).
    let user = signed_in_to_change_password().await?;
    let services = services()?;
    Ok(PasskeysData {
        unavailable: services.passkeys_unavailable(),
        passkeys: services.own_passkeys(&user).await.map_err(refuse)?,
    })
}

/// Removes one of the signed-in user's passkeys; their other sessions end, this one stays.
#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(passkey_id: String) -> Result<(), PortalError> {
    use crate::ui::session::{put_notice, refuse, renew_grant, services, signed_in};

    let (user, _) = signed_in().await?;
    let grant = services()?
        .remove_own_passkey(&user, &passkey_id)
        .await
        .map_err(refuse)?;
    renew_grant(&grant).await?;
    put_notice("Passkey removed. Your other sessions have ended.").await;
    Ok(())
}

/// Changes the signed-in user's password; their other sessions end, this one stays.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), PortalError> {
    use crate::domain::FieldError;

    use crate::ui::session::{
        put_notice, refuse, reject, renew_grant, services, signed_in_to_change_password,
    };

    // The one call a user on a one-time password may make: every other refuses them.
    let user = signed_in_to_change_password().await?;
    if new_password != confirm_password {
        return Err(reject(PortalError::Invalid(vec![FieldError::new(
            "confirm_password",
            "the two new passwords differ",
        )])));
    }
    let grant = services()?
        .change_own_password(&user, &current_password, &new_password)
        .await
        .map_err(refuse)?;
    renew_grant(&grant).await?;
    put_notice("Password changed. Your other sessions have ended.").await;
    Ok(())
}

/// The time zones to choose from (IANA names), for the time zone form.
#[server(endpoint = "time_zones")]
pub async fn time_zones() -> Result<Vec<String>, PortalError> {
    use crate::ui::session::signed_in_to_change_password;

    signed_in_to_change_password().await?;
    Ok(crate::local_time::zone_names())
}

/// Shows the portal's times in `time_zone` from now on; empty: in the browser's zone.
#[server(endpoint = "set_time_zone")]
pub async fn set_time_zone(#[server(default)] time_zone: String) -> Result<(), PortalError> {
    use crate::ui::session::{put_notice, refuse, services, signed_in};

    let (user, _) = signed_in().await?;
    let chosen = services()?
        .set_own_time_zone(&user, Some(time_zone.as_str()))
        .await
        .map_err(refuse)?;
    put_notice(&match chosen {
        Some(zone) => format!("Times are now shown in {zone}."),
        None => "Times are now shown in your browser's time zone.".to_owned(),
    })
    .await;
    Ok(())
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let change = ServerAction::<ChangePassword>::new();
    let error = last_error(change.value());
    let set_zone = ServerAction::<SetTimeZone>::new();
    let zone_error = last_error(set_zone.value());
    let zones = Resource::new(|| (), |_| time_zones());
    let remove = ServerAction::<RemovePasskey>::new();
    let remove_error = last_error(remove.value());
    let passkeys = Resource::new(move || remove.version().get(), |_| my_passkeys());

    view! {
        <h1>"My account"</h1>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                user.await.map(|me| {
                    let zone = me.zone().to_owned();
                    let user = me.user;
                    let must_change = user.must_change_password;
                    let must_add_factor = user.must_add_second_factor && !must_change;
                    view! {
                        <dl class="facts">
                            <dt>"Email"</dt><dd>{user.email}</dd>
                            <dt>"Role"</dt><dd>{role_label(user.role)}</dd>
                            <dt>"Merchant"</dt><dd>{user.merchant_name}</dd>
                            <dt>"Time zone"</dt><dd data-testid="time-zone">{zone}</dd>
                        </dl>
                        {must_change.then(|| view! {
                            <div class="notice" role="status">
                                "You signed in with a one-time password. Choose your own password to go on."
                            </div>
                        })}
                        {must_add_factor.then(|| view! {
                            <div class="notice" role="status">
                                "Your merchant requires a second factor. " <a href="#second-factors">"Set one up below"</a> " to go on."
                            </div>
                        })}
                    }
                })
            })}
        </Transition>
        <section class="card">
            <h2>"Time zone"</h2>
            <p class="muted">"Times in the portal are shown in this zone. Exports and the API keep UTC."</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let zones = zones.await.unwrap_or_default();
                    let chosen = user.await.and_then(|me| me.user.time_zone.clone()).unwrap_or_default();
                    let browser = user.await.and_then(|me| me.browser_time_zone.clone());
                    view! { <TimeZoneForm action=set_zone zones chosen browser error=zone_error/> }
                })}
            </Transition>
        </section>
        <section class="card" data-testid="passkeys">
            <h2>"Passkeys"</h2>
            <p class="muted">"A passkey signs you in without a password: your device's screen lock, a password manager or a security key proves it is you. Add one for each device you sign in from."</p>
            <FormMessage error=remove_error/>
            <Loaded resource=passkeys let:data>
                {match data.unavailable {
                    Some(reason) => view! { <p class="notice" role="status" data-testid="passkeys-unavailable">{reason}</p> }.into_any(),
                    None => view! { <AddPasskey/> }.into_any(),
                }}
                <PasskeyList passkeys=data.passkeys remove/>
            </Loaded>
        </section>
        <section class="card">
            <h2>"Change password"</h2>
            <ActionForm action=change attr:class="form-grid">
                <div class="field wide">
                    <label for="current_password">"Current password"</label>
                    <input id="current_password" name="current_password" type="password" autocomplete="current-password" required aria-describedby="current_password-error"/>
                    <FieldMessage field="current_password" error/>
                </div>
                <div class="field">
                    <label for="new_password">"New password (at least 12 characters)"</label>
                    <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" aria-describedby="new_password-error"/>
                    <FieldMessage field="new_password" error/>
                </div>
                <div class="field">
                    <label for="confirm_password">"New password again"</label>
                    <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-describedby="confirm_password-error"/>
                    <FieldMessage field="confirm_password" error/>
                </div>
                <FormMessage error/>
                <div class="form-actions">
                    <SubmitButton label="Change password".to_owned() pending="Changing…".to_owned()/>
                </div>
            </ActionForm>
        </section>
        <SecondFactorsSection/>
    }
}

/// The zone select: automatic (the browser's at sign-in) or one of `zones`.
#[component]
fn TimeZoneForm(
    action: ServerAction<SetTimeZone>,
    zones: Vec<String>,
    /// The zone chosen so far; empty: automatic.
    chosen: String,
    browser: Option<String>,
    error: impl Fn() -> Option<PortalError> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let automatic = match browser {
        Some(zone) => format!("Automatic: your browser's ({zone})"),
        None => "Automatic: your browser's (UTC until it tells)".to_owned(),
    };
    let choices = std::iter::once((String::new(), automatic))
        .chain(
            zones
                .into_iter()
                .map(|zone| (zone.clone(), zone.replace('_', " "))),
        )
        .collect();
    view! {
        <ActionForm action attr:class="form-grid">
            <div class="field">
                <label for="time_zone">"Show times in"</label>
                <select id="time_zone" name="time_zone" aria-describedby="time_zone-error">
                    <Options choices selected=chosen/>
                </select>
                <FieldMessage field="time_zone" error/>
            </div>
            <FormMessage error/>
            <div class="form-actions">
                <SubmitButton label="Save time zone".to_owned() pending="Saving…".to_owned()/>
            </div>
        </ActionForm>
    }
}

/// The user's passkeys, each with a form to remove it (a plain form: works without
/// JavaScript).
#[component]
fn PasskeyList(
    passkeys: Vec<PasskeySummary>,
    remove: ServerAction<RemovePasskey>,
) -> impl IntoView {
    if passkeys.is_empty() {
        return view! { <p class="empty">"No passkeys yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
        <table class="list">
            <caption class="visually-hidden">"Your passkeys"</caption>
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Added"</th><th scope="col">"Last used"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {passkeys.into_iter().map(|passkey| view! {
                    <tr>
                        <td>{passkey.name.clone()}</td>
                        <td data-label="Added"><Time at=passkey.created_at.clone()/></td>
                        <td data-label="Last used"><TimeOrNever at=passkey.last_used_at.clone()/></td>
                        <td class="row-actions">
                            <details>
                                <summary>"Remove…"</summary>
                                <ActionForm action=remove>
                                    <input type="hidden" name="passkey_id" value=passkey.id.clone()/>
                                    <p>"You can no longer sign in with " <strong>{passkey.name.clone()}</strong> ". Your other sessions end."</p>
                                    <button type="submit" class="danger">"Remove passkey"</button>
                                </ActionForm>
                            </details>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}
