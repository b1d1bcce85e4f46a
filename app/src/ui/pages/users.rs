//! `/users` (admins): who may use the portal, with which role and at which locations.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::domain::role::Role;
use crate::model::{Location, UserSummary};
use crate::ui::components::format::role_label;
use crate::ui::components::forms::{FieldMessage, FormMessage, Options, choices, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::locations::location_name;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersPageData {
    pub users: Vec<UserSummary>,
    pub locations: Vec<Location>,
    pub me: String,
    /// A one-time password just made by a plain form post, to show this once.
    pub new_password: Option<String>,
    /// Every user must have a second factor.
    pub second_factor_required: bool,
}

#[server(endpoint = "users")]
pub async fn users_page() -> Result<UsersPageData, PortalError> {
    use crate::ui::session::{refuse, services, signed_in, take_flash};

    let (user, actor) = signed_in().await?;
    let services = services()?;
    let users = services.list_users(&actor).await.map_err(refuse)?;
    let locations = services.all_locations(&actor).await.map_err(refuse)?;
    let second_factor_required = services
        .second_factor_required(&actor)
        .await
        .map_err(refuse)?;
    Ok(UsersPageData {
        users,
        locations,
        me: user.id,
        new_password: take_flash().await,
        second_factor_required,
    })
}

/// Turns the merchant's rule that every user needs a second factor on or off.
#[server(endpoint = "set_second_factor_rule")]
pub async fn set_second_factor_rule(required: bool) -> Result<(), PortalError> {
    use crate::ui::session::{put_notice, refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .set_second_factor_required(&actor, required)
        .await
        .map_err(refuse)?;
    put_notice(if required {
        "Every user now needs a second factor: those without one set it up at their next page."
    } else {
        "A second factor is now up to each user."
    })
    .await;
    Ok(())
}

/// Removes all of a user's second factors (for a lost phone); their sessions end.
#[server(endpoint = "reset_second_factors")]
pub async fn reset_second_factors(user_id: String) -> Result<(), PortalError> {
    use crate::ui::session::{put_notice, refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let reset = services()?
        .reset_second_factors(&actor, &user_id)
        .await
        .map_err(refuse)?;
    put_notice(&format!(
        "Second factors of {} removed; they are signed out everywhere.",
        reset.email
    ))
    .await;
    Ok(())
}

/// Creates a user. With no password given, a one-time password is made and returned,
/// to be handed over once; the user chooses their own at first sign-in.
#[server(endpoint = "create_user")]
pub async fn create_user(
    email: String,
    role: String,
    #[server(default)] location_ids: Vec<String>,
    #[server(default)] password: String,
) -> Result<Option<String>, PortalError> {
    use crate::domain::FieldError;
    use crate::domain::text::{MAX_CHOICE_LENGTH, MAX_EMAIL_LENGTH, MAX_ID_LENGTH};
    use crate::services::NewUserInput;

    use crate::ui::session::{
        OldInput, is_plain_form_post, keeping_input, put_flash, put_notice, refuse, reject,
        services, signed_in,
    };

    // Everything but the password comes back with a refusal.
    let kept = OldInput::new(CreateUser::PATH)
        .with("email", &email, MAX_EMAIL_LENGTH)
        .with("role", &role, MAX_CHOICE_LENGTH)
        .with_all("location_ids", &location_ids, MAX_ID_LENGTH);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let Some(role) = Role::parse(&role) else {
            return Err(reject(PortalError::Invalid(vec![FieldError::new(
                "role",
                "choose a role",
            )])));
        };
        let services = services()?;
        if password.is_empty() {
            let (_, one_time) = services
                .create_user_with_one_time_password(&actor, &email, role, location_ids)
                .await
                .map_err(refuse)?;
            if is_plain_form_post() {
                put_flash(&one_time).await;
            }
            Ok(Some(one_time))
        } else {
            let input = NewUserInput {
                merchant_id: actor.merchant_id.clone(),
                email,
                password,
                role,
                location_ids,
            };
            services.create_user(&actor, input).await.map_err(refuse)?;
            put_notice("User added.").await;
            Ok(None)
        }
    })
    .await
}

#[server(endpoint = "update_user_access")]
pub async fn update_user_access(
    user_id: String,
    role: String,
    #[server(default)] location_ids: Vec<String>,
) -> Result<(), PortalError> {
    use crate::domain::FieldError;

    use crate::ui::session::{refuse, reject, services, signed_in};

    let (_, actor) = signed_in().await?;
    let Some(role) = Role::parse(&role) else {
        return Err(reject(PortalError::Invalid(vec![FieldError::new(
            "role",
            "choose a role",
        )])));
    };
    services()?
        .update_user_access(&actor, &user_id, role, location_ids)
        .await
        .map_err(refuse)
}

#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: String, disabled: bool) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .set_user_disabled(&actor, &user_id, disabled)
        .await
        .map_err(refuse)
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUserAccess>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let rule = ServerAction::<SetSecondFactorRule>::new();
    let reset = ServerAction::<ResetSecondFactors>::new();
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                disable.version().get(),
                rule.version().get(),
                reset.version().get(),
            )
        },
        |_| users_page(),
    );
    let actions = UserActions {
        create,
        update,
        disable,
        rule,
        reset,
    };

    view! {
        <h1>"Users"</h1>
        <WithKeptInput form=CreateUser::PATH let:old>
            <Loaded resource=data let:data>
                <Users data old=old.clone() actions/>
            </Loaded>
        </WithKeptInput>
    }
}

