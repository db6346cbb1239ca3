//! Webhooks: every change event of an org, posted to the endpoints its admins registered,
//! signed per Standard Webhooks, at least once and in sequence order per endpoint.
//!
//! Each endpoint follows the change feed with a cursor of its own. A dispatcher (one per
//! instance) claims endpoints that have events past their cursor with a lease (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several instances never work on one
//! endpoint at once), posts the events one by one, and moves the cursor only after a 2xx:
//! a crash (even `kill -9`) between a delivery and the cursor's update means a redelivery,
//! never a loss. A failure holds the endpoint's later events back (order) and retries with
//! exponential backoff and jitter for about a day; then that event is given up on (and
//! recorded as such) and the next one goes. An endpoint that has not succeeded for
//! `disable_after` is disabled; the console and the dashboard say so.

pub mod client;

use crate::directory::feed::ChangeEvent;
use crate::directory::now_ms;
use crate::store::webhooks::{self as db, Attempt, Endpoint, Progress};
use crate::store::{feed, Store};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Allow private, loopback and link-local destinations (and plain http).
    pub allow_private: bool,
    /// The first retry's delay; each next one is 6 times longer, at most 8 hours.
    pub retry_initial: Duration,
    /// How long the retries of one event go on before it is given up on.
    pub give_up_after: Duration,
    /// An endpoint with no success for this long is disabled.
    pub disable_after: Duration,
    /// Per attempt.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private: false,
            retry_initial: Duration::from_secs(5),
            give_up_after: Duration::from_secs(24 * 3600),
            disable_after: Duration::from_secs(72 * 3600),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The delay before retry number `attempt` (1 = the first retry): `initial · 6^(n-1)`,
/// at most 8 hours, then ±20 % jitter so that endpoints failing together do not retry in
/// lockstep.
pub fn backoff(initial: Duration, attempt: u32) -> Duration {
    let base = initial.as_millis() as f64 * 6f64.powi(attempt.saturating_sub(1).min(12) as i32);
    let capped = base.min(8.0 * 3600.0 * 1000.0);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_millis((capped * jitter) as u64)
}

/// How long the retries of an event have gone on after `attempt` failures: the sum of the
/// delays without jitter.
fn retried_for(initial: Duration, attempt: u32) -> Duration {
    let mut total = 0f64;
    for n in 1..=attempt.min(40) {
        total += (initial.as_millis() as f64 * 6f64.powi((n - 1).min(12) as i32))
            .min(8.0 * 3600.0 * 1000.0);
    }
    Duration::from_millis(total as u64)
}

/// Endpoints one instance works on at once.
const CONCURRENT_ENDPOINTS: usize = 16;
/// Events fetched, delivered and then recorded (cursor, attempts) per round.
const BATCH: i64 = 200;
/// How long a claim on an endpoint lasts unless renewed: also how long an instance that
/// died (kill -9) holds its endpoints back from the others.
const LEASE: Duration = Duration::from_secs(15);

/// How long a wake-up waits for more commits before looking: bounds the dispatcher's work to
/// a couple of hundred looks a second however fast SCIM writes come.
const COALESCE: Duration = Duration::from_millis(5);

/// Runs the dispatcher until the task is aborted.
pub fn start(store: Store, config: WebhookConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let me = crate::directory::new_id();
        let client = client::http_client(config.allow_private, config.timeout);
        let mut changes = store.feed_changes();
        let running = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_ENDPOINTS));
        // Whether there is anything to deliver to (an enabled endpoint or a resend), looked
        // up on every periodic tick: an installation with no endpoints then pays nothing
        // per commit. A new endpoint's first events wait at most one tick.
        let mut endpoints = true;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if endpoints {
                if let Err(e) = round(&store, &config, &client, &me, &running).await {
                    tracing::warn!(error = %e, "webhook dispatch round failed");
                }
            }
            // New events wake it at once; retries and other instances' leases are found
            // by the periodic look.
            tokio::select! {
                _ = changes.changed(), if endpoints => {
                    // A burst of commits is one round, not one each.
                    tokio::time::sleep(COALESCE).await;
                }
                _ = tick.tick() => {
                    endpoints = match any_endpoint(&store).await {
                        Ok(any) => any,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook dispatcher cannot read endpoints");
                            true
                        }
                    };
                }
            }
        }
    })
}

