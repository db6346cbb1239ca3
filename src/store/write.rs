//! Write transactions, with group commit on SQLite.
//!
//! SQLite has one writer, and a durable commit costs an fsync of the WAL. Committing each
//! request on its own made that fsync, and the hand-offs around it, the ceiling on writes.
//! Here the one write connection keeps a transaction open across several requests: each
//! request runs inside its own SAVEPOINT (so its failure undoes only its own statements),
//! and a committer task commits the whole group with one fsync once no request is queued
//! for the connection. A request's [`WriteTx::commit`] returns only after that COMMIT, so a
//! 2xx still means its change and its log entry are on disk. If the group's COMMIT fails,
//! every request in it gets the error and nothing of it is kept. Writes whose statements
//! are all known up front (creates) do not take the connection at all: they queue their
//! statements and the committer has SQLite's write thread run the queue, each in its own
//! savepoint, under one COMMIT of its own ([`GroupCommit::write`], [`super::write_thread`]).
//!
//! On PostgreSQL a [`WriteTx`] is usually a plain transaction on a pooled connection: the
//! server does its own group commit across connections. An org's directory writes (users,
//! groups, memberships: everything that appends change events) are the exception. Each of
//! them holds the org's event counter from its events to its COMMIT's WAL flush, and a
//! group's row from its first change, so one at a time got through: the flush, not the
//! work, set their rate. [`Lanes`] gives each org a lane: the same group commit as SQLite's,
//! on a pooled connection leased while a transaction is open, so the requests queued for
//! one org on this instance share one transaction and one flush.
//!
//! Every directory write of an org, on any instance, first takes the org's
//! transaction-scoped advisory lock ([`org_lock`]), before any row: exclusively for writes
//! to groups and memberships and for user creates (these go through the lanes), shared for
//! the other writes to users (plain transactions, which PostgreSQL commits side by side). Without that order a lane
//! deadlocked: its transaction, holding the event counter after one request, took a share
//! lock on a user's row for the next request's member add while a userName rename held
//! that row and waited for the counter. With it, a group write and a user write never run
//! at once in one org, and whichever waits holds nothing of the org, so no cycle can form
//! between them (user deletes racing member removals deadlocked the same way before lanes
//! existed). User writes among themselves lock as they always did: their own user's row,
//! then the counter last.

use super::pool::{Conn, ConnPool};
use super::sql::Sql;
use super::write_thread::WriteThread;
use super::{Result, StoreError};
use sqlx::{AnyConnection, Executor};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Mutex, Notify, OwnedMutexGuard};

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

/// Why a write run by [`GroupCommit::write`] failed.
#[derive(Debug)]
pub enum WriteFailed {
    /// Its statements failed (a taken userName, say) or could not be run: nothing of them
    /// is kept.
    Statements(StoreError),
    /// Its statements ran but their group's COMMIT failed: nothing of them is kept.
    Commit(StoreError),
}

/// A write waiting for the committer to run it (see [`GroupCommit::write`]).
struct Queued {
    statements: Vec<Sql>,
    done: oneshot::Sender<std::result::Result<(), WriteFailed>>,
}

/// The most queued writes one group takes before its COMMIT: the writes behind them wait
/// for the next group rather than hold the ones before them from their COMMIT.
const GROUP_MAX: usize = 128;

/// Where a group's connection comes from.
enum Link {
    /// SQLite: the one write connection, for the store's life; taken out when it closes.
    Owned(Option<AnyConnection>),
    /// A PostgreSQL lane: a pooled connection, held only while a transaction is open.
    Leased {
        pool: Arc<ConnPool>,
        conn: Option<Conn>,
    },
}

/// The write connection and the group being built on it.
pub(crate) struct Group {
    link: Link,
    /// A transaction is open on `conn`.
    open: bool,
    /// Requests in the open transaction waiting for its COMMIT.
    waiters: Vec<Waiter>,
    /// The connection is in an unknown state (a ROLLBACK TO failed): roll the group back.
    broken: bool,
    /// The last request's savepoint is done but not yet released: the next request releases
    /// it in the same call that opens its own, and COMMIT releases it anyway. A call saved
    /// per request, and calls are what a request in a group waits for.
    unreleased: bool,
    /// A request waiting for the COMMIT changed users or groups: the COMMIT bumps
    /// `generation` (see [`super::pages`]) before telling anyone, so that no request can
    /// answer (or be cancelled) between its change becoming durable and the bump.
    directory: bool,
    generation: Arc<AtomicU64>,
    /// Bumped after each successful COMMIT (for the WAL's checkpointer, see [`super::wal`]).
    commits: Arc<AtomicU64>,
}

