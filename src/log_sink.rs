//! Where the process's log lines go: standard error, gathered.
//!
//! The server logs a line for every request. Written one `write(2)` each, those lines were
//! 4 % of a lookup's CPU in `perf` (the call, and the preemption at its return). Here a line
//! is copied into a buffer in memory, and a thread of its own writes the buffer out
//! [`GATHER`] after the first line in it: one `write(2)` for every few hundred lines under
//! load, and at most [`GATHER`] of delay when idle.
//!
//! Gathering starts once the server listens ([`start_gathering`]) and stops when it is done
//! ([`stop`]): start-up (migrations, backfills) and every other command write each line
//! at once, so a crash or a signal there loses nothing.
//!
//! What this must not cost:
//! - **Warnings and errors** are written at once, on the logging thread, after whatever
//!   waits before them: an operator sees them without delay, and a process that stops right
//!   after one (a failed WAL sync exits) has them on disk.
//! - **Order.** Every write to standard error holds std's own lock on it and takes the
//!   buffer within it, so lines come out in the order they were logged, `eprintln!` output
//!   included. That lock is reentrant and the only lock held while writing: a thread that
//!   panics while holding it (inside `eprintln!`) can still flush from the panic hook, and
//!   no other order of two locks exists to deadlock on.
//! - **Memory.** A buffer that reaches [`LIMIT`] (a disk slower than the requests) is
//!   written by the thread that logged into it: requests slow down, as they would with a
//!   write each, instead of the buffer growing.
//! - **An exit.** [`stop`] writes what waits; `main` calls it before it returns or exits,
//!   the panic hook before its message, and a failed WAL sync before it stops the process.
//!   What cannot be caught (`kill -9`, a segfault, the OOM killer) loses the lines of the
//!   last [`GATHER`] while serving, more while standard error is blocked (up to [`LIMIT`]).
//!   The provisioning log, which is the record of every SCIM request, is in the database.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long the writing thread gathers lines after the first one arrives.
pub const GATHER: Duration = Duration::from_millis(20);
/// A buffer this big is written at once, by the thread that filled it.
pub const LIMIT: usize = 256 * 1024;

/// Where gathered lines go.
enum Out {
    /// The product: std's reentrant lock on standard error orders every write.
    Stderr,
    /// Tests: a writer of their own behind a mutex.
    #[cfg(test)]
    Other(Mutex<Box<dyn Write + Send>>),
}

struct Sink {
    /// Lines not yet written.
    buf: Mutex<Vec<u8>>,
    /// Rung when the buffer stops being empty.
    ring: Condvar,
    out: Out,
    /// [`GATHER`] (tests set their own).
    gather: Duration,
}

/// Room the buffer starts each round with.
const START: usize = 64 * 1024;

impl Sink {
    /// Takes the buffer and writes it, in order with every other write.
    fn flush(&self) {
        match &self.out {
            Out::Stderr => {
                let mut err = std::io::stderr().lock();
                if let Some(pending) = self.take() {
                    // Nowhere to report a failed write to the log: the lines are lost, as
                    // with eprintln!.
                    let _ = err.write_all(&pending);
                }
            }
            #[cfg(test)]
            Out::Other(out) => {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(pending) = self.take() {
                    let _ = out.write_all(&pending);
                }
            }
        }
    }

    /// The waiting lines, if any, leaving a buffer with room for the next round.
    fn take(&self) -> Option<Vec<u8>> {
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        (!buf.is_empty()).then(|| std::mem::replace(&mut *buf, Vec::with_capacity(START)))
    }

    fn append(&self, line: &[u8], urgent: bool) {
        let (was_empty, full) = {
            let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
            let was_empty = buf.is_empty();
            buf.extend_from_slice(line);
            (was_empty, buf.len() >= LIMIT)
        };
        if urgent || full {
            self.flush();
        } else if was_empty {
            self.ring.notify_one();
        }
    }

    /// The writing thread: waits for a first line, gathers for [`GATHER`], writes.
    fn run(&self) {
        loop {
            {
                let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
                let _buf = self
                    .ring
                    .wait_while(buf, |b| b.is_empty())
                    .unwrap_or_else(|p| p.into_inner());
            }
            std::thread::sleep(self.gather);
            self.flush();
        }
    }
}

static SINK: OnceLock<&'static Sink> = OnceLock::new();

/// The writer to give `tracing_subscriber::fmt().with_writer(..)`: gathers lines for
/// standard error. Starts the writing thread on first use; one per process.
#[derive(Clone, Copy)]
pub struct Gathered {
    sink: &'static Sink,
}

