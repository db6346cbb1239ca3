//! The provisioning-log entry of one request, filled in as the request is handled. A write
//! inserts it inside its own transaction ([`RequestLog::write_in`]); any request that did not
//! (reads, errors, 401s) is written by the HTTP layer once the response is known.

use crate::directory::{Change, Event};
use crate::store::sql::Sql;
use crate::store::{events, Store, Tx, WriteFailed};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct RequestLog {
    inner: Arc<Mutex<State>>,
    started: std::time::Instant,
}

#[derive(Debug)]
struct State {
    event: Event,
    written: bool,
}

impl RequestLog {
    pub fn new(event: Event) -> RequestLog {
        RequestLog {
            inner: Arc::new(Mutex::new(State {
                event,
                written: false,
            })),
            started: std::time::Instant::now(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn set_org(&self, org_id: &str) {
        self.with(|s| s.event.org_id = Some(org_id.to_string()));
    }

    pub fn set_token(&self, id: &str, label: &str) {
        self.with(|s| {
            s.event.token_id = Some(id.to_string());
            s.event.token_label = Some(label.to_string());
        });
    }

    pub fn set_request_body(&self, body: String) {
        self.with(|s| s.event.request_body = Some(body));
    }

    pub fn is_written(&self) -> bool {
        self.with(|s| s.written)
    }

    /// Inserts the event with `status` and `changes` into `tx`, with the write's change
    /// events (`feed`) in the same call. Call right before commit; then
    /// [`RequestLog::mark_written`] after a successful commit.
    pub async fn write_in(
        &self,
        tx: &mut Tx,
        status: u16,
        summary: Option<String>,
        changes: Vec<Change>,
        feed: crate::store::feed::Append,
    ) -> crate::store::Result<()> {
        let (event, kept) = self.entry(status, summary, changes);
        let written = events::insert_event_with_feed(&mut *tx, &event, feed).await;
        if written.is_err() {
            self.unwrite(kept);
        }
        written
    }

    /// A user create, committed: `first` (its own statements), its log entry and its change
    /// events (`feed`) in one write. On SQLite all of it in one call queued for the
    /// committer (see [`Store::write_user_with`]), on PostgreSQL one statement in the org's
    /// lane ([`Store::begin_create`]). Then [`RequestLog::mark_written`], as after
    /// [`RequestLog::write_in`].
    #[allow(clippy::too_many_arguments)]
    pub async fn create_and_write(
        &self,
        store: &Store,
        org_id: &str,
        first: &[Sql],
        status: u16,
        summary: Option<String>,
        changes: Vec<Change>,
        feed: crate::store::feed::Append,
    ) -> Result<(), WriteFailed> {
        let (event, kept) = self.entry(status, summary, changes);
        let log = events::entry_statements(&event);
        let with: Vec<&Sql> = first.iter().chain(log.iter()).collect();
        let done = match feed.one_sqlite_call(&with) {
            Some(all) => store.write_user_with(org_id, &all).await,
            None => match store.begin_create(org_id).await {
                Ok(mut tx) => match feed.run(&mut tx, &with).await {
                    Ok(()) => tx.commit().await.map_err(WriteFailed::Commit),
                    Err(e) => Err(WriteFailed::Statements(e)),
                },
                Err(e) => Err(WriteFailed::Statements(e)),
            },
        };
        if let Err(WriteFailed::Statements(_)) = &done {
            self.unwrite(kept);
        }
        done
    }

    /// The entry as a write inserts it; `kept`: how many changes it had before.
    fn entry(&self, status: u16, summary: Option<String>, changes: Vec<Change>) -> (Event, usize) {
        self.with(|s| {
            let kept = s.event.changes.len();
            s.event.status = i64::from(status);
            s.event.response_summary = summary;
            s.event.duration_us = self.started.elapsed().as_micros() as i64;
            s.event.changes.extend(changes);
            (s.event.clone(), kept)
        })
    }

    /// The write's call failed and nothing of it was kept (its own statements may be what
    /// failed, a userName taken): the entry the HTTP layer writes for the error must not
    /// claim its changes.
    fn unwrite(&self, kept: usize) {
        self.with(|s| s.event.changes.truncate(kept));
    }

    /// The client's request, for its "last request" (see [`events::insert_event`]).
    pub fn seen(&self) -> Option<events::ClientSeen> {
        self.with(|s| events::ClientSeen::of(&s.event))
    }

    pub fn mark_written(&self) {
        self.with(|s| s.written = true);
    }

    /// The finished event for a request that wrote nothing in a transaction. A failed one
    /// changed nothing, whatever its write had put on the entry before failing (its COMMIT
    /// may be what failed).
    pub fn finish(&self, status: u16, scim_type: Option<String>, summary: Option<String>) -> Event {
        self.with(|s| {
            if !(200..300).contains(&status) {
                s.event.changes.clear();
            }
            s.event.status = i64::from(status);
            s.event.scim_type = scim_type;
            s.event.response_summary = summary;
            s.event.duration_us = self.started.elapsed().as_micros() as i64;
            s.written = true;
            s.event.clone()
        })
    }

    pub fn event_id(&self) -> String {
        self.with(|s| s.event.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::ChangeKind;

    fn log() -> RequestLog {
        RequestLog::new(Event {
            id: "e1".into(),
            org_id: Some("o1".into()),
            occurred_at: 0,
            token_id: None,
            token_label: None,
            method: "POST".into(),
            path: "/Users".into(),
            query: None,
            client: "okta".into(),
            status: 0,
            scim_type: None,
            duration_us: 0,
            request_body: None,
            response_summary: None,
            remote_addr: None,
            user_agent: None,
            changes: Vec::new(),
        })
    }

    fn created() -> Change {
        Change {
            resource_type: "User".into(),
            resource_id: "u1".into(),
            resource_name: Some("ada@example.com".into()),
            kind: ChangeKind::Created,
            detail: None,
        }
    }

    /// A write that put its changes on the entry and then failed (at its COMMIT, say) is
    /// logged by the HTTP layer as the failure it was: nothing changed.
    #[test]
    fn a_failed_write_is_logged_without_its_changes() {
        let l = log();
        l.entry(201, None, vec![created()]);
        let e = l.finish(500, None, Some("the write connection failed".into()));
        assert_eq!((e.status, e.changes.len()), (500, 0));
        let l = log();
        l.entry(201, None, vec![created()]);
        assert_eq!(l.finish(201, None, None).changes, vec![created()]);
    }
}