/// The periodic look's interval.
const TICK: Duration = Duration::from_millis(500);

async fn any_endpoint(store: &Store) -> crate::store::Result<bool> {
    let mut c = store.read().await?;
    db::any_work(&mut c).await
}

async fn round(
    store: &Store,
    config: &WebhookConfig,
    client: &reqwest::Client,
    me: &str,
    running: &std::sync::Arc<tokio::sync::Semaphore>,
) -> crate::store::Result<()> {
    let due = {
        let mut c = store.read().await?;
        db::anything_due(&mut c, now_ms()).await?
    };
    if !due {
        return Ok(());
    }
    let free = running.available_permits() as i64;
    if free > 0 {
        let now = now_ms();
        let claimed = {
            let mut tx = store.begin_log().await?;
            let c = db::claim_due(&mut tx, me, now, now + LEASE.as_millis() as i64, free).await?;
            tx.commit().await?;
            c
        };
        for ep in claimed {
            let Ok(permit) = running.clone().acquire_owned().await else {
                break;
            };
            let (store, config, client, me) = (
                store.clone(),
                config.clone(),
                client.clone(),
                me.to_string(),
            );
            tokio::spawn(async move {
                let id = ep.id.clone();
                if let Err(e) = work(&store, &config, &client, &me, ep).await {
                    tracing::warn!(endpoint = %id, error = %e, "webhook delivery stopped");
                }
                drop(permit);
            });
        }
    }
    resends(store, config, client).await
}

/// Delivers `ep`'s events past its cursor until it is caught up or an attempt fails.
async fn work(
    store: &Store,
    config: &WebhookConfig,
    client: &reqwest::Client,
    me: &str,
    ep: Endpoint,
) -> crate::store::Result<()> {
    let secret = match crate::auth::sealing::open(&ep.secret) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(endpoint = %ep.id, error = %e, "cannot open a webhook signing secret");
            let mut tx = store.begin_log().await?;
            db::save_progress(
                &mut tx,
                &ep.id,
                me,
                &Progress {
                    cursor_seq: ep.cursor_seq,
                    attempt: ep.attempt,
                    next_attempt_at: now_ms() + 60_000,
                    failing_since: ep.failing_since,
                    last_success_at: ep.last_success_at,
                    disabled_reason: None,
                },
            )
            .await?;
            return tx.commit().await;
        }
    };
    let types = ep.types();
    let mut p = Progress {
        cursor_seq: ep.cursor_seq,
        attempt: ep.attempt,
        next_attempt_at: 0,
        failing_since: ep.failing_since,
        last_success_at: ep.last_success_at,
        disabled_reason: None,
    };
    loop {
        let events = {
            let mut c = store.read().await?;
            feed::list_after(&mut c, &ep.org_id, p.cursor_seq, &types, BATCH).await?
        };
        // Nothing delivered that a power cut could take back (see `Store::settled`).
        store.settled().await?;
        let mut attempts = Vec::new();
        let mut stop = events.is_empty();
        let mut lease_end = now_ms() + LEASE.as_millis() as i64;
        for e in &events {
            // An attempt may take the whole timeout: renew the lease (recording progress so
            // far) before one could outlast it.
            if lease_end - now_ms() < (config.timeout + Duration::from_secs(2)).as_millis() as i64 {
                let mut tx = store.begin_log().await?;
                db::insert_attempts(&mut tx, &attempts).await?;
                let kept =
                    db::checkpoint(&mut tx, &ep.id, me, &p, now_ms() + LEASE.as_millis() as i64)
                        .await?;
                tx.commit().await?;
                attempts.clear();
                if !kept {
                    return Ok(());
                }
                lease_end = now_ms() + LEASE.as_millis() as i64;
            }
            let body = serde_json::to_string(&e.to_wire()).unwrap_or_default();
            let out =
                client::deliver(client, &ep.url, &secret, config.allow_private, &e.id, &body).await;
            let now = now_ms();
            if out.delivered() {
                attempts.push(attempt(&ep, e, "delivered", &out));
                p.cursor_seq = e.seq;
                p.attempt = 0;
                p.failing_since = None;
                p.last_success_at = Some(now);
                continue;
            }
            p.attempt += 1;
            p.failing_since.get_or_insert(now);
            let n = p.attempt as u32;
            if retried_for(config.retry_initial, n) >= config.give_up_after {
                attempts.push(attempt(&ep, e, "gave_up", &out));
                tracing::warn!(endpoint = %ep.id, event = %e.id, "webhook retries ran out; event given up on");
                p.cursor_seq = e.seq;
                p.attempt = 0;
            } else {
                attempts.push(attempt(&ep, e, "retrying", &out));
                p.next_attempt_at = now + backoff(config.retry_initial, n).as_millis() as i64;
            }
            if p.failing_since
                .is_some_and(|f| now - f >= config.disable_after.as_millis() as i64)
            {
                p.disabled_reason = Some(format!(
                    "no successful delivery for {} hours",
                    config.disable_after.as_secs() / 3600
                ));
                tracing::warn!(endpoint = %ep.id, "webhook endpoint disabled after failing for too long");
            }
            stop = true;
            break;
        }
        let mut tx = store.begin_log().await?;
        db::insert_attempts(&mut tx, &attempts).await?;
        let kept = if stop {
            db::save_progress(&mut tx, &ep.id, me, &p).await?
        } else {
            // Mid-way: record the cursor and keep (extend) the lease.
            db::checkpoint(&mut tx, &ep.id, me, &p, now_ms() + LEASE.as_millis() as i64).await?
        };
        tx.commit().await?;
        if stop || !kept {
            return Ok(());
        }
    }
}

