//! Admins: the first run, sign-in, invitations and membership of orgs. Nobody is added to
//! an org without their consent: an invited admin accepts at their next sign-in, or
//! (without an account yet) with the invitation's one-time code.

use super::{orgs::display_name, Actor, ManagementError, Result};
use crate::auth::{password, throttle, token};
use crate::directory::{now_ms, validate_email, validate_login, Admin, Org};
use crate::store::{admins, audit, invitations, orgs, Store, StoreError, Tx};
use std::net::IpAddr;

pub use crate::store::audit::AuditEntry;
pub use crate::store::invitations::{Invitation, PendingInvitation};

/// Pending invitations an org may hold at once.
const MAX_PENDING_INVITATIONS: usize = 100;

/// Invitations are valid this long.
const INVITATION_TTL_MS: i64 = 7 * 24 * 3_600_000;

/// Creates an admin of `org_login` (the CLI). The hash is computed before the write
/// transaction opens.
pub async fn create_admin(
    store: &Store,
    org_login: &str,
    email: &str,
    pw: String,
) -> Result<Admin> {
    validate_email(email).map_err(ManagementError::Invalid)?;
    password::validate(&pw).map_err(|e| ManagementError::Invalid(e.to_string()))?;
    let org = super::get_org(store, org_login).await?;
    let hash = password::hash_password(pw).await?;
    let mut tx = store.begin().await?;
    let admin = admins::create_admin(&mut tx, email, &hash).await?;
    admins::add_org_admin(&mut tx, &org.id, &admin.id).await?;
    tx.commit().await?;
    Ok(admin)
}

/// The console's first run: the first org and its first admin, in one transaction.
pub async fn first_run(
    store: &Store,
    org_login: &str,
    org_name: &str,
    email: &str,
    pw: String,
) -> Result<(Org, Admin)> {
    const ALREADY: &str = "scimgate is already set up; sign in instead.";
    let org_login = org_login.trim();
    validate_login(org_login).map_err(ManagementError::Invalid)?;
    let email = email.trim();
    validate_email(email).map_err(ManagementError::Invalid)?;
    password::validate(&pw).map_err(|e| ManagementError::Invalid(e.to_string()))?;
    // Refused before the (deliberately expensive) hash once set-up has happened.
    if !super::orgs::needs_setup(store).await? {
        return Err(ManagementError::Conflict(ALREADY.into()));
    }
    let hash = password::hash_password(pw).await?;
    let mut tx = store.begin().await?;
    // Checked inside the write transaction: with SQLite's single writer two racing first
    // runs cannot both win; on PostgreSQL the window is the few milliseconds between two
    // simultaneous submissions of the set-up form.
    if orgs::count_orgs(&mut tx).await? > 0 {
        return Err(ManagementError::Conflict(ALREADY.into()));
    }
    let org = orgs::create_org(&mut tx, org_login, display_name(org_login, Some(org_name))).await?;
    let admin = admins::create_admin(&mut tx, email, &hash).await?;
    admins::add_org_admin(&mut tx, &org.id, &admin.id).await?;
    tx.commit().await?;
    Ok((org, admin))
}

/// Checks an admin's password, counting the attempt against `addr` first.
/// [`ManagementError::Refused`] for a wrong email or password and when throttled alike.
pub async fn sign_in(store: &Store, addr: IpAddr, email: &str, pw: String) -> Result<Admin> {
    let Some(keys) = throttle::count_attempt(store, addr, email).await? else {
        return Err(ManagementError::Refused);
    };
    let found = {
        let mut c = store.read().await?;
        admins::find_admin_credentials(&mut c, email).await?
    };
    let (admin, hash) = match found {
        Some((a, h)) => (Some(a), Some(h)),
        None => (None, None),
    };
    // Verified even without an account, so that timing does not tell which emails exist.
    let ok = password::verify_password(pw, hash).await?;
    match (ok, admin) {
        (true, Some(admin)) => {
            // A success takes back what this attempt counted, for the address too: admins
            // sharing an address (NAT) must not throttle each other by signing in. Guesses
            // at one account stay throttled by its email-at-address key.
            let mut tx = store.begin().await?;
            admins::clear_login_failures(&mut tx, &keys.address).await?;
            admins::clear_login_failures(&mut tx, &keys.email_at_address).await?;
            tx.commit().await?;
            Ok(admin)
        }
        _ => Err(ManagementError::Refused),
    }
}

/// Where an admin lands after signing in: pending invitations first, then their first org.
pub async fn landing(store: &Store, admin: &Admin) -> Result<String> {
    let mut c = store.read().await?;
    if !invitations::pending_for_email(&mut c, &admin.email, now_ms())
        .await?
        .is_empty()
    {
        return Ok("/invitations".into());
    }
    let orgs = admins::list_admin_orgs(&mut c, &admin.id).await?;
    Ok(orgs
        .first()
        .map(|o| format!("/orgs/{}", o.login))
        .unwrap_or_else(|| "/".into()))
}

