//! The console's server functions driven over HTTP only (server-function paths and form
//! bodies), on every backend: who may call them, teams and users an identity provider
//! manages, isolation between orgs, secrets shown once and never cached, the audit trail,
//! and token regeneration.
//!
//! Results are read back through the console's own answers (and SCIM), so these tests keep
//! their meaning whatever the console's server side looks like inside.

mod common;

use axum::http::header;
use common::console::{backend_name, form, post_form, sign_in, Resp};
use common::{backends, Backend, TestApp};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{
    AddTeamMember, AdminsPage, ConnectInfo, CreateConsoleUser, CreateTeam, CreateToken, Dashboard,
    DeleteTeam, EventDetail, InviteAdmin, ListTeams, ListTokens, ListUsers, ProvisioningLog,
    RegenerateToken, RemoveAdmin, RemoveTeamMember, RenameTeam, RevokeToken, TeamDetail,
    UpdateConsoleUser, UpdateSettings, UserDetail,
};
use serde_json::{json, Value};

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";
const OPS2: &str = "ops2@acme.test";
const BETA_OPS: &str = "b@beta.test";
const BETA_OPS2: &str = "b2@beta.test";
const OKTA_UA: &str = "Okta SCIM Client 1.0.0";

/// The router of one test on one backend; every assertion message names the backend.
struct World {
    app: TestApp,
    be: &'static str,
    /// Session cookie of ops@acme.test (an admin of acme).
    ops: String,
    /// Session cookie of b@beta.test (an admin of beta only).
    beta: String,
}

impl World {
    /// acme with two admins, beta with two admins; ops@acme.test and b@beta.test signed in.
    async fn new(b: &Backend) -> World {
        let be = backend_name(b);
        let app = TestApp::new(b).await;
        let store = &app.db.store;
        scimgate::management::create_org(store, "beta", Some("Beta"))
            .await
            .unwrap();
        for (org, email) in [
            ("acme", OPS),
            ("acme", OPS2),
            ("beta", BETA_OPS),
            ("beta", BETA_OPS2),
        ] {
            scimgate::management::create_admin(store, org, email, PW.into())
                .await
                .unwrap_or_else(|e| panic!("[{be}] create admin {email}: {e}"));
        }
        let mut w = World {
            app,
            be,
            ops: String::new(),
            beta: String::new(),
        };
        w.ops = w.sign_in(OPS).await;
        w.beta = w.sign_in(BETA_OPS).await;
        w
    }

    async fn call(&self, path: &str, body: String, cookie: Option<&str>) -> Resp {
        post_form(&self.app, path, body, cookie).await
    }

    /// Calls and asserts the status; `what` says which call in a failure.
    async fn expect(
        &self,
        path: &str,
        body: String,
        cookie: Option<&str>,
        want: u16,
        what: &str,
    ) -> Resp {
        let r = self.call(path, body, cookie).await;
        assert_eq!(
            r.status, want,
            "[{}] {what}: expected HTTP {want}, got {}: {}",
            self.be, r.status, r.body
        );
        r
    }

    /// A call that must succeed; its JSON answer.
    async fn ok(&self, path: &str, body: String, cookie: &str, what: &str) -> Value {
        let r = self.expect(path, body, Some(cookie), 200, what).await;
        self.json(&r, what)
    }

    fn json(&self, r: &Resp, what: &str) -> Value {
        serde_json::from_str(&r.body).unwrap_or_else(|e| {
            panic!("[{}] {what}: answer is not JSON ({e}): {}", self.be, r.body)
        })
    }

    async fn sign_in(&self, email: &str) -> String {
        sign_in(&self.app, self.be, email, PW).await
    }

    /// The org's audit trail as admins_page shows it, newest first.
    async fn audit(&self, org: &str, cookie: &str) -> Vec<Value> {
        let page = self
            .ok(
                AdminsPage::PATH,
                form(&[("org", org)]),
                cookie,
                &format!("admins_page of {org}"),
            )
            .await;
        page["audit"]
            .as_array()
            .unwrap_or_else(|| panic!("[{}] admins_page has no audit list: {page}", self.be))
            .clone()
    }

    /// A SCIM request to acme as Okta would make it.
    async fn scim(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, v) = self
            .app
            .request(
                method,
                &format!("/scim/v2/acme{path}"),
                Some(token),
                body,
                &[("user-agent", OKTA_UA)],
            )
            .await;
        (s.as_u16(), v)
    }

    /// Asserts that `token` is (or is not) accepted by SCIM.
    async fn assert_token_works(&self, token: &str, works: bool, what: &str) {
        let (s, body) = self.scim("GET", "/Users?count=1", token, None).await;
        let want = if works { 200 } else { 401 };
        assert_eq!(s, want, "[{}] {what}: SCIM answered {s}: {body}", self.be);
    }
}

/// Things acme holds, each made over SCIM or the console.
struct Acme {
    /// The id of the TestApp's SCIM token (made with management::create_token).
    token_id: String,
    /// A user and a team pushed over SCIM (managed by Okta); the user is a member.
    alice_id: String,
    scim_team_id: String,
    /// A user and a team made in the console; the user is a member.
    carol_id: String,
    team_id: String,
    /// A provisioning-log event.
    event_id: String,
    /// The second admin's id.
    ops2_id: String,
}

