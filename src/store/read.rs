//! Read connections.
//!
//! On PostgreSQL these come from sqlx's pool. On SQLite they come from a small pool of our
//! own: sqlx's pool pings every connection when it is returned (a round trip to the
//! connection's worker thread, as costly as the query it served), a check that a local
//! file never needs. A read that is cancelled mid-query leaves nothing behind: sqlx's
//! SQLite worker resets the statement itself.

use super::{Result, StoreError};
use sqlx::any::AnyConnectOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, ConnectOptions, Connection};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Idle SQLite connections and a limit on how many exist.
pub(crate) struct LocalPool {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
    opts: AnyConnectOptions,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for LocalPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPool")
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl LocalPool {
    pub(crate) fn new(opts: AnyConnectOptions, size: u32, acquire_timeout: Duration) -> LocalPool {
        LocalPool {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
            opts,
            acquire_timeout,
        }
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Conn> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
                .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let mut c = self.opts.connect().await?;
                super::sqlite_pragmas(&mut c).await?;
                c
            }
        };
        Ok(Conn(Inner::Local {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        }))
    }

    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle: Vec<AnyConnection> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for c in idle {
            let _ = c.close().await;
        }
    }
}

/// A read connection; derefs to the connection and goes back to its pool when dropped.
pub struct Conn(Inner);

enum Inner {
    Pooled(PoolConnection<Any>),
    Local {
        conn: Option<AnyConnection>,
        pool: Arc<LocalPool>,
        _permit: OwnedSemaphorePermit,
    },
}

impl From<PoolConnection<Any>> for Conn {
    fn from(c: PoolConnection<Any>) -> Conn {
        Conn(Inner::Pooled(c))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Inner::Local { conn, pool, .. } = &mut self.0 {
            if let Some(c) = conn.take() {
                if !pool.permits.is_closed() {
                    pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                }
            }
        }
    }
}

impl Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Inner::Pooled(c) => c,
            Inner::Local { conn, .. } => conn.as_ref().expect("connection present until drop"),
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Pooled(c) => c,
            Inner::Local { conn, .. } => conn.as_mut().expect("connection present until drop"),
        }
    }
}