/// The forms of the users page.
#[derive(Clone, Copy)]
struct UserActions {
    create: ServerAction<CreateUser>,
    update: ServerAction<UpdateUserAccess>,
    disable: ServerAction<SetUserDisabled>,
    rule: ServerAction<SetSecondFactorRule>,
    reset: ServerAction<ResetSecondFactors>,
}

/// The merchant's rule on second factors, with the form that turns it over.
#[component]
fn SecondFactorRule(required: bool, rule: ServerAction<SetSecondFactorRule>) -> impl IntoView {
    let error = last_error(rule.value());
    view! {
        <section class="card">
            <h2>"Second factors"</h2>
            <p data-testid="second-factor-rule">{if required {
                "Every user must have a second factor (an authenticator app or a passkey). Those without one are sent to set it up right after their password, and can do nothing else until then."
            } else {
                "A second factor is up to each user. Requiring one sends every user without one to set it up right after their password."
            }}</p>
            <ActionForm action=rule>
                <input type="hidden" name="required" value=(!required).to_string()/>
                <FormMessage error/>
                <button type="submit" class=if required { "secondary wraps" } else { "wraps" }>
                    {if required { "Stop requiring a second factor" } else { "Require a second factor for everyone" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// The form to add a user (as last sent, if the server refused it: `old`), and the users
/// with the forms to change their access or disable them.
#[component]
fn Users(data: UsersPageData, old: OldInput, actions: UserActions) -> impl IntoView {
    let UserActions {
        create,
        update,
        disable,
        rule,
        reset,
    } = actions;
    let create_error = last_error(create.value());
    let update_error = last_error(update.value());
    let disable_error = last_error(disable.value());
    let reset_error = last_error(reset.value());
    let UsersPageData {
        users,
        locations,
        me,
        new_password,
        second_factor_required,
    } = data;
    let locations_for_new = locations.clone();
    let new_role = old
        .value("role")
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(Role::Ops);
    let new_locations = old.values("location_ids");
    view! {
        <section class="card">
            <h2>"Add a user"</h2>
            <ActionForm action=create attr:class="form-grid">
                <div class="field">
                    <label for="new-email">"Email"</label>
                    <input id="new-email" name="email" type="email" value=old.value("email") required aria-describedby="email-error"/>
                    <FieldMessage field="email" error=create_error/>
                </div>
                <div class="field">
                    <label for="new-password">"Password (leave empty for a one-time password)"</label>
                    <input id="new-password" name="password" type="password" autocomplete="new-password" aria-describedby="password-error"/>
                    <FieldMessage field="password" error=create_error/>
                </div>
                <div class="field wide">
                    <RoleAndLocations id_prefix="new".to_string() role=new_role selected=new_locations locations=locations_for_new/>
                    <FieldMessage field="location" error=create_error/>
                </div>
                <FormMessage error=create_error/>
                {new_password.map(|one_time| view! { <OneTimePassword one_time/> })}
                <div class="form-actions">
                    <SubmitButton label="Add user".to_owned() pending="Adding…".to_owned()/>
                </div>
            </ActionForm>
        </section>
        <SecondFactorRule required=second_factor_required rule/>
        <FormMessage error=update_error/>
        <FieldMessage field="location" error=update_error/>
        <FormMessage error=disable_error/>
        <FormMessage error=reset_error/>
        <div class="table-wrap">
        <table class="list">
            <caption class="visually-hidden">"Users of this merchant"</caption>
            <thead>
                <tr><th scope="col">"Email"</th><th scope="col">"Access"</th><th scope="col">"Status"</th><th scope="col">"Second factor"</th><th scope="col">"Change"</th></tr>
            </thead>
            <tbody>
                {users.into_iter().map(|user| {
                    let is_me = user.id == me;
                    let places = user.location_ids.iter().map(|id| location_name(&locations, id).unwrap_or_else(|| id.clone())).collect::<Vec<_>>().join(", ");
                    let prefix = format!("u-{}", user.id);
                    let user_id_for_access = user.id.clone();
                    let user_id_for_status = user.id.clone();
                    let user_id_for_reset = user.id.clone();
                    let reset_label = format!("Reset second factors of {}", user.email);
                    let row_locations = locations.clone();
                    view! {
                        <tr class:disabled=user.disabled>
                            <td>{user.email.clone()}{is_me.then_some(" (you)")}</td>
                            <td data-label="Access">{role_label(user.role)}{(!places.is_empty()).then(|| format!(": {places}"))}</td>
                            <td data-label="Status">{if user.disabled {
                                view! { <span class="badge muted">"Disabled"</span> }
                            } else {
                                view! { <span class="badge ok">"Active"</span> }
                            }}</td>
                            <td data-label="Second factor">{if user.has_second_factor {
                                view! { <span class="badge ok">"Yes"</span> }
                            } else {
                                view! { <span class="badge muted">"None"</span> }
                            }}</td>
                            <td data-label="Change" class="row-actions">
                                <details>
                                    <summary>"Change access"</summary>
                                    <ActionForm action=update>
                                        <input type="hidden" name="user_id" value=user_id_for_access/>
                                        <RoleAndLocations id_prefix=prefix role=user.role selected=user.location_ids.clone() locations=row_locations/>
                                        <button type="submit">"Save access"</button>
                                    </ActionForm>
                                </details>
                                {(!is_me).then(|| view! {
                                    <ActionForm action=disable>
                                        <input type="hidden" name="user_id" value=user_id_for_status/>
                                        <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                                        <button type="submit" class=if user.disabled { "secondary" } else { "danger" }>
                                            {if user.disabled { "Enable" } else { "Disable" }}
                                        </button>
                                    </ActionForm>
                                })}
                                {(!is_me && user.has_second_factor).then(|| view! {
                                    <ActionForm action=reset>
                                        <input type="hidden" name="user_id" value=user_id_for_reset/>
                                        <button type="submit" class="secondary" aria-label=reset_label>"Reset second factors"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[component]
fn OneTimePassword(one_time: String) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>"One-time password, shown only now. Hand it over in person; the user chooses their own at first sign-in:"</p>
            <code data-testid="one-time-password">{one_time}</code>
        </div>
    }
}

/// A role select and, for store managers, the locations they manage.
#[component]
fn RoleAndLocations(
    id_prefix: String,
    role: Role,
    selected: Vec<String>,
    locations: Vec<Location>,
) -> impl IntoView {
    let role_id = format!("{id_prefix}-role");
    view! {
        <label for=role_id.clone()>"Role"</label>
        <select id=role_id name="role">
            <Options choices=choices(Role::ALL.map(|role| (role.as_str(), role_label(role)))) selected=role.as_str()/>
        </select>
        <fieldset class="locations">
            <legend>"Locations (store managers only)"</legend>
            {locations.into_iter().enumerate().map(|(index, location)| {
                let id = format!("{id_prefix}-loc-{index}");
                let checked = selected.contains(&location.id);
                view! {
                    <label class="check" for=id.clone()>
                        <input id=id.clone() type="checkbox" name=format!("location_ids[{index}]") value=location.id checked=checked/>
                        {location.name}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}
