//! Use cases of the console and the CLI: orgs and their settings, admins (first run,
//! sign-in, invitations), SCIM tokens, the users and teams an admin makes by hand, and the
//! reads behind the console's pages. Input is validated here, so both front doors refuse the
//! same bad input with the same words. Each write is one transaction together with its
//! audit row; slow work (argon2) is done before that transaction opens, so SCIM writes of
//! every org never wait for a password hash. Speaks [`ManagementError`]; knows nothing of
//! HTTP, sessions or Leptos.

pub mod admins;
pub mod app_keys;
pub mod app_reads;
pub mod orgs;
pub mod reads;
pub mod teams;
pub mod tokens;
pub mod users;
pub mod webhooks;

pub use admins::create_admin;
pub use orgs::{create_org, get_org, list_orgs};
pub use tokens::{create_token, list_tokens, IssuedToken};

use crate::directory::{Admin, Org};
use crate::store::{audit, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// The input is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    #[error("organization '{0}' does not exist")]
    UnknownOrg(String),
    /// Nothing of this kind with this id in the org ("Token not found.").
    #[error("{0}")]
    NotFound(&'static str),
    /// The thing exists but this path may not change it (a team an identity provider owns).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Credentials refused or attempts throttled: the front door says so in one message,
    /// whatever the reason.
    #[error("credentials refused")]
    Refused,
    /// Too much at once (password hashing slots, pending invitations).
    #[error("{0}")]
    Busy(String),
    /// What the request refers to existed but is no longer kept (an expired feed cursor).
    #[error("{0}")]
    Gone(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ManagementError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ManagementError::Conflict(what),
            StoreError::TooComplex(why) => {
                tracing::info!(error = %why, "database refused a request's content");
                ManagementError::Invalid(
                    "The request is too long or holds characters the directory cannot store (such as NUL)."
                        .into(),
                )
            }
            StoreError::Busy(why) => {
                tracing::warn!(error = %why, "console change lost to a concurrent transaction");
                ManagementError::Busy(
                    "The directory was busy with a conflicting change; nothing was saved. Try again."
                        .into(),
                )
            }
            other => ManagementError::Store(other),
        }
    }
}

#[cfg(test)]
mod store_error_tests {
    use super::*;

    #[test]
    fn a_transaction_lost_to_another_is_busy_not_internal() {
        let e = ManagementError::from(StoreError::Busy("deadlock detected".into()));
        assert!(
            matches!(e, ManagementError::Busy(ref m) if m.contains("nothing was saved")),
            "{e:?}"
        );
    }
}

impl From<crate::auth::password::PasswordError> for ManagementError {
    fn from(e: crate::auth::password::PasswordError) -> Self {
        match e {
            crate::auth::password::PasswordError::Busy => {
                ManagementError::Busy("Too many sign-ins at once; try again in a moment.".into())
            }
            other => ManagementError::Internal(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, ManagementError>;

/// An admin acting in one of their orgs: the org and the admin, both checked by the caller
/// (the console's session guard).
#[derive(Clone, Debug)]
pub struct Actor {
    pub org: Org,
    pub admin: Admin,
}

impl Actor {
    /// Records the change events of this admin's write (the application's feed) in the
    /// caller's transaction.
    pub async fn record(
        &self,
        tx: &mut sqlx::AnyConnection,
        events: &[crate::directory::feed::NewChange],
    ) -> Result<()> {
        let origin = format!("console:{}", self.admin.email);
        crate::store::feed::append(tx, &self.org.id, &origin, events).await?;
        Ok(())
    }

    /// Records what this admin did, in the caller's transaction: the audit row commits with
    /// the change or not at all.
    pub async fn audit(
        &self,
        tx: &mut sqlx::AnyConnection,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        audit::record(
            tx,
            &self.org.id,
            Some(&self.admin.id),
            &self.admin.email,
            action,
            target,
            detail,
        )
        .await?;
        Ok(())
    }
}
