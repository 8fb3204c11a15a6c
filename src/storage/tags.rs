//! Hashtags and their use, kept on write in the transaction of the status that uses them:
//! - `tag_tagid` (lower-case tag → TagId): every tag a public status has used, with the
//!   id the Tag entity carries;
//! - `tagday_uses` (tag ++ 0xff ++ day (u32 BE, days since 1970-01-01, UTC) → uses ++
//!   accounts, u64 BE each): how many public statuses used the tag that day, and how many
//!   distinct accounts wrote them;
//! - `tagdayuser_used` (tag ++ 0xff ++ day ++ UserId → ()): who used it that day, so each
//!   account counts once a day.
//!
//! As on Mastodon, only public statuses that are not reblogs count (those that hashtag
//! timelines list), a use is counted on the day the status was written (an edit that adds
//! a tag, on the day of the edit), and deleting a status does not take its use back.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{StorageError, Store, keys};
use crate::domain::Id;

/// One day of a tag's use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagDay {
    /// Days since 1970-01-01 (UTC).
    pub day: u32,
    pub uses: u64,
    pub accounts: u64,
}

/// `tag ++ 0xff`: the prefix of a tag's rows in `tagday_uses` and `tagdayuser_used`.
fn prefix(tag: &str) -> Vec<u8> {
    let mut key = tag.to_lowercase().into_bytes();
    key.push(0xff);
    key
}

pub(crate) fn day_key(tag: &str, day: u32) -> Vec<u8> {
    let mut key = prefix(tag);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

pub(crate) fn day_user_key(tag: &str, day: u32, user: Id) -> Vec<u8> {
    let mut key = day_key(tag, day);
    key.extend_from_slice(&keys::id_key(user));
    key
}

/// Splits a `tag ++ 0xff ++ day` key.
pub(crate) fn read_day_key(key: &[u8]) -> Option<(String, u32)> {
    let at = key.len().checked_sub(5)?;
    if key[at] != 0xff {
        return None;
    }
    let tag = std::str::from_utf8(&key[..at]).ok()?;
    Some((tag.to_owned(), u32::from_be_bytes(key[at + 1..].try_into().ok()?)))
}

/// `(uses, accounts)` of a `tagday_uses` value.
pub(crate) fn read_counts(value: &[u8]) -> Option<(u64, u64)> {
    let uses = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let accounts = u64::from_be_bytes(value.get(8..16)?.try_into().ok()?);
    Some((uses, accounts))
}

fn counts_value(uses: u64, accounts: u64) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&uses.to_be_bytes());
    value[8..].copy_from_slice(&accounts.to_be_bytes());
    value
}

/// The trees a use is written to, inside the using status's transaction.
pub(crate) struct TagTrees<'a> {
    pub ids: &'a TransactionalTree,
    pub days: &'a TransactionalTree,
    pub users: &'a TransactionalTree,
}

impl TagTrees<'_> {
    /// Counts one use of each of `tags` by `user` on `day`; a tag used for the first time
    /// gets its id from `fresh` (one per tag, drawn before the transaction so a retry
    /// draws none).
    pub(crate) fn count_uses<E: From<StorageError>>(
        &self,
        tags: &[String],
        fresh: &[Id],
        user: Id,
        day: u32,
    ) -> Result<(), ConflictableTransactionError<E>> {
        for (tag, fresh) in tags.iter().zip(fresh) {
            let name = tag.to_lowercase();
            if self.ids.get(name.as_bytes())?.is_none() {
                self.ids.insert(name.as_bytes(), &keys::id_key(*fresh))?;
            }
            let first_today = self.users.insert(day_user_key(&name, day, user), &[])?.is_none();
            let key = day_key(&name, day);
            let (uses, accounts) = self.days.get(&key)?.and_then(|v| read_counts(&v)).unwrap_or_default();
            self.days.insert(key, &counts_value(uses + 1, accounts + u64::from(first_today)))?;
        }
        Ok(())
    }
}

impl Store {
    /// The id of `tag` (any case), if a public status ever used it.
    pub fn tag_id(&self, tag: &str) -> Result<Option<Id>, StorageError> {
        Ok(self.trees.tag_tagid.get(tag.to_lowercase().as_bytes())?.and_then(|v| keys::read_id(&v)))
    }

    /// The use of `tag` on each of the `days` days up to `today`, newest first (days
    /// without use are zeros).
    pub fn tag_history(&self, tag: &str, today: u32, days: u32) -> Result<Vec<TagDay>, StorageError> {
        let first = today.saturating_sub(days.saturating_sub(1));
        let mut stored = std::collections::HashMap::new();
        for row in self.trees.tagday_uses.range(day_key(tag, first)..=day_key(tag, today)) {
            let (k, v) = row?;
            if let (Some((_, day)), Some(counts)) = (read_day_key(&k), read_counts(&v)) {
                stored.insert(day, counts);
            }
        }
        Ok((first..=today)
            .rev()
            .map(|day| {
                let (uses, accounts) = stored.get(&day).copied().unwrap_or_default();
                TagDay { day, uses, accounts }
            })
            .collect())
    }

    /// Data written before tags had records: one for every tag in `tag_statusids`.
    /// Whether it wrote anything.
    pub(crate) fn backfill_tag_ids(&self) -> Result<bool, StorageError> {
        let t = &self.trees;
        if !t.tag_tagid.is_empty() || t.tag_statusids.is_empty() {
            return Ok(false);
        }
        let mut last: Option<Vec<u8>> = None;
        for row in t.tag_statusids.iter() {
            let (k, _) = row?;
            let Some(at) = k.len().checked_sub(9) else { continue };
            let tag = &k[..at];
            if last.as_deref() != Some(tag) {
                t.tag_tagid.insert(tag, &keys::id_key(self.next_id()))?;
                last = Some(tag.to_vec());
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_group_by_tag() {
        let key = day_key("Rust", 20_000);
        assert_eq!(read_day_key(&key), Some(("rust".to_owned(), 20_000)));
        assert!(day_user_key("rust", 20_000, Id(7)).starts_with(&key));
        assert!(day_key("rust", 1) < day_key("rust", 2));
        assert!(!day_key("rustacean", 1).starts_with(&prefix("rust")));
        assert_eq!(read_counts(&counts_value(3, 2)), Some((3, 2)));
    }
}
