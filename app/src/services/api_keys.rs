//! API keys: how merchant systems call the Device API. The secret is shown once and
//! stored only as a hash; checking a key is in `auth`.

use serde::Serialize;
use serde_json::json;

use crate::domain::Permission;
use crate::domain::text::{MAX_KEY_NAME_LENGTH, required_text};
use crate::model::ApiKeySummary;
use crate::secrets::{self, API_KEY_PREFIX};
use crate::store::{NewApiKey, Store};

use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

/// A new key: `key` is the secret, shown this once.
#[derive(Clone, Serialize)]
pub struct CreatedApiKey {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub key: String,
    pub key_prefix: String,
    pub created_at: String,
}

impl Services {
    #[tracing::instrument(skip_all)]
    pub async fn create_api_key(&self, actor: &Actor, name: &str) -> ServiceResult<CreatedApiKey> {
        actor.require(Permission::ManageApiKeys)?;
        let name = required_text("name", name, MAX_KEY_NAME_LENGTH)?;
        self.require_merchant(actor).await?;
        let secret = secrets::new_secret(API_KEY_PREFIX);
        let key_prefix = secrets::display_prefix(&secret.plaintext);
        let now = self.now();
        let id = new_id();
        let mut tx = self.store.begin().await?;
        Store::insert_api_key(
            &mut tx,
            &NewApiKey {
                id: &id,
                merchant_id: &actor.merchant_id,
                name: &name,
                key_prefix: &key_prefix,
                key_hash: &secret.hash,
                created_by_user_id: actor.user_id(),
                now,
            },
        )
        .await?;
        audit(
            &mut tx,
            actor,
            now,
            "api_key.created",
            ("api_key", &id),
            json!({"name": name, "key_prefix": key_prefix}),
        )
        .await?;
        tx.commit().await?;
        super::security::api_key_created(actor, &id);
        Ok(CreatedApiKey {
            id,
            merchant_id: actor.merchant_id.clone(),
            name,
            key: secret.plaintext,
            key_prefix,
            created_at: rfc3339(now),
        })
    }

    pub async fn list_api_keys(&self, actor: &Actor) -> ServiceResult<Vec<ApiKeySummary>> {
        actor.require(Permission::ManageApiKeys)?;
        Ok(self
            .store
            .api_keys(&actor.merchant_id)
            .await?
            .into_iter()
            .map(|row| ApiKeySummary {
                id: row.id,
                name: row.name,
                key_prefix: row.key_prefix,
                created_by: row.created_by_email,
                created_at: rfc3339(row.created_at),
                last_used_at: row.last_used_at.map(rfc3339),
                revoked_at: row.revoked_at.map(rfc3339),
            })
            .collect())
    }

    /// The key is refused by the API from the moment this returns.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_api_key(&self, actor: &Actor, key_id: &str) -> ServiceResult<()> {
        actor.require(Permission::ManageApiKeys)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::revoke_api_key(&mut tx, &actor.merchant_id, key_id, now).await? {
            return Err(ServiceError::NotFound("API key"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "api_key.revoked",
            ("api_key", key_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        super::security::api_key_revoked(actor, key_id);
        Ok(())
    }
}
