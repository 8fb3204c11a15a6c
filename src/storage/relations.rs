//! Blocks and mutes: `userid_blocks` (`BlockerId ++ BlockedId`), `userid_blockedby`
//! (`BlockedId ++ BlockerId`), `userid_mutes` (`MuterId ++ MutedId`) and its mirror
//! `userid_mutedby` (`MutedId ++ MuterId`). A block also
//! ends follows both ways (done by the caller through `unfollow`, which keeps counts).

use super::timelines::page_ids;
use super::{PageQuery, StorageError, Store, keys};
use crate::domain::Id;

impl Store {
    pub async fn set_block(&self, blocker: Id, blocked: Id, on: bool) -> Result<bool, StorageError> {
        let fwd = keys::pair_key(blocker, blocked);
        let back = keys::pair_key(blocked, blocker);
        let exists = self.trees.userid_blocks.get(fwd)?.is_some();
        if exists == on {
            return Ok(false);
        }
        if on {
            self.trees.userid_blocks.insert(fwd, &[])?;
            self.trees.userid_blockedby.insert(back, &[])?;
        } else {
            self.trees.userid_blocks.remove(fwd)?;
            self.trees.userid_blockedby.remove(back)?;
        }
        self.durable().await?;
        Ok(true)
    }

    pub async fn set_mute(&self, muter: Id, muted: Id, on: bool) -> Result<bool, StorageError> {
        use sled::Transactional;
        let key = keys::pair_key(muter, muted);
        let back = keys::pair_key(muted, muter);
        let changed = (&self.trees.userid_mutes, &self.trees.userid_mutedby)
            .transaction(|(mutes, mutedby)| {
                let changed = if on { mutes.insert(&key, &[])?.is_none() } else { mutes.remove(&key)?.is_some() };
                if on {
                    mutedby.insert(&back, &[])?;
                } else {
                    mutedby.remove(&back)?;
                }
                Ok::<bool, sled::transaction::ConflictableTransactionError<()>>(changed)
            })
            .map_err(super::tx_storage)?;
        if changed {
            self.durable().await?;
        }
        Ok(changed)
    }

    pub fn blocks(&self, blocker: Id, blocked: Id) -> Result<bool, StorageError> {
        Ok(self.trees.userid_blocks.get(keys::pair_key(blocker, blocked))?.is_some())
    }

    pub fn mutes(&self, muter: Id, muted: Id) -> Result<bool, StorageError> {
        Ok(self.trees.userid_mutes.get(keys::pair_key(muter, muted))?.is_some())
    }

    /// True when `viewer` should not see `other`'s content: a block either way, or a mute.
    pub fn hides(&self, viewer: Id, other: Id) -> Result<bool, StorageError> {
        Ok(viewer != other
            && (self.blocks(viewer, other)? || self.blocks(other, viewer)? || self.mutes(viewer, other)?))
    }

    /// Everyone who does not see `author`'s content (see [`Store::hides`]), from the
    /// author's side: those who block them, those they block, and those who mute them;
    /// three range scans.
    pub fn hidden_from(&self, author: Id) -> Result<std::collections::HashSet<Id>, StorageError> {
        let mut out = std::collections::HashSet::new();
        for tree in [&self.trees.userid_blockedby, &self.trees.userid_blocks, &self.trees.userid_mutedby] {
            for row in tree.scan_prefix(keys::id_key(author)) {
                if let Some((_, other)) = keys::read_pair(&row?.0) {
                    out.insert(other);
                }
            }
        }
        Ok(out)
    }

    /// The accounts `user` blocks.
    pub fn blocked_by_user(&self, user: Id) -> Result<std::collections::HashSet<Id>, StorageError> {
        let mut out = std::collections::HashSet::new();
        for row in self.trees.userid_blocks.scan_prefix(keys::id_key(user)) {
            if let Some((_, other)) = keys::read_pair(&row?.0) {
                out.insert(other);
            }
        }
        Ok(out)
    }

    /// Everyone whose content `viewer` does not see (see [`Store::hides`]): the accounts
    /// they block, those who block them, and those they mute; read in three range scans.
    pub fn hidden_accounts(&self, viewer: Id) -> Result<std::collections::HashSet<Id>, StorageError> {
        let mut hidden = std::collections::HashSet::new();
        for tree in [&self.trees.userid_blocks, &self.trees.userid_blockedby, &self.trees.userid_mutes] {
            for row in tree.scan_prefix(keys::id_key(viewer)) {
                let (k, _) = row?;
                if let Some((_, other)) = keys::read_pair(&k) {
                    hidden.insert(other);
                }
            }
        }
        hidden.remove(&viewer);
        Ok(hidden)
    }

    pub fn blocked_page(&self, user: Id, q: &PageQuery) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.userid_blocks, &keys::id_key(user), q, |_| Ok(true))
    }

    pub fn muted_page(&self, user: Id, q: &PageQuery) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.userid_mutes, &keys::id_key(user), q, |_| Ok(true))
    }
}

impl Store {
    /// Records or withdraws a follow request to a locked account
    /// (`userid_followrequests`: `TargetId ++ RequesterId`). Durable on return.
    pub async fn set_follow_request(&self, target: Id, requester: Id, on: bool) -> Result<bool, StorageError> {
        let key = keys::pair_key(target, requester);
        let changed = if on {
            self.trees.userid_followrequests.insert(key, &[])?.is_none()
        } else {
            self.trees.userid_followrequests.remove(key)?.is_some()
        };
        if changed {
            self.durable().await?;
        }
        Ok(changed)
    }

    pub fn follow_requested(&self, requester: Id, target: Id) -> Result<bool, StorageError> {
        Ok(self.trees.userid_followrequests.get(keys::pair_key(target, requester))?.is_some())
    }

    /// How many follow requests wait for `target`.
    pub fn follow_request_count(&self, target: Id) -> Result<u64, StorageError> {
        let mut n = 0;
        for row in self.trees.userid_followrequests.scan_prefix(keys::id_key(target)) {
            row?;
            n += 1;
        }
        Ok(n)
    }

    pub fn follow_requests_page(&self, target: Id, q: &PageQuery) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.userid_followrequests, &keys::id_key(target), q, |_| Ok(true))
    }
}
