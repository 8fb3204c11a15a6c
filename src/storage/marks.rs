//! Marks a user puts on a status: favourites and bookmarks. Each kind is a pair of
//! trees — `statusid_favouriters` (`StatusId ++ UserId` → MarkId) and `userid_favourites`
//! (`UserId ++ MarkId` → StatusId), likewise for bookmarks — so a user's list pages in
//! the order the marks were made and a status's markers are one range. Favourites keep
//! the status's `favourites` counter in the same transaction.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::statuses::bump_counters;
use super::timelines::page_ids;
use super::{PageQuery, StorageError, Store, keys};
use crate::domain::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Favourite,
    Bookmark,
}

impl Store {
    /// Everyone with a mark of their own on status `id`: who favourited, bookmarked or
    /// reblogged it (three range scans; empty for a new status).
    pub fn markers(&self, id: Id) -> Result<std::collections::HashSet<Id>, StorageError> {
        let mut out = std::collections::HashSet::new();
        let t = &self.trees;
        for tree in [&t.statusid_favouriters, &t.statusid_bookmarkers, &t.statusid_rebloggers] {
            for row in tree.scan_prefix(keys::id_key(id)) {
                if let Some((_, user)) = keys::read_pair(&row?.0) {
                    out.insert(user);
                }
            }
        }
        Ok(out)
    }

    fn mark_trees(&self, mark: Mark) -> (&sled::Tree, &sled::Tree) {
        match mark {
            Mark::Favourite => (&self.trees.statusid_favouriters, &self.trees.userid_favourites),
            Mark::Bookmark => (&self.trees.statusid_bookmarkers, &self.trees.userid_bookmarks),
        }
    }

    /// Sets or clears a mark. Returns whether anything changed; repeating is harmless.
    /// Durable on return.
    pub async fn set_mark(&self, mark: Mark, user: Id, status: Id, on: bool) -> Result<bool, StorageError> {
        let (by_status, by_user) = self.mark_trees(mark);
        let mark_id = self.next_id();
        let trees = [by_status, by_user, &self.trees.statusid_counters, &self.trees.statusid_status];
        let changed = trees[..]
            .transaction(|tx| {
                let (by_status, by_user, counters, statuses) = (&tx[0], &tx[1], &tx[2], &tx[3]);
                let key = keys::pair_key(status, user);
                let existing = by_status.get(key)?.and_then(|v| keys::read_id(&v));
                let exists = statuses.get(keys::id_key(status))?.is_some();
                match (on, existing) {
                    (true, None) if exists => {
                        by_status.insert(&key, &keys::id_key(mark_id))?;
                        by_user.insert(&keys::pair_key(user, mark_id), &keys::id_key(status))?;
                        if mark == Mark::Favourite {
                            bump_counters::<StorageError>(counters, status, |c| c.favourites += 1)?;
                        }
                        Ok::<bool, ConflictableTransactionError<StorageError>>(true)
                    }
                    (false, Some(old)) => {
                        by_status.remove(&key)?;
                        by_user.remove(&keys::pair_key(user, old))?;
                        if mark == Mark::Favourite && exists {
                            bump_counters::<StorageError>(counters, status, |c| {
                                c.favourites = c.favourites.saturating_sub(1)
                            })?;
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                }
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

    pub fn has_mark(&self, mark: Mark, user: Id, status: Id) -> Result<bool, StorageError> {
        Ok(self.mark_trees(mark).0.get(keys::pair_key(status, user))?.is_some())
    }

    /// A page of a user's marks: (mark id for paging, status id), newest first.
    pub fn marks_page(&self, mark: Mark, user: Id, q: &PageQuery) -> Result<Vec<(Id, Id)>, StorageError> {
        let by_user = self.mark_trees(mark).1;
        let mut out = Vec::new();
        let mark_ids = page_ids(by_user, &keys::id_key(user), q, |mark_id| {
            Ok(by_user
                .get(keys::pair_key(user, mark_id))?
                .and_then(|v| keys::read_id(&v))
                .is_some_and(|status| self.trees.statusid_status.get(keys::id_key(status)).ok().flatten().is_some()))
        })?;
        for mark_id in mark_ids {
            if let Some(status) = by_user.get(keys::pair_key(user, mark_id))?.and_then(|v| keys::read_id(&v)) {
                out.push((mark_id, status));
            }
        }
        Ok(out)
    }

    /// Who favourited a status (paged by user id).
    pub fn favouriters_page(&self, status: Id, q: &PageQuery) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.statusid_favouriters, &keys::id_key(status), q, |_| Ok(true))
    }

    /// Who reblogged a status (paged by user id).
    pub fn rebloggers_page(&self, status: Id, q: &PageQuery) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.statusid_rebloggers, &keys::id_key(status), q, |_| Ok(true))
    }
}