pub async fn find_admin(store: &Store, id: &str) -> Result<Option<Admin>> {
    let mut c = store.read().await?;
    Ok(admins::find_admin(&mut c, id).await?)
}

pub async fn orgs_of(store: &Store, admin: &Admin) -> Result<Vec<Org>> {
    let mut c = store.read().await?;
    Ok(admins::list_admin_orgs(&mut c, &admin.id).await?)
}

/// The org `login` with the admin acting in it, if the admin belongs to it. Not-found and
/// not-a-member are the same answer, so admins cannot probe for other orgs.
pub async fn actor(store: &Store, admin: Admin, login: &str) -> Result<Actor> {
    let mut c = store.read().await?;
    match orgs::find_org_by_login(&mut c, login).await? {
        Some(org) if admins::is_org_admin(&mut c, &org.id, &admin.id).await? => {
            Ok(Actor { org, admin })
        }
        _ => Err(ManagementError::NotFound("Organization not found.")),
    }
}

pub struct AdminsPage {
    pub admins: Vec<Admin>,
    pub invited: Vec<Invitation>,
    pub audit: Vec<AuditEntry>,
}

pub async fn admins_page(store: &Store, org: &Org) -> Result<AdminsPage> {
    let mut c = store.read().await?;
    Ok(AdminsPage {
        admins: admins::list_org_admins(&mut c, &org.id).await?,
        invited: invitations::pending_for_org(&mut c, &org.id, now_ms()).await?,
        audit: audit::list(&mut c, &org.id, None, 100).await?,
    })
}

/// A new invitation and its one-time code, to show once.
pub struct Invited {
    pub email: String,
    pub code: String,
    pub expires_at: i64,
}