#[derive(Clone)]
pub(crate) struct GroupCommit {
    group: Arc<Mutex<Group>>,
    ready: Arc<Notify>,
    /// Bumped after each committed directory write (see [`super::pages`]).
    generation: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
    /// Waits for the write connection (held by another request's statements or by the
    /// committer's COMMIT), for `/metrics`.
    waits: Arc<super::pool::WaitStats>,
    /// What opens a group: the transaction (and on PostgreSQL the org's lock) and the first
    /// request's savepoint.
    begin: Arc<str>,
    /// Writes for the committer to run in the group, in order (SQLite only).
    queue: Arc<std::sync::Mutex<std::collections::VecDeque<Queued>>>,
    /// SQLite: the thread that runs queued writes (see [`super::write_thread`]); `None` on
    /// a PostgreSQL lane, which takes none.
    thread: Option<Arc<WriteThread>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

const SAVEPOINT: &str = "SAVEPOINT request";

/// How often a committer lets other ready tasks run before it queues for the COMMIT.
const COMMIT_YIELDS: usize = 4;

/// A committer with nothing to do checks this often whether its group still exists.
const IDLE_CHECK: Duration = Duration::from_secs(5);

impl GroupCommit {
    /// Takes the write connection and starts the committer task, which ends once the last
    /// `GroupCommit` clone is dropped.
    pub(crate) fn start(
        conn: AnyConnection,
        generation: Arc<AtomicU64>,
        thread: Option<WriteThread>,
    ) -> GroupCommit {
        Self::with_link(
            Link::Owned(Some(conn)),
            generation,
            "BEGIN IMMEDIATE; SAVEPOINT request".into(),
            thread.map(Arc::new),
        )
    }

    /// The PostgreSQL lane of the org `org_id` (see [`Lanes`]).
    fn leased(pool: Arc<ConnPool>, generation: Arc<AtomicU64>, org_id: &str) -> GroupCommit {
        Self::with_link(
            Link::Leased { pool, conn: None },
            generation,
            format!("BEGIN; {}; SAVEPOINT request", org_lock(org_id)).into(),
            None,
        )
    }

    fn with_link(
        link: Link,
        generation: Arc<AtomicU64>,
        begin: Arc<str>,
        thread: Option<Arc<WriteThread>>,
    ) -> GroupCommit {
        let commits = Arc::<AtomicU64>::default();
        let gc = GroupCommit {
            group: Arc::new(Mutex::new(Group {
                link,
                open: false,
                waiters: Vec::new(),
                broken: false,
                unreleased: false,
                directory: false,
                generation: generation.clone(),
                commits: commits.clone(),
            })),
            ready: Arc::new(Notify::new()),
            generation,
            commits,
            waits: Arc::default(),
            begin,
            queue: Arc::default(),
            thread,
        };
        let weak = Arc::downgrade(&gc.group);
        let ready = gc.ready.clone();
        let queue = gc.queue.clone();
        let thread = gc.thread.clone();
        tokio::spawn(async move {
            loop {
                let woken = tokio::time::timeout(IDLE_CHECK, ready.notified()).await;
                let Some(group) = weak.upgrade() else { return };
                if woken.is_err() && queue.lock().map_or(true, |q| q.is_empty()) {
                    continue;
                }
                // Requests already on their way to the connection go first: tasks woken
                // with an answer (a lane's requests wait on PostgreSQL between statements),
                // and on SQLite requests still parsing their body. They join this group
                // rather than each paying a COMMIT of their own, and a bigger group writes
                // fewer WAL frames per request: the pages every create touches (the rightmost
                // leaves of the log's and the users' indexes) go to the WAL once per COMMIT.
                // Queued creates go to the write thread at once instead: the thread is the
                // one part of a create nothing can overlap, and the creates that arrive while
                // it runs make the next batch (alternated, 16 clients creating: +6 to +18 %
                // creates/s with no wait against the wait, in 5 alternated pairs).
                if queue.lock().map_or(true, |q| q.is_empty()) {
                    for _ in 0..COMMIT_YIELDS {
                        tokio::task::yield_now().await;
                    }
                }
                // The mutex is fair: requests already queued for the connection join this
                // group before the COMMIT below runs.
                let mut g = group.lock_owned().await;
                if let Some(t) = &thread {
                    run_on_thread(&mut g, t, &queue).await;
                }
                commit_group(&mut g).await;
                // Writes queued during the COMMIT (beyond one wake-up's worth, or past
                // the group's limit) start the next group at once.
                if queue.lock().is_ok_and(|q| !q.is_empty()) {
                    ready.notify_one();
                }
            }
        });
        gc
    }

