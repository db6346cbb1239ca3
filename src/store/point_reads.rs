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
use std::sync::Mutex;
use std::time::Duration;

/// Idle connections kept: about one per async worker thread.
const KEPT: usize = 8;
/// How long a read may wait on a lock (a checkpoint resetting the WAL) before the caller
/// falls back to sqlx: an async worker must not block for long.
const BUSY_WAIT: Duration = Duration::from_millis(20);

const COLUMNS: &str = "id, org_id, user_name, external_id, display_name, active, attributes, source, version, created_at, updated_at";

/// Which unique key a point read looks a user up by.
#[derive(Clone, Copy, Debug)]
pub enum UserKey {
    Id,
    /// The folded userName (`users.user_name_key`).
    UserNameKey,
}

pub struct PointReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for PointReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PointReads")
    }
}

impl PointReads {
    pub fn new(path: PathBuf) -> PointReads {
        PointReads {
            path,
            idle: Mutex::default(),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(BUSY_WAIT)?;
        c.set_prepared_statement_cache_capacity(16);
        Ok(c)
    }

    /// Runs `f` on an idle connection (or a new one); `None` when it failed.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => match self.open() {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "point read: cannot open a read connection");
                    return None;
                }
            },
        };
        match f(&conn) {
            Ok(v) => {
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
        let column = match key {
            UserKey::Id => "id",
            UserKey::UserNameKey => "user_name_key",
        };
        let row = self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM users WHERE org_id = ?1 AND {column} = ?2"
            ))?;
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
