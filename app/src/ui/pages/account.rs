//! `/account`: who I am, and changing my password.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::ui::components::format::role_label;
use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::layout::CurrentUser;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;

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

#[component]
pub fn AccountPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let change = ServerAction::<ChangePassword>::new();
    let error = last_error(change.value());

    view! {
        <h1>"My account"</h1>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                user.await.map(|user| {
                    let must_change = user.must_change_password;
                    view! {
                        <dl class="facts">
                            <dt>"Email"</dt><dd>{user.email}</dd>
                            <dt>"Role"</dt><dd>{role_label(user.role)}</dd>
                            <dt>"Merchant"</dt><dd>{user.merchant_name}</dd>
                        </dl>
                        {must_change.then(|| view! {
                            <div class="notice" role="status">
                                "You signed in with a one-time password. Choose your own password to go on."
                            </div>
                        })}
                    }
                })
            })}
        </Transition>
        <section class="card">
            <h2>"Change password"</h2>
            <ActionForm action=change>
                <label for="current_password">"Current password"</label>
                <input id="current_password" name="current_password" type="password" autocomplete="current-password" required aria-describedby="current_password-error"/>
                <FieldMessage field="current_password" error/>
                <label for="new_password">"New password (at least 12 characters)"</label>
                <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" aria-describedby="new_password-error"/>
                <FieldMessage field="new_password" error/>
                <label for="confirm_password">"New password again"</label>
                <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-describedby="confirm_password-error"/>
                <FieldMessage field="confirm_password" error/>
                <FormMessage error/>
                <SubmitButton label="Change password".to_owned() pending="Changing…".to_owned()/>
            </ActionForm>
        </section>
    }
}