    /// Runs `statements` as one directory write and returns once they are durable: SQLite's
    /// creates.
    /// The request queues its statements; the committer hands everything queued to the
    /// write thread ([`super::write_thread`]) in one message, which runs them, each kept or
    /// undone whole, and commits them together. The first of `statements` must undo itself
    /// when it fails on a constraint (a plain INSERT does; `INSERT OR FAIL` does not): the
    /// thread runs a batch without savepoints and relies on it. Before, a create took the
    /// write connection itself: it held it from the moment it got it until its task was
    /// next scheduled after the call's answer, the next request's task was woken only then,
    /// and each of the call's statements came back as a message of its own, a thread
    /// wake-up each.
    ///
    /// Its client gone, a write already queued still runs and is committed as a whole (its
    /// log entry with it), as one whose COMMIT had begun would be.
    pub(crate) async fn write(&self, statements: &[&Sql]) -> std::result::Result<(), WriteFailed> {
        if self.thread.is_none() {
            // A PostgreSQL lane: its writes are transactions (`Store::write_user_with`).
            return Err(WriteFailed::Statements(StoreError::Commit(
                "queued writes need SQLite's write thread".into(),
            )));
        }
        let statements = statements.iter().map(|s| (*s).clone()).collect();
        let (done, told) = oneshot::channel();
        match self.queue.lock() {
            Ok(mut q) => q.push_back(Queued { statements, done }),
            Err(_) => {
                return Err(WriteFailed::Statements(StoreError::Commit(
                    "the write queue failed".into(),
                )))
            }
        }
        self.ready.notify_one();
        match told.await {
            Ok(outcome) => outcome,
            Err(_) => Err(WriteFailed::Commit(StoreError::Commit(
                "the committer stopped".into(),
            ))),
        }
    }

    /// The connection, for one request at a time (its wait counted for `/metrics`).
    async fn lock(&self) -> OwnedMutexGuard<Group> {
        match self.group.clone().try_lock_owned() {
            Ok(g) => {
                self.waits.acquired_at_once();
                g
            }
            Err(_) => {
                let start = std::time::Instant::now();
                let g = self.group.clone().lock_owned().await;
                self.waits.waited(start.elapsed(), false);
                g
            }
        }
    }

    /// `directory`: the transaction may change users or groups (anything but the log).
    pub(crate) async fn begin(&self, directory: bool) -> Result<WriteTx> {
        let g = self.lock().await;
        self.open(g, directory).await
    }

    /// Opens the request's savepoint (and the group's transaction if none is open) on the
    /// locked connection.
    async fn open(&self, mut g: OwnedMutexGuard<Group>, directory: bool) -> Result<WriteTx> {
        if !g.open {
            g.lease().await?;
            g.conn()?;
            // Should this request be dropped during the call (its client gone), whether the
            // BEGIN ran is unknown, and a transaction nobody knows of would hold SQLite's
            // write lock against the write thread's groups: until the call returns the
            // group counts as open and broken, and the guard has the committer roll back.
            g.open = true;
            g.broken = true;
            let cancelled = RollBackUnlessDone(Some(self.ready.clone()));
            // One call for both: every call is a round trip to SQLite's worker thread (or
            // to PostgreSQL).
            let begun = g.conn()?.execute(&*self.begin).await;
            cancelled.done();
            g.broken = false;
            if let Err(e) = begun {
                let _ = g.conn()?.execute("ROLLBACK").await;
                g.end(false).await;
                return Err(e.into());
            }
        } else if g.unreleased {
            if let Err(e) = g
                .conn()?
                .execute("RELEASE request; SAVEPOINT request")
                .await
            {
                // Which of the two ran is unknown, and a later ROLLBACK TO could reach the
                // previous request's savepoint: the group is rolled back (its requests get
                // the error) rather than risk undoing one of them alone.
                g.broken = true;
                drop(g);
                self.ready.notify_one();
                return Err(e.into());
            }
            g.unreleased = false;
        } else if let Err(e) = g.conn()?.execute(SAVEPOINT).await {
            if g.is_lane() {
                // On PostgreSQL a failed statement outside a savepoint aborts the whole
                // transaction, whose COMMIT would then roll back without an error: roll the
                // group back and tell its requests so.
                g.broken = true;
                drop(g);
                self.ready.notify_one();
            }
            // SQLite: leave the group intact for the others; this request just fails.
            return Err(e.into());
        }
        Ok(self.grouped(g, directory))
    }

