//! SQLite point reads (a user by id, by userName) on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands it every statement
//! through a channel: a lookup that SQLite answers in a few microseconds cost two thread
//! wake-ups and the hand-offs around them, and profiles of `userName eq` lookups showed
//! those (futex calls and scheduler switches) as the biggest single cost of the request.
//! The reads here run on the request's own thread instead, on read-only connections of
//! their own, through a unique index: a few microseconds of work, not worth a hand-off, and
//! short enough to run on an async worker. Anything else (scans, counts, paging) still goes
//! through sqlx, off the async threads.
//!
//! Any failure here (the file cannot be opened, SQLite is busy past a short wait) answers
//! "not here" and the caller reads through sqlx as before, which reports the error if it
//! is real. WAL mode keeps these readers from ever waiting for the writer, and a request's
//! commit returns only after its COMMIT, so a read after a write sees it.

use crate::directory::User;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Idle connections kept. A read holds one only while it runs on an async worker, so about
/// as many as there are workers are ever in use at once.
const KEPT: usize = 32;
/// After a connection could not be opened, point reads rest this long (requests read
/// through sqlx meanwhile) rather than try again on every request.
const REST: Duration = Duration::from_secs(5);
/// How long a read may wait on a lock (a checkpoint resetting the WAL) before the caller
/// falls back to sqlx: an async worker must not block for long.
const BUSY_WAIT: Duration = Duration::from_millis(20);

const BY_ID: &str = "SELECT id, org_id, user_name, external_id, display_name, active, attributes, source, version, created_at, updated_at FROM users WHERE org_id = ?1 AND id = ?2";
const BY_USER_NAME_KEY: &str = "SELECT id, org_id, user_name, external_id, display_name, active, attributes, source, version, created_at, updated_at FROM users WHERE org_id = ?1 AND user_name_key = ?2";

/// Which unique key a point read looks a user up by.
#[derive(Clone, Copy, Debug)]
pub enum UserKey {
    Id,
    /// The folded userName (`users.user_name_key`).
    UserNameKey,
}

pub struct PointReads {
    path: PathBuf,
    /// The file's (device, inode) when the store opened it: a file put in its place later
    /// (a restore) is not read here, as sqlx's connections go on with the one they opened.
    file: Option<(u64, u64)>,
    idle: Mutex<Vec<Connection>>,
    /// When opening a connection last failed.
    failed_at: Mutex<Option<std::time::Instant>>,
    warned: AtomicBool,
    served: AtomicU64,
}

impl std::fmt::Debug for PointReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PointReads")
    }
}

impl PointReads {
    pub fn new(path: PathBuf, file: Option<(u64, u64)>) -> PointReads {
        PointReads {
            path,
            file,
            idle: Mutex::default(),
            failed_at: Mutex::default(),
            warned: AtomicBool::new(false),
            served: AtomicU64::new(0),
        }
    }

    /// How many reads were answered here (not through sqlx).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn open(&self) -> Result<Connection, String> {
        if let Some(at) = *self.failed_at.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < REST {
                return Err("resting after a failure".into());
            }
        }
        let opened = (|| {
            let c = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| e.to_string())?;
            if super::file_identity(&self.path).ok() != self.file {
                return Err("the database file was replaced since the store opened it".into());
            }
            c.busy_timeout(BUSY_WAIT).map_err(|e| e.to_string())?;
            c.set_prepared_statement_cache_capacity(16);
            Ok(c)
        })();
        if let Err(e) = &opened {
            *self.failed_at.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "point reads: cannot open a read connection; lookups read through sqlx (slower) until one opens");
            }
        }
        opened
    }

    /// Runs `f` on an idle connection (or a new one); `None` when it failed.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open().ok()?,
        };
        match f(&conn) {
            Ok(v) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < KEPT {
                    idle.push(conn);
                }
                Some(v)
            }
            Err(e) => {
                // The connection is dropped: whatever went wrong stays with it.
                tracing::debug!(error = %e, "point read failed; reading through sqlx");
                None
            }
        }
    }

    /// The org's user with this key: `Some(found)`, or `None` to read through sqlx.
    pub fn user(&self, org_id: &str, key: UserKey, value: &str) -> Option<Option<User>> {
        // Fixed texts: the statement cache is keyed by them, and a lookup builds no string.
        let sql = match key {
            UserKey::Id => BY_ID,
            UserKey::UserNameKey => BY_USER_NAME_KEY,
        };
        let row = self.with(|c| {
            let mut st = c.prepare_cached(sql)?;
            st.query_row((org_id, value), |r| {
                Ok((
                    User {
                        id: r.get(0)?,
                        org_id: r.get(1)?,
                        user_name: r.get(2)?,
                        external_id: r.get(3)?,
                        display_name: r.get(4)?,
                        active: r.get::<_, i64>(5)? != 0,
                        attributes: Map::new(),
                        source: r.get(7)?,
                        version: r.get(8)?,
                        created_at: r.get(9)?,
                        updated_at: r.get(10)?,
                    },
                    r.get::<_, String>(6)?,
                ))
            })
            .optional()
        })?;
        let Some((mut user, attributes)) = row else {
            return Some(None);
        };
        // A body that does not parse is left to the sqlx path, which reports it as corrupt.
        user.attributes = serde_json::from_str::<Map<String, Value>>(&attributes).ok()?;
        Some(Some(user))
    }
}
