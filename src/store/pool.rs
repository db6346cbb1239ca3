//! Connections: a small pool of our own, for reads on both databases and for writes on
//! PostgreSQL (SQLite's one write connection belongs to [`super::write`]).
//!
//! sqlx's pool pings every connection when it is returned, and by default again when it is
//! taken. Profiles showed those pings costing as much as the queries they guard: on SQLite a
//! round trip to the connection's worker thread, on PostgreSQL a round trip over the network
//! and a wake-up of the server process, two or four of them around a one-query request.
//!
//! This pool checks a connection only when there is a reason to doubt it:
//! - it sat idle for a while (the server or something in between may have closed it), or
//! - some connection failed since this one was last known good (the database may have
//!   restarted: every connection of the old server is then dead).
//!
//! A query cancelled midway (a client hung up) needs no check either: sqlx-postgres drains
//! the abandoned response up to its ReadyForQuery before the connection's next statement, and
//! sqlx's SQLite worker resets the statement itself. A SQLite connection is a local file and
//! is never pinged.

use super::{Result, StoreError};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many connection failures this process has seen. A connection last known good before
/// the latest failure is pinged before it is handed out again.
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// An idle connection older than this is pinged before use.
const IDLE_CHECK: Duration = Duration::from_secs(10);
/// Idle longer than this, a connection is closed (it holds a server process on PostgreSQL).
const IDLE_CLOSE: Duration = Duration::from_secs(600);
/// Connections are replaced after this long, as sqlx's pool does, so that server-side
/// memory held per session does not grow without bound.
const MAX_LIFETIME: Duration = Duration::from_secs(1800);

/// Upper bounds (seconds) of the buckets of [`WaitStats`]: from a contended hand-off
/// (100 µs) to the acquire timeout (10 s).
pub const WAIT_BUCKETS: [f64; 10] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0,
];

/// How often, and for how long, callers waited for a connection: the operator's sign that
/// `--db-connections` (or SQLite's one writer) is the bottleneck. Only atomics, updated on
/// the acquire path: an acquire that finds a connection free costs one increment; a wait
/// also reads the clock twice and bumps its bucket.
#[derive(Debug, Default)]
pub struct WaitStats {
    acquires: AtomicU64,
    /// Acquires that found every connection taken and had to wait.
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    /// Per bucket of [`WAIT_BUCKETS`] (not cumulative), plus one for longer waits.
    buckets: [AtomicU64; WAIT_BUCKETS.len() + 1],
    /// Waits that gave up after the acquire timeout.
    timeouts: AtomicU64,
}

/// A copy of [`WaitStats`] and the pool's occupancy at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitSnapshot {
    pub acquires: u64,
    pub waits: u64,
    pub wait_seconds: f64,
    /// `(upper bound, count)` per bucket, not cumulative; the last bound is `f64::MAX`.
    pub buckets: Vec<(f64, u64)>,
    pub timeouts: u64,
    /// Connections (SQLite writer: the write connection) handed out now.
    pub in_use: u64,
    pub size: u64,
}

