//! `/api-keys` (admins): keys for merchant systems calling the Device API.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::model::ApiKeySummary;
use crate::ui::components::format::{Time, TimeOrNever};
use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::widgets::{CopyButton, SubmitButton};
use crate::ui::errors::PortalError;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApiKeysPageData {
    /// The merchant's id: the user name of HTTP Basic authentication.
    pub merchant_id: String,
    pub keys: Vec<ApiKeySummary>,
    /// A key just created by a plain form post, to show this once.
    pub new_key: Option<String>,
}

#[server(endpoint = "api_keys")]
pub async fn api_keys() -> Result<ApiKeysPageData, PortalError> {
    use crate::ui::session::{refuse, services, signed_in, take_flash};

    let (_, actor) = signed_in().await?;
    let keys = services()?.list_api_keys(&actor).await.map_err(refuse)?;
    Ok(ApiKeysPageData {
        merchant_id: actor.merchant_id,
        keys,
        new_key: take_flash().await,
    })
}

/// A new key; the secret is in the answer this once and never again.
#[server(endpoint = "create_api_key")]
pub async fn create_api_key(name: String) -> Result<String, PortalError> {
    use crate::domain::text::MAX_KEY_NAME_LENGTH;
    use crate::ui::session::{
        OldInput, is_plain_form_post, keeping_input, put_flash, refuse, services, signed_in,
    };

    let kept = OldInput::new(CreateApiKey::PATH).with("name", &name, MAX_KEY_NAME_LENGTH);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let created = services()?
            .create_api_key(&actor, &name)
            .await
            .map_err(refuse)?;
        if is_plain_form_post() {
            put_flash(&created.key).await;
        }
        Ok(created.key)
    })
    .await
}

#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(key_id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .revoke_api_key(&actor, &key_id)
        .await
        .map_err(refuse)
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| api_keys(),
    );
    let create_error = last_error(create.value());
    let revoke_error = last_error(revoke.value());

    view! {
        <h1>"API keys"</h1>
        <p class="muted">"Merchant systems send a key to the Device API in either of two ways: "
            <code>"Authorization: Bearer <key>"</code> ", or HTTP Basic with the merchant id as user name and the key as password (as Kustom's clients do)."</p>
        <section class="card">
            <h2>"Create a key"</h2>
            <ActionForm action=create attr:class="form-grid">
                <div class="field">
                    <label for="key-name">"Name (what the key is for)"</label>
                    <WithKeptInput form=CreateApiKey::PATH let:old>
                        <KeyName name=old.value("name")/>
                    </WithKeptInput>
                    <FieldMessage field="name" error=create_error/>
                </div>
                <FormMessage error=create_error/>
                <div class="form-actions">
                    <SubmitButton label="Create key".to_owned() pending="Creating…".to_owned()/>
                </div>
            </ActionForm>
        </section>
        <FormMessage error=revoke_error/>
        <Loaded resource=keys let:data>
            <p class="merchant-id">"Merchant id (the Basic user name): " <code class="id" data-testid="merchant-id">{data.merchant_id.clone()}</code>
                " " <CopyButton text=data.merchant_id.clone() label="Copy merchant id".to_owned() small=true/></p>
            {data.new_key.map(|secret| view! { <NewKey secret/> })}
            <KeyList keys=data.keys revoke/>
        </Loaded>
    }
}

/// The keys, revoked ones too, each live one with a form to revoke it.
#[component]
fn KeyList(keys: Vec<ApiKeySummary>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p class="empty">"No API keys yet. Create one above for each system that calls the Device API."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
        <table class="list">
            <caption class="visually-hidden">"API keys"</caption>
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Created by"</th>
                <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Status"</th>
            </tr></thead>
            <tbody>
                {keys.into_iter().map(|key| {
                    let revoked = key.revoked_at.is_some();
                    view! {
                        <tr class:disabled=revoked>
                            <td>{key.name.clone()}</td>
                            <td data-label="Key"><code>{format!("{}…", key.key_prefix)}</code></td>
                            <td data-label="Created by">{key.created_by.clone().unwrap_or_else(|| "command line".into())}</td>
                            <td data-label="Created"><Time at=key.created_at.clone()/></td>
                            <td data-label="Last used"><TimeOrNever at=key.last_used_at.clone()/></td>
                            <td data-label="Status" class="row-actions">{if revoked {
                                view! { <span class="badge muted">"Revoked"</span> }.into_any()
                            } else {
                                view! {
                                    <details>
                                        <summary>"Revoke…"</summary>
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="key_id" value=key.id.clone()/>
                                            <p>"Systems using " <strong>{key.name.clone()}</strong> " are refused from now on."</p>
                                            <button type="submit" class="danger">"Revoke key"</button>
                                        </ActionForm>
                                    </details>
                                }.into_any()
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}

/// The name field, with the name sent last if the server refused it.
#[component]
fn KeyName(name: Option<String>) -> impl IntoView {
    view! {
        <input id="key-name" name="name" value=name required maxlength="100" placeholder="ERP integration" aria-describedby="name-error"/>
    }
}

/// A key just created: shown this once, with a copy button.
#[component]
fn NewKey(secret: String) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p><strong>"Copy this key now."</strong>" It is shown only once; only a hash of it is kept."</p>
            <code data-testid="new-api-key">{secret.clone()}</code>
            <CopyButton text=secret label="Copy".to_owned() small=false/>
        </div>
    }
}