async fn acme_objects(w: &World) -> Acme {
    let be = w.be;
    let (s, alice) = w
        .scim(
            "POST",
            "/Users",
            &w.app.token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alice@acme.test",
                "displayName": "Alice",
                "emails": [{"value": "alice@acme.test", "type": "work", "primary": true}],
                "active": true
            })),
        )
        .await;
    assert_eq!(s, 201, "[{be}] SCIM user: {alice}");
    let alice_id = alice["id"].as_str().unwrap().to_string();
    let (s, team) = w
        .scim(
            "POST",
            "/Groups",
            &w.app.token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": alice_id}]
            })),
        )
        .await;
    assert_eq!(s, 201, "[{be}] SCIM group: {team}");
    let scim_team_id = team["id"].as_str().unwrap().to_string();

    let carol_id = w
        .ok(
            CreateConsoleUser::PATH,
            form(&[
                ("org", "acme"),
                ("user_name", "carol"),
                ("display_name", "Carol"),
                ("email", "carol@acme.test"),
            ]),
            &w.ops,
            "create_console_user carol",
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("[{be}] create_console_user answers the new id"))
        .to_string();
    let team_id = w
        .ok(
            CreateTeam::PATH,
            form(&[("org", "acme"), ("name", "Console Team")]),
            &w.ops,
            "create_team",
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("[{be}] create_team answers the new id"))
        .to_string();
    w.ok(
        AddTeamMember::PATH,
        form(&[("org", "acme"), ("id", &team_id), ("user_name", "carol")]),
        &w.ops,
        "add carol to the console team",
    )
    .await;

    let tokens = w
        .ok(
            ListTokens::PATH,
            form(&[("org", "acme")]),
            &w.ops,
            "list_tokens",
        )
        .await;
    let token_id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == "test")
        .unwrap_or_else(|| panic!("[{be}] the TestApp token is listed: {tokens}"))["id"]
        .as_str()
        .unwrap()
        .to_string();

    w.app.flush_log().await;
    let log = w
        .ok(
            ProvisioningLog::PATH,
            form(&[("org", "acme")]),
            &w.ops,
            "provisioning_log",
        )
        .await;
    let event_id = log["events"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("[{be}] the SCIM requests are in the log: {log}"))
        .to_string();

    let page = w
        .ok(
            AdminsPage::PATH,
            form(&[("org", "acme")]),
            &w.ops,
            "admins_page",
        )
        .await;
    let ops2_id = page["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == OPS2)
        .unwrap_or_else(|| panic!("[{be}] ops2 is listed: {page}"))["id"]
        .as_str()
        .unwrap()
        .to_string();

    Acme {
        token_id,
        alice_id,
        scim_team_id,
        carol_id,
        team_id,
        event_id,
        ops2_id,
    }
}

/// Everything the console shows of both orgs (read with each org's own admin), to compare
/// before and after calls that must change nothing. Makes no SCIM request.
async fn snapshot(w: &World, a: &Acme) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    // (what, server function, the `id` argument if any)
    let reads = [
        ("connect_info", ConnectInfo::PATH, None),
        ("list_tokens", ListTokens::PATH, None),
        ("list_users", ListUsers::PATH, None),
        ("user_detail alice", UserDetail::PATH, Some(&a.alice_id)),
        ("user_detail carol", UserDetail::PATH, Some(&a.carol_id)),
        ("list_teams", ListTeams::PATH, None),
        (
            "team_detail console team",
            TeamDetail::PATH,
            Some(&a.team_id),
        ),
        (
            "team_detail SCIM team",
            TeamDetail::PATH,
            Some(&a.scim_team_id),
        ),
        ("admins_page", AdminsPage::PATH, None),
    ];
    for (what, path, id) in reads {
        let mut fields = vec![("org", "acme")];
        if let Some(id) = id {
            fields.push(("id", id.as_str()));
        }
        let v = w.ok(path, form(&fields), &w.ops, what).await;
        out.push((format!("acme {what}"), v));
    }
    for (what, path) in [
        ("connect_info", ConnectInfo::PATH),
        ("list_tokens", ListTokens::PATH),
        ("list_users", ListUsers::PATH),
        ("list_teams", ListTeams::PATH),
        ("admins_page", AdminsPage::PATH),
    ] {
        let v = w.ok(path, form(&[("org", "beta")]), &w.beta, what).await;
        out.push((format!("beta {what}"), v));
    }
    out
}

fn assert_unchanged(be: &str, before: &[(String, Value)], after: &[(String, Value)], why: &str) {
    for ((what, b), (_, a)) in before.iter().zip(after) {
        assert_eq!(b, a, "[{be}] {what} changed after {why}");
    }
}

