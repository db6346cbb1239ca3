//! Background writer for log events that are not part of a change (errors, 401s, reads
//! when each is logged), for the per-minute counts of successful reads, for each client's
//! "last request" and for token `last_used_at` stamps. Batching them keeps
//! reads off the single SQLite writer's critical path; changes never go through here (they
//! are logged in their own transaction). The per-client and per-token rows are hot: written
//! inside each write's transaction, they would make concurrent writes on PostgreSQL queue
//! on their row locks until COMMIT (measured: half the write throughput). On shutdown the
//! queue is drained before the process exits.

use crate::directory::Event;
use crate::store::events::{ClientSeen, ReadTraffic};
use crate::store::{events, tokens, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Room in the queue, in jobs (events, "last request" moves, token stamps).
const QUEUE: usize = 16_384;

enum Job {
    Event(Box<Event>),
    /// A successful read, counted in its minute instead of logged (see `--log-reads`).
    Read(Box<(ReadTraffic, Option<ClientSeen>)>),
    /// A request whose event was written with its change.
    Seen(Box<ClientSeen>),
    Touch(String, i64),
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// What `/metrics` shows of the writer besides its queue depth.
#[derive(Debug, Default)]
struct Stats {
    /// Events that never reached the database: their batch failed to commit, or the writer
    /// had stopped.
    dropped: AtomicU64,
    /// Jobs that found the queue full and waited (the requests were slowed, not dropped).
    full: AtomicU64,
}

/// The writer's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogWriterStats {
    /// Jobs queued and not yet taken by the writer.
    pub queued: u64,
    pub capacity: u64,
    pub dropped: u64,
    pub waited_full: u64,
}

impl LogWriter {
    /// Starts the writer task; it ends when every `LogWriter` clone is dropped and the
    /// queue is empty.
    pub fn start(store: Store) -> (LogWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        let handle = tokio::spawn(run(store, rx, stats.clone()));
        (LogWriter { tx, stats }, handle)
    }

    pub fn stats(&self) -> LogWriterStats {
        let capacity = self.tx.max_capacity() as u64;
        LogWriterStats {
            queued: capacity.saturating_sub(self.tx.capacity() as u64),
            capacity,
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            waited_full: self.stats.full.load(Ordering::Relaxed),
        }
    }

    /// Queues a job; a full queue makes the caller wait (back-pressure instead of dropping
    /// log lines), which is counted.
    async fn send(&self, job: Job) -> Result<(), ()> {
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(job)) => {
                self.stats.full.fetch_add(1, Ordering::Relaxed);
                self.tx.send(job).await.map_err(|_| ())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        }
    }

    pub async fn record(&self, e: Event) {
        if self.send(Job::Event(Box::new(e))).await.is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("provisioning log writer has stopped; event not recorded");
        }
    }

    /// Counts a successful read in its minute's row (and moves the client's "last request").
    pub async fn read(&self, tally: ReadTraffic, seen: Option<ClientSeen>) {
        if self.send(Job::Read(Box::new((tally, seen)))).await.is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("provisioning log writer has stopped; read not counted");
        }
    }

    /// Moves the client's "last request" forward for a request logged in its own transaction.
    pub async fn seen(&self, seen: ClientSeen) {
        let _ = self.send(Job::Seen(Box::new(seen))).await;
    }

    pub async fn touch_token(&self, id: String, at: i64) {
        let _ = self.send(Job::Touch(id, at)).await;
    }

    /// Waits until every event queued so far is in the database.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Jobs written in one transaction at most.
const BATCH: usize = 512;

/// A batch that is neither full nor waited for is held this long after the previous write
/// began, for more jobs to join it: under a stream of reads each write then carries many
/// of them (per-minute counts fold into a few rows) instead of a transaction every few
/// requests. Nothing here is part of a change; a `flush` is answered without this wait.
const GATHER: std::time::Duration = std::time::Duration::from_millis(100);

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, stats: Arc<Stats>) {
    let mut batch = Vec::with_capacity(BATCH);
    let start = tokio::time::Instant::now();
    let mut last_write = start.checked_sub(GATHER).unwrap_or(start);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let until = last_write + GATHER;
        while batch.len() < BATCH && !batch.iter().any(|j| matches!(j, Job::Flush(_))) {
            let room = BATCH - batch.len();
            let more = tokio::time::timeout_at(until, rx.recv_many(&mut batch, room));
            match more.await {
                Ok(n) if n > 0 => {}
                // The wait is over, or every sender is gone: write what there is.
                _ => break,
            }
        }
        last_write = tokio::time::Instant::now();
        let mut events = Vec::with_capacity(batch.len());
        let mut reads = Vec::new();
        let mut seen = Vec::new();
        let mut touches = Vec::new();
        let mut flushes = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Event(e) => {
                    seen.extend(ClientSeen::of(&e));
                    events.push(*e);
                }
                Job::Read(r) => {
                    let (tally, s) = *r;
                    seen.extend(s);
                    reads.push(tally);
                }
                Job::Seen(s) => seen.push(*s),
                Job::Touch(id, at) => touches.push((id, at)),
                Job::Flush(done) => flushes.push(done),
            }
        }
        let read_count = reads.len() as u64;
        let reads = ReadTraffic::merge(reads);
        if let Err(e) = write_batch(&store, &events, &seen, &reads, &touches).await {
            stats
                .dropped
                .fetch_add(events.len() as u64 + read_count, Ordering::Relaxed);
            tracing::error!(error = %e, count = events.len(), reads = read_count, "could not write provisioning log events");
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
    reads: &[ReadTraffic],
    touches: &[(String, i64)],
) -> crate::store::Result<()> {
    if events.is_empty() && seen.is_empty() && reads.is_empty() && touches.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin_log().await?;
    events::insert_events(&mut tx, events, seen, reads).await?;
    for (id, at) in touches {
        tokens::touch_token(&mut tx, id, *at).await?;
    }
    tx.commit().await?;
    Ok(())
}