impl WaitStats {
    pub(crate) fn acquired_at_once(&self) {
        self.acquires.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self, d: Duration, timed_out: bool) {
        if timed_out {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        } else {
            self.acquires.fetch_add(1, Ordering::Relaxed);
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        let secs = d.as_secs_f64();
        let i = WAIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(WAIT_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, in_use: u64, size: u64) -> WaitSnapshot {
        WaitSnapshot {
            acquires: self.acquires.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            wait_seconds: self.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            buckets: WAIT_BUCKETS
                .iter()
                .copied()
                .chain(std::iter::once(f64::MAX))
                .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
                .collect(),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            in_use,
            size,
        }
    }
}

/// Records a failure that may have broken a connection (see [`FAILURES`]).
pub(crate) fn note_error(e: &sqlx::Error) {
    if is_connection_failure(e) {
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

/// I/O and protocol errors, and PostgreSQL's "connection exception" (08) and "operator
/// intervention" (57: shutdown, terminated backend) classes.
fn is_connection_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

struct Idle {
    conn: AnyConnection,
    /// Returned to the pool at.
    since: Instant,
    opened: Instant,
    /// [`FAILURES`] when the connection was last known good.
    checked: u64,
}

/// Idle connections and a limit on how many exist.
pub(crate) struct ConnPool {
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    opts: AnyConnectOptions,
    kind: super::Backend,
    acquire_timeout: Duration,
    size: u32,
    waits: WaitStats,
}

impl std::fmt::Debug for ConnPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnPool")
            .field("kind", &self.kind)
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl ConnPool {
    pub(crate) fn new(
        opts: AnyConnectOptions,
        kind: super::Backend,
        size: u32,
        acquire_timeout: Duration,
    ) -> ConnPool {
        ConnPool {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
            opts,
            kind,
            acquire_timeout,
            size: size.max(1),
            waits: WaitStats::default(),
        }
    }

    pub(crate) fn wait_snapshot(&self) -> WaitSnapshot {
        let free = self.permits.available_permits() as u64;
        let size = u64::from(self.size);
        self.waits.snapshot(size.saturating_sub(free), size)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Conn> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => {
                self.waits.acquired_at_once();
                p
            }
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(StoreError::Database(sqlx::Error::PoolClosed))
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let start = Instant::now();
                let got = tokio::time::timeout(
                    self.acquire_timeout,
                    self.permits.clone().acquire_owned(),
                )
                .await;
                self.waits.waited(start.elapsed(), got.is_err());
                got.map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
                    .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
            }
        };
        self.close_long_idle().await;
        let failures = FAILURES.load(Ordering::Relaxed);
        // Popped in its own statement: the lock must not be held across the check.
        let idle = self.idle().pop();
        let reused = match idle {
            Some(i) => self.reusable(i, failures).await,
            None => None,
        };
        let (conn, opened) = match reused {
            Some(i) => (i.conn, i.opened),
            None => (self.open().await?, Instant::now()),
        };
        Ok(Conn {
            conn: Some(conn),
            opened,
            checked: failures,
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// An idle connection if it is still fit to hand out: not past its lifetime and, when
    /// there is reason to doubt it, answering a ping.
    async fn reusable(&self, mut i: Idle, failures: u64) -> Option<Idle> {
        if i.opened.elapsed() > MAX_LIFETIME {
            let _ = i.conn.close().await;
            return None;
        }
        let doubtful = matches!(self.kind, super::Backend::Postgres)
            && (i.checked != failures || i.since.elapsed() > IDLE_CHECK);
        if !doubtful {
            return Some(i);
        }
        match i.conn.ping().await {
            Ok(()) => Some(i),
            Err(e) => {
                tracing::info!(error = %e, "dropping a database connection that failed its check");
                let _ = i.conn.close_hard().await;
                None
            }
        }
    }

    /// A new connection, set up for this pool's database (SQLite's pragmas).
    pub(crate) async fn open(&self) -> Result<AnyConnection> {
        let mut c = self.opts.connect().await?;
        if let super::Backend::Sqlite = self.kind {
            super::sqlite_pragmas(&mut c).await?;
        }
        Ok(c)
    }

    /// Closes connections idle for longer than [`IDLE_CLOSE`] (they sit at the front: the
    /// pool hands out the most recently used first).
    async fn close_long_idle(&self) {
        let stale: Vec<Idle> = {
            let mut idle = self.idle();
            let n = idle
                .iter()
                .take_while(|i| i.since.elapsed() > IDLE_CLOSE)
                .count();
            idle.drain(..n).collect()
        };
        for i in stale {
            let _ = i.conn.close().await;
        }
    }

    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.idle());
        for i in idle {
            let _ = i.conn.close().await;
        }
    }
}

/// A pooled connection; derefs to the connection and goes back to its pool when dropped.
pub struct Conn {
    conn: Option<AnyConnection>,
    opened: Instant,
    checked: u64,
    pool: Arc<ConnPool>,
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    /// Closes the connection instead of returning it (its state is unknown).
    pub(crate) async fn discard(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.close_hard().await;
        }
    }
}

impl Conn {
    /// Drops the connection without returning it to the pool (no runtime to close it on).
    pub(crate) fn abandon(mut self) {
        drop(self.conn.take());
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.pool.permits.is_closed() {
                self.pool.idle().push(Idle {
                    conn,
                    since: Instant::now(),
                    opened: self.opened,
                    checked: self.checked,
                });
            }
        }
    }
}

impl Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_told_from_query_errors() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_connection_failure(&io));
        assert!(is_connection_failure(&sqlx::Error::Protocol("x".into())));
        assert!(!is_connection_failure(&sqlx::Error::RowNotFound));
        assert!(!is_connection_failure(&sqlx::Error::PoolTimedOut));
    }

    #[test]
    fn a_noted_failure_makes_every_connection_doubtful() {
        let before = FAILURES.load(Ordering::Relaxed);
        note_error(&sqlx::Error::RowNotFound);
        assert_eq!(FAILURES.load(Ordering::Relaxed), before);
        note_error(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(FAILURES.load(Ordering::Relaxed) > before);
    }
}