/// Every org-scoped server function, with arguments naming real things of acme, in an order
/// in which acme's own admin can make them all succeed.
fn org_scoped_calls(a: &Acme) -> Vec<(&'static str, &'static str, String)> {
    let acme = |rest: &[(&str, &str)]| {
        let mut f = vec![("org", "acme")];
        f.extend_from_slice(rest);
        form(&f)
    };
    vec![
        ("dashboard", Dashboard::PATH, acme(&[])),
        ("connect_info", ConnectInfo::PATH, acme(&[])),
        (
            "update_settings",
            UpdateSettings::PATH,
            acme(&[
                ("unique_identifier", "email"),
                ("user_name_immutable", "on"),
                ("allowed_roles", "admin, member"),
            ]),
        ),
        ("list_tokens", ListTokens::PATH, acme(&[])),
        (
            "create_token",
            CreateToken::PATH,
            acme(&[("label", "probe")]),
        ),
        (
            "regenerate_token",
            RegenerateToken::PATH,
            acme(&[("token_id", &a.token_id)]),
        ),
        (
            "revoke_token",
            RevokeToken::PATH,
            acme(&[("token_id", &a.token_id)]),
        ),
        ("list_users", ListUsers::PATH, acme(&[])),
        (
            "user_detail",
            UserDetail::PATH,
            acme(&[("id", &a.carol_id)]),
        ),
        (
            "create_console_user",
            CreateConsoleUser::PATH,
            acme(&[("user_name", "probe"), ("display_name", ""), ("email", "")]),
        ),
        (
            "update_console_user",
            UpdateConsoleUser::PATH,
            acme(&[("id", &a.carol_id), ("display_name", "Changed")]),
        ),
        ("list_teams", ListTeams::PATH, acme(&[])),
        ("team_detail", TeamDetail::PATH, acme(&[("id", &a.team_id)])),
        ("create_team", CreateTeam::PATH, acme(&[("name", "Probe")])),
        (
            "rename_team",
            RenameTeam::PATH,
            acme(&[("id", &a.team_id), ("name", "Renamed")]),
        ),
        (
            "add_team_member",
            AddTeamMember::PATH,
            acme(&[("id", &a.team_id), ("user_name", "alice@acme.test")]),
        ),
        (
            "remove_team_member",
            RemoveTeamMember::PATH,
            acme(&[("id", &a.team_id), ("user_id", &a.carol_id)]),
        ),
        ("delete_team", DeleteTeam::PATH, acme(&[("id", &a.team_id)])),
        ("provisioning_log", ProvisioningLog::PATH, acme(&[])),
        (
            "event_detail",
            EventDetail::PATH,
            acme(&[("id", &a.event_id)]),
        ),
        ("admins_page", AdminsPage::PATH, acme(&[])),
        (
            "invite_admin",
            InviteAdmin::PATH,
            acme(&[("email", "probe@else.test")]),
        ),
        (
            "remove_admin",
            RemoveAdmin::PATH,
            acme(&[("admin_id", &a.ops2_id)]),
        ),
    ]
}

#[tokio::test]
async fn org_scoped_functions_need_a_session_and_membership() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        let table = org_scoped_calls(&a);
        assert_eq!(table.len(), 23, "[{be}] every org-scoped server function");
        w.app.flush_log().await;
        let before = snapshot(&w, &a).await;

        for (name, path, body) in &table {
            w.expect(
                path,
                body.clone(),
                None,
                401,
                &format!("{name} without a session"),
            )
            .await;
            w.expect(
                path,
                body.clone(),
                Some("scimgate_session=forged"),
                401,
                &format!("{name} with a forged session cookie"),
            )
            .await;
            // 404, not 403: the answer must not tell that the org exists.
            w.expect(
                path,
                body.clone(),
                Some(&w.beta),
                404,
                &format!("{name} by beta's admin on acme"),
            )
            .await;
        }
        // An org that exists and one that does not answer alike.
        let acme = w
            .expect(
                Dashboard::PATH,
                form(&[("org", "acme")]),
                Some(&w.beta),
                404,
                "dashboard of acme by beta's admin",
            )
            .await;
        let none = w
            .expect(
                Dashboard::PATH,
                form(&[("org", "nosuchorg")]),
                Some(&w.beta),
                404,
                "dashboard of an unknown org",
            )
            .await;
        assert_eq!(
            acme.body, none.body,
            "[{be}] existing and unknown org answer alike"
        );

        let after = snapshot(&w, &a).await;
        assert_unchanged(be, &before, &after, "refused calls");
        w.assert_token_works(
            &w.app.token,
            true,
            "acme's token after refused regenerate/revoke",
        )
        .await;

        // The same bodies from acme's own admin succeed: the refusals above were about the
        // caller, not about malformed arguments.
        for (name, path, body) in &table {
            w.expect(
                path,
                body.clone(),
                Some(&w.ops),
                200,
                &format!("{name} by acme's admin"),
            )
            .await;
        }
        w.app.finish().await;
    }
}

