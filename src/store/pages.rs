//! `startIndex` paging without walking from the first row every time.
//!
//! SCIM pages by position (`startIndex`, `count`); SQL's OFFSET walks and discards every
//! row before the position, so a client importing 100,000 users pays for 5,000,000 rows
//! over the whole walk, and every page also counted all matches again. This remembers, per
//! listing (org, resource type, filter, direction; default order only), the id each served
//! page ended on and the number of matches. The next page resumes after that id and the
//! count is reused.
//!
//! The answer is exactly what OFFSET would give: what is remembered is tagged with a write
//! generation and used only while the generation is unchanged.
//! - SQLite: the store's generation, bumped by every directory write this process commits
//!   (it sees every write: one file, one server).
//! - PostgreSQL, where other instances write too: the org's change-event counter, which
//!   every write that adds, removes or changes a user or group moves forward in its own
//!   transaction. The page is read in one REPEATABLE READ snapshot with the counter, so an
//!   unchanged counter proves that no write committed between the page that was remembered
//!   and this one, on any instance. Only listings of everything qualify: a filter may test
//!   `meta.lastModified`, which a write that changes nothing else can move without an event.

use super::{groups, users, Backend, Conn, Result, Store};
use crate::directory::query::{Cond, ListQuery, Op, SortKey, Target, Val};
use crate::directory::{Group, User};
use sqlx::{AnyConnection, Connection};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Listings remembered at once, and positions per listing.
const MAX_LISTINGS: usize = 256;
const MAX_POSITIONS: usize = 20_000;

#[derive(Debug, Default)]
pub struct PageCursors {
    generation: Arc<AtomicU64>,
    listings: Mutex<HashMap<String, Listing>>,
    /// One COUNT at a time per listing: an importer's first concurrent pages would
    /// otherwise each count every match.
    counting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug)]
struct Listing {
    generation: u64,
    total: Option<i64>,
    /// offset → id of the row just before it.
    positions: BTreeMap<u64, String>,
    last_used: std::time::Instant,
}

/// How to fetch one page, and what is already known about the listing.
#[derive(Debug)]
pub struct PagePlan {
    key: Option<String>,
    generation: u64,
    offset: u64,
    limit: u64,
    /// The query to run: the caller's, or one resuming after a remembered id.
    pub query: ListQuery,
    known_total: Option<i64>,
}

impl PagePlan {
    /// The number of matches, if the page just fetched (`got` rows) or memory tells it.
    pub fn total(&self, got: usize) -> Option<i64> {
        let g = got as u64;
        // A keyset page (`after`) does not tell how many rows came before it.
        if self.query.after.is_none() && g < self.limit && (g > 0 || self.offset == 0) {
            return Some((self.offset + g) as i64);
        }
        self.known_total
    }
}

impl PageCursors {
    /// Shared with the write path, which bumps it after each directory commit.
    pub(crate) fn generation_counter(&self) -> Arc<AtomicU64> {
        self.generation.clone()
    }

    /// Plans the page `q` of the listing of `kind` in `org_id`, at this process's write
    /// generation (SQLite) or with remembering off.
    pub fn plan(&self, enabled: bool, org_id: &str, kind: &str, q: &ListQuery) -> PagePlan {
        // Read before the query runs: a write committed meanwhile makes what this page
        // records stale at once.
        let generation = enabled.then(|| self.generation.load(Ordering::Acquire));
        self.plan_at(generation, org_id, kind, q)
    }

    /// Plans the page `q` with what was remembered at `generation` (None: remembering off).
    pub fn plan_at(
        &self,
        generation: Option<u64>,
        org_id: &str,
        kind: &str,
        q: &ListQuery,
    ) -> PagePlan {
        let mut plan = PagePlan {
            key: None,
            generation: 0,
            offset: q.offset,
            limit: q.limit,
            query: q.clone(),
            known_total: None,
        };
        let Some(generation) = generation else {
            return plan;
        };
        if q.sort != SortKey::Id || q.limit == 0 || q.after.is_some() {
            return plan;
        }
        plan.generation = generation;
        let key = format!("{org_id}\u{1}{kind}\u{1}{}\u{1}{:?}", q.descending, q.cond);
        let mut listings = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = listings
            .get_mut(&key)
            .filter(|l| l.generation == plan.generation)
        {
            l.last_used = std::time::Instant::now();
            plan.known_total = l.total;
            let nearest = (q.offset > 0)
                .then(|| l.positions.range(1..=q.offset).next_back())
                .flatten();
            if let Some((&at, after)) = nearest {
                let op = if q.descending { Op::Lt } else { Op::Gt };
                plan.query.cond = Cond::And(
                    Box::new(q.cond.clone()),
                    Box::new(Cond::Test(Target::Id, op, Val::Str(after.clone()))),
                );
                plan.query.offset = q.offset - at;
            }
        }
        plan.key = Some(key);
        plan
    }