impl Gathered {
    /// Lines are written at once until [`start_gathering`].
    pub fn stderr() -> Gathered {
        let sink = *SINK.get_or_init(|| {
            let sink: &'static Sink = Box::leak(Box::new(Sink {
                buf: Mutex::new(Vec::with_capacity(START)),
                ring: Condvar::new(),
                out: Out::Stderr,
                gather: GATHER,
            }));
            if let Err(e) = std::thread::Builder::new()
                .name("scimgate-log".into())
                .spawn(|| sink.run())
            {
                // Without the thread every line is written as it comes.
                eprintln!("log: cannot start the writing thread ({e}); writing each line");
                NO_THREAD.get_or_init(|| ());
            }
            sink
        });
        Gathered { sink }
    }
}

static NO_THREAD: OnceLock<()> = OnceLock::new();

/// Whether lines below WARN are gathered (see [`start_gathering`]).
static GATHERING: AtomicBool = AtomicBool::new(false);

/// From now on, lines below WARN are gathered: the server calls this once it listens.
pub fn start_gathering() {
    GATHERING.store(true, Ordering::Relaxed);
}

/// Writes whatever lines wait, and every later line at once. Call before the process
/// exits.
pub fn stop() {
    GATHERING.store(false, Ordering::Relaxed);
    flush();
}

/// Writes whatever lines wait.
pub fn flush() {
    if let Some(sink) = SINK.get() {
        sink.flush();
    }
}

/// One event's writer: tracing's fmt layer formats a whole line and writes it in one call.
pub struct LineWriter {
    sink: &'static Sink,
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let at_once =
            self.urgent || !GATHERING.load(Ordering::Relaxed) || NO_THREAD.get().is_some();
        self.sink.append(line, at_once);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Gathered {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            sink: self.sink,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            sink: self.sink,
            // Level's order is by verbosity: WARN and ERROR are "at most WARN".
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink of its own (not the process's), gathering for `gather`.
    fn sink(out: Shared, gather: Duration) -> &'static Sink {
        let sink: &'static Sink = Box::leak(Box::new(Sink {
            buf: Mutex::default(),
            ring: Condvar::new(),
            out: Out::Other(Mutex::new(Box::new(out))),
            gather,
        }));
        std::thread::spawn(|| sink.run());
        sink
    }

    fn text(out: &Shared) -> String {
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn lines_wait_to_be_gathered_and_flush_writes_them() {
        let out = Shared::default();
        let s = sink(out.clone(), LONG);
        s.append(b"one\n", false);
        s.append(b"two\n", false);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(text(&out), "", "info lines wait to be gathered");
        s.flush();
        assert_eq!(text(&out), "one\ntwo\n");
    }

    #[test]
    fn the_thread_writes_what_it_gathered() {
        let out = Shared::default();
        let s = sink(out.clone(), Duration::from_millis(5));
        s.append(b"one\n", false);
        s.append(b"two\n", false);
        let waited = std::time::Instant::now();
        while text(&out).is_empty() && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(text(&out), "one\ntwo\n");
        s.append(b"three\n", false);
        while text(&out).len() < 14 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            text(&out),
            "one\ntwo\nthree\n",
            "and waits for the next line"
        );
    }

    #[test]
    fn a_warning_is_written_at_once_after_what_waits() {
        let out = Shared::default();
        let s = sink(out.clone(), LONG);
        s.append(b"info\n", false);
        s.append(b"warn\n", true);
        assert_eq!(text(&out), "info\nwarn\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_its_writer() {
        let out = Shared::default();
        let s = sink(out.clone(), LONG);
        let line = vec![b'x'; 1023];
        for _ in 0..(LIMIT / 1024) {
            s.append(&line, false);
            s.append(b"\n", false);
        }
        assert_eq!(
            text(&out).len(),
            LIMIT,
            "written on the logging thread, no wait"
        );
        assert!(s.buf.lock().unwrap().is_empty());
    }

    /// The one test that moves the process-wide switch (tests run in parallel).
    #[test]
    fn lines_are_gathered_only_while_serving_and_warnings_never() {
        let out = Shared::default();
        let g = Gathered {
            sink: sink(out.clone(), LONG),
        };
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(g)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("starting up");
            assert!(text(&out).contains("starting up"), "at once before serving");
            start_gathering();
            tracing::info!("gathered");
            assert!(!text(&out).contains("gathered"), "waits while serving");
            tracing::warn!("at once");
            stop();
            tracing::info!("after the end");
        });
        let t = text(&out);
        assert!(t.contains("gathered") && t.contains("at once"), "{t}");
        assert!(t.find("gathered") < t.find("at once"), "order kept: {t}");
        assert!(t.contains("after the end"), "at once after stop: {t}");
    }
}