#[tokio::test]
async fn teams_and_users_pushed_over_scim_are_read_only_in_the_console() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        let acme = |rest: &[(&str, &str)]| {
            let mut f = vec![("org", "acme")];
            f.extend_from_slice(rest);
            form(&f)
        };
        w.app.flush_log().await;
        let team = w
            .ok(
                TeamDetail::PATH,
                acme(&[("id", &a.scim_team_id)]),
                &w.ops,
                "team_detail SCIM team",
            )
            .await;
        assert!(
            team["team"]["managed_by"].is_string(),
            "[{be}] a SCIM team shows who manages it: {team}"
        );
        let before = snapshot(&w, &a).await;

        let refused = [
            (
                "rename the SCIM team",
                RenameTeam::PATH,
                acme(&[("id", &a.scim_team_id), ("name", "Hijacked")]),
            ),
            (
                "add a member to the SCIM team",
                AddTeamMember::PATH,
                acme(&[("id", &a.scim_team_id), ("user_name", "carol")]),
            ),
            (
                "remove a member of the SCIM team",
                RemoveTeamMember::PATH,
                acme(&[("id", &a.scim_team_id), ("user_id", &a.alice_id)]),
            ),
            (
                "delete the SCIM team",
                DeleteTeam::PATH,
                acme(&[("id", &a.scim_team_id)]),
            ),
            (
                "update the SCIM user",
                UpdateConsoleUser::PATH,
                acme(&[("id", &a.alice_id), ("display_name", "Mallory")]),
            ),
            (
                "reactivate-and-rename the SCIM user",
                UpdateConsoleUser::PATH,
                acme(&[
                    ("id", &a.alice_id),
                    ("display_name", "Mallory"),
                    ("active", "on"),
                ]),
            ),
        ];
        for (what, path, body) in refused {
            w.expect(path, body, Some(&w.ops), 403, what).await;
        }
        let after = snapshot(&w, &a).await;
        assert_unchanged(
            be,
            &before,
            &after,
            "refused changes to SCIM-managed records",
        );
        let team = w
            .ok(
                TeamDetail::PATH,
                acme(&[("id", &a.scim_team_id)]),
                &w.ops,
                "team_detail SCIM team",
            )
            .await;
        assert_eq!(team["team"]["name"], "Engineering", "[{be}] {team}");
        let members: Vec<&str> = team["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(members, [a.alice_id.as_str()], "[{be}] SCIM team members");
        // SCIM sees the same.
        let (s, g) = w
            .scim(
                "GET",
                &format!("/Groups/{}", a.scim_team_id),
                &w.app.token,
                None,
            )
            .await;
        assert_eq!(s, 200, "[{be}] {g}");
        assert_eq!(g["displayName"], "Engineering", "[{be}] {g}");
        assert_eq!(g["members"].as_array().map(Vec::len), Some(1), "[{be}] {g}");
        let (s, u) = w
            .scim("GET", &format!("/Users/{}", a.alice_id), &w.app.token, None)
            .await;
        assert_eq!(s, 200, "[{be}] {u}");
        assert_eq!(
            (&u["displayName"], &u["active"]),
            (&json!("Alice"), &json!(true)),
            "[{be}] {u}"
        );

        // Console-made ones can be changed.
        w.ok(
            RenameTeam::PATH,
            acme(&[("id", &a.team_id), ("name", "Renamed Team")]),
            &w.ops,
            "rename the console team",
        )
        .await;
        w.ok(
            AddTeamMember::PATH,
            acme(&[("id", &a.team_id), ("user_name", "alice@acme.test")]),
            &w.ops,
            "add alice to the console team",
        )
        .await;
        w.ok(
            RemoveTeamMember::PATH,
            acme(&[("id", &a.team_id), ("user_id", &a.carol_id)]),
            &w.ops,
            "remove carol from the console team",
        )
        .await;
        let team = w
            .ok(
                TeamDetail::PATH,
                acme(&[("id", &a.team_id)]),
                &w.ops,
                "team_detail console team",
            )
            .await;
        assert_eq!(team["team"]["name"], "Renamed Team", "[{be}] {team}");
        assert!(team["team"]["managed_by"].is_null(), "[{be}] {team}");
        let members: Vec<&str> = team["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            members,
            [a.alice_id.as_str()],
            "[{be}] console team members"
        );
        w.ok(
            UpdateConsoleUser::PATH,
            acme(&[("id", &a.carol_id), ("display_name", "Carol C")]),
            &w.ops,
            "update the console user",
        )
        .await;
        let carol = w
            .ok(
                UserDetail::PATH,
                acme(&[("id", &a.carol_id)]),
                &w.ops,
                "user_detail carol",
            )
            .await;
        assert_eq!(
            (&carol["user"]["display_name"], &carol["user"]["active"]),
            (&json!("Carol C"), &json!(false)),
            "[{be}] {carol}"
        );
        w.ok(
            DeleteTeam::PATH,
            acme(&[("id", &a.team_id)]),
            &w.ops,
            "delete the console team",
        )
        .await;
        w.expect(
            TeamDetail::PATH,
            acme(&[("id", &a.team_id)]),
            Some(&w.ops),
            404,
            "team_detail of the deleted team",
        )
        .await;
        w.app.finish().await;
    }
}

