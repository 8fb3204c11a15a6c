//! Home timelines (`userid_timeline`: `UserId ++ StatusId` → ()) and the paged range
//! scan every timeline uses.

use std::ops::Bound;

use super::{StorageError, Store, keys};
use crate::domain::Id;

/// Mastodon's paging parameters, already validated and clamped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub max_id: Option<Id>,
    pub since_id: Option<Id>,
    pub min_id: Option<Id>,
    pub limit: usize,
}

/// Statuses merged into a home timeline when following someone (Mastodon keeps 800).
pub const MERGE_LIMIT: usize = 800;

fn with_id(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Pages through keys `prefix ++ Id` newest first, keeping ids `keep` accepts, at most
/// `q.limit` of them. With `min_id` it takes the oldest ids above it (Mastodon's
/// "previous page") and still returns them newest first.
pub fn page_ids(
    tree: &sled::Tree,
    prefix: &[u8],
    q: &PageQuery,
    mut keep: impl FnMut(Id) -> Result<bool, StorageError>,
) -> Result<Vec<Id>, StorageError> {
    let lower_id = match q.min_id.or(q.since_id) {
        // Nothing is above the largest id (saturating would return that id itself).
        Some(Id(u64::MAX)) => return Ok(Vec::new()),
        Some(id) => id.0 + 1,
        None => 0,
    };
    let lo = Bound::Included(with_id(prefix, lower_id));
    let hi = match q.max_id {
        Some(max) => Bound::Excluded(with_id(prefix, max.0)),
        None => Bound::Included(with_id(prefix, u64::MAX)),
    };
    // The limit can be huge (internal "everything" scans): never pre-allocate by it.
    let mut out = Vec::with_capacity(q.limit.min(64));
    let mut visit = |row: Result<(sled::IVec, sled::IVec), sled::Error>| -> Result<bool, StorageError> {
        let (k, _) = row?;
        let Some(id) = k.len().checked_sub(8).and_then(|at| keys::read_id(&k[at..])) else { return Ok(true) };
        if keep(id)? {
            out.push(id);
        }
        Ok(out.len() < q.limit)
    };
    if q.min_id.is_some() {
        for row in tree.range((lo, hi)) {
            if !visit(row)? {
                break;
            }
        }
        out.reverse();
    } else {
        for row in tree.range((lo, hi)).rev() {
            if !visit(row)? {
                break;
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Adds a status to many home timelines, one insert at a time: a batch holds sled's
    /// write lock (a concurrent read waits behind all of it) and in sled 0.34 costs more
    /// per key than single inserts. Each entry stands alone (keys `(user, status)`, a
    /// replay rewrites the same ones), so nothing needs them to be one write.
    pub fn add_to_timelines(&self, status: Id, users: &[Id]) -> Result<(), StorageError> {
        for &user in users {
            self.trees.userid_timeline.insert(keys::pair_key(user, status), &[])?;
        }
        Ok(())
    }

    /// Takes a status out of many home timelines, one key at a time as
    /// [`Store::add_to_timelines`].
    pub fn remove_from_timelines(&self, status: Id, users: &[Id]) -> Result<(), StorageError> {
        for &user in users {
            self.trees.userid_timeline.remove(keys::pair_key(user, status))?;
        }
        Ok(())
    }

    /// Whether status `id` is among the newest `within` entries of `user`'s home
    /// timeline (a reblog of it is then left out, as Mastodon's `REBLOG_FALLOFF` does).
    pub fn recent_in_home(&self, user: Id, id: Id, within: usize) -> Result<bool, StorageError> {
        if self.trees.userid_timeline.get(keys::pair_key(user, id))?.is_none() {
            return Ok(false);
        }
        let newer =
            self.trees.userid_timeline.range(keys::pair_key(user, Id(id.0 + 1))..=keys::pair_key(user, Id(u64::MAX)));
        Ok(newer.take(within).count() < within)
    }

    /// Merges an author's newest statuses into every given home timeline in one
    /// transaction (an author who stops being a celebrity: all of it or none of it).
    pub fn merge_author_into_all(&self, users: &[Id], author: Id) -> Result<(), StorageError> {
        let ids = self.author_status_ids(author, MERGE_LIMIT)?;
        self.trees
            .userid_timeline
            .transaction(|timeline| {
                for user in users {
                    for id in &ids {
                        timeline.insert(&keys::pair_key(*user, *id), &[])?;
                    }
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(super::tx_storage)
    }

    /// After `user` follows `author`: the author's newest statuses join the home timeline.
    pub fn merge_author_into(&self, user: Id, author: Id) -> Result<(), StorageError> {
        self.merge_author_into_all(&[user], author)
    }

    /// The newest `limit` status ids of an author (reblogs included), newest first.
    pub fn author_status_ids(&self, author: Id, limit: usize) -> Result<Vec<Id>, StorageError> {
        let q = PageQuery { limit, ..PageQuery::default() };
        page_ids(&self.trees.userid_statusids, &keys::id_key(author), &q, |_| Ok(true))
    }

    /// A page of a user's raw home timeline entries; `keep` filters them.
    pub fn home_page(
        &self,
        user: Id,
        q: &PageQuery,
        keep: impl FnMut(Id) -> Result<bool, StorageError>,
    ) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.userid_timeline, &keys::id_key(user), q, keep)
    }

    pub fn public_page(
        &self,
        q: &PageQuery,
        keep: impl FnMut(Id) -> Result<bool, StorageError>,
    ) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.public_statusids, &[], q, keep)
    }

    pub fn tag_page(
        &self,
        tag: &str,
        q: &PageQuery,
        keep: impl FnMut(Id) -> Result<bool, StorageError>,
    ) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.tag_statusids, &super::statuses::tag_prefix(tag), q, keep)
    }

    pub fn account_page(
        &self,
        author: Id,
        q: &PageQuery,
        keep: impl FnMut(Id) -> Result<bool, StorageError>,
    ) -> Result<Vec<Id>, StorageError> {
        page_ids(&self.trees.userid_statusids, &keys::id_key(author), q, keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_newest_first_with_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("t").unwrap();
        let prefix = keys::id_key(Id(7));
        for i in 1..=10u64 {
            tree.insert(keys::pair_key(Id(7), Id(i)), &[]).unwrap();
            tree.insert(keys::pair_key(Id(8), Id(i)), &[]).unwrap();
        }
        let ids = |q: PageQuery| {
            page_ids(&tree, &prefix, &q, |id| Ok(id.0 != 5)).unwrap().iter().map(|i| i.0).collect::<Vec<_>>()
        };
        assert_eq!(ids(PageQuery { limit: 3, ..Default::default() }), vec![10, 9, 8]);
        assert_eq!(ids(PageQuery { limit: 3, max_id: Some(Id(7)), ..Default::default() }), vec![6, 4, 3]);
        assert_eq!(ids(PageQuery { limit: 20, since_id: Some(Id(7)), ..Default::default() }), vec![10, 9, 8]);
        assert_eq!(ids(PageQuery { limit: 2, min_id: Some(Id(3)), ..Default::default() }), vec![6, 4]);
        assert_eq!(ids(PageQuery { limit: 5, max_id: Some(Id(1)), ..Default::default() }), Vec::<u64>::new());
    }

    #[test]
    fn nothing_is_above_the_largest_id() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        for i in [1, u64::MAX - 1, u64::MAX] {
            tree.insert(keys::pair_key(Id(7), Id(i)), &[]).unwrap();
        }
        let prefix = keys::id_key(Id(7));
        for q in [
            PageQuery { limit: 5, min_id: Some(Id(u64::MAX)), ..Default::default() },
            PageQuery { limit: 5, since_id: Some(Id(u64::MAX)), ..Default::default() },
        ] {
            assert_eq!(page_ids(&tree, &prefix, &q, |_| Ok(true)).unwrap(), Vec::<Id>::new(), "{q:?}");
        }
        let q = PageQuery { limit: 5, since_id: Some(Id(u64::MAX - 1)), ..Default::default() };
        assert_eq!(page_ids(&tree, &prefix, &q, |_| Ok(true)).unwrap(), vec![Id(u64::MAX)]);
    }
}
