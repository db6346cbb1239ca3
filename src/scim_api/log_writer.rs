//! Background writer for log events that are not part of a change (reads, errors, 401s),
//! for each client's "last request" and for token `last_used_at` stamps. Batching them keeps
//! reads off the single SQLite writer's critical path; changes never go through here (they
//! are logged in their own transaction). The per-client and per-token rows are hot: written
//! inside each write's transaction, they would make concurrent writes on PostgreSQL queue
//! on their row locks until COMMIT (measured: half the write throughput). On shutdown the
//! queue is drained before the process exits.

use crate::directory::Event;
use crate::store::events::ClientSeen;
use crate::store::{events, tokens, Store};
use tokio::sync::mpsc;

enum Job {
    Event(Box<Event>),
    /// A request whose event was written with its change.
    Seen(Box<ClientSeen>),
    Touch(String, i64),
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Job>,
}

impl LogWriter {
    /// Starts the writer task; it ends when every `LogWriter` clone is dropped and the
    /// queue is empty.
    pub fn start(store: Store) -> (LogWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16_384);
        let handle = tokio::spawn(run(store, rx));
        (LogWriter { tx }, handle)
    }

    pub async fn record(&self, e: Event) {
        // Waiting here applies back-pressure instead of dropping log lines.
        if self.tx.send(Job::Event(Box::new(e))).await.is_err() {
            tracing::warn!("provisioning log writer has stopped; event not recorded");
        }
    }

    /// Moves the client's "last request" forward for a request logged in its own transaction.
    pub async fn seen(&self, seen: ClientSeen) {
        let _ = self.tx.send(Job::Seen(Box::new(seen))).await;
    }

    pub async fn touch_token(&self, id: String, at: i64) {
        let _ = self.tx.send(Job::Touch(id, at)).await;
    }

    /// Waits until every event queued so far is in the database.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let mut events = Vec::with_capacity(batch.len());
        let mut seen = Vec::new();
        let mut touches = Vec::new();
        let mut flushes = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Event(e) => {
                    seen.extend(ClientSeen::of(&e));
                    events.push(*e);
                }
                Job::Seen(s) => seen.push(*s),
                Job::Touch(id, at) => touches.push((id, at)),
                Job::Flush(done) => flushes.push(done),
            }
        }
        if let Err(e) = write_batch(&store, &events, &seen, &touches).await {
            tracing::error!(error = %e, count = events.len(), "could not write provisioning log events");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write_batch(
    store: &Store,
    events: &[Event],
    seen: &[ClientSeen],
    touches: &[(String, i64)],
) -> crate::store::Result<()> {
    if events.is_empty() && seen.is_empty() && touches.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin_log().await?;
    events::insert_events(&mut tx, events, seen).await?;
    for (id, at) in touches {
        tokens::touch_token(&mut tx, id, *at).await?;
    }
    tx.commit().await?;
    Ok(())
}