#[tokio::test]
async fn another_orgs_ids_are_not_found() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        let beta = |rest: &[(&str, &str)]| {
            let mut f = vec![("org", "beta")];
            f.extend_from_slice(rest);
            form(&f)
        };
        // beta has a team and a user of its own.
        let beta_team = w
            .ok(
                CreateTeam::PATH,
                beta(&[("name", "Beta Team")]),
                &w.beta,
                "beta create_team",
            )
            .await
            .as_str()
            .unwrap()
            .to_string();
        w.ok(
            CreateConsoleUser::PATH,
            beta(&[
                ("user_name", "dave"),
                ("display_name", "Dave"),
                ("email", ""),
            ]),
            &w.beta,
            "beta create_console_user",
        )
        .await;
        w.app.flush_log().await;
        let before = snapshot(&w, &a).await;

        let probes = [
            (
                "regenerate_token",
                RegenerateToken::PATH,
                beta(&[("token_id", &a.token_id)]),
            ),
            (
                "revoke_token",
                RevokeToken::PATH,
                beta(&[("token_id", &a.token_id)]),
            ),
            (
                "user_detail (console user)",
                UserDetail::PATH,
                beta(&[("id", &a.carol_id)]),
            ),
            (
                "user_detail (SCIM user)",
                UserDetail::PATH,
                beta(&[("id", &a.alice_id)]),
            ),
            (
                "update_console_user (console user)",
                UpdateConsoleUser::PATH,
                beta(&[("id", &a.carol_id), ("display_name", "X"), ("active", "on")]),
            ),
            (
                // 404, not the 403 of a managed user: that would tell the id exists.
                "update_console_user (SCIM user)",
                UpdateConsoleUser::PATH,
                beta(&[("id", &a.alice_id), ("display_name", "X"), ("active", "on")]),
            ),
            (
                "team_detail (console team)",
                TeamDetail::PATH,
                beta(&[("id", &a.team_id)]),
            ),
            (
                "team_detail (SCIM team)",
                TeamDetail::PATH,
                beta(&[("id", &a.scim_team_id)]),
            ),
            (
                "rename_team (console team)",
                RenameTeam::PATH,
                beta(&[("id", &a.team_id), ("name", "Taken")]),
            ),
            (
                "rename_team (SCIM team)",
                RenameTeam::PATH,
                beta(&[("id", &a.scim_team_id), ("name", "Taken")]),
            ),
            (
                "add_team_member",
                AddTeamMember::PATH,
                beta(&[("id", &a.team_id), ("user_name", "dave")]),
            ),
            (
                "remove_team_member",
                RemoveTeamMember::PATH,
                beta(&[("id", &a.team_id), ("user_id", &a.carol_id)]),
            ),
            (
                "delete_team (console team)",
                DeleteTeam::PATH,
                beta(&[("id", &a.team_id)]),
            ),
            (
                "delete_team (SCIM team)",
                DeleteTeam::PATH,
                beta(&[("id", &a.scim_team_id)]),
            ),
            (
                "event_detail",
                EventDetail::PATH,
                beta(&[("id", &a.event_id)]),
            ),
            (
                "remove_admin",
                RemoveAdmin::PATH,
                beta(&[("admin_id", &a.ops2_id)]),
            ),
        ];
        for (what, path, body) in probes {
            w.expect(
                path,
                body,
                Some(&w.beta),
                404,
                &format!("beta's admin, acme's id: {what}"),
            )
            .await;
        }
        // acme's username cannot be put into beta's team either.
        w.expect(
            AddTeamMember::PATH,
            beta(&[("id", &beta_team), ("user_name", "carol")]),
            Some(&w.beta),
            400,
            "add acme's user by name to beta's team",
        )
        .await;

        let after = snapshot(&w, &a).await;
        assert_unchanged(be, &before, &after, "probes with another org's ids");
        let users = &after
            .iter()
            .find(|(k, _)| k == "beta list_users")
            .unwrap()
            .1;
        assert_eq!(
            users["total"], 1,
            "[{be}] beta lists only its own users: {users}"
        );
        let teams = &after
            .iter()
            .find(|(k, _)| k == "beta list_teams")
            .unwrap()
            .1;
        assert_eq!(
            teams["total"], 1,
            "[{be}] beta lists only its own teams: {teams}"
        );
        w.assert_token_works(&w.app.token, true, "acme's token after beta's probes")
            .await;
        w.app.finish().await;
    }
}

/// remove_team_member takes a user id: another org's user id should be "not found" like
/// every other id, and a refused write should leave no audit row.
#[tokio::test]
async fn removing_another_orgs_user_from_a_team_is_not_found() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        let beta_team = w
            .ok(
                CreateTeam::PATH,
                form(&[("org", "beta"), ("name", "Beta Team")]),
                &w.beta,
                "beta create_team",
            )
            .await
            .as_str()
            .unwrap()
            .to_string();
        let trail = w.audit("beta", &w.beta).await;
        w.expect(
            RemoveTeamMember::PATH,
            form(&[
                ("org", "beta"),
                ("id", &beta_team),
                ("user_id", &a.carol_id),
            ]),
            Some(&w.beta),
            404,
            "remove acme's user id from beta's team",
        )
        .await;
        assert_eq!(
            trail,
            w.audit("beta", &w.beta).await,
            "[{be}] no audit row for a refused write"
        );
        w.app.finish().await;
    }
}

