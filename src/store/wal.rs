//! SQLite: WAL checkpoints off the write connection.
//!
//! SQLite checkpoints on its own inside the COMMIT that takes the WAL past a threshold
//! (1,000 pages by default): on the one write connection, so every request queued behind
//! that COMMIT waited while the WAL was copied into the database file and the file was
//! fsynced. In profiles of `POST /Users` the checkpoints were 4 % of the server's CPU, all
//! of it on the write connection's thread, the one part of a write that cannot run beside
//! another. Here a task of its own, on a connection of its own, checkpoints once the writer
//! has committed since its last run: PASSIVE, so it never waits for the writer or for
//! readers, and the writer goes on appending to the WAL while it copies. Fewer, larger
//! checkpoints also copy a page that several groups changed (the rightmost leaves of the
//! log's indexes, the change-event counter) once instead of once per checkpoint.
//!
//! The writer keeps its own automatic checkpoint as a backstop at [`WRITER_AUTOCHECKPOINT`]
//! pages, should this task fall behind or fail.

use super::pool::ConnPool;
use sqlx::{AnyConnection, Executor, Row};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The write connection's own automatic checkpoint, in pages (about 40 MB of WAL).
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 10_000;

/// How often the task looks for new commits.
const EVERY: Duration = Duration::from_millis(500);

pub(crate) struct Checkpointer {
    stop: AtomicBool,
    wake: Notify,
    /// Checkpoints run, and WAL frames copied by them (tests, `/metrics`-style counters).
    runs: AtomicU64,
    frames: AtomicU64,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpointer")
    }
}

impl Checkpointer {
    /// Starts the task on a connection of its own, opened from `pool`'s settings (not one
    /// of its permits: a checkpoint must not wait behind a burst of reads). `commits` is the
    /// write connection's count of COMMITs.
    pub(crate) async fn start(
        pool: &ConnPool,
        commits: Arc<AtomicU64>,
    ) -> super::Result<Arc<Checkpointer>> {
        let conn = pool.open().await?;
        let me = Arc::new(Checkpointer {
            stop: AtomicBool::new(false),
            wake: Notify::new(),
            runs: AtomicU64::new(0),
            frames: AtomicU64::new(0),
        });
        tokio::spawn(run(me.clone(), conn, commits));
        Ok(me)
    }

    /// Ends the task (at the store's close); its connection is closed.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// (checkpoints run, WAL frames they copied into the database file).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.runs.load(Ordering::Relaxed),
            self.frames.load(Ordering::Relaxed),
        )
    }
}

async fn run(me: Arc<Checkpointer>, mut conn: AnyConnection, commits: Arc<AtomicU64>) {
    let mut seen = commits.load(Ordering::Relaxed);
    let mut warned = false;
    loop {
        let _ = tokio::time::timeout(EVERY, me.wake.notified()).await;
        // Only the store holds the checkpointer besides this task: once it is gone (or
        // closed), so is the database.
        if me.stop.load(Ordering::Acquire) || Arc::strong_count(&me) == 1 {
            break;
        }
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        seen = now;
        // (busy, frames in the WAL, frames checkpointed): PASSIVE copies what no reader
        // still needs and leaves the rest for the next run.
        match conn.fetch_one("PRAGMA wal_checkpoint(PASSIVE)").await {
            Ok(row) => {
                let copied: i64 = row.try_get(2).unwrap_or(0);
                me.runs.fetch_add(1, Ordering::Relaxed);
                me.frames
                    .fetch_add(u64::try_from(copied).unwrap_or(0), Ordering::Relaxed);
                warned = false;
            }
            Err(e) => {
                // The writer's own checkpoint still bounds the WAL; say so once per outage.
                if !warned {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the write connection checkpoints on its own meanwhile");
                    warned = true;
                }
            }
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}