/// Invites `email` to the actor's org. The answer does not tell whether the email has an
/// account; the orgs the account already belongs to record the invitation in their audit
/// trails too. One pending invitation per email and org: inviting again replaces the code
/// (and tells the other orgs nothing new); an org holds at most 100 pending invitations.
pub async fn invite(store: &Store, actor: &Actor, email: &str) -> Result<Invited> {
    let email = email.trim().to_string();
    validate_email(&email).map_err(ManagementError::Invalid)?;
    let existing = {
        let mut c = store.read().await?;
        match admins::find_admin_credentials(&mut c, &email).await? {
            Some((a, _)) => Some(admins::list_admin_orgs(&mut c, &a.id).await?),
            None => None,
        }
    };
    if existing
        .as_ref()
        .is_some_and(|orgs| orgs.iter().any(|o| o.id == actor.org.id))
    {
        return Err(ManagementError::Conflict(
            "This admin already belongs to the organization.".into(),
        ));
    }
    let code = password::generate_password();
    let now = now_ms();
    let mut tx = store.begin().await?;
    let pending = invitations::pending_for_org(&mut tx, &actor.org.id, now).await?;
    let again = pending
        .iter()
        .find(|i| i.email.eq_ignore_ascii_case(&email))
        .map(|i| i.id.clone());
    if let Some(old) = &again {
        invitations::answer(&mut tx, old, false, now).await?;
    } else if pending.len() >= MAX_PENDING_INVITATIONS {
        return Err(ManagementError::Busy(
            "This organization has 100 pending invitations; wait until some are answered or expire.".into(),
        ));
    }
    let inv = invitations::insert_invitation(
        &mut tx,
        &actor.org.id,
        &email,
        &token::hash(&code),
        &actor.admin.email,
        INVITATION_TTL_MS,
    )
    .await?;
    let action = if again.is_some() {
        "admin invited again"
    } else {
        "admin invited"
    };
    actor.audit(&mut tx, action, Some(&email), None).await?;
    // The orgs the account already belongs to hear of a first invitation only.
    let others: Vec<Org> = match (&again, existing) {
        (None, Some(orgs)) => orgs,
        _ => Vec::new(),
    };
    for other in &others {
        audit::record(
            &mut tx,
            &other.id,
            None,
            &actor.admin.email,
            "admin invited to another organization",
            Some(&email),
            Some(&format!(
                "invited to '{}' by {}",
                actor.org.login, actor.admin.email
            )),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Invited {
        email,
        code,
        expires_at: inv.expires_at,
    })
}

pub async fn pending_invitations(store: &Store, admin: &Admin) -> Result<Vec<PendingInvitation>> {
    let mut c = store.read().await?;
    Ok(invitations::pending_for_email(&mut c, &admin.email, now_ms()).await?)
}

/// Records an answer and, when accepted, the membership; both orgs' audit trails (the
/// inviting org and those the admin already belongs to) record it, in the caller's
/// transaction.
async fn settle_invitation(
    tx: &mut Tx,
    inv: &PendingInvitation,
    admin: &Admin,
    accept: bool,
) -> Result<()> {
    let earlier = admins::list_admin_orgs(tx, &admin.id).await?;
    if !invitations::answer(tx, &inv.id, accept, now_ms()).await? {
        return Err(ManagementError::Conflict(
            "This invitation was already answered.".into(),
        ));
    }
    if accept {
        match admins::add_org_admin(tx, &inv.org_id, &admin.id).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let action = if accept {
        "admin joined"
    } else {
        "invitation declined"
    };
    audit::record(
        tx,
        &inv.org_id,
        Some(&admin.id),
        &admin.email,
        action,
        Some(&admin.email),
        None,
    )
    .await?;
    if accept {
        for other in earlier.iter().filter(|o| o.id != inv.org_id) {
            audit::record(
                tx,
                &other.id,
                Some(&admin.id),
                &admin.email,
                "admin joined another organization",
                Some(&admin.email),
                Some(&format!("joined '{}'", inv.org_login)),
            )
            .await?;
        }
    }
    Ok(())
}

/// Answers an invitation as the signed-in `admin_id`; returns the org's login when accepted.
/// Accepting needs the invitation's one-time code too, not only the signed-in account:
/// emails are not verified, so an account made for someone else's address (say, by an
/// admin of another org who invited it and joined with the code) must not be able to
/// accept what the real owner's org sends to that address. Declining needs no code.
pub async fn answer_invitation(
    store: &Store,
    admin_id: &str,
    id: &str,
    accept: bool,
    code: &str,
) -> Result<Option<String>> {
    let mut tx = store.begin().await?;
    let admin = admins::find_admin(&mut tx, admin_id)
        .await?
        .ok_or(ManagementError::Refused)?;
    let now = now_ms();
    let inv = if accept {
        invitations::pending_by_code(&mut tx, &admin.email, &token::hash(code.trim()), now)
            .await?
            .filter(|i| i.id == id)
            .ok_or_else(|| {
                ManagementError::Forbidden(
                    "Enter the invitation code the inviting admin gave you.".into(),
                )
            })?
    } else {
        invitations::pending_for_email(&mut tx, &admin.email, now)
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or(ManagementError::NotFound("Invitation not found."))?
    };
    settle_invitation(&mut tx, &inv, &admin, accept).await?;
    tx.commit().await?;
    Ok(accept.then_some(inv.org_login))
}

/// Accepts an invitation with its one-time code: with an existing account's password, or
/// creating the account with a new one. Throttled like sign-in; every failure is
/// [`ManagementError::Refused`]. Returns the admin and the org's login.
pub async fn join_org(
    store: &Store,
    addr: IpAddr,
    email: &str,
    code: &str,
    pw: String,
) -> Result<(Admin, String)> {
    // The password rule is checked first, for everyone: checking it only for new accounts
    // would tell whether the email has one.
    password::validate(&pw).map_err(|e| ManagementError::Invalid(e.to_string()))?;
    let Some(keys) = throttle::count_attempt(store, addr, email).await? else {
        return Err(ManagementError::Refused);
    };
    let (inv, existing) = {
        let mut c = store.read().await?;
        let inv = invitations::pending_by_code(&mut c, email, &token::hash(code.trim()), now_ms())
            .await?;
        (inv, admins::find_admin_credentials(&mut c, email).await?)
    };
    let inv = inv.ok_or(ManagementError::Refused)?;
    // Slow work (argon2) before the write transaction opens.
    let new_hash = match &existing {
        Some((_, hash)) => {
            if !password::verify_password(pw, Some(hash.clone())).await? {
                return Err(ManagementError::Refused);
            }
            None
        }
        None => Some(password::hash_password(pw).await?),
    };
    let mut tx = store.begin().await?;
    let admin = match (existing, new_hash) {
        (Some((a, _)), _) => a,
        (None, Some(hash)) => admins::create_admin(&mut tx, email.trim(), &hash)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ManagementError::Refused,
                other => other.into(),
            })?,
        (None, None) => {
            return Err(ManagementError::Internal(
                "no password hash for a new admin".into(),
            ))
        }
    };
    settle_invitation(&mut tx, &inv, &admin, true).await?;
    admins::clear_login_failures(&mut tx, &keys.email_at_address).await?;
    tx.commit().await?;
    Ok((admin, inv.org_login))
}

/// Removes an admin from the actor's org (the store refuses to remove the last one).
pub async fn remove_admin(store: &Store, actor: &Actor, admin_id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    // Only this org's admins are found: another org's admin id answers like an unknown one.
    let target = match admins::find_admin(&mut tx, admin_id).await? {
        Some(a) if admins::is_org_admin(&mut tx, &actor.org.id, &a.id).await? => a,
        _ => return Err(ManagementError::NotFound("Admin not found.")),
    };
    admins::remove_org_admin(&mut tx, &actor.org.id, admin_id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ManagementError::Conflict(format!("Cannot remove: {m}.")),
            StoreError::NotFound => ManagementError::NotFound("Admin not found."),
            other => other.into(),
        })?;
    actor
        .audit(&mut tx, "admin removed", Some(&target.email), None)
        .await?;
    tx.commit().await?;
    Ok(())
}
