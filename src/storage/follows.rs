//! Follows: `userid_followers` (`FolloweeId ++ FollowerId`) and `userid_following`
//! (`FollowerId ++ FolloweeId`), with both accounts' counts changed in the same
//! transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::statuses::bump_account;
use super::{StorageError, Store, codec, keys};
use crate::domain::Id;

/// Follower lists for fan-out, cached in memory; sled stays the truth. Every follow
/// change bumps `generation` and drops the followee's entry; a reader only caches what it
/// scanned if no change happened meanwhile, so a stale list is never stored.
#[derive(Debug)]
pub struct FollowerCache {
    lists: DashMap<Id, Arc<Vec<Id>>>,
    generation: AtomicU64,
    /// See [`Store::set_celebrity_threshold`]; no limit until set.
    celebrity_threshold: AtomicU64,
}

impl Default for FollowerCache {
    fn default() -> Self {
        Self { lists: DashMap::new(), generation: AtomicU64::new(0), celebrity_threshold: AtomicU64::new(u64::MAX) }
    }
}

/// Past this many cached lists the cache starts over (it is only a cache).
const FOLLOWER_CACHE_MAX: usize = 100_000;

/// Orders a follow change of an author against writes to that author's status list
/// (`userid_statusids`: new statuses, reblogs, deletes). A follow reads the list before
/// its transaction (sled transactions cannot scan), so without this a status committed
/// between that read and the follow, and fanned out to the followers of before the
/// follow, would reach neither way. Under the lock, a status is either in the list the
/// follow merges or written after the follow and the follower-cache drop, so its fan-out
/// sees the new follower. Striped by author id; held only around synchronous sled work.
#[derive(Debug)]
pub struct AuthorLocks {
    stripes: Box<[Mutex<()>]>,
}

impl Default for AuthorLocks {
    fn default() -> Self {
        Self { stripes: (0..64).map(|_| Mutex::new(())).collect() }
    }
}

impl AuthorLocks {
    /// Locks the stripes of `authors` in stripe order (so two callers never deadlock).
    pub fn lock(&self, authors: impl IntoIterator<Item = Id>) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = authors.into_iter().map(|a| (a.0 % self.stripes.len() as u64) as usize).collect();
        stripes.sort_unstable();
        stripes.dedup();
        // The guarded data is `()`: a poisoned stripe protects nothing broken.
        stripes.into_iter().map(|i| self.stripes[i].lock().unwrap_or_else(|e| e.into_inner())).collect()
    }
}

impl Store {
    /// Followers of `user`, from the cache when possible (used by the fan-out router).
    pub fn cached_follower_ids(&self, user: Id) -> Result<Arc<Vec<Id>>, StorageError> {
        if let Some(list) = self.followers.lists.get(&user) {
            return Ok(list.clone());
        }
        let before = self.followers.generation.load(Ordering::SeqCst);
        let list = Arc::new(self.follower_ids(user)?);
        if self.followers.lists.len() >= FOLLOWER_CACHE_MAX {
            self.followers.lists.clear();
        }
        // Check and insert under the entry's lock: a writer bumps the generation before
        // it removes the entry (which takes the same lock), so a list scanned before a
        // change is either refused here or removed right after.
        if let dashmap::Entry::Vacant(slot) = self.followers.lists.entry(user)
            && self.followers.generation.load(Ordering::SeqCst) == before
        {
            slot.insert(list.clone());
        }
        Ok(list)
    }

    /// Authors with more followers than this are merged into home timelines at read
    /// time, so a follow of one does not copy their statuses (`fanout.celebrity_followers`).
    pub fn set_celebrity_threshold(&self, followers: u64) {
        self.followers.celebrity_threshold.store(followers, Ordering::Relaxed);
    }

    /// `follower` follows `followee`, and the followee's newest statuses join the
    /// follower's home timeline in the same transaction (unless the followee is a
    /// celebrity), so a crash never leaves a follow without its merge. Returns false if
    /// it already did. Durable on return.
    pub async fn follow(&self, follower: Id, followee: Id) -> Result<bool, StorageError> {
        self.set_follow(follower, followee, true).await
    }

    /// Ends a follow and takes the followee's statuses out of the follower's home
    /// timeline, in one transaction. Returns false if there was none. Durable on return.
    pub async fn unfollow(&self, follower: Id, followee: Id) -> Result<bool, StorageError> {
        self.set_follow(follower, followee, false).await
    }

    /// Holds `authors`' follow-ordering locks (see [`AuthorLocks`]) while the guard
    /// lives: the fan-out holds its author's while it reads the followers and writes
    /// their timelines, so an unfollow is wholly before or wholly after it.
    pub fn lock_authors(&self, authors: impl IntoIterator<Item = Id>) -> Vec<MutexGuard<'_, ()>> {
        self.author_locks.lock(authors)
    }

    async fn set_follow(&self, follower: Id, followee: Id, on: bool) -> Result<bool, StorageError> {
        let t = &self.trees;
        let guard = self.author_locks.lock([followee]);
        // Read before the transaction (a retry re-runs only the closure): the statuses to
        // merge (the newest) or to take out (all of them).
        let statuses = if on {
            self.author_status_ids(followee, super::timelines::MERGE_LIMIT)?
        } else {
            self.author_status_ids(followee, usize::MAX)?
        };
        let threshold = self.followers.celebrity_threshold.load(Ordering::Relaxed);
        let trees = [&t.userid_followers, &t.userid_following, &t.userid_account, &t.userid_timeline];
        let changed = trees[..]
            .transaction(|tx| {
                let (followers, following, accounts, timeline) = (&tx[0], &tx[1], &tx[2], &tx[3]);
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
                    let followers_now = match accounts.get(keys::id_key(followee))? {
                        Some(bytes) => {
                            codec::decode::<crate::domain::Account>("userid_account", &keys::id_key(followee), &bytes)
                                .map(|a| a.followers_count)
                                .unwrap_or(0)
                        }
                        None => 0,
                    };
                    if followers_now <= threshold {
                        for id in &statuses {
                            timeline.insert(&keys::pair_key(follower, *id), &[])?;
                        }
                    }
                } else {
                    following.remove(&fwd)?;
                    followers.remove(&back)?;
                    bump_account(accounts, follower, |a| a.following_count = a.following_count.saturating_sub(1))?;
                    bump_account(accounts, followee, |a| a.followers_count = a.followers_count.saturating_sub(1))?;
                    for id in &statuses {
                        timeline.remove(&keys::pair_key(follower, *id))?;
                    }
                }
                Ok(true)
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => StorageError::from(e),
            })?;
        if changed {
            self.followers.generation.fetch_add(1, Ordering::SeqCst);
            self.followers.lists.remove(&followee);
        }
        drop(guard);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follower_cache_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let (star, a, b) = (Id(1), Id(2), Id(3));
        assert!(store.cached_follower_ids(star).unwrap().is_empty());
        assert!(store.follow(a, star).await.unwrap());
        assert!(!store.follow(a, star).await.unwrap(), "following twice changes nothing");
        assert_eq!(*store.cached_follower_ids(star).unwrap(), vec![a]);
        store.follow(b, star).await.unwrap();
        assert_eq!(*store.cached_follower_ids(star).unwrap(), vec![a, b]);
        store.unfollow(a, star).await.unwrap();
        assert_eq!(*store.cached_follower_ids(star).unwrap(), vec![b]);
        assert_eq!(store.following_ids(b).unwrap(), vec![star]);
    }
}
