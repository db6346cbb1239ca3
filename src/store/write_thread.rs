//! SQLite's queued writes (creates), run on a thread of our own.
//!
//! sqlx runs each SQLite connection on a thread of its own and talks to it through
//! channels: every call is a message there, every statement's result a message back, and
//! each message wakes a sleeping thread. Profiles of `POST /Users` showed the one write
//! connection's thread spending about a third of its time on those wake-ups, and that thread
//! is the one part of a write that cannot run beside another. Creates know all their
//! statements up front, so the committer hands a whole group of them to this thread in one
//! message: it opens the transaction, runs the creates through rusqlite (the same bundled
//! SQLite as sqlx's), commits once and answers once. A create that fails is undone alone:
//! by SQLite itself when its first statement fails (a taken userName), else by running the
//! batch again with a savepoint per create (see [`run`]).
//!
//! This connection and sqlx's write connection never hold a write transaction at the same
//! time: the committer runs a batch here only while it holds the group's lock, after
//! committing whatever the other connection had open (see [`super::write`]).

use super::sql::{Arg, Sql};
use super::write::WriteFailed;
use super::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// Prepared statements kept: a create's handful, in the shapes their row counts give them.
const STATEMENT_CACHE: usize = 256;

/// The longest a change-feed read waits for the WAL's sync ([`Durability::settled`]).
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What one batch came to.
pub(crate) struct Ran {
    /// Each write's statements, in order: `Err` when they failed (and were undone alone).
    pub calls: Vec<Result<(), StoreError>>,
    /// The batch's COMMIT (an `Err` undid every write of it).
    pub commit: Result<(), String>,
}

/// Where a queued write hears its outcome: only once it is durable (see [`Syncer`]).
pub(crate) type Tell = oneshot::Sender<Result<(), WriteFailed>>;

struct Batch {
    calls: Vec<Vec<Sql>>,
    tell: Vec<Tell>,
    /// The COMMIT, told before the WAL is synced: the committer may hand the thread its
    /// next batch while this one's sync runs (an `Err` undid every write of the batch).
    committed: oneshot::Sender<Result<(), String>>,
}

/// A committed batch waiting for the WAL's sync before its writers are told.
struct Unsynced {
    /// Which of the durability counter's commits this was (see [`Durability`]).
    commit: u64,
    outcomes: Vec<(Tell, Result<(), WriteFailed>)>,
}

pub(crate) struct WriteThread {
    tx: std::sync::Mutex<Option<mpsc::Sender<Batch>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    syncer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for WriteThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteThread")
    }
}

