//! Accounts: `userid_account`, `username_userid`, `email_userid`.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{StorageError, Store, codec, keys};
use crate::domain::{Account, Id};

const TREE: &str = "userid_account";

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("username is already taken")]
    UsernameTaken,
    #[error("email is already taken")]
    EmailTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Store {
    /// Inserts a new account if its username and e-mail are free (case-insensitively),
    /// atomically across the three trees, and returns once the write is durable.
    #[tracing::instrument(skip_all, fields(user_id = %account.id))]
    pub async fn create_account(&self, account: &Account) -> Result<(), CreateAccountError> {
        let value = codec::encode(account)?;
        let username = account.username.to_ascii_lowercase();
        let email = account.email.to_lowercase();
        let id = keys::id_key(account.id);
        let t = &self.trees;
        let result =
            (&t.userid_account, &t.username_userid, &t.email_userid).transaction(|(accounts, usernames, emails)| {
                if usernames.get(username.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(CreateAccountError::UsernameTaken));
                }
                if emails.get(email.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(CreateAccountError::EmailTaken));
                }
                usernames.insert(username.as_bytes(), &id)?;
                emails.insert(email.as_bytes(), &id)?;
                accounts.insert(&id, value.as_slice())?;
                Ok(())
            });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(StorageError::from(e).into()),
        }
        self.count(super::Metric::NewUsers, 1)?;
        self.durable().await?;
        Ok(())
    }

    pub fn account(&self, id: Id) -> Result<Option<Account>, StorageError> {
        let key = keys::id_key(id);
        match self.trees.userid_account.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(TREE, &key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// The stored bytes of account `id` (the render cache compares them).
    pub fn account_bytes(&self, id: Id) -> Result<Option<sled::IVec>, StorageError> {
        Ok(self.trees.userid_account.get(keys::id_key(id))?)
    }

    /// Decodes bytes read by [`Store::account_bytes`].
    pub fn decode_account(&self, id: Id, bytes: &[u8]) -> Result<Account, StorageError> {
        codec::decode(TREE, &keys::id_key(id), bytes)
    }

    /// Finds an account by username, case-insensitively.
    pub fn account_by_username(&self, username: &str) -> Result<Option<Account>, StorageError> {
        let key = username.to_ascii_lowercase();
        match self.trees.username_userid.get(key.as_bytes())? {
            Some(id) => match keys::read_id(&id) {
                Some(id) => self.account(id),
                None => Err(StorageError::Corrupt { tree: "username_userid", reason: "short id".into() }),
            },
            None => Ok(None),
        }
    }

    /// Finds an account by e-mail, case-insensitively.
    pub fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        let key = email.trim().to_lowercase();
        match self.trees.email_userid.get(key.as_bytes())? {
            Some(id) => match keys::read_id(&id) {
                Some(id) => self.account(id),
                None => Err(StorageError::Corrupt { tree: "email_userid", reason: "short id".into() }),
            },
            None => Ok(None),
        }
    }

    /// Applies `change` to the stored account (compare-and-swap, retried on a concurrent
    /// write) and returns the new record once durable; `None` if there is no such account.
    pub async fn update_account(&self, id: Id, change: impl Fn(&mut Account)) -> Result<Option<Account>, StorageError> {
        let key = keys::id_key(id);
        loop {
            let Some(old) = self.trees.userid_account.get(key)? else {
                return Ok(None);
            };
            let mut account: Account = codec::decode(TREE, &key, &old)?;
            change(&mut account);
            let new = codec::encode(&account)?;
            if self.trees.userid_account.compare_and_swap(key, Some(&old), Some(new))?.is_ok() {
                self.durable().await?;
                return Ok(Some(account));
            }
        }
    }

    /// Deletes an account and frees its e-mail; the username stays reserved, as on
    /// Mastodon, so nobody can take over a deleted person's name.
    pub async fn delete_account(&self, account: &Account) -> Result<(), StorageError> {
        let id = keys::id_key(account.id);
        let email = account.email.to_lowercase();
        let t = &self.trees;
        (&t.userid_account, &t.email_userid)
            .transaction(|(accounts, emails)| {
                accounts.remove(&id)?;
                emails.remove(email.as_bytes())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(super::tx_storage)?;
        self.durable().await
    }

    /// Every account (start-up scans; corrupt records are logged and skipped).
    pub fn all_accounts(&self) -> Result<Vec<Account>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.userid_account.iter() {
            let (k, v) = row?;
            if let Ok(account) = codec::decode(TREE, &k, &v) {
                out.push(account);
            }
        }
        Ok(out)
    }

    /// Number of stored accounts (for instance statistics).
    pub fn account_count(&self) -> usize {
        self.trees.userid_account.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plain account record for storage tests.
    pub(crate) fn account(id: u64, name: &str) -> Account {
        Account { created_at_ms: 0, ..Account::new(Id(id), name.into(), format!("{name}@example.com"), String::new()) }
    }

    #[tokio::test]
    async fn unique_names_and_corrupt_values() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        store.create_account(&account(1, "Ann")).await.unwrap();
        assert!(matches!(store.create_account(&account(2, "aNN")).await, Err(CreateAccountError::UsernameTaken)));
        let mut same_mail = account(3, "bob");
        same_mail.email = "ANN@example.com".into();
        assert!(matches!(store.create_account(&same_mail).await, Err(CreateAccountError::EmailTaken)));
        assert_eq!(store.account_by_username("ANN").unwrap().unwrap().id, Id(1));
        assert_eq!(store.account_by_email("ann@EXAMPLE.com").unwrap().unwrap().id, Id(1));
        // A corrupt record is an error, not a panic and not silently wrong data.
        store.trees.userid_account.insert(keys::id_key(Id(1)), &[1u8, 0xff, 0xff][..]).unwrap();
        assert!(matches!(store.account(Id(1)), Err(StorageError::Corrupt { .. })));
        assert!(matches!(store.account_by_username("ann"), Err(StorageError::Corrupt { .. })));
        assert!(matches!(store.update_account(Id(1), |_| {}).await, Err(StorageError::Corrupt { .. })));
    }
}
