//! Where portal sessions are kept: tower-sessions' sqlx store, on the same database as
//! everything else, so a restart keeps people signed in and several server instances on
//! one PostgreSQL share sessions.

use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{Backend, Store, StoreResult};

pub const SESSIONS_TABLE: &str = "sessions";

pub enum SessionStorage {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// A session store on this database, its table created when missing.
    pub async fn session_storage(&self) -> StoreResult<SessionStorage> {
        let invalid_name = |e: String| sqlx::Error::Configuration(e.into());
        Ok(match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&self.url)?
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(std::time::Duration::from_secs(10))
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?;
                let store = SqliteStore::new(pool)
                    .with_table_name(SESSIONS_TABLE)
                    .map_err(invalid_name)?;
                store.migrate().await?;
                SessionStorage::Sqlite(store)
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(&self.url)?.disable_statement_logging();
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?;
                let store = PostgresStore::new(pool)
                    .with_schema_name("public")
                    .map_err(invalid_name)?
                    .with_table_name(SESSIONS_TABLE)
                    .map_err(invalid_name)?;
                store.migrate().await?;
                SessionStorage::Postgres(store)
            }
        })
    }
}