    fn grouped(&self, g: OwnedMutexGuard<Group>, directory: bool) -> WriteTx {
        WriteTx {
            inner: Inner::Grouped {
                guard: Some(g),
                ready: self.ready.clone(),
                generation: directory.then(|| self.generation.clone()),
                _lane: self.clone(),
            },
            on_commit: None,
        }
    }

    /// How many groups were committed so far.
    pub(crate) fn commits(&self) -> Arc<AtomicU64> {
        self.commits.clone()
    }

    pub(crate) fn wait_snapshot(&self) -> super::pool::WaitSnapshot {
        let in_use = u64::from(self.group.try_lock().is_err());
        self.waits.snapshot(in_use, 1)
    }

    /// Commits whatever is pending (queued writes too) and closes the connection (at
    /// shutdown).
    pub(crate) async fn close(&self) {
        let mut g = self.group.lock().await;
        commit_group(&mut g).await;
        if let Some(t) = &self.thread {
            while self.queue.lock().is_ok_and(|q| !q.is_empty()) {
                run_on_thread(&mut g, t, &self.queue).await;
            }
            t.close().await;
        }
        if let Link::Owned(c) = &mut g.link {
            if let Some(c) = c.take() {
                let _ = sqlx::Connection::close(c).await;
            }
        }
    }
}

impl Group {
    fn conn(&mut self) -> Result<&mut AnyConnection> {
        match &mut self.link {
            Link::Owned(c) => c.as_mut(),
            Link::Leased { conn, .. } => conn.as_deref_mut(),
        }
        .ok_or_else(|| StoreError::Commit("the store is closed".into()))
    }

    fn conn_ref(&self) -> Option<&AnyConnection> {
        match &self.link {
            Link::Owned(c) => c.as_ref(),
            Link::Leased { conn, .. } => conn.as_deref(),
        }
    }

    /// A lane takes a pooled connection for the transaction it is about to open. One still
    /// held here with no transaction open is left from a BEGIN that was cancelled midway: its
    /// state is unknown, so it is closed rather than reused.
    async fn lease(&mut self) -> Result<()> {
        if let Link::Leased { pool, conn } = &mut self.link {
            if let Some(stale) = conn.take() {
                stale.discard().await;
            }
            *conn = Some(pool.acquire().await?);
        }
        Ok(())
    }

    /// The transaction has ended (`clean`: with a COMMIT or ROLLBACK that succeeded): a lane
    /// gives its connection back, or closes it when its state is in doubt.
    async fn end(&mut self, clean: bool) {
        self.open = false;
        self.broken = false;
        self.unreleased = false;
        self.directory = false;
        if let Link::Leased { conn, .. } = &mut self.link {
            if let Some(c) = conn.take() {
                if !clean {
                    c.discard().await;
                }
            }
        }
    }