impl WriteThread {
    /// Opens a write connection to the database at `path` (with the pragmas of the store's
    /// other connections, but see [`Syncer`] for `synchronous`) and starts its two threads.
    /// `generation` is the directory's (see [`super::pages`]): bumped after each COMMIT that
    /// kept a write, before its writer can be told.
    pub(crate) fn open(
        path: &Path,
        generation: Arc<AtomicU64>,
        durability: Arc<Durability>,
    ) -> Result<WriteThread, String> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        // NORMAL: a COMMIT here writes the WAL but does not sync it; the syncer thread does,
        // before anyone is told (see [`Syncer`]).
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA case_sensitive_like = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -32000; PRAGMA wal_autocheckpoint = {}; \
             PRAGMA journal_size_limit = {};",
            super::wal::AUTOCHECKPOINT,
            super::wal::JOURNAL_SIZE_LIMIT
        ))
        .map_err(|e| e.to_string())?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The WAL as SQLite names it: beside the file a symlink points to, not the link.
        let mut wal = std::ffi::OsString::from(conn.path().ok_or("the database has no file name")?);
        wal.push("-wal");
        let (to_sync, unsynced) = mpsc::channel::<Unsynced>();
        let syncer = Syncer {
            wal: wal.into(),
            file: None,
            durability: durability.clone(),
            on_failure: sync_failed,
        };
        let syncer = std::thread::Builder::new()
            .name("scimgate-sqlite-sync".into())
            .spawn(move || syncer.run(unsynced))
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("scimgate-sqlite-write".into())
            .spawn(move || {
                for batch in rx {
                    let n = batch.calls.len();
                    // Which commit this batch's COMMIT is (0: it never got that far).
                    let commit = std::cell::Cell::new(0);
                    let numbered = || commit.set(durability.begin_commit());
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(&conn, batch.calls, &numbered)
                    }))
                    .unwrap_or_else(|_| {
                        // Whatever the batch left open is undone; the thread goes on.
                        let _ = conn.execute_batch("ROLLBACK");
                        tracing::error!(
                            "the SQLite write thread panicked; its batch was rolled back"
                        );
                        failed(n, "the write thread failed")
                    });
                    let wrote = ran.commit.is_ok() && ran.calls.iter().any(|c| c.is_ok());
                    if wrote {
                        // Every queued write is a directory write (a create).
                        generation.fetch_add(1, Ordering::Release);
                    }
                    let outcomes = batch
                        .tell
                        .into_iter()
                        .zip(ran.calls)
                        .map(|(tell, call)| {
                            let outcome = match (call, &ran.commit) {
                                (Err(e), _) => Err(WriteFailed::Statements(e)),
                                (Ok(()), Ok(())) => Ok(()),
                                (Ok(()), Err(e)) => {
                                    Err(WriteFailed::Commit(StoreError::Commit(e.clone())))
                                }
                            };
                            (tell, outcome)
                        })
                        .collect();
                    let _ = batch.committed.send(ran.commit);
                    let commit = commit.get();
                    if to_sync.send(Unsynced { commit, outcomes }).is_err() {
                        // The syncer is gone (it cannot be while this thread runs): the
                        // writers are told nothing and see the store as closed.
                        tracing::error!("the SQLite sync thread is gone");
                    }
                }
                // Closing the connection here, on its thread, once the store has let go.
                drop(conn);
                // Dropping `to_sync` lets the syncer finish what is queued and stop.
            })
            .map_err(|e| e.to_string())?;
        Ok(WriteThread {
            tx: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
            syncer: std::sync::Mutex::new(Some(syncer)),
        })
    }

    /// Runs `calls` (each a write's statements) in one transaction, each kept or undone
    /// whole, and commits; returns once committed, each of `tell` is told its write's
    /// outcome once the WAL is synced.
    pub(crate) async fn run(&self, calls: Vec<Vec<Sql>>, tell: Vec<Tell>) -> Result<(), String> {
        let (committed, told) = oneshot::channel();
        let sent = self.tx.lock().ok().and_then(|tx| {
            tx.as_ref().map(|tx| {
                tx.send(Batch {
                    calls,
                    tell,
                    committed,
                })
                .map_err(|e| e.0.tell)
            })
        });
        let tell = match sent {
            Some(Ok(())) => match told.await {
                Ok(c) => return c,
                // The thread dropped the batch (it cannot): its writers hear of it as
                // their senders drop.
                Err(_) => Vec::new(),
            },
            Some(Err(tell)) => tell,
            None => Vec::new(),
        };
        for t in tell {
            let _ = t.send(Err(WriteFailed::Commit(StoreError::Commit(
                "the store is closed".into(),
            ))));
        }
        Err("the store is closed".into())
    }

    /// Closes the connection and waits for its threads (at the store's close).
    pub(crate) async fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        let syncer = self.syncer.lock().ok().and_then(|mut t| t.take());
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(t) = thread {
                let _ = t.join();
            }
            if let Some(t) = syncer {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Makes the write thread's commits durable: an fdatasync of the WAL file, for every batch
/// committed since the last, before their writers are told.
///
/// Why a thread of its own: a COMMIT with `synchronous = FULL` waits for that sync (about
/// 0.6 ms here) on the one thread nothing can overlap, a third of its time under a stream
/// of creates. With `NORMAL` the COMMIT only writes the WAL, and the sync runs here while
/// the write thread runs the next batch. A 2xx still means durable: nobody is told before
/// the sync (of this commit and every one before it: the WAL is written in order and one
/// fdatasync covers all of it) has returned. What changes is that other connections can
/// read a batch before its sync returns. Readers that hand an application what a power cut
/// must not take back (change events, whose sequence numbers would go to other events
/// later, and the directory copy the feed continues) first wait for the sync of whatever
/// they may have read ([`Durability::settled`], through `Store::settled`).
struct Syncer {
    wal: std::path::PathBuf,
    /// The WAL file, opened at the first sync (after the first COMMIT it exists).
    file: Option<std::fs::File>,
    durability: Arc<Durability>,
    /// What a failed sync does before the writers it covered are told (with an error).
    on_failure: fn(&std::io::Error),
}

/// A failed fdatasync of the WAL stops the process, as PostgreSQL stops on a failed fsync.
/// The batches it was to cover are already visible to other connections, and Linux may
/// have dropped their pages from the cache as if written: a later sync that succeeds would
/// not bring them back, and a crash's recovery would then end the WAL at the first lost
/// frame, taking every later commit with it, including commits acknowledged since. Nothing
/// after the failure could be acknowledged honestly; started again, SQLite recovers the WAL
/// up to its last intact commit, and nobody was told of anything beyond it.
fn sync_failed(e: &std::io::Error) {
    tracing::error!(error = %e, "syncing the SQLite WAL failed: stopping (nothing after the last sync that succeeded was acknowledged)");
    // The error above is written at once, unless a log filter dropped it: what waits too.
    crate::log_sink::stop();
    std::process::exit(70);
}

impl Syncer {
    fn run(mut self, unsynced: mpsc::Receiver<Unsynced>) {
        for first in unsynced.iter() {
            let mut batches = vec![first];
            // Batches committed while the last sync ran: one sync covers them all.
            batches.extend(unsynced.try_iter());
            let synced = self.sync();
            if let Err(e) = &synced {
                // Nobody has been told of these writes; in a served store this does not
                // return (see [`sync_failed`]).
                (self.on_failure)(e);
            }
            let mut last = 0;
            for b in batches {
                last = last.max(b.commit);
                for (tell, outcome) in b.outcomes {
                    let outcome = match (&synced, outcome) {
                        (Err(e), Ok(())) => Err(WriteFailed::Commit(StoreError::Commit(format!(
                            "the WAL could not be synced: {e}"
                        )))),
                        (_, outcome) => outcome,
                    };
                    let _ = tell.send(outcome);
                }
            }
            self.durability.settle(last);
        }
    }

    /// fdatasync of the WAL file, reopened should it have been replaced (a new file is
    /// made only when every connection closed, which the store's write connections do not
    /// while it is open).
    fn sync(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let current = std::fs::metadata(&self.wal)?.ino();
        let stale = match &self.file {
            Some(f) => f.metadata()?.ino() != current,
            None => true,
        };
        if stale {
            self.file = Some(std::fs::File::open(&self.wal)?);
        }
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

/// How far the write thread's commits are durable, for readers that must not hand out what
/// a power cut could take back (see [`Syncer`]).
#[derive(Debug)]
pub(crate) struct Durability {
    /// COMMITs the write thread has begun, numbered from 1.
    begun: AtomicU64,
    /// The last commit whose sync has returned (every one before it too), or that failed.
    settled: tokio::sync::watch::Sender<u64>,
}

impl Default for Durability {
    fn default() -> Self {
        Durability {
            begun: AtomicU64::new(0),
            settled: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Durability {
    /// Numbers the write thread's next COMMIT, just before it runs: so that a reader that
    /// can see the commit also sees the count, and a batch still running (or waiting for
    /// its BEGIN) holds no reader up.
    fn begin_commit(&self) -> u64 {
        self.begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn settle(&self, commit: u64) {
        self.settled.send_if_modified(|s| {
            let moved = commit > *s;
            *s = (*s).max(commit);
            moved
        });
    }

    /// Returns once every commit a read that has already taken its snapshot may have seen
    /// is durable: call it after the read, before handing out what it read.
    /// `false`: the sync did not return within [`SETTLE_WAIT`] (the read must not be
    /// handed out).
    pub(crate) async fn settled(&self) -> bool {
        let begun = self.begun.load(Ordering::SeqCst);
        let mut rx = self.settled.subscribe();
        let waited = tokio::time::timeout(SETTLE_WAIT, rx.wait_for(|s| *s >= begun)).await;
        matches!(waited, Ok(Ok(_)))
    }
}

/// Every one of `n` writes failed, nothing committed.
fn failed(n: usize, why: &str) -> Ran {
    Ran {
        calls: (0..n)
            .map(|_| Err(StoreError::Commit(why.into())))
            .collect(),
        commit: Err(why.into()),
    }
}

/// Runs the batch, first without savepoints ([`run_unsaved`]); should a write fail in a way
/// that needs one, the batch is rolled back and run again with one per write
/// ([`run_saved`]).
/// `numbered` is called just before the COMMIT (see [`Durability::begin_commit`]).
fn run(conn: &Connection, calls: Vec<Vec<Sql>>, numbered: &dyn Fn()) -> Ran {
    match run_unsaved(conn, &calls, numbered) {
        Some(ran) => ran,
        None => run_saved(conn, &calls, numbered),
    }
}

/// The batch in one transaction with no savepoint per write. A savepoint made SQLite copy
/// every page a write touched into its sub-journal first (the rightmost leaves of a dozen
/// indexes, again for each create of the batch): 12 % of this thread's time in profiles of
/// `POST /Users`, for an undo that almost never runs. Without it a write can still fail
/// alone when its first statement fails on a constraint (a taken userName): SQLite undoes
/// that statement on its own, the transaction stays open, and nothing else of the write has
/// run. Any other failure (a later statement, an I/O error that ended the transaction)
/// rolls the batch back and returns `None`: nothing of it is kept and [`run_saved`] runs it
/// again. A failed BEGIN or COMMIT is the batch's answer, as it is there (a BEGIN that
/// waited out the busy timeout is not waited out twice).
///
/// What this relies on: the first statement of every queued write undoes itself on a
/// constraint's failure, as SQLite's default conflict resolution (ABORT) does. A queued
/// write must not start with `INSERT OR FAIL` or on a table whose trigger could
/// `RAISE(FAIL)` (see [`super::write::GroupCommit::write`]).
fn run_unsaved(conn: &Connection, calls: &[Vec<Sql>], numbered: &dyn Fn()) -> Option<Ran> {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        return Some(not_begun(calls, &e));
    }
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        let mut failed = None;
        for (i, s) in call.iter().enumerate() {
            if let Err(e) = execute(conn, s) {
                failed = Some((i, e));
                break;
            }
        }
        match failed {
            None => out.push(Ok(())),
            Some((0, e)) if is_constraint(&e) && !conn.is_autocommit() => {
                out.push(Err(store_error(&e)))
            }
            Some(_) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                return None;
            }
        }
    }
    Some(Ran {
        calls: out,
        commit: commit(conn, numbered),
    })
}

/// Every write of the batch failed with the BEGIN that could not open it.
fn not_begun(calls: &[Vec<Sql>], e: &rusqlite::Error) -> Ran {
    Ran {
        calls: calls.iter().map(|_| Err(store_error(e))).collect(),
        commit: Err(e.to_string()),
    }
}

/// COMMIT; whatever state a failed one left, the transaction is ended.
fn commit(conn: &Connection, numbered: &dyn Fn()) -> Result<(), String> {
    numbered();
    statement(conn, "COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    })
}

/// A constraint's failure (unique, not null, foreign key, check), which SQLite undoes by
/// undoing the one statement.
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// The batch in one transaction, each write in its own savepoint: a write that fails
/// anywhere is undone alone.
fn run_saved(conn: &Connection, calls: &[Vec<Sql>], numbered: &dyn Fn()) -> Ran {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        return not_begun(calls, &e);
    }
    // A savepoint that could not be released or undone leaves the transaction in a state
    // nobody can vouch for: the whole batch is rolled back.
    let mut broken: Option<String> = None;
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        if let Some(why) = &broken {
            out.push(Err(StoreError::Commit(why.clone())));
            continue;
        }
        if let Err(e) = statement(conn, "SAVEPOINT request") {
            broken = Some(e.to_string());
            out.push(Err(store_error(&e)));
            continue;
        }
        match call.iter().try_for_each(|s| execute(conn, s)) {
            Ok(()) => {
                if let Err(e) = statement(conn, "RELEASE request") {
                    broken = Some(e.to_string());
                }
                out.push(Ok(()));
            }
            Err(e) => {
                out.push(Err(store_error(&e)));
                if let Err(e) = conn.execute_batch("ROLLBACK TO request; RELEASE request") {
                    broken = Some(e.to_string());
                }
            }
        }
    }
    let commit = match broken {
        Some(why) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(why)
        }
        None => commit(conn, numbered),
    };
    Ran { calls: out, commit }
}

/// A fixed statement of every batch or every write, prepared once: parsing it again for
/// each create would be work on every request's path.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// One statement, its `$n` placeholders bound by number (as sqlx's SQLite driver binds
/// them), run to its end. rusqlite prepares only the first statement of a text and ignores
/// the rest, so a text of several is refused rather than half run (the store's statements
/// carry their values bound, never in the text, so a `;` can only separate statements).
fn execute(conn: &Connection, s: &Sql) -> rusqlite::Result<()> {
    if s.sql().trim_end().trim_end_matches(';').contains(';') {
        return Err(rusqlite::Error::MultipleStatement);
    }
    let mut st = conn.prepare_cached(s.sql())?;
    for i in 1..=st.parameter_count() {
        let n = st
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(rusqlite::Error::InvalidParameterCount(i, s.args().len()))?;
        match s.args().get(n.wrapping_sub(1)) {
            Some(Arg::Str(v)) => st.raw_bind_parameter(i, v.as_str())?,
            Some(Arg::Int(v)) => st.raw_bind_parameter(i, *v)?,
            Some(Arg::Null | Arg::NullInt) => st.raw_bind_parameter(i, rusqlite::types::Null)?,
            None => return Err(rusqlite::Error::InvalidParameterCount(n, s.args().len())),
        }
    }
    let mut rows = st.raw_query();
    while rows.next()?.is_some() {}
    Ok(())
}

/// The error as the store reports sqlx's: a unique violation stays one (a taken userName is
/// a 409), a statement too large stays a client's error.
fn store_error(e: &rusqlite::Error) -> StoreError {
    let (code, message) = match e {
        rusqlite::Error::SqliteFailure(f, msg) => (
            Some(f.extended_code),
            msg.clone().unwrap_or_else(|| f.to_string()),
        ),
        other => (None, other.to_string()),
    };
    StoreError::from(sqlx::Error::Database(Box::new(Failure { code, message })))
}

/// A SQLite error from this thread, in sqlx's terms.
#[derive(Debug)]
struct Failure {
    code: Option<i32>,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl sqlx::error::DatabaseError for Failure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|c| Cow::Owned(c.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sqlx::error::ErrorKind;
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                ErrorKind::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, z TEXT)")
            .unwrap();
        c
    }

    fn insert(k: &str, n: i64) -> Sql {
        let mut s = Sql::new("INSERT INTO t (z, n, k) VALUES (");
        s.push_bind(None::<String>)
            .push(", ")
            .push_bind(n)
            .push(", ")
            .push_bind(k)
            .push(")");
        s
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// Each write of a batch keeps all of its statements or none; a duplicate key is a
    /// unique violation as sqlx reports it (a 409 for a taken userName); values bind by
    /// their `$n`, a NULL included.
    #[test]
    fn a_batch_keeps_each_write_whole_and_reports_conflicts_as_sqlx_does() {
        let c = conn();
        let ran = run(
            &c,
            vec![
                vec![insert("a", 1), insert("b", 2)],
                vec![insert("x", 3), insert("a", 4)],
                vec![insert("y", 5)],
            ],
            &|| (),
        );
        assert!(ran.commit.is_ok());
        assert!(ran.calls[0].is_ok() && ran.calls[2].is_ok());
        match &ran.calls[1] {
            Err(StoreError::Database(sqlx::Error::Database(d))) => {
                assert!(d.is_unique_violation(), "{d:?}");
                assert!(d.message().contains("t.k"), "{}", d.message());
            }
            other => panic!("not a unique violation: {other:?}"),
        }
        // a, b, y: x went with its write's failed second statement.
        assert_eq!(count(&c), 3);
        let n: i64 = c
            .query_row("SELECT n FROM t WHERE k = 'y'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 5);
    }

    /// A write whose first statement fails on a constraint fails alone without any
    /// savepoint; one that fails later sends the batch to the savepoint path, which keeps
    /// every other write whole.
    #[test]
    fn only_a_first_statement_conflict_is_answered_without_savepoints() {
        let c = conn();
        let first = vec![
            vec![insert("a", 1)],
            vec![insert("a", 2), insert("z", 3)],
            vec![insert("y", 4)],
        ];
        let ran =
            run_unsaved(&c, &first, &|| ()).expect("a first-statement conflict needs no savepoint");
        assert!(ran.commit.is_ok());
        assert!(ran.calls[0].is_ok() && ran.calls[2].is_ok());
        assert!(ran.calls[1].is_err());
        // a and y; z went with its write.
        assert_eq!(count(&c), 2);

        let later = vec![vec![insert("b", 5)], vec![insert("x", 6), insert("a", 7)]];
        assert!(run_unsaved(&c, &later, &|| ()).is_none());
        // Rolled back whole, b included, and the connection is out of its transaction.
        assert_eq!(count(&c), 2);
        assert!(c.is_autocommit());
        let ran = run(&c, later, &|| ());
        assert!(ran.commit.is_ok() && ran.calls[0].is_ok() && ran.calls[1].is_err());
        assert_eq!(count(&c), 3);
    }

    #[test]
    fn several_statements_in_one_text_are_refused() {
        let c = conn();
        let two = Sql::new("INSERT INTO t (k) VALUES ('p'); INSERT INTO t (k) VALUES ('q')");
        let ran = run(&c, vec![vec![two]], &|| ());
        assert!(ran.calls[0].is_err());
        assert_eq!(count(&c), 0);
    }

    /// A syncer of `wal` (no failure action) working through `batches`, then stopping.
    fn syncing(wal: std::path::PathBuf, durability: &Arc<Durability>, batches: Vec<Unsynced>) {
        let (to_sync, unsynced) = mpsc::channel();
        for b in batches {
            to_sync.send(b).unwrap();
        }
        let syncer = Syncer {
            wal,
            file: None,
            durability: durability.clone(),
            on_failure: |_| {},
        };
        std::thread::spawn(move || syncer.run(unsynced));
    }

    /// A feed reader waits for the sync of every commit begun before it looked; a writer
    /// hears of its write only from the syncer, after the WAL's fdatasync returned.
    #[tokio::test]
    async fn writers_and_feed_readers_wait_for_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let durability = Arc::new(Durability::default());
        let commit = durability.begin_commit();
        let waiting = {
            let d = durability.clone();
            tokio::spawn(async move { d.settled().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a reader went on before the sync");

        let (tell, told) = oneshot::channel();
        syncing(
            wal,
            &durability,
            vec![Unsynced {
                commit,
                outcomes: vec![(tell, Ok(()))],
            }],
        );
        assert!(told.await.unwrap().is_ok());
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
                .await
                .expect("the reader waited past the sync")
                .unwrap()
        );
        // Nothing begun since: at once.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(100), durability.settled())
                .await
                .unwrap()
        );
    }

    /// A sync that fails calls its failure action first (in a served store: the process
    /// stops, [`sync_failed`]); should that return, the writes it was to cover fail (their
    /// client must not see a 2xx for what may not be on disk).
    #[tokio::test]
    async fn a_failed_sync_fails_its_writes() {
        let dir = tempfile::tempdir().unwrap();
        let durability = Arc::new(Durability::default());
        let commit = durability.begin_commit();
        let (ok, told_ok) = oneshot::channel();
        let (conflict, told_conflict) = oneshot::channel();
        syncing(
            // No such file.
            dir.path().join("gone-wal"),
            &durability,
            vec![Unsynced {
                commit,
                outcomes: vec![
                    (ok, Ok(())),
                    (
                        conflict,
                        Err(WriteFailed::Statements(StoreError::Conflict(
                            "userName".into(),
                        ))),
                    ),
                ],
            }],
        );
        assert!(matches!(
            told_ok.await.unwrap(),
            Err(WriteFailed::Commit(_))
        ));
        assert!(matches!(
            told_conflict.await.unwrap(),
            Err(WriteFailed::Statements(StoreError::Conflict(_)))
        ));
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(5), durability.settled())
                .await
                .unwrap()
        );
    }

    /// The whole path on a real file: a batch committed by the thread (synchronous NORMAL)
    /// is told through the syncer and is there for a new connection; the writer that failed
    /// is told its failure.
    #[tokio::test]
    async fn the_thread_commits_syncs_and_tells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, z TEXT)",
            )
            .unwrap();
        }
        let generation = Arc::new(AtomicU64::new(0));
        let durability = Arc::new(Durability::default());
        let thread = WriteThread::open(&path, generation.clone(), durability.clone()).unwrap();
        let (a, told_a) = oneshot::channel();
        let (b, told_b) = oneshot::channel();
        let committed = thread
            .run(vec![vec![insert("a", 1)], vec![insert("a", 2)]], vec![a, b])
            .await;
        assert!(committed.is_ok());
        assert_eq!(generation.load(Ordering::Acquire), 1);
        assert!(told_a.await.unwrap().is_ok());
        assert!(matches!(
            told_b.await.unwrap(),
            Err(WriteFailed::Statements(_))
        ));
        assert!(durability.settled().await);
        let other = Connection::open(&path).unwrap();
        assert_eq!(count(&other), 1);
        thread.close().await;
    }
}