/// In an org with a single admin, remove_admin should still answer another org's admin id
/// with 404: today the "keep at least one admin" check runs first and answers 409 for an
/// id that exists elsewhere but 404 for one that exists nowhere, so ids can be probed.
#[tokio::test]
async fn removing_another_orgs_admin_from_a_single_admin_org_is_not_found() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        scimgate::management::create_org(&w.app.db.store, "gamma", None)
            .await
            .unwrap();
        scimgate::management::create_admin(&w.app.db.store, "gamma", "g@gamma.test", PW.into())
            .await
            .unwrap();
        let gamma = w.sign_in("g@gamma.test").await;
        let trail = w.audit("gamma", &gamma).await;
        let unknown = w
            .expect(
                RemoveAdmin::PATH,
                form(&[("org", "gamma"), ("admin_id", "no-such-admin")]),
                Some(&gamma),
                404,
                "remove an unknown admin id from gamma",
            )
            .await;
        let foreign = w
            .expect(
                RemoveAdmin::PATH,
                form(&[("org", "gamma"), ("admin_id", &a.ops2_id)]),
                Some(&gamma),
                404,
                "remove acme's admin id from gamma",
            )
            .await;
        assert_eq!(
            unknown.body, foreign.body,
            "[{be}] unknown and foreign ids answer alike"
        );
        assert_eq!(
            trail,
            w.audit("gamma", &gamma).await,
            "[{be}] no audit row for a refused write"
        );
        w.app.finish().await;
    }
}

#[tokio::test]
async fn secrets_are_answered_once_and_never_cached() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let no_store = |r: &Resp, what: &str| {
            let cc = r
                .headers
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap().to_string());
            assert!(
                cc.as_deref()
                    .is_some_and(|v| v.split(',').any(|d| d.trim() == "no-store")),
                "[{be}] {what}: Cache-Control is {cc:?}, not no-store"
            );
        };
        let created = w
            .expect(
                CreateToken::PATH,
                form(&[
                    ("org", "acme"),
                    ("label", "Okta"),
                    ("expires_in_days", "30"),
                ]),
                Some(&w.ops),
                200,
                "create_token",
            )
            .await;
        no_store(&created, "create_token");
        let created = w.json(&created, "create_token");
        let s1 = created["secret"].as_str().unwrap().to_string();
        let id1 = created["token"]["id"].as_str().unwrap().to_string();
        assert!(s1.len() >= 20, "[{be}] a real secret: {created}");
        w.assert_token_works(&s1, true, "the created token").await;

        let regenerated = w
            .expect(
                RegenerateToken::PATH,
                form(&[("org", "acme"), ("token_id", &id1)]),
                Some(&w.ops),
                200,
                "regenerate_token",
            )
            .await;
        no_store(&regenerated, "regenerate_token");
        let regenerated = w.json(&regenerated, "regenerate_token");
        let s2 = regenerated["secret"].as_str().unwrap().to_string();
        assert_ne!(s1, s2, "[{be}] a new secret");

        let invited = w
            .expect(
                InviteAdmin::PATH,
                form(&[("org", "acme"), ("email", "new@else.test")]),
                Some(&w.ops),
                200,
                "invite_admin",
            )
            .await;
        no_store(&invited, "invite_admin");
        let code = w.json(&invited, "invite_admin")["code"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!code.is_empty(), "[{be}] an invitation code");

        // Nothing the console shows afterwards repeats them.
        w.app.flush_log().await;
        let acme = form(&[("org", "acme")]);
        let tokens = w
            .expect(
                ListTokens::PATH,
                acme.clone(),
                Some(&w.ops),
                200,
                "list_tokens",
            )
            .await;
        assert!(
            tokens.body.contains(&id1),
            "[{be}] the token is listed: {}",
            tokens.body
        );
        for (what, path) in [
            ("list_tokens", ListTokens::PATH),
            ("provisioning_log", ProvisioningLog::PATH),
            ("dashboard", Dashboard::PATH),
            ("admins_page", AdminsPage::PATH),
        ] {
            let r = w.expect(path, acme.clone(), Some(&w.ops), 200, what).await;
            for (name, secret) in [
                ("created secret", &s1),
                ("regenerated secret", &s2),
                ("invitation code", &code),
            ] {
                assert!(
                    !r.body.contains(secret.as_str()),
                    "[{be}] {what} repeats the {name}: {}",
                    r.body
                );
            }
        }
        w.app.finish().await;
    }
}