    fn is_lane(&self) -> bool {
        matches!(self.link, Link::Leased { .. })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // A lane holds a connection only while a transaction is open or in doubt (a task
        // cancelled midway): it must not go back to the pool inside that transaction.
        if let Link::Leased { conn, .. } = &mut self.link {
            if let Some(c) = conn.take() {
                c.abandon();
            }
        }
    }
}

/// Wakes the committer (to roll back a group marked broken) unless [`Self::done`] was
/// called: dropped without it, the call it guarded was cancelled midway.
struct RollBackUnlessDone(Option<Arc<Notify>>);

impl RollBackUnlessDone {
    fn done(mut self) {
        self.0 = None;
    }
}

impl Drop for RollBackUnlessDone {
    fn drop(&mut self) {
        if let Some(ready) = self.0.take() {
            ready.notify_one();
        }
    }
}

async fn commit_group(g: &mut Group) {
    if !g.open {
        return;
    }
    let outcome = if g.broken {
        Err("the write connection failed; the group was rolled back".to_string())
    } else {
        match g.conn() {
            Ok(conn) => conn
                .execute("COMMIT")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    if outcome.is_ok() {
        if g.directory {
            g.generation.fetch_add(1, Ordering::Release);
        }
        g.commits.fetch_add(1, Ordering::Relaxed);
    }
    let mut clean = outcome.is_ok();
    if outcome.is_err() {
        // Whatever the failure, end the transaction so the next group starts clean.
        if let Ok(conn) = g.conn() {
            clean = conn.execute("ROLLBACK").await.is_ok();
        }
        tracing::error!(error = ?outcome, requests = g.waiters.len(), "group commit failed");
    }
    g.end(clean).await;
    for w in g.waiters.drain(..) {
        let _ = w.send(outcome.clone());
    }
}

/// Runs the queued writes (up to [`GROUP_MAX`]) on SQLite's write thread, in a transaction
/// of their own, each kept or undone whole: the group's transaction on the other connection
/// is committed first (the two never write at once), and this one's COMMIT counts as the
/// group's (for the checkpointer, and for what [`super::pages`] remembers).
async fn run_on_thread(
    g: &mut Group,
    thread: &WriteThread,
    queue: &std::sync::Mutex<std::collections::VecDeque<Queued>>,
) {
    let jobs: Vec<Queued> = match queue.lock() {
        Ok(mut q) => {
            let n = q.len().min(GROUP_MAX);
            q.drain(..n).collect()
        }
        Err(_) => return,
    };
    if jobs.is_empty() {
        return;
    }
    commit_group(g).await;
    let (calls, tell): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.statements, j.done)).unzip();
    let n = tell.len();
    // Returns at the COMMIT; the writers are told once the WAL is synced (see
    // [`super::write_thread`]), while the thread may already run the next batch.
    let committed = thread.run(calls, tell).await;
    // (The thread itself bumps the directory's generation, before anyone is told.)
    match &committed {
        Ok(()) => {
            g.commits.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(error = %e, requests = n, "group commit failed"),
    }
}

enum Inner {
    Grouped {
        guard: Option<OwnedMutexGuard<Group>>,
        ready: Arc<Notify>,
        generation: Option<Arc<AtomicU64>>,
        /// Keeps the group (a lane may otherwise be forgotten) until the COMMIT is told.
        _lane: GroupCommit,
    },
    /// PostgreSQL: BEGIN has run on the connection; dropped without COMMIT, it is rolled
    /// back before the connection goes back to the pool.
    Pooled(Option<Conn>),
}

/// One request's write transaction. Dropping it without [`WriteTx::commit`] undoes its
/// statements.
pub struct WriteTx {
    inner: Inner,
    /// Told after a successful commit (directory writes: wakes the event feed's long polls).
    on_commit: Option<Arc<tokio::sync::watch::Sender<u64>>>,
}

impl WriteTx {
    /// A plain transaction; with `org`, one that first takes that org's lock ([`org_lock`]),
    /// shared or not.
    pub(crate) async fn begin_pooled(mut conn: Conn, org: Option<(&str, bool)>) -> Result<WriteTx> {
        let begin = match org {
            Some((o, shared)) => format!("BEGIN; {}", org_lock_in(o, shared)),
            None => "BEGIN".to_string(),
        };
        if let Err(e) = conn.execute(begin.as_str()).await {
            conn.discard().await;
            return Err(e.into());
        }
        Ok(WriteTx {
            inner: Inner::Pooled(Some(conn)),
            on_commit: None,
        })
    }

    /// Bumps `signal` once this transaction has committed.
    pub(crate) fn signal_on_commit(mut self, signal: Arc<tokio::sync::watch::Sender<u64>>) -> Self {
        self.on_commit = Some(signal);
        self
    }

    /// Makes the statements durable; returns once they are committed.
    pub async fn commit(mut self) -> Result<()> {
        let signal = self.on_commit.take();
        let done = self.commit_inner().await;
        if let (Ok(()), Some(s)) = (&done, signal) {
            s.send_modify(|v| *v = v.wrapping_add(1));
        }
        done
    }

    async fn commit_inner(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Pooled(conn) => match conn.take() {
                Some(c) => end_pooled(c, "COMMIT").await,
                None => Ok(()),
            },
            Inner::Grouped {
                guard,
                ready,
                generation,
                ..
            } => {
                let Some(mut g) = guard.take() else {
                    return Ok(());
                };
                if g.broken {
                    undo(g, ready).await;
                    return Err(StoreError::Commit("the write connection failed".into()));
                }
                g.unreleased = true;
                g.directory |= generation.is_some();
                let (tx, rx) = oneshot::channel();
                g.waiters.push(tx);
                drop(g);
                ready.notify_one();
                match rx.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(StoreError::Commit(e)),
                    Err(_) => Err(StoreError::Commit("the committer stopped".into())),
                }
            }
        }
    }
}