fn attempt(ep: &Endpoint, e: &ChangeEvent, outcome: &str, out: &client::Outcome) -> Attempt {
    Attempt::new(
        &ep.id,
        &e.id,
        e.seq,
        &e.event_type,
        outcome,
        out.status.map(i64::from),
        out.latency_ms,
        out.error.clone(),
        out.excerpt.clone(),
    )
}

/// Sends the resends admins asked for: once each, out of band (the cursor does not move),
/// recorded as `resent`.
async fn resends(
    store: &Store,
    config: &WebhookConfig,
    client: &reqwest::Client,
) -> crate::store::Result<()> {
    let now = now_ms();
    let claimed = {
        let mut tx = store.begin_log().await?;
        let c = db::claim_resends(&mut tx, now, now + LEASE.as_millis() as i64, 20).await?;
        tx.commit().await?;
        c
    };
    for (resend_id, endpoint_id, event_id) in claimed {
        let (ep, event) = {
            let mut c = store.read().await?;
            let ep: Option<Endpoint> = sqlx::query_as(
                "SELECT id, org_id, url, description, event_types, secret, secret_hint, created_by, created_at, disabled_at, disabled_reason, cursor_seq, attempt, next_attempt_at, failing_since, last_success_at FROM webhook_endpoints WHERE id = $1",
            )
            .bind(&endpoint_id)
            .fetch_optional(&mut *c)
            .await?;
            let event = match &ep {
                Some(ep) => feed::by_id(&mut c, &ep.org_id, &event_id).await?,
                None => None,
            };
            (ep, event)
        };
        let mut attempts = Vec::new();
        if let (Some(ep), Some(e)) = (ep, event) {
            if let Ok(secret) = crate::auth::sealing::open(&ep.secret) {
                let body = serde_json::to_string(&e.to_wire()).unwrap_or_default();
                let out =
                    client::deliver(client, &ep.url, &secret, config.allow_private, &e.id, &body)
                        .await;
                attempts.push(attempt(&ep, &e, "resent", &out));
            }
        }
        let mut tx = store.begin_log().await?;
        db::insert_attempts(&mut tx, &attempts).await?;
        db::finish_resend(&mut tx, &resend_id).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_run_for_about_a_day() {
        let initial = Duration::from_secs(5);
        let d1 = backoff(initial, 1).as_secs_f64();
        assert!((4.0..=6.0).contains(&d1), "{d1}");
        let d3 = backoff(initial, 3).as_secs_f64();
        assert!((144.0..=216.0).contains(&d3), "{d3}");
        assert!(backoff(initial, 30) <= Duration::from_secs(8 * 3600 * 12 / 10));
        // The schedule reaches a day after a handful of attempts, not hundreds.
        let n = (1..100)
            .find(|n| retried_for(initial, *n) >= Duration::from_secs(24 * 3600))
            .unwrap();
        assert!((6..=10).contains(&n), "{n} attempts");
    }
}