#[tokio::test]
async fn every_console_write_leaves_one_audit_row_and_refusals_none() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let a = acme_objects(&w).await;
        let acme = |rest: &[(&str, &str)]| {
            let mut f = vec![("org", "acme")];
            f.extend_from_slice(rest);
            form(&f)
        };

        // A write that succeeds: exactly one new row, this action, by ops@acme.test.
        let audited = |path: &'static str, body: String, action: &'static str| {
            let w = &w;
            async move {
                let before = w.audit("acme", &w.ops).await;
                let answer = w.ok(path, body, &w.ops, action).await;
                let mut added = w.audit("acme", &w.ops).await;
                for old in &before {
                    let i = added.iter().position(|e| e == old).unwrap_or_else(|| {
                        panic!("[{be}] {action}: an earlier audit row disappeared: {old}")
                    });
                    added.remove(i);
                }
                assert_eq!(added.len(), 1, "[{be}] {action}: new audit rows {added:?}");
                assert_eq!(added[0]["action"], action, "[{be}] {added:?}");
                assert_eq!(added[0]["admin_email"], OPS, "[{be}] {action}: {added:?}");
                answer
            }
        };
        audited(
            UpdateSettings::PATH,
            acme(&[("unique_identifier", "email"), ("allowed_roles", "admin")]),
            "settings updated",
        )
        .await;
        let t = audited(
            CreateToken::PATH,
            acme(&[("label", "Audit")]),
            "token created",
        )
        .await;
        let t = audited(
            RegenerateToken::PATH,
            acme(&[("token_id", t["token"]["id"].as_str().unwrap())]),
            "token regenerated",
        )
        .await;
        audited(
            RevokeToken::PATH,
            acme(&[("token_id", t["token"]["id"].as_str().unwrap())]),
            "token revoked",
        )
        .await;
        let erin = audited(
            CreateConsoleUser::PATH,
            acme(&[
                ("user_name", "erin"),
                ("display_name", "Erin"),
                ("email", ""),
            ]),
            "user created",
        )
        .await;
        let erin = erin.as_str().unwrap().to_string();
        audited(
            UpdateConsoleUser::PATH,
            acme(&[("id", &erin), ("display_name", "Erin E"), ("active", "on")]),
            "user updated",
        )
        .await;
        let team = audited(
            CreateTeam::PATH,
            acme(&[("name", "Audit Team")]),
            "team created",
        )
        .await;
        let team = team.as_str().unwrap().to_string();
        audited(
            RenameTeam::PATH,
            acme(&[("id", &team), ("name", "Audited Team")]),
            "team renamed",
        )
        .await;
        audited(
            AddTeamMember::PATH,
            acme(&[("id", &team), ("user_name", "erin")]),
            "team member added",
        )
        .await;
        audited(
            RemoveTeamMember::PATH,
            acme(&[("id", &team), ("user_id", &erin)]),
            "team member removed",
        )
        .await;
        audited(DeleteTeam::PATH, acme(&[("id", &team)]), "team deleted").await;
        audited(
            InviteAdmin::PATH,
            acme(&[("email", "new@else.test")]),
            "admin invited",
        )
        .await;
        audited(
            RemoveAdmin::PATH,
            acme(&[("admin_id", &a.ops2_id)]),
            "admin removed",
        )
        .await;

        // Refused writes leave no row, in acme or in beta.
        let ops_id = w
            .ok(AdminsPage::PATH, acme(&[]), &w.ops, "admins_page")
            .await["admins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["email"] == OPS)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let refused: Vec<(&str, &str, String, &str, u16)> = vec![
            (
                "update_settings with an unknown identifier",
                UpdateSettings::PATH,
                acme(&[("unique_identifier", "phone"), ("allowed_roles", "")]),
                w.ops.as_str(),
                400,
            ),
            (
                "create_token expiring in 0 days",
                CreateToken::PATH,
                acme(&[("label", "x"), ("expires_in_days", "0")]),
                w.ops.as_str(),
                400,
            ),
            (
                "regenerate_token of no token",
                RegenerateToken::PATH,
                acme(&[("token_id", "no-such-token")]),
                w.ops.as_str(),
                404,
            ),
            (
                "revoke_token of no token",
                RevokeToken::PATH,
                acme(&[("token_id", "no-such-token")]),
                w.ops.as_str(),
                404,
            ),
            (
                "create_console_user without a username",
                CreateConsoleUser::PATH,
                acme(&[("user_name", "  "), ("display_name", ""), ("email", "")]),
                w.ops.as_str(),
                400,
            ),
            (
                "create_console_user with a bad email",
                CreateConsoleUser::PATH,
                acme(&[
                    ("user_name", "frank"),
                    ("display_name", ""),
                    ("email", "not an email"),
                ]),
                w.ops.as_str(),
                400,
            ),
            (
                "update_console_user of no user",
                UpdateConsoleUser::PATH,
                acme(&[("id", "no-such-user"), ("display_name", "X")]),
                w.ops.as_str(),
                404,
            ),
            (
                "update_console_user of a SCIM user",
                UpdateConsoleUser::PATH,
                acme(&[("id", &a.alice_id), ("display_name", "X")]),
                w.ops.as_str(),
                403,
            ),
            (
                "create_team without a name",
                CreateTeam::PATH,
                acme(&[("name", " ")]),
                w.ops.as_str(),
                400,
            ),
            (
                "rename_team to nothing",
                RenameTeam::PATH,
                acme(&[("id", &a.team_id), ("name", "")]),
                w.ops.as_str(),
                400,
            ),
            (
                "rename_team of a SCIM team",
                RenameTeam::PATH,
                acme(&[("id", &a.scim_team_id), ("name", "X")]),
                w.ops.as_str(),
                403,
            ),
            (
                "rename_team of no team",
                RenameTeam::PATH,
                acme(&[("id", "no-such-team"), ("name", "X")]),
                w.ops.as_str(),
                404,
            ),
            (
                "add_team_member of no user",
                AddTeamMember::PATH,
                acme(&[("id", &a.team_id), ("user_name", "nobody")]),
                w.ops.as_str(),
                400,
            ),
            (
                "add_team_member to a SCIM team",
                AddTeamMember::PATH,
                acme(&[("id", &a.scim_team_id), ("user_name", "carol")]),
                w.ops.as_str(),
                403,
            ),
            (
                "remove_team_member of a SCIM team",
                RemoveTeamMember::PATH,
                acme(&[("id", &a.scim_team_id), ("user_id", &a.alice_id)]),
                w.ops.as_str(),
                403,
            ),
            (
                "remove_team_member of no team",
                RemoveTeamMember::PATH,
                acme(&[("id", "no-such-team"), ("user_id", &a.carol_id)]),
                w.ops.as_str(),
                404,
            ),
            (
                "delete_team of a SCIM team",
                DeleteTeam::PATH,
                acme(&[("id", &a.scim_team_id)]),
                w.ops.as_str(),
                403,
            ),
            (
                "delete_team of no team",
                DeleteTeam::PATH,
                acme(&[("id", "no-such-team")]),
                w.ops.as_str(),
                404,
            ),
            (
                "invite_admin with a bad email",
                InviteAdmin::PATH,
                acme(&[("email", "not an email")]),
                w.ops.as_str(),
                400,
            ),
            (
                "remove_admin of no admin",
                RemoveAdmin::PATH,
                acme(&[("admin_id", "no-such-admin")]),
                w.ops.as_str(),
                404,
            ),
            (
                "remove_admin of the last admin",
                RemoveAdmin::PATH,
                acme(&[("admin_id", &ops_id)]),
                w.ops.as_str(),
                409,
            ),
            (
                "create_team by beta's admin",
                CreateTeam::PATH,
                acme(&[("name", "Beta was here")]),
                w.beta.as_str(),
                404,
            ),
            (
                "revoke_token by beta's admin",
                RevokeToken::PATH,
                acme(&[("token_id", &a.token_id)]),
                w.beta.as_str(),
                404,
            ),
            (
                "update_settings by beta's admin",
                UpdateSettings::PATH,
                acme(&[("unique_identifier", "userName"), ("allowed_roles", "")]),
                w.beta.as_str(),
                404,
            ),
        ];
        let acme_before = w.audit("acme", &w.ops).await;
        let beta_before = w.audit("beta", &w.beta).await;
        for (what, path, body, cookie, status) in refused {
            w.expect(path, body, Some(cookie), status, what).await;
            assert_eq!(
                w.audit("acme", &w.ops).await,
                acme_before,
                "[{be}] {what} left an audit row in acme"
            );
            assert_eq!(
                w.audit("beta", &w.beta).await,
                beta_before,
                "[{be}] {what} left an audit row in beta"
            );
        }
        w.app.finish().await;
    }
}

