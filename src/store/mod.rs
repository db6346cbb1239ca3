//! Persistence. One store over `sqlx::Any` with two dialect adapters, SQLite (the embedded
//! default) and PostgreSQL, chosen at run time from the URL. Every query is written once in
//! the SQL both databases share; what differs (connection set-up, migrations, JSON access in
//! filters, the session store) is confined to [`Backend`], which the store alone reads
//! (from the connection): callers never pass it. Writes go through [`Store::begin`]
//! so that a change and its provisioning-log entry commit together. This module knows
//! nothing of HTTP, Leptos or SCIM error bodies.

pub mod admins;
pub mod app_keys;
pub mod audit;
pub mod backup;
pub mod events;
pub mod feed;
pub mod fold;
pub mod groups;
pub mod invitations;
pub mod orgs;
pub mod pages;
pub mod point_reads;
pub mod pool;
pub mod query_sql;
pub mod search;
pub mod sql;
pub mod tokens;
pub mod users;
pub mod wal;
pub mod webhooks;
pub mod write;
mod write_thread;

use sqlx::any::AnyConnectOptions;
use sqlx::Executor;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use pool::Conn;
pub use write::{WriteFailed, WriteTx as Tx};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint refused the write (the caller knows which one it risked).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed since it was read (optimistic concurrency, `If-Match`).
    #[error("version mismatch")]
    VersionMismatch,
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The group commit this write was part of failed; nothing of it was kept.
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database refused the statement for its size or complexity: the request's content
    /// caused it (a client's mistake, not a server failure).
    #[error("request too complex for the database: {0}")]
    TooComplex(String),
    /// PostgreSQL gave up on the transaction because of other transactions (a deadlock it
    /// broke, a serialization failure): nothing of it was kept, and the same request may
    /// well succeed if sent again.
    #[error("transaction lost to a concurrent one: {0}")]
    Busy(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if let Some(what) = too_complex(&e) {
            return StoreError::TooComplex(what);
        }
        if let sqlx::Error::Database(d) = &e {
            // deadlock_detected, serialization_failure, lock_not_available (a lock wait
            // past `write::ORG_LOCK_WAIT`)
            if matches!(d.code().as_deref(), Some("40P01" | "40001" | "55P03")) {
                return StoreError::Busy(d.message().to_string());
            }
        }
        // A broken connection makes the pool check the others before handing them out.
        pool::note_error(&e);
        StoreError::Database(e)
    }
}

/// Database errors that a statement's content causes, on either database: SQLite's
/// compile-time limits (LIKE pattern length, expression depth, bound variables, string
/// size) and PostgreSQL's program-limit and data-exception classes for sizes, patterns and
/// characters.
fn too_complex(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    let msg = d.message();
    let code = d.code();
    let sqlite_limit = [
        "pattern too complex",
        "Expression tree is too large",
        "too many SQL variables",
        "string or blob too big",
        "parser stack overflow",
        "too many terms in compound SELECT",
    ]
    .iter()
    .any(|m| msg.contains(m));
    let pg_limit = matches!(
        code.as_deref(),
        // 22021: a NUL character, which PostgreSQL text cannot hold.
        Some("54000" | "54001" | "2201B" | "22001" | "2200T" | "22P05" | "22021")
    );
    (sqlite_limit || pg_limit).then(|| msg.to_string())
}

