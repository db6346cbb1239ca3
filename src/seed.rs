//! Synthetic directories for benchmarks and large-directory checks: N users, G groups, M
//! memberships and E provisioning-log events, written with multi-row inserts in large
//! transactions (tens of thousands of rows a second on SQLite).

use crate::directory::{new_id, now_ms, Org};
use crate::store::sql::Sql;
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, Default)]
pub struct SeedSize {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub events: u64,
}

#[derive(Debug, Default)]
pub struct Seeded {
    pub user_ids: Vec<String>,
    pub group_ids: Vec<String>,
}

const ROWS: usize = 400;
const PER_TX: usize = 20_000;

async fn insert_rows(
    store: &Store,
    head: &str,
    rows: usize,
    mut row: impl FnMut(usize, &mut Sql),
) -> Result<(), StoreError> {
    let mut done = 0;
    while done < rows {
        let mut tx = store.begin().await?;
        let tx_end = (done + PER_TX).min(rows);
        while done < tx_end {
            let end = (done + ROWS).min(tx_end);
            let mut q = Sql::new(head);
            for i in done..end {
                if i > done {
                    q.push(", ");
                }
                row(i, &mut q);
            }
            q.query_as::<(i64,)>()
                .fetch_optional(&mut *tx)
                .await
                .or_else(|e| match e {
                    sqlx::Error::RowNotFound => Ok(None),
                    e => Err(e),
                })?;
            done = end;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Seeds `org` with `size`; user names are `user{i}@{org}.example`.
pub async fn seed(store: &Store, org: &Org, size: SeedSize) -> Result<Seeded, StoreError> {
    let now = now_ms();
    let n = size.users as usize;
    let user_ids: Vec<String> = (0..n).map(|_| new_id()).collect();
    let login = org.login.clone();
    insert_rows(
        store,
        "INSERT INTO users (id, org_id, user_name, user_name_key, external_id, display_name, display_name_key, active, attributes, source, version, created_at, updated_at) VALUES ",
        n,
        |i, q| {
            let user_name = format!("user{i}@{login}.example");
            let active = i % 10 != 9;
            let attrs = serde_json::json!({
                "userName": user_name,
                "externalId": format!("ext-{i}"),
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "emails": [{"value": user_name, "type": "work", "primary": true}],
                "active": active,
            });
            q.push("(")
                .push_bind(user_ids[i].as_str())
                .push(", ")
                .push_bind(org.id.as_str())
                .push(", ")
                .push_bind(user_name.as_str())
                .push(", ")
                .push_bind(user_name.to_lowercase())
                .push(", ")
                .push_bind(format!("ext-{i}"))
                .push(", ")
                .push_bind(format!("User {i}"))
                .push(", ")
                .push_bind(format!("user {i}"))
                .push(", ")
                .push_bind(i64::from(active))
                .push(", ")
                .push_bind(attrs.to_string())
                .push(", ")
                .push_bind("scim:okta")
                .push(", ")
                .push_bind(1i64)
                .push(", ")
                .push_bind(now)
                .push(", ")
                .push_bind(now)
                .push(")");
        },
    )
    .await?;
    insert_rows(store, "INSERT INTO user_emails (user_id, org_id, position, value, value_key, type, type_key, is_primary) VALUES ", n, |i, q| {
        let v = format!("user{i}@{login}.example");
        q.push("(").push_bind(user_ids[i].as_str()).push(", ").push_bind(org.id.as_str()).push(", 0, ").push_bind(v.as_str()).push(", ").push_bind(v.to_lowercase()).push(", 'work', 'work', 1)");
    })
    .await?;
    // The people search's words, as the store indexes users it has not indexed yet.
    crate::store::search::backfill(store).await?;

    let g = size.groups as usize;
    let group_ids: Vec<String> = (0..g).map(|_| new_id()).collect();
    let per_group = if g == 0 || n == 0 {
        0
    } else {
        (size.memberships as usize / g).min(n)
    };
    insert_rows(
        store,
        "INSERT INTO groups (id, org_id, display_name, display_name_key, external_id, source, member_count, version, created_at, updated_at) VALUES ",
        g,
        |i, q| {
            let name = format!("Team {i}");
            q.push("(")
                .push_bind(group_ids[i].as_str())
                .push(", ")
                .push_bind(org.id.as_str())
                .push(", ")
                .push_bind(name.as_str())
                .push(", ")
                .push_bind(name.to_lowercase())
                .push(", ")
                .push_bind(format!("gext-{i}"))
                .push(", 'scim:okta', ")
                .push_bind(per_group as i64)
                .push(", 1, ")
                .push_bind(now)
                .push(", ")
                .push_bind(now)
                .push(")");
        },
    )
    .await?;
    // Group i holds users i*stride .. i*stride+per_group (mod n): distinct within a group.
    let stride = n.checked_div(g).unwrap_or(0).max(1);
    insert_rows(
        store,
        "INSERT INTO group_members (group_id, user_id, created_at) VALUES ",
        g * per_group,
        |k, q| {
            let (gi, j) = (k / per_group, k % per_group);
            let ui = (gi * stride + j) % n;
            q.push("(")
                .push_bind(group_ids[gi].as_str())
                .push(", ")
                .push_bind(user_ids[ui].as_str())
                .push(", ")
                .push_bind(now)
                .push(")");
        },
    )
    .await?;

    let e = size.events as usize;
    let span = 30 * 86_400_000i64;
    insert_rows(
        store,
        "INSERT INTO events (id, org_id, occurred_at, token_id, token_label, method, path, query, client, status, scim_type, duration_us, request_body, response_summary) VALUES ",
        e,
        |i, q| {
            // Oldest first, so UUIDv7 ids and times agree.
            let at = now - span + (span / e.max(1) as i64) * i as i64;
            let (method, status, st) = match i % 10 {
                0..=5 => ("GET", 200i64, None),
                6 | 7 => ("PATCH", 200, None),
                8 => ("POST", 201, None),
                _ => ("GET", 400, Some("invalidFilter")),
            };
            q.push("(")
                .push_bind(new_id())
                .push(", ")
                .push_bind(org.id.as_str())
                .push(", ")
                .push_bind(at)
                .push(", NULL, 'Okta (seed)', ")
                .push_bind(method)
                .push(", ")
                .push_bind(format!("/scim/v2/{login}/Users"))
                .push(", NULL, 'okta', ")
                .push_bind(status)
                .push(", ");
            match st {
                Some(s) => q.push_bind(s),
                None => q.push("NULL"),
            };
            q.push(", 900, NULL, NULL)");
        },
    )
    .await?;
    if store.backend() == crate::store::Backend::Postgres {
        // As after any bulk load: without statistics the planner guesses a few hundred
        // rows and sorts whole tables where an index would do (paging at 20,000 users was
        // 27 ms a page instead of 5), and without a vacuum no scan is index-only. On a live
        // directory autovacuum has long done both.
        let mut c = store.read().await?;
        sqlx::query("VACUUM ANALYZE").execute(&mut *c).await?;
    }
    Ok(Seeded {
        user_ids,
        group_ids,
    })
}