    /// The number of matches, counted by `count` unless a concurrent request of the same
    /// listing has just counted them.
    pub async fn total_or_count<F>(
        &self,
        plan: &PagePlan,
        got: usize,
        count: F,
    ) -> super::Result<i64>
    where
        F: std::future::Future<Output = super::Result<i64>>,
    {
        if let Some(t) = plan.total(got) {
            return Ok(t);
        }
        let Some(key) = &plan.key else {
            return count.await;
        };
        let lock = {
            let mut c = self.counting.lock().unwrap_or_else(|p| p.into_inner());
            if c.len() > MAX_LISTINGS {
                c.retain(|_, l| Arc::strong_count(l) > 1);
            }
            c.entry(key.clone()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        let known = self
            .listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|l| l.generation == plan.generation)
            .and_then(|l| l.total);
        if let Some(t) = known {
            return Ok(t);
        }
        let total = count.await?;
        self.record(plan, 0, None, total);
        Ok(total)
    }

    /// Remembers where the page ended (`last_id`, after `got` rows) and the total.
    pub fn record(&self, plan: &PagePlan, got: usize, last_id: Option<&str>, total: i64) {
        let Some(key) = &plan.key else { return };
        if got > 0 && plan.offset == 0 && (got as u64) < plan.limit {
            // The whole listing fit in one page (a `userName eq` lookup): nothing to resume,
            // and remembering every lookup would only churn the table.
            return;
        }
        let mut listings = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        if listings.len() >= MAX_LISTINGS && !listings.contains_key(key) {
            if let Some(oldest) = listings
                .iter()
                .min_by_key(|(_, l)| l.last_used)
                .map(|(k, _)| k.clone())
            {
                listings.remove(&oldest);
            }
        }
        let l = listings.entry(key.clone()).or_insert_with(|| Listing {
            generation: plan.generation,
            total: None,
            positions: BTreeMap::new(),
            last_used: std::time::Instant::now(),
        });
        if l.generation != plan.generation {
            if l.generation > plan.generation {
                return; // a newer page already replaced it
            }
            l.generation = plan.generation;
            l.positions.clear();
        }
        l.total = Some(total);
        l.last_used = std::time::Instant::now();
        if let (Some(id), true) = (last_id, got > 0) {
            if l.positions.len() >= MAX_POSITIONS {
                l.positions.clear();
            }
            l.positions.insert(plan.offset + got as u64, id.to_string());
        }
    }
}

impl Store {
    /// One page of the org's users matching `q`, and the number of matches (counted only
    /// when the page does not tell it), resuming where an earlier page ended when this
    /// store remembers it.
    pub async fn page_users(&self, org_id: &str, q: &ListQuery) -> Result<(i64, Vec<User>)> {
        if let Some(found) = self.point_lookup(org_id, q) {
            let page: Vec<User> = found.into_iter().collect();
            return Ok((page.len() as i64, page));
        }
        // A search's words are planned once here, for the page and its count (on a
        // connection of their own: `page` takes one for the snapshot it reads in).
        let planned = if super::search::needs_plan(self.backend, &q.cond) {
            let mut c = self.read().await?;
            super::search::plan(&mut c, &q.cond)
                .await?
                .map(|cond| ListQuery { cond, ..q.clone() })
        } else {
            None
        };
        let q = planned.as_ref().unwrap_or(q);
        let (total, rows, _) = self
            .page(
                org_id,
                "User",
                q,
                async |c, q| users::page_users(c, org_id, q).await,
                async |c, cond| users::count_matching_users(c, org_id, cond).await,
                |u| u.id.as_str(),
            )
            .await?;
        Ok((total, rows))
    }

    /// [`Store::page_users`] for groups; also hands back the connection, for reading the
    /// page's members.
    pub async fn page_groups(
        &self,
        org_id: &str,
        q: &ListQuery,
    ) -> Result<(i64, Vec<Group>, Conn)> {
        self.page(
            org_id,
            "Group",
            q,
            async |c, q| groups::page_groups(c, org_id, q).await,
            async |c, cond| groups::count_matching_groups(c, org_id, cond).await,
            |g| g.id.as_str(),
        )
        .await
    }

    /// A first page of `userName eq "…"` or `id eq "…"` (what identity providers send
    /// before every create, and for every import) is at most one user, read through a
    /// unique index (see [`super::point_reads`]). `None`: not such a query, or read it
    /// through sqlx.
    fn point_lookup(&self, org_id: &str, q: &ListQuery) -> Option<Option<User>> {
        let point = self.point.as_ref()?;
        if q.offset != 0 || q.limit == 0 || q.after.is_some() {
            return None;
        }
        match &q.cond {
            Cond::Test(Target::UserName, Op::Eq, Val::Str(v)) => point.user(
                org_id,
                super::point_reads::UserKey::UserNameKey,
                &super::fold::fold(v),
            ),
            Cond::Test(Target::Id, Op::Eq, Val::Str(v)) => {
                point.user(org_id, super::point_reads::UserKey::Id, v)
            }
            _ => None,
        }
    }