impl StoreError {
    pub fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
    /// Maps a unique violation to [`StoreError::Conflict`] and anything else to `Database`.
    pub fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
        if Self::is_unique_violation(&e) {
            StoreError::Conflict(what.to_string())
        } else {
            StoreError::from(e)
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database the store runs on: the one name for it (connection set-up, SQL
/// differences, test output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection talks to.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "SQLite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::InvalidUrl(
                "expected sqlite://PATH or postgres://…".into(),
            ))
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The typed pool used by the session store (tower-sessions has no `Any` store).
#[derive(Clone, Debug)]
pub enum TypedPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The store: cloned for every request (axum's state, spawned tasks), so it is one
/// reference count (a clone of a struct of a dozen `Arc`s was a dozen atomic increments and
/// as many decrements per clone, 5-8 % of a lookup's CPU in `perf`).
#[derive(Clone, Debug)]
pub struct Store(Arc<StoreParts>);

impl std::ops::Deref for Store {
    type Target = StoreParts;
    fn deref(&self) -> &StoreParts {
        &self.0
    }
}

/// What a [`Store`] holds; its fields are the store module's own.
#[derive(Debug)]
pub struct StoreParts {
    /// Reads on both databases, and writes on PostgreSQL (see [`pool`]).
    pool: Arc<pool::ConnPool>,
    /// SQLite only: the write connection, shared by group commit.
    group: Option<write::GroupCommit>,
    /// SQLite only: checkpoints the WAL off the write connection (see [`wal`]).
    checkpointer: Option<Arc<wal::Checkpointer>>,
    /// PostgreSQL only: group commit for writes to one contended resource.
    lanes: Option<Arc<write::Lanes>>,
    /// Where earlier `startIndex` pages ended (SQLite only, see [`pages`]).
    cursors: Arc<pages::PageCursors>,
    typed: TypedPool,
    backend: Backend,
    /// Bumped after every committed directory write (and, on PostgreSQL, every other
    /// instance's, through LISTEN): the event feed's long polls wait on it.
    feed_signal: Arc<tokio::sync::watch::Sender<u64>>,
    feed_listener: Option<Arc<feed::Listener>>,
    /// SQLite: the database file.
    sqlite_path: Option<std::path::PathBuf>,
    /// SQLite: reads of one user by a unique key, on the calling thread (see
    /// [`point_reads`]).
    point: Option<Arc<point_reads::PointReads>>,
    /// SQLite: the file's identity (device, inode) when the store opened it.
    sqlite_file: Option<(u64, u64)>,
    /// Bumped after every committed change to an org or a SCIM token made through this
    /// store: what the SCIM API's cache of verified tokens checks its entries against.
    credentials: Arc<std::sync::atomic::AtomicU64>,
    /// SQLite: how far the write thread's commits are durable (see [`write_thread`]).
    durability: Arc<write_thread::Durability>,
}

/// Benchmark builds only: `SCIMGATE_BENCH_WITHOUT_LANES` turns PostgreSQL's lanes off, so
/// that one binary measures both (see [`write::Lanes`]).
#[cfg(feature = "bench")]
fn without_lanes() -> bool {
    static WITHOUT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WITHOUT.get_or_init(|| std::env::var_os("SCIMGATE_BENCH_WITHOUT_LANES").is_some())
}

#[cfg(not(feature = "bench"))]
fn without_lanes() -> bool {
    false
}

/// Why the store is not ready (see [`Store::ready`]).
#[derive(Debug)]
pub struct NotReady {
    /// Short and free of paths, URLs and database messages: shown to anyone who asks.
    pub reason: &'static str,
    /// The underlying error, for the log.
    pub detail: String,
}

/// The (device, inode) of a file: open connections keep using an unlinked or replaced file
/// as if nothing happened, so the path is compared with what was opened.
fn file_identity(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok((0, 0))
    }
}

/// Normalises a SQLite URL: creates the parent directory and asks for the file to be
/// created on first run.
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::InvalidUrl(
            "scimgate needs a SQLite file, not an in-memory database".into(),
        ));
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::InvalidUrl(format!("cannot create directory {}: {e}", parent.display()))
        })?;
    }
    restrict_permissions(std::path::Path::new(path))?;
    let params = if params.contains("mode=") {
        params.to_string()
    } else if params.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{params}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{params}"))
}

/// The database holds token hashes, admin password hashes and the whole directory: it is
/// created readable by its owner only (0600), and an existing file (with its WAL and
/// shared-memory files, which SQLite creates with the main file's mode) is narrowed to that.
fn restrict_permissions(path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let denied = |e: std::io::Error| {
            StoreError::InvalidUrl(format!("cannot secure {}: {e}", path.display()))
        };
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => std::fs::File::open(path),
                    _ => Err(e),
                })
                .map_err(denied)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if let Ok(meta) = std::fs::metadata(&p) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .map_err(denied)?;
                }
            }
        }
    }
    Ok(())
}

