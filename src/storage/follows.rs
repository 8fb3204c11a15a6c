//! Follows: `userid_followers` (`FolloweeId ++ FollowerId`) and `userid_following`
//! (`FollowerId ++ FolloweeId`), with both accounts' counts changed in the same
//! transaction.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::statuses::bump_account;
use super::{StorageError, Store, keys};
use crate::domain::Id;

impl Store {
    /// `follower` follows `followee`. Returns false if it already did. Durable on return.
    pub async fn follow(&self, follower: Id, followee: Id) -> Result<bool, StorageError> {
        self.set_follow(follower, followee, true).await
    }

    /// Ends a follow. Returns false if there was none. Durable on return.
    pub async fn unfollow(&self, follower: Id, followee: Id) -> Result<bool, StorageError> {
        self.set_follow(follower, followee, false).await
    }

    async fn set_follow(&self, follower: Id, followee: Id, on: bool) -> Result<bool, StorageError> {
        let t = &self.trees;
        let trees = [&t.userid_followers, &t.userid_following, &t.userid_account];
        let changed = trees[..]
            .transaction(|tx| {
                let (followers, following, accounts) = (&tx[0], &tx[1], &tx[2]);
                let fwd = keys::pair_key(follower, followee);
                let back = keys::pair_key(followee, follower);
                let exists = following.get(fwd)?.is_some();
                if exists == on {
                    return Ok::<bool, ConflictableTransactionError<StorageError>>(false);
                }
                if on {
                    following.insert(&fwd, &[])?;
                    followers.insert(&back, &[])?;
                    bump_account(accounts, follower, |a| a.following_count += 1)?;
                    bump_account(accounts, followee, |a| a.followers_count += 1)?;
                } else {
                    following.remove(&fwd)?;
                    followers.remove(&back)?;
                    bump_account(accounts, follower, |a| a.following_count = a.following_count.saturating_sub(1))?;
                    bump_account(accounts, followee, |a| a.followers_count = a.followers_count.saturating_sub(1))?;
                }
                Ok(true)
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => StorageError::from(e),
            })?;
        if changed {
            self.durable().await?;
        }
        Ok(changed)
    }

    /// True when `follower` follows `followee`.
    pub fn follows(&self, follower: Id, followee: Id) -> Result<bool, StorageError> {
        Ok(self.trees.userid_following.get(keys::pair_key(follower, followee))?.is_some())
    }

    /// Everyone who follows `user`.
    pub fn follower_ids(&self, user: Id) -> Result<Vec<Id>, StorageError> {
        self.second_ids(&self.trees.userid_followers, user)
    }

    /// Everyone `user` follows.
    pub fn following_ids(&self, user: Id) -> Result<Vec<Id>, StorageError> {
        self.second_ids(&self.trees.userid_following, user)
    }

    fn second_ids(&self, tree: &sled::Tree, user: Id) -> Result<Vec<Id>, StorageError> {
        let mut out = Vec::new();
        for row in tree.scan_prefix(keys::id_key(user)) {
            let (k, _) = row?;
            if let Some((_, id)) = keys::read_pair(&k) {
                out.push(id);
            }
        }
        Ok(out)
    }
}
