//! Micro-benchmarks of the pure protocol code: filter parsing, filter → SQL translation and
//! the PATCH engine. `cargo bench --bench scim`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scimgate::provisioning::filter::to_cond;
use scimgate::provisioning::schemas::REGISTRY;
use scimgate::scim::filter::parse_filter;
use scimgate::scim::patch::{apply_patch, group_changes, parse_patch_request};
use scimgate::scim::resource::canonicalize;
use scimgate::scim::schema::ResourceKind;
use scimgate::store::query_sql::{push_where, Table};
use scimgate::store::sql::Sql;
use scimgate::store::Backend;
use serde_json::json;

const FILTERS: [&str; 4] = [
    r#"userName eq "bjensen@example.com""#,
    r#"emails[type eq "work" and value co "@example.com"] or userName sw "b""#,
    r#"(name.givenName sw "Ba" and not (title pr)) or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D""#,
    r#"meta.lastModified gt "2026-01-01T00:00:00Z" and active eq true"#,
];

fn filters(c: &mut Criterion) {
    for (i, f) in FILTERS.iter().enumerate() {
        c.bench_function(&format!("filter parse #{i}"), |b| {
            b.iter(|| parse_filter(black_box(f)).unwrap())
        });
    }
    for (i, f) in FILTERS.iter().enumerate() {
        let parsed = parse_filter(f).unwrap();
        c.bench_function(&format!("filter to SQL #{i} (sqlite)"), |b| {
            b.iter(|| {
                let cond = to_cond(ResourceKind::User, black_box(&parsed)).unwrap();
                let mut sql = Sql::new("SELECT id FROM users u WHERE ");
                push_where(&mut sql, Backend::Sqlite, Table::Users, &cond);
                black_box(sql)
            })
        });
    }
    let parsed = parse_filter(FILTERS[1]).unwrap();
    c.bench_function("filter to SQL #1 (postgres)", |b| {
        b.iter(|| {
            let cond = to_cond(ResourceKind::User, black_box(&parsed)).unwrap();
            let mut sql = Sql::new("SELECT id FROM users u WHERE ");
            push_where(&mut sql, Backend::Postgres, Table::Users, &cond);
            black_box(sql)
        })
    });
}

fn patches(c: &mut Criterion) {
    let user = canonicalize(
        &REGISTRY,
        ResourceKind::User,
        &json!({
            "userName": "bjensen@example.com", "active": true, "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@home.example", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "m1"}}
        }),
    )
    .unwrap();
    let entra = parse_patch_request(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m2"},
        {"op": "Replace", "path": "active", "value": "False"}
    ]}))
    .unwrap();
    c.bench_function("patch user (Entra, 4 ops)", |b| {
        b.iter(|| {
            let mut u = user.clone();
            apply_patch(&REGISTRY, ResourceKind::User, &mut u, black_box(&entra)).unwrap();
            black_box(u)
        })
    });
    let deactivate = parse_patch_request(
        &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .unwrap();
    c.bench_function("patch user (Okta deactivate)", |b| {
        b.iter(|| {
            let mut u = user.clone();
            apply_patch(
                &REGISTRY,
                ResourceKind::User,
                &mut u,
                black_box(&deactivate),
            )
            .unwrap();
            black_box(u)
        })
    });
    let members: Vec<serde_json::Value> = (0..100)
        .map(|i| json!({"value": format!("user-{i}")}))
        .collect();
    let group_ops = parse_patch_request(&json!({"Operations": [
        {"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"},
        {"op": "add", "path": "members", "value": members}
    ]}))
    .unwrap();
    c.bench_function("patch group (remove 2 + add 100)", |b| {
        b.iter(|| black_box(group_changes("g1", black_box(&group_ops)).unwrap()))
    });
}

criterion_group!(benches, filters, patches);
criterion_main!(benches);