impl Store {
    /// Opens the database named by `url`, applies pending migrations and returns the store.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, 16).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = Backend::from_url(url)?;
        let url = match dialect {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let opts =
            AnyConnectOptions::from_str(&url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let acquire = Duration::from_secs(10);
        let cursors = Arc::new(pages::PageCursors::default());
        let durability = Arc::new(write_thread::Durability::default());
        let (typed, pool, group) = match dialect {
            Backend::Sqlite => {
                let sopts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    // The sessions' pool too: see [`wal`].
                    .pragma("wal_autocheckpoint", wal::AUTOCHECKPOINT.to_string())
                    .pragma("journal_size_limit", wal::JOURNAL_SIZE_LIMIT.to_string());
                // The file as sqlx resolved it (percent-decoded): the write thread's too.
                let write_path = sopts.get_filename().to_path_buf();
                let typed = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(sopts)
                    .await?;
                SQLITE_MIGRATIONS.run(&typed).await?;
                // SQLite allows one writer at a time: one write connection, shared by group
                // commit, queues writers instead of failing them with SQLITE_BUSY.
                let pool = pool::ConnPool::new(opts, Backend::Sqlite, max_connections, acquire);
                let mut writer = pool.open().await?;
                // The writer gets a bigger page cache: the index pages that every write
                // touches (the log's, the users') stay hot instead of being read back.
                writer.execute("PRAGMA cache_size = -32000;").await?;
                // Creates run on a thread of our own (see [`write_thread`]).
                let thread = write_thread::WriteThread::open(
                    &write_path,
                    cursors.generation_counter(),
                    durability.clone(),
                )
                .map_err(|e| {
                    StoreError::InvalidUrl(format!(
                        "cannot open {} for writing: {e}",
                        write_path.display()
                    ))
                })?;
                let group =
                    write::GroupCommit::start(writer, cursors.generation_counter(), Some(thread));
                let checkpointer = wal::Checkpointer::start(&pool, group.commits()).await?;
                (TypedPool::Sqlite(typed), pool, Some((group, checkpointer)))
            }
            Backend::Postgres => {
                // Sessions, and one connection held by the change-feed listener.
                let typed = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(acquire)
                    .connect(&url)
                    .await?;
                POSTGRES_MIGRATIONS.run(&typed).await?;
                let pool = pool::ConnPool::new(opts, Backend::Postgres, max_connections, acquire);
                (TypedPool::Postgres(typed), pool, None)
            }
        };
        let feed_signal = Arc::new(tokio::sync::watch::Sender::new(0u64));
        let feed_listener = match &typed {
            TypedPool::Postgres(p) => Some(Arc::new(feed::Listener::start(
                p.clone(),
                feed_signal.clone(),
            ))),
            TypedPool::Sqlite(_) => None,
        };
        let sqlite_path = (dialect == Backend::Sqlite).then(|| {
            let rest = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            std::path::PathBuf::from(rest.split_once('?').map_or(rest, |(p, _)| p))
        });
        let sqlite_file = match &sqlite_path {
            Some(p) => Some(file_identity(p).map_err(|e| {
                StoreError::InvalidUrl(format!("cannot read {}: {e}", p.display()))
            })?),
            None => None,
        };
        let pool = Arc::new(pool);
        let lanes =
            (dialect == Backend::Postgres).then(|| Arc::new(write::Lanes::new(pool.clone())));
        let point = sqlite_path
            .clone()
            .map(|p| Arc::new(point_reads::PointReads::new(p, sqlite_file)));
        let (group, checkpointer) = group.unzip();
        let store = Store(Arc::new(StoreParts {
            point,
            pool,
            group,
            checkpointer,
            lanes,
            cursors,
            typed,
            backend: dialect,
            feed_signal,
            feed_listener,
            sqlite_path,
            sqlite_file,
            credentials: Arc::default(),
            durability,
        }));
        fold::backfill(&store).await?;
        search::backfill(&store).await?;
        Ok(store)
    }

    pub async fn read(&self) -> Result<Conn> {
        self.pool.acquire().await
    }

    /// Returns once whatever a read that has already run could have seen is durable. SQLite's
    /// write thread lets other connections read a batch of creates before the WAL's sync
    /// returns (its writers are told only after it): a reader that hands out change-feed
    /// sequence numbers calls this after its read, so that a power cut cannot take back an
    /// event it handed out (see [`write_thread`]). At once when nothing is being synced, and
    /// on PostgreSQL, where a commit is visible only once it is durable.
    pub async fn settled(&self) -> Result<()> {
        if self.group.is_some() && !self.durability.settled().await {
            return Err(StoreError::Busy(
                "the database's write-ahead log was not synced in time".into(),
            ));
        }
        Ok(())
    }

    /// SQLite: what the WAL's checkpointer did (see [`wal`]); all zero on PostgreSQL.
    pub fn wal_checkpoints(&self) -> wal::WalCheckpoints {
        self.checkpointer
            .as_ref()
            .map_or_else(Default::default, |c| c.counts())
    }

    /// SQLite: how many reads were answered on the calling thread (see [`point_reads`]).
    pub fn point_reads_served(&self) -> u64 {
        self.point.as_ref().map_or(0, |p| p.served())
    }

    /// The org's user with this id.
    pub async fn find_user(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<crate::directory::User>> {
        if let Some(found) = self
            .point
            .as_ref()
            .and_then(|p| p.user(org_id, point_reads::UserKey::Id, id))
        {
            return Ok(found);
        }
        let mut c = self.read().await?;
        users::find_user(&mut c, org_id, id).await
    }

    /// Starts a write transaction (see [`write`] for how SQLite commits groups of them).
    pub async fn begin(&self) -> Result<Tx> {
        let tx = match &self.group {
            Some(g) => g.begin(true).await,
            None => Tx::begin_pooled(self.pool.acquire().await?, None).await,
        }?;
        Ok(tx.signal_on_commit(self.feed_signal.clone()))
    }

    /// [`Store::begin`] for a write to the org's groups or memberships (any directory write
    /// but one to a single user's record: [`Store::begin_user`]). On PostgreSQL the
    /// transaction first takes the org's lock, exclusively, and concurrent such writes of the org made through this
    /// instance share one transaction and one COMMIT, each in a savepoint of its own, as
    /// every write does on SQLite (see [`write`]); a request's commit still returns only
    /// once its change is durable.
    pub async fn begin_org(&self, org_id: &str) -> Result<Tx> {
        let tx = match (&self.group, &self.lanes) {
            (Some(g), _) => g.begin(true).await,
            (None, Some(l)) if !without_lanes() => l.lane(org_id).begin(true).await,
            (None, _) => Tx::begin_pooled(self.pool.acquire().await?, Some((org_id, false))).await,
        }?;
        Ok(tx.signal_on_commit(self.feed_signal.clone()))
    }

    /// [`Store::begin_org`] for a write to one user (create, replace, patch, delete) rather
    /// than to groups. On PostgreSQL it takes the org's lock in shared mode, in a plain
    /// transaction: user writes run side by side (each locks its own user's row, and the
    /// org's event counter only at its end, to its COMMIT), and never beside a group write,
    /// which holds the lock exclusively (see [`write`]).
    pub async fn begin_user(&self, org_id: &str) -> Result<Tx> {
        let tx = match &self.group {
            Some(g) => g.begin(true).await,
            None => Tx::begin_pooled(self.pool.acquire().await?, Some((org_id, true))).await,
        }?;
        Ok(tx.signal_on_commit(self.feed_signal.clone()))
    }

    /// [`Store::begin_user`] for a user create. On PostgreSQL it goes through the org's lane
    /// (see [`write`]): creates queued on this instance share one transaction and one COMMIT,
    /// where each alone held the org's change-event counter from its events to its own
    /// COMMIT. A create reads nothing first (its one statement writes the user, its log entry
    /// and its events), so the lane, one request at a time, costs it no waiting on reads.
    pub async fn begin_create(&self, org_id: &str) -> Result<Tx> {
        match (&self.group, &self.lanes) {
            (None, Some(l)) if !without_lanes() => Ok(l
                .lane(org_id)
                .begin(true)
                .await?
                .signal_on_commit(self.feed_signal.clone())),
            _ => self.begin_user(org_id).await,
        }
    }

    /// `statements` (in the order given) as one user write of their own, committed: on
    /// SQLite queued for the committer, which has the write thread run them, kept or undone
    /// whole (see [`write::GroupCommit::write`]); elsewhere in a [`Store::begin_user`]
    /// transaction.
    /// Returns once they are durable. A failure keeps nothing of them, and says whether the
    /// statements failed (a taken userName, say: their errors are as if run one by one) or
    /// their COMMIT did.
    pub async fn write_user_with(
        &self,
        org_id: &str,
        statements: &[&sql::Sql],
    ) -> std::result::Result<(), WriteFailed> {
        match &self.group {
            Some(g) => {
                g.write(statements).await?;
                self.feed_signal.send_modify(|v| *v = v.wrapping_add(1));
                Ok(())
            }
            None => {
                let mut tx = self
                    .begin_user(org_id)
                    .await
                    .map_err(WriteFailed::Statements)?;
                sql::Sql::execute_all(&mut tx, statements)
                    .await
                    .map_err(|e| WriteFailed::Statements(e.into()))?;
                tx.commit().await.map_err(WriteFailed::Commit)
            }
        }
    }

    /// Call after committing a change to an org's settings or its SCIM tokens: a token
    /// verified before it is verified again.
    pub fn credentials_changed(&self) {
        self.credentials
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Where [`Store::credentials_changed`] stands; read before looking credentials up.
    pub fn credentials_generation(&self) -> u64 {
        self.credentials.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Changes whenever a directory write commits (here, or on PostgreSQL anywhere): what
    /// the event feed's long polls wait on before looking again.
    pub fn feed_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed_signal.subscribe()
    }

    /// A write transaction that only appends to the provisioning log: it leaves what
    /// [`pages`] remembers valid.
    pub async fn begin_log(&self) -> Result<Tx> {
        match &self.group {
            Some(g) => g.begin(false).await,
            None => Tx::begin_pooled(self.pool.acquire().await?, None).await,
        }
    }

    /// The SQLite database file (None on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn typed_pool(&self) -> &TypedPool {
        &self.typed
    }

    /// How long callers waited for a connection, per pool: `connections` (reads on both
    /// databases and writes on PostgreSQL, sized by `--db-connections`) and, on SQLite,
    /// `sqlite_writer` (the one write connection that group commit shares). For `/metrics`.
    pub fn pool_waits(&self) -> Vec<(&'static str, pool::WaitSnapshot)> {
        let mut v = vec![("connections", self.pool.wait_snapshot())];
        if let Some(g) = &self.group {
            v.push(("sqlite_writer", g.wait_snapshot()));
        }
        v
    }

    /// Cheap liveness check for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    /// Readiness for `/readyz`: the database answers a query on scimgate's own schema, on a
    /// connection the pool would hand to a request, and the schema is not older than this
    /// binary's migrations. On SQLite the file must also still be the one the store opened:
    /// a deleted, moved or replaced database file goes on "working" through the open
    /// connections while nothing written reaches the file at that path.
    pub async fn ready(&self) -> std::result::Result<(), NotReady> {
        if let (Some(path), Some(opened)) = (&self.sqlite_path, self.sqlite_file) {
            match file_identity(path) {
                Ok(id) if id == opened => {}
                Ok(_) => {
                    return Err(NotReady {
                        reason: "the database file was replaced",
                        detail: format!("{} is not the file opened at start", path.display()),
                    })
                }
                Err(e) => {
                    return Err(NotReady {
                        reason: "the database file is missing or unreadable",
                        detail: format!("{}: {e}", path.display()),
                    })
                }
            }
        }
        let unavailable = |e: StoreError| NotReady {
            reason: "the database does not answer",
            detail: e.to_string(),
        };
        let mut c = self.pool.acquire().await.map_err(unavailable)?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut *c)
                .await
                .map_err(|e| unavailable(e.into()))?;
        let expected = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
        .iter()
        .map(|m| m.version)
        .max();
        if version < expected {
            return Err(NotReady {
                reason: "the database schema is older than this binary",
                detail: format!("schema version {version:?}, this binary's {expected:?}"),
            });
        }
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(l) = &self.feed_listener {
            l.stop();
        }
        if let Some(c) = &self.checkpointer {
            c.stop().await;
        }
        if let Some(g) = &self.group {
            g.close().await;
        }
        self.pool.close().await;
        match &self.typed {
            TypedPool::Sqlite(p) => p.close().await,
            TypedPool::Postgres(p) => p.close().await,
        }
    }
}

/// Per-connection SQLite settings. WAL for concurrent readers; FULL sync so that a 2xx means
/// the change and its log entry are on disk; LIKE case-sensitive as in PostgreSQL (a
/// case-insensitive match lowers both sides explicitly). Temporary storage in memory: group
/// commit runs each request in a SAVEPOINT, whose sub-journal would otherwise be a temp file
/// written with a syscall per page.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 10000; PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -4000; \
         PRAGMA temp_store = MEMORY;",
    )
    .await?;
    // Checkpoints run on a connection of their own; every connection's automatic one is a
    // backstop (see [`wal`]).
    conn.execute(
        format!(
            "PRAGMA wal_autocheckpoint = {}; PRAGMA journal_size_limit = {};",
            wal::AUTOCHECKPOINT,
            wal::JOURNAL_SIZE_LIMIT
        )
        .as_str(),
    )
    .await?;
    Ok(())
}

pub fn bool_int(b: bool) -> i64 {
    i64::from(b)
}
