//! `starling admin create-user` and `starling admin set-role`: operator tasks run against
//! the data directory while the server is stopped (sled allows one process at a time).

use crate::auth::registration::{NewAccount, RegisterError};
use crate::config::Settings;
use crate::domain::{Account, Role};
use crate::error::Error;
use crate::storage::Store;

pub async fn create_user(
    settings: &Settings,
    username: &str,
    email: &str,
    password: &str,
    role: &str,
) -> Result<Account, Error> {
    let role = Role::parse(role)
        .ok_or_else(|| Error::Other(format!("unknown role {role:?}: use user, moderator or admin")))?;
    let new = NewAccount::parse(username, email, password, "en", role).map_err(Error::Invalid)?;
    let store = Store::open(&settings.storage.path, settings.storage.node_id)?;
    let account = new.create(&store).await.map_err(|e| match e {
        RegisterError::Invalid(errors) => Error::Invalid(errors),
        other => Error::Other(other.to_string()),
    })?;
    store.flush_blocking()?;
    Ok(account)
}

pub async fn set_role(settings: &Settings, username: &str, role: &str) -> Result<Account, Error> {
    let role = Role::parse(role)
        .ok_or_else(|| Error::Other(format!("unknown role {role:?}: use user, moderator or admin")))?;
    let store = Store::open(&settings.storage.path, settings.storage.node_id)?;
    let account =
        store.account_by_username(username)?.ok_or_else(|| Error::Other(format!("no account named {username:?}")))?;
    let updated = store
        .update_account(account.id, |a| a.role = role)
        .await?
        .ok_or_else(|| Error::Other(format!("no account named {username:?}")))?;
    store.flush_blocking()?;
    Ok(updated)
}

/// `starling admin check`: runs every storage invariant check (see
/// `storage::check`) against the data directory and returns the report, with
/// `pending_fanout_jobs` counting fan-out the next start will finish.
pub fn check(settings: &Settings) -> Result<crate::storage::check::CheckReport, Error> {
    let store = Store::open(&settings.storage.path, settings.storage.node_id)?;
    Ok(store.check_invariants_with(settings.fanout.celebrity_followers)?)
}
