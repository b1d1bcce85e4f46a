//! What only SQLite needs: its connection settings. Its registrations and attempt counts
//! are written by the group writer (see `group_writer.rs`).

use std::path::Path;
use std::str::FromStr;

use sqlx::AnyConnection;
use sqlx::any::AnyConnectOptions;

use super::StoreResult;

/// Pages each reading connection keeps of its own, in KiB. A million devices make a
/// database of gigabytes, which the operating system's page cache holds for every process
/// at once; what a connection keeps beyond that is the server's own memory, 8 readers
/// over.
pub(super) const READER_CACHE_KIB: u32 = 4 * 1024;
/// The writer's: registrations rewrite the same pages (the ends of indexes) again and
/// again, so it keeps more.
pub(super) const WRITER_CACHE_KIB: u32 = 16 * 1024;

/// Settings every SQLite connection gets when it opens; `cache_kib` is its page cache.
pub(super) async fn configure_connection(
    conn: &mut AnyConnection,
    cache_kib: u32,
) -> Result<(), sqlx::Error> {
    // WAL lets readers work while the writer writes; the busy timeout
    // covers other processes (the command line) writing meanwhile.
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA foreign_keys = ON",
        "PRAGMA synchronous = NORMAL",
        &format!("PRAGMA cache_size = -{cache_kib}"),
        // Pages are read with read calls, not through a memory map: a mapped page
        // counts in the server's resident memory once for each connection that
        // touched it.
        "PRAGMA mmap_size = 0",
        // A group's registrations are written under a savepoint, which keeps the
        // pages it changes in a sub-journal, and read from temporary tables: in
        // memory, not temporary files made and deleted for every group.
        "PRAGMA temp_store = MEMORY",
        // Registrations rewrite the same pages (the ends of indexes) again and
        // again: a longer log between checkpoints copies each of them back to
        // the database once instead of many times.
        "PRAGMA wal_autocheckpoint = 10000",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

fn file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

pub(super) fn create_folder(url: &str) -> std::io::Result<()> {
    if let Some(parent) = file_path(url).and_then(|path| Path::new(path).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// SQLite URLs get `mode=rwc` unless they say otherwise, so a new file is created.
pub(super) fn connect_options(url: &str) -> StoreResult<AnyConnectOptions> {
    let url = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok(AnyConnectOptions::from_str(&url)?)
}

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(file_path("sqlite://data/x.db"), Some("data/x.db"));
        assert_eq!(file_path("sqlite:data/x.db?mode=rwc"), Some("data/x.db"));
        assert_eq!(file_path("sqlite::memory:"), None);
        assert_eq!(file_path("postgres://h/db"), None);
    }
}