    async fn page<T>(
        &self,
        org_id: &str,
        kind: &str,
        q: &ListQuery,
        page: impl AsyncFnOnce(&mut AnyConnection, &ListQuery) -> Result<Vec<T>>,
        count: impl AsyncFnOnce(&mut AnyConnection, &Cond) -> Result<i64>,
        id: impl Fn(&T) -> &str,
    ) -> Result<(i64, Vec<T>, Conn)> {
        let mut c = self.read().await?;
        if self.backend == Backend::Sqlite || !remembered_on_postgres(q) {
            let plan = self
                .cursors
                .plan(self.backend == Backend::Sqlite, org_id, kind, q);
            let (total, rows) = self.fetch(&mut c, &plan, q, page, count, id).await?;
            return Ok((total, rows, c));
        }
        // One snapshot for the counter, the page and the count (see the module's comment).
        // Dropped midway (a client hung up), sqlx rolls the transaction back before the
        // connection's next statement.
        let mut tx = c
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let seq = super::feed::last_seq(&mut tx, org_id).await?;
        let generation = u64::try_from(seq).unwrap_or(0);
        let plan = self.cursors.plan_at(Some(generation), org_id, kind, q);
        let (total, rows) = self.fetch(&mut tx, &plan, q, page, count, id).await?;
        tx.commit().await?;
        Ok((total, rows, c))
    }

    async fn fetch<T>(
        &self,
        c: &mut AnyConnection,
        plan: &PagePlan,
        q: &ListQuery,
        page: impl AsyncFnOnce(&mut AnyConnection, &ListQuery) -> Result<Vec<T>>,
        count: impl AsyncFnOnce(&mut AnyConnection, &Cond) -> Result<i64>,
        id: impl Fn(&T) -> &str,
    ) -> Result<(i64, Vec<T>)> {
        let rows = if q.limit == 0 {
            Vec::new()
        } else {
            page(&mut *c, &plan.query).await?
        };
        let total = self
            .cursors
            .total_or_count(plan, rows.len(), count(c, &q.cond))
            .await?;
        self.cursors
            .record(plan, rows.len(), rows.last().map(&id), total);
        Ok((total, rows))
    }
}

/// Whether a listing's pages are remembered on PostgreSQL (see the module's comment).
fn remembered_on_postgres(q: &ListQuery) -> bool {
    q.cond == Cond::All && q.sort == SortKey::Id && q.limit > 0 && q.after.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(offset: u64) -> ListQuery {
        ListQuery {
            offset,
            limit: 100,
            ..ListQuery::default()
        }
    }

    #[test]
    fn resumes_after_the_nearest_remembered_page_until_a_write() {
        let c = PageCursors::default();
        let p = c.plan(true, "o", "User", &q(0));
        assert_eq!(p.query, q(0));
        c.record(&p, 100, Some("id-100"), 250);
        assert_eq!(
            c.plan(true, "o", "User", &q(0)).query,
            q(0),
            "the first page again"
        );
        let p = c.plan(true, "o", "User", &q(150));
        assert_eq!(
            p.query.offset, 50,
            "resumes 50 rows after the remembered position 100"
        );
        assert!(matches!(&p.query.cond, Cond::And(_, b)
            if **b == Cond::Test(Target::Id, Op::Gt, Val::Str("id-100".into()))));
        assert_eq!(p.total(100), Some(250), "full page: the remembered total");
        assert_eq!(p.total(40), Some(190), "short page: the page tells");
        // Another listing (filter, direction, org, kind) shares nothing.
        assert_eq!(c.plan(true, "o", "Group", &q(150)).query.offset, 150);
        assert_eq!(c.plan(true, "p", "User", &q(150)).query.offset, 150);
        // A committed write makes everything remembered stale.
        c.generation_counter().fetch_add(1, Ordering::Release);
        let p = c.plan(true, "o", "User", &q(150));
        assert_eq!((p.query.offset, p.total(100)), (150, None));
        // Off (PostgreSQL) or another order: plain OFFSET.
        assert_eq!(c.plan(false, "o", "User", &q(150)).query.offset, 150);
        let sorted = ListQuery {
            sort: SortKey::UserName,
            ..q(150)
        };
        assert_eq!(c.plan(true, "o", "User", &sorted).query, sorted);
    }

    #[tokio::test]
    async fn concurrent_first_pages_count_once() {
        let c = Arc::new(PageCursors::default());
        let counted = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..8u64 {
            let (c, counted) = (c.clone(), counted.clone());
            tasks.push(tokio::spawn(async move {
                let p = c.plan(true, "o", "User", &q(i * 100));
                c.total_or_count(&p, 100, async {
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Ok(5000)
                })
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 5000);
        }
        assert_eq!(counted.load(Ordering::SeqCst), 1);
        // Off: every request counts for itself.
        let p = c.plan(false, "o", "User", &q(100));
        let n = c.total_or_count(&p, 100, async { Ok(7) }).await.unwrap();
        assert_eq!(n, 7);
    }
}
