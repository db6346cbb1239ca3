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
//! Every connection keeps SQLite's automatic checkpoint as a backstop, at
//! [`AUTOCHECKPOINT`] pages instead of 1,000. Under a steady stream of writes the WAL cannot
//! start over while this task copies it (SQLite restarts it only when a write begins with
//! every frame copied and none added since), so it grows to the backstop, whose checkpoint
//! then finds most frames already copied; [`JOURNAL_SIZE_LIMIT`] cuts the file back after
//! it restarts.

use super::pool::ConnPool;
use sqlx::{AnyConnection, Executor, Row};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// SQLite's automatic checkpoint on every connection, in pages (about 16 MB of WAL).
pub(crate) const AUTOCHECKPOINT: u32 = 4_000;

/// What a WAL file is cut back to once it restarts, in bytes.
pub(crate) const JOURNAL_SIZE_LIMIT: u64 = 32 * 1024 * 1024;

/// How often the task looks for new commits.
const EVERY: Duration = Duration::from_millis(200);

/// How long the store's close waits for the task to end.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The checkpointer's counts (see [`super::Store::wal_checkpoints`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalCheckpoints {
    /// Checkpoints that copied every frame of the WAL.
    pub complete: u64,
    /// Checkpoints that could not copy everything (a reader still needed old frames, or
    /// another connection was checkpointing): tried again on the next tick.
    pub partial: u64,
    /// WAL frames copied into the database file.
    pub frames: u64,
    /// The write connection's COMMITs that the last complete checkpoint covered: every
    /// group committed up to this count is in the database file.
    pub covered_commits: u64,
    /// The write connection's COMMITs so far.
    pub commits: u64,
}

pub(crate) struct Checkpointer {
    stop: AtomicBool,
    wake: Notify,
    commits: Arc<AtomicU64>,
    complete: AtomicU64,
    partial: AtomicU64,
    frames: AtomicU64,
    covered: AtomicU64,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
            commits,
            complete: AtomicU64::new(0),
            partial: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(Arc::downgrade(&me), conn));
        *me.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(me)
    }

    /// Ends the task and waits (a few seconds at most) for its connection to close.
    pub(crate) async fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = task {
            let _ = tokio::time::timeout(CLOSE_WAIT, t).await;
        }
    }

    pub(crate) fn counts(&self) -> WalCheckpoints {
        WalCheckpoints {
            complete: self.complete.load(Ordering::Relaxed),
            partial: self.partial.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            covered_commits: self.covered.load(Ordering::Acquire),
            commits: self.commits.load(Ordering::Acquire),
        }
    }
}

async fn run(me: std::sync::Weak<Checkpointer>, mut conn: AnyConnection) {
    // COMMITs covered by the last complete checkpoint; frames it had copied by then (SQLite
    // reports the running total since the WAL last restarted).
    let mut covered = 0u64;
    let mut copied_before = 0u64;
    let mut warned = false;
    loop {
        // The task holds the checkpointer only between ticks: once every store is gone, so
        // is the database.
        let Some(wake) = me.upgrade() else { break };
        let stop = {
            let notified = wake.wake.notified();
            let _ = tokio::time::timeout(EVERY, notified).await;
            wake.stop.load(Ordering::Acquire)
        };
        if stop {
            break;
        }
        let now = wake.commits.load(Ordering::Acquire);
        if now == covered {
            continue;
        }
        // (busy, frames in the WAL, frames copied): PASSIVE copies what no reader still
        // needs and leaves the rest for the next tick.
        match conn.fetch_one("PRAGMA wal_checkpoint(PASSIVE)").await {
            Ok(row) => {
                let busy: i64 = row.try_get(0).unwrap_or(1);
                let log: i64 = row.try_get(1).unwrap_or(-1);
                let done: i64 = row.try_get(2).unwrap_or(-1);
                if let Ok(done) = u64::try_from(done) {
                    // A smaller total: the WAL restarted since the last run.
                    let new = if done >= copied_before {
                        done - copied_before
                    } else {
                        done
                    };
                    wake.frames.fetch_add(new, Ordering::Relaxed);
                    copied_before = done;
                }
                if busy == 0 && log >= 0 && log == done {
                    covered = now;
                    wake.covered.store(now, Ordering::Release);
                    wake.complete.fetch_add(1, Ordering::Relaxed);
                } else {
                    wake.partial.fetch_add(1, Ordering::Relaxed);
                }
                warned = false;
            }
            Err(e) => {
                // The connections' own checkpoints still bound the WAL; said once per outage.
                if !warned {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the connections checkpoint on their own meanwhile");
                    warned = true;
                }
            }
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}