impl WriteTx {
    /// Undoes this request's statements now (dropping the transaction does it too).
    pub async fn rollback(mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Pooled(conn) => match conn.take() {
                Some(c) => end_pooled(c, "ROLLBACK").await,
                None => Ok(()),
            },
            Inner::Grouped { guard, ready, .. } => {
                if let Some(g) = guard.take() {
                    undo(g, ready).await;
                }
                Ok(())
            }
        }
    }
}

/// Undoes the request's savepoint and hands the connection on; wakes the committer if the
/// group has requests waiting (or must be rolled back). A lane with no request waiting ends
/// its (now empty) transaction at once and gives its connection back.
async fn undo(mut g: OwnedMutexGuard<Group>, ready: &Notify) {
    rollback_savepoint(&mut g).await;
    if g.is_lane() && g.waiters.is_empty() {
        let clean = match g.conn() {
            Ok(c) => c.execute("ROLLBACK").await.is_ok(),
            Err(_) => false,
        };
        g.end(clean).await;
        return;
    }
    let pending = !g.waiters.is_empty() || g.broken;
    drop(g);
    if pending {
        ready.notify_one();
    }
}

async fn rollback_savepoint(g: &mut Group) {
    let Ok(conn) = g.conn() else { return };
    if conn
        .execute("ROLLBACK TO request; RELEASE request")
        .await
        .is_err()
    {
        g.broken = true;
    }
}

/// Ends a PostgreSQL transaction. A connection whose COMMIT or ROLLBACK failed is closed
/// rather than pooled: whatever state it is in, nobody else should inherit it.
async fn end_pooled(mut conn: Conn, statement: &str) -> Result<()> {
    match conn.execute(statement).await {
        Ok(_) => Ok(()),
        Err(e) => {
            conn.discard().await;
            Err(e.into())
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Grouped { guard, ready, .. } => {
                if let Some(g) = guard.take() {
                    let ready = ready.clone();
                    // Undo this request's statements before anyone else gets the connection;
                    // the guard moves into the task, so the connection stays locked until then.
                    tokio::spawn(async move { undo(g, &ready).await });
                }
            }
            Inner::Pooled(conn) => {
                if let Some(c) = conn.take() {
                    // The connection goes back to the pool only once rolled back; without a
                    // runtime (process exit) it is closed instead.
                    match tokio::runtime::Handle::try_current() {
                        Ok(rt) => {
                            rt.spawn(async move {
                                let _ = end_pooled(c, "ROLLBACK").await;
                            });
                        }
                        Err(_) => c.abandon(),
                    }
                }
            }
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.inner {
            Inner::Grouped { guard, .. } => guard
                .as_ref()
                .and_then(|g| g.conn_ref())
                .expect("live transaction"),
            Inner::Pooled(c) => c.as_deref().expect("live transaction"),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            Inner::Grouped { guard, .. } => guard
                .as_mut()
                .and_then(|g| g.conn().ok())
                .expect("live transaction"),
            Inner::Pooled(c) => c.as_deref_mut().expect("live transaction"),
        }
    }
}

/// Advisory locks in this class are scimgate's per-org write locks; the two-key form keeps
/// them apart from single-key locks (sqlx's migration lock is one).
const ORG_LOCK_CLASS: i32 = 0x5C16_0001;

/// The longest a directory write waits for a lock (the org's, or a row's) on PostgreSQL.
pub(crate) const ORG_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The statement that takes the org's write lock on PostgreSQL for the rest of the
/// transaction (see the module's comment). Both keys are integers computed here, so the
/// statement can go in the same call as the BEGIN (a simple query, which takes no bound
/// values). FNV-1a: the same on every instance and every build; two orgs that share a hash
/// only share a lock.
pub(crate) fn org_lock(org_id: &str) -> String {
    org_lock_in(org_id, false)
}

/// [`org_lock`], in shared mode when `shared`: see [`super::Store::begin_user`].
pub(crate) fn org_lock_in(org_id: &str, shared: bool) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in org_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // A wait past the timeout fails the request with a 503 (`StoreError::Busy`) rather than
    // queue it behind a transaction that hangs.
    format!(
        "SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock{}({ORG_LOCK_CLASS}, {})",
        ORG_LOCK_WAIT.as_secs(),
        if shared { "_shared" } else { "" },
        h as i32
    )
}

