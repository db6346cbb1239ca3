//! `scimgate backup --to FILE`: an online copy of a SQLite database.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is the database as
//! of one commit however many writes the running server makes meanwhile (in WAL mode they
//! go on; the WAL just cannot be checkpointed past the reader until the copy is done). The
//! source is opened read-only: the backup never writes to the live database.
//!
//! The copy is made beside FILE under a temporary name, synced, checked with
//! `PRAGMA integrity_check`, and only then put at FILE: an interrupted or failed backup
//! never leaves a partial file under the name a restore would use. Without `--force` an
//! existing FILE is never replaced, even one created while the copy was being made (the
//! final step is a hard link, which refuses to overwrite). A `FILE-wal`, `-shm` or
//! `-journal` left beside FILE would be applied to the copy by the next SQLite that opens
//! it (silently bringing back the old database's pages): without `--force` they make the
//! backup refuse, with it they are removed. `--force` must not name a database a server
//! is using.
//!
//! The webhook secrets in the database are sealed under the key file beside it
//! (`<db>.secrets-key`, see `auth::sealing`), so that file is copied beside the backup too;
//! a backup without it could not send webhooks.

use super::{Backend, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backup copies SQLite databases. For PostgreSQL use pg_dump, e.g. `pg_dump --format=custom --file=scimgate.dump \"$DATABASE_URL\"` (restore with pg_restore)")]
    Postgres,
    #[error("{0}")]
    InvalidUrl(String),
    #[error("there is no database at {0}")]
    NoSource(PathBuf),
    #[error("{0} already exists; add --force to replace it")]
    Exists(PathBuf),
    #[error("{0} is the database itself; choose another file")]
    SameFile(PathBuf),
    #[error("{0}")]
    Io(String),
    #[error("reading the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the copy failed its integrity check: {0}")]
    Integrity(String),
}

/// What a backup made.
#[derive(Debug)]
pub struct BackupReport {
    pub source: PathBuf,
    pub bytes: u64,
    /// Where the secrets key was copied, if the database had one beside it.
    pub key: Option<PathBuf>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{what} {}: {e}", path.display()))
}

/// Files SQLite keeps beside a database.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Copies the SQLite database named by `url` to `to`.
pub async fn backup_sqlite(url: &str, to: &Path, force: bool) -> Result<BackupReport, BackupError> {
    match Backend::from_url(url) {
        Ok(Backend::Sqlite) => {}
        Ok(Backend::Postgres) => return Err(BackupError::Postgres),
        Err(StoreError::InvalidUrl(m)) => return Err(BackupError::InvalidUrl(m)),
        Err(e) => return Err(BackupError::InvalidUrl(e.to_string())),
    }
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let source = PathBuf::from(rest.split_once('?').map_or(rest, |(p, _)| p));
    if !source.is_file() {
        return Err(BackupError::NoSource(source));
    }
    if to.as_os_str().is_empty() || to.is_dir() {
        return Err(BackupError::Io(format!(
            "{} is not a file name",
            to.display()
        )));
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let key_src = with_suffix(&source, ".secrets-key");
    let key_dst = with_suffix(to, ".secrets-key");
    let has_key = key_src.is_file();
    if to.exists() {
        if same(to, &source) {
            return Err(BackupError::SameFile(to.to_path_buf()));
        }
        if !force {
            return Err(BackupError::Exists(to.to_path_buf()));
        }
    }
    if has_key && key_dst.exists() && !force {
        return Err(BackupError::Exists(key_dst));
    }
    // SQLite would apply a WAL left beside FILE (by a database once there, or a server
    // killed while using it) to the new copy: its pages would overwrite the copy's.
    let leftovers: Vec<PathBuf> = SIDE_FILES
        .iter()
        .map(|suffix| with_suffix(to, suffix))
        .filter(|p| p.exists())
        .collect();
    if let (Some(first), false) = (leftovers.first(), force) {
        return Err(BackupError::Exists(first.clone()));
    }
    let dir = match to.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(BackupError::Io(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let tmp = dir.join(format!(
        ".{name}.partial-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let tmp_key = with_suffix(&tmp, ".secrets-key");
    let result = async {
        let bytes = copy(&source, &tmp).await?;
        // The key first: a key file without its database is harmless, a database without
        // its key cannot send webhooks.
        if has_key {
            publish_key(&key_src, &tmp_key, &key_dst, force)?;
        }
        for p in &leftovers {
            std::fs::remove_file(p).map_err(|e| io("cannot remove", p, e))?;
        }
        publish(&tmp, to, force)?;
        sync_dir(&dir);
        Ok::<_, BackupError>((bytes, has_key.then(|| key_dst.clone())))
    }
    .await;
    // Whatever happened, no temporary file stays behind.
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(&tmp_key);
    let (bytes, key) = result?;
    Ok(BackupReport { source, bytes, key })
}

/// The consistent, synced and checked copy at `tmp`; its size.
async fn copy(source: &Path, tmp: &Path) -> Result<u64, BackupError> {
    // VACUUM INTO accepts an existing empty file: creating it first makes the copy
    // owner-only (it holds token and password hashes and the whole directory).
    create_private(tmp)?;
    let mut src = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    let copied = sqlx::query("VACUUM INTO ?")
        .bind(tmp.to_string_lossy().into_owned())
        .execute(&mut src)
        .await;
    let _ = src.close().await;
    copied?;
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot sync", tmp, e))?;
    check_integrity(tmp).await?;
    Ok(std::fs::metadata(tmp)
        .map_err(|e| io("cannot read", tmp, e))?
        .len())
}

/// Puts the finished `tmp` at `to`: replacing it with `force`, else only if nothing is
/// there (a hard link fails if `to` appeared meanwhile; a rename would silently replace it).
fn publish(tmp: &Path, to: &Path, force: bool) -> Result<(), BackupError> {
    if force {
        return std::fs::rename(tmp, to).map_err(|e| io("cannot write", to, e));
    }
    std::fs::hard_link(tmp, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(to.to_path_buf()),
        _ => io("cannot write", to, e),
    })
}

/// `PRAGMA integrity_check` on the copy, opened immutable: the check creates no WAL or
/// shared-memory file beside it.
pub async fn check_integrity(path: &Path) -> Result<(), BackupError> {
    let mut c = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await?;
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut c)
        .await?;
    let _ = c.close().await;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(BackupError::Integrity(rows.join("; ")))
    }
}

fn publish_key(src: &Path, tmp: &Path, to: &Path, force: bool) -> Result<(), BackupError> {
    let key = std::fs::read(src).map_err(|e| io("cannot read", src, e))?;
    create_private(tmp)?;
    std::fs::write(tmp, key).map_err(|e| io("cannot write", tmp, e))?;
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot sync", tmp, e))?;
    publish(tmp, to, force)
}

fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .map(drop)
        .map_err(|e| io("cannot create", path, e))
}

/// Makes the new name durable (the rename or link is an entry in the directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