#[tokio::test]
async fn a_regenerated_token_replaces_the_old_secret() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let acme = |rest: &[(&str, &str)]| {
            let mut f = vec![("org", "acme")];
            f.extend_from_slice(rest);
            form(&f)
        };
        let old = w.app.token.clone();
        w.assert_token_works(&old, true, "the token before regeneration")
            .await;
        let tokens = w
            .ok(ListTokens::PATH, acme(&[]), &w.ops, "list_tokens")
            .await;
        let old_id = tokens.as_array().unwrap()[0]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let new = w
            .ok(
                RegenerateToken::PATH,
                acme(&[("token_id", &old_id)]),
                &w.ops,
                "regenerate_token",
            )
            .await;
        let secret = new["secret"].as_str().unwrap().to_string();
        let new_id = new["token"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            new["token"]["label"], "test",
            "[{be}] the label is kept: {new}"
        );
        w.assert_token_works(&old, false, "the old secret after regeneration")
            .await;
        w.assert_token_works(&secret, true, "the new secret").await;

        let tokens = w
            .ok(ListTokens::PATH, acme(&[]), &w.ops, "list_tokens")
            .await;
        let state = |id: &str| {
            tokens
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == id)
                .map(|t| t["state"].clone())
        };
        assert_eq!(state(&old_id), Some(json!("revoked")), "[{be}] {tokens}");
        assert_eq!(state(&new_id), Some(json!("active")), "[{be}] {tokens}");

        // Revoking the new one ends it too.
        w.ok(
            RevokeToken::PATH,
            acme(&[("token_id", &new_id)]),
            &w.ops,
            "revoke_token",
        )
        .await;
        w.assert_token_works(&secret, false, "the revoked secret")
            .await;
        w.app.finish().await;
    }
}