/// PostgreSQL's lanes, one per org being written to (see the module's comment). A lane
/// lives while requests use it: idle ones are forgotten when the map grows, so the map
/// holds about as many lanes as orgs are being written at once.
pub(crate) struct Lanes {
    pool: Arc<ConnPool>,
    /// Unused on PostgreSQL (remembered page positions are checked against the org's event
    /// counter instead), but lanes share the group commit's shape.
    generation: Arc<AtomicU64>,
    map: std::sync::Mutex<HashMap<String, GroupCommit>>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lanes")
    }
}

/// Past this many lanes, idle ones are dropped before another is added.
const LANES_KEPT: usize = 64;

impl Lanes {
    pub(crate) fn new(pool: Arc<ConnPool>) -> Lanes {
        Lanes {
            pool,
            generation: Arc::default(),
            map: std::sync::Mutex::default(),
        }
    }

    /// The lane of the org `key`.
    pub(crate) fn lane(&self, key: &str) -> GroupCommit {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = map.get(key) {
            return l.clone();
        }
        if map.len() >= LANES_KEPT {
            // Idle: nobody but the map holds it (a request in it holds a clone, and so does
            // a transaction waiting for its COMMIT).
            map.retain(|_, l| Arc::strong_count(&l.group) > 1);
        }
        let l = GroupCommit::leased(self.pool.clone(), self.generation.clone(), key);
        map.insert(key.to_string(), l.clone());
        l
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn lanes() -> Lanes {
        sqlx::any::install_default_drivers();
        // Never connected: a lane leases a connection only when a transaction begins.
        let opts =
            sqlx::any::AnyConnectOptions::from_str("postgres://nobody@127.0.0.1:1/none").unwrap();
        Lanes::new(Arc::new(ConnPool::new(
            opts,
            super::super::Backend::Postgres,
            4,
            Duration::from_secs(1),
        )))
    }

    #[test]
    fn org_locks_are_the_same_on_every_build() {
        // Instances of different builds must agree on an org's lock: the keys are pinned.
        assert_eq!(
            org_lock("0190b7e4-3f0a-7c1e-9d2b-5a4e3c2b1a00"),
            org_lock("0190b7e4-3f0a-7c1e-9d2b-5a4e3c2b1a00")
        );
        assert!(
            org_lock("acme").ends_with("SELECT pg_advisory_xact_lock(1544945665, 1174237615)"),
            "{}",
            org_lock("acme")
        );
        assert_ne!(org_lock("acme"), org_lock("acmf"));
    }

    #[tokio::test]
    async fn one_lane_per_resource_and_idle_lanes_are_forgotten() {
        let l = lanes();
        let a = l.lane("org/a");
        assert!(Arc::ptr_eq(&a.group, &l.lane("org/a").group));
        assert!(!Arc::ptr_eq(&a.group, &l.lane("org/b").group));
        // A client naming endless resources cannot grow the map: idle lanes go first.
        for i in 0..1000 {
            drop(l.lane(&format!("org/x{i}")));
        }
        assert!(l.len() <= LANES_KEPT, "{} lanes", l.len());
        // A lane in use is kept, and handed out again.
        assert!(Arc::ptr_eq(&a.group, &l.lane("org/a").group));
    }
}
