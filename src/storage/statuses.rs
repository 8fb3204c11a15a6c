//! Statuses and their indexes: `statusid_status`, `userid_statusids`,
//! `statusid_replyids`, `tag_statusids`, `public_statusids`, `statusid_counters`,
//! `statusid_rebloggers`, `userid_idempotency`, and the durable `fanout_jobs` written in
//! the same transaction as the status, so a crash between acknowledgement and fan-out
//! loses nothing: start-up replays the job.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::tags::TagTrees;
use super::{StorageError, Store, codec, keys};
use crate::domain::time::{day_of, now_millis};
use crate::domain::{Account, Id, Status, Visibility};

const STATUSES: &str = "statusid_status";
const COUNTERS: &str = "statusid_counters";
const JOBS: &str = "fanout_jobs";
/// The `name_count` counter of statuses that are not reblogs (what the accounts'
/// `statuses_count` add up to, and the instance's `status_count`).
pub(crate) const STATUS_COUNT: &str = "statuses";

/// Per-status counts, kept in the same transactions as the records they count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub replies: u64,
    pub reblogs: u64,
    pub favourites: u64,
}

/// Pending fan-out work, keyed by status id (an edit: status id ++ 1, so an edit never
/// replaces a publish that has not run yet; a delete replaces both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FanoutJob {
    /// Deliver a new status to its audience's home timelines and streams, and notify
    /// whom it mentions (or, for a reblog, the original's author).
    Publish(Status),
    /// Remove a deleted status from every home timeline it reached.
    Delete(Status),
    /// Tell the streams of everyone whose home has it that a status changed.
    Edit(Status),
}

impl FanoutJob {
    pub fn status(&self) -> &Status {
        match self {
            Self::Publish(s) | Self::Delete(s) | Self::Edit(s) => s,
        }
    }

    /// Its key in `fanout_jobs`.
    pub fn key(&self) -> Vec<u8> {
        let mut key = keys::id_key(self.status().id).to_vec();
        if matches!(self, Self::Edit(_)) {
            key.push(1);
        }
        key
    }
}

/// What prevented a status from being created.
#[derive(Debug, thiserror::Error)]
pub enum StatusWriteError {
    #[error("the status replied to does not exist")]
    ParentMissing,
    #[error("already reblogged")]
    AlreadyReblogged(Id),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub fn tag_key(tag: &str, id: Id) -> Vec<u8> {
    let mut key = tag_prefix(tag);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

pub fn tag_prefix(tag: &str) -> Vec<u8> {
    let mut key = tag.to_lowercase().into_bytes();
    key.push(0xff);
    key
}

type Abort = ConflictableTransactionError<StatusWriteError>;

fn storage(e: StorageError) -> Abort {
    ConflictableTransactionError::Abort(StatusWriteError::Storage(e))
}

pub(crate) fn bump_counters<E: From<StorageError>>(
    t: &TransactionalTree,
    id: Id,
    change: impl Fn(&mut Counters),
) -> Result<(), ConflictableTransactionError<E>> {
    let key = keys::id_key(id);
    let abort = |e: StorageError| ConflictableTransactionError::Abort(E::from(e));
    let mut counters: Counters = match t.get(key)? {
        Some(bytes) => codec::decode(COUNTERS, &key, &bytes).map_err(abort)?,
        None => Counters::default(),
    };
    change(&mut counters);
    t.insert(&key, codec::encode(&counters).map_err(abort)?)?;
    Ok(())
}

/// Adds one to (or takes one from) an instance-wide counter in `name_count`.
fn bump_count<E>(t: &TransactionalTree, name: &str, up: bool) -> Result<(), ConflictableTransactionError<E>> {
    let n = t.get(name.as_bytes())?.as_deref().and_then(read_u64).unwrap_or(0);
    let n = if up { n + 1 } else { n.saturating_sub(1) };
    t.insert(name.as_bytes(), &n.to_be_bytes())?;
    Ok(())
}

pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

/// Whether a status's tags count as uses (`tags.rs`) and sit in `tag_statusids`.
fn tags_listed(status: &Status) -> bool {
    status.reblog_of.is_none() && status.visibility == Visibility::Public
}

/// Changes an account record inside a transaction (counts kept exact with their records).
pub(crate) fn bump_account<E: From<StorageError>>(
    t: &TransactionalTree,
    id: Id,
    change: impl Fn(&mut Account),
) -> Result<(), ConflictableTransactionError<E>> {
    let key = keys::id_key(id);
    let abort = |e: StorageError| ConflictableTransactionError::Abort(E::from(e));
    let Some(bytes) = t.get(key)? else { return Ok(()) };
    let mut account: Account = codec::decode("userid_account", &key, &bytes).map_err(abort)?;
    change(&mut account);
    t.insert(&key, codec::encode(&account).map_err(abort)?)?;
    Ok(())
}

fn tx_result<T>(r: Result<T, TransactionError<StatusWriteError>>) -> Result<T, StatusWriteError> {
    match r {
        Ok(v) => Ok(v),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StorageError::from(e).into()),
    }
}

impl Store {
    /// Stores a new status (or reblog) with all its indexes, counters and a fan-out job,
    /// atomically; returns once durable. With an idempotency key already used by this
    /// author, stores nothing and returns the earlier status id.
    pub async fn create_status(&self, status: &Status, idempotency: Option<[u8; 32]>) -> Result<Id, StatusWriteError> {
        /// An Idempotency-Key is remembered for an hour, as on Mastodon.
        const IDEMPOTENCY_MS: i64 = 3_600_000;
        let t = &self.trees;
        let value = codec::encode(status)?;
        let job = codec::encode(&FanoutJob::Publish(status.clone()))?;
        let sid = keys::id_key(status.id);
        let idem_key = idempotency.map(|h| {
            let mut k = keys::id_key(status.account_id).to_vec();
            k.extend_from_slice(&h);
            k
        });
        let idem_value = codec::encode(&(status.id, status.created_at_ms))?;
        let fresh_tag_ids: Vec<Id> =
            if tags_listed(status) { status.tags.iter().map(|_| self.next_id()).collect() } else { Vec::new() };
        let day = day_of(status.created_at_ms);
        let trees = [
            &t.statusid_status,
            &t.userid_statusids,
            &t.statusid_replyids,
            &t.tag_statusids,
            &t.public_statusids,
            &t.statusid_counters,
            &t.statusid_rebloggers,
            &t.userid_idempotency,
            &t.fanout_jobs,
            &t.userid_account,
            &t.name_count,
            &t.tag_tagid,
            &t.tagday_uses,
            &t.tagdayuser_used,
        ];
        let guard = self.author_locks.lock([status.account_id]);
        let result = trees[..].transaction(|tx| {
            let (statuses, by_author, replies, tags, public, counters, rebloggers, idem, jobs, accounts) =
                (&tx[0], &tx[1], &tx[2], &tx[3], &tx[4], &tx[5], &tx[6], &tx[7], &tx[8], &tx[9]);
            let (counts, tag_uses) = (&tx[10], TagTrees { ids: &tx[11], days: &tx[12], users: &tx[13] });
            if let Some(k) = &idem_key
                && let Some(bytes) = idem.get(k)?
            {
                let (earlier, at): (Id, i64) = codec::decode("userid_idempotency", k, &bytes).map_err(storage)?;
                if status.created_at_ms - at < IDEMPOTENCY_MS && statuses.get(keys::id_key(earlier))?.is_some() {
                    return Ok(earlier);
                }
            }
            if let Some(parent) = status.in_reply_to_id {
                if statuses.get(keys::id_key(parent))?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StatusWriteError::ParentMissing));
                }
                replies.insert(&keys::pair_key(parent, status.id), &[])?;
                bump_counters(counters, parent, |c| c.replies += 1)?;
            }
            if let Some(original) = status.reblog_of {
                let key = keys::pair_key(original, status.account_id);
                if let Some(existing) = rebloggers.get(key)? {
                    let existing = keys::read_id(&existing).unwrap_or(Id(0));
                    return Err(ConflictableTransactionError::Abort(StatusWriteError::AlreadyReblogged(existing)));
                }
                rebloggers.insert(&key, &sid)?;
                bump_counters(counters, original, |c| c.reblogs += 1)?;
            } else {
                if status.visibility == Visibility::Public {
                    for tag in &status.tags {
                        tags.insert(tag_key(tag, status.id), &[])?;
                    }
                    tag_uses.count_uses(&status.tags, &fresh_tag_ids, status.account_id, day)?;
                    if !status.is_reply_to_other() {
                        public.insert(&sid, &[])?;
                    }
                }
                bump_account(accounts, status.account_id, |a| a.statuses_count += 1)?;
                bump_count(counts, STATUS_COUNT, true)?;
            }
            statuses.insert(&sid, value.as_slice())?;
            by_author.insert(&keys::pair_key(status.account_id, status.id), &[])?;
            jobs.insert(&sid, job.as_slice())?;
            if let Some(k) = &idem_key {
                idem.insert(k.as_slice(), idem_value.as_slice())?;
            }
            Ok(status.id)
        });
        drop(guard);
        let id = tx_result(result)?;
        self.durable().await?;
        Ok(id)
    }

    pub fn status(&self, id: Id) -> Result<Option<Status>, StorageError> {
        let key = keys::id_key(id);
        match self.trees.statusid_status.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(STATUSES, &key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// The stored bytes of status `id` (the render cache compares them).
    pub fn status_bytes(&self, id: Id) -> Result<Option<sled::IVec>, StorageError> {
        Ok(self.trees.statusid_status.get(keys::id_key(id))?)
    }

    /// Decodes bytes read by [`Store::status_bytes`].
    pub fn decode_status(&self, id: Id, bytes: &[u8]) -> Result<Status, StorageError> {
        codec::decode(STATUSES, &keys::id_key(id), bytes)
    }

    pub fn counters(&self, id: Id) -> Result<Counters, StorageError> {
        let key = keys::id_key(id);
        match self.trees.statusid_counters.get(key)? {
            Some(bytes) => codec::decode(COUNTERS, &key, &bytes),
            None => Ok(Counters::default()),
        }
    }

    /// The reblog wrapper `user` made of `original`, if any.
    pub fn reblog_by(&self, original: Id, user: Id) -> Result<Option<Id>, StorageError> {
        Ok(self.trees.statusid_rebloggers.get(keys::pair_key(original, user))?.and_then(|v| keys::read_id(&v)))
    }

    /// Deletes a status (or reblog wrapper) and its indexes and counts, and records a
    /// fan-out job to take it out of home timelines; durable on return. Reblogs of a
    /// deleted status are deleted with it, as on Mastodon, and so is its edit history.
    pub async fn delete_status(&self, status: &Status) -> Result<Vec<Status>, StorageError> {
        let mut removed = Vec::new();
        if status.reblog_of.is_none() {
            let prefix = keys::id_key(status.id);
            for row in self.trees.statusid_rebloggers.scan_prefix(prefix) {
                let (_, v) = row?;
                if let Some(wrapper) = keys::read_id(&v).map(|id| self.status(id)).transpose()?.flatten() {
                    removed.push(wrapper);
                }
            }
        }
        removed.push(status.clone());
        let t = &self.trees;
        let trees = [
            &t.statusid_status,
            &t.userid_statusids,
            &t.statusid_replyids,
            &t.tag_statusids,
            &t.public_statusids,
            &t.statusid_counters,
            &t.statusid_rebloggers,
            &t.fanout_jobs,
            &t.userid_account,
            &t.statusid_edits,
            &t.name_count,
        ];
        let guard = self.author_locks.lock(removed.iter().map(|s| s.account_id));
        // Read under the authors' locks, which edits take too: no version is added between
        // this read and the transaction.
        let mut versions: Vec<Vec<sled::IVec>> = Vec::with_capacity(removed.len());
        for s in &removed {
            let keys = t.statusid_edits.scan_prefix(keys::id_key(s.id)).keys().collect::<Result<Vec<_>, _>>();
            versions.push(keys?);
        }
        let result = trees[..].transaction(|tx| {
            let (statuses, by_author, replies, tags, public, counters, rebloggers, jobs, accounts) =
                (&tx[0], &tx[1], &tx[2], &tx[3], &tx[4], &tx[5], &tx[6], &tx[7], &tx[8]);
            let (edits, counts) = (&tx[9], &tx[10]);
            for (s, versions) in removed.iter().zip(&versions) {
                let sid = keys::id_key(s.id);
                if statuses.remove(&sid)?.is_none() {
                    continue; // already gone (a concurrent delete)
                }
                for key in versions {
                    edits.remove(key)?;
                }
                by_author.remove(&keys::pair_key(s.account_id, s.id))?;
                if let Some(parent) = s.in_reply_to_id {
                    replies.remove(&keys::pair_key(parent, s.id))?;
                    if statuses.get(keys::id_key(parent))?.is_some() {
                        bump_counters(counters, parent, |c| c.replies = c.replies.saturating_sub(1))?;
                    }
                }
                if let Some(original) = s.reblog_of {
                    rebloggers.remove(&keys::pair_key(original, s.account_id))?;
                    if statuses.get(keys::id_key(original))?.is_some() {
                        bump_counters(counters, original, |c| c.reblogs = c.reblogs.saturating_sub(1))?;
                    }
                } else {
                    for tag in &s.tags {
                        tags.remove(tag_key(tag, s.id))?;
                    }
                    public.remove(&sid)?;
                    bump_account(accounts, s.account_id, |a| a.statuses_count = a.statuses_count.saturating_sub(1))?;
                    bump_count(counts, STATUS_COUNT, false)?;
                }
                counters.remove(&sid)?;
                let job = FanoutJob::Delete(s.clone());
                jobs.remove(FanoutJob::Edit(s.clone()).key())?;
                jobs.insert(job.key(), codec::encode(&job).map_err(storage)?)?;
            }
            Ok(())
        });
        drop(guard);
        tx_result(result).map_err(|e| match e {
            StatusWriteError::Storage(e) => e,
            other => StorageError::Encode(other.to_string()),
        })?;
        self.durable().await?;
        Ok(removed)
    }

    /// Every pending fan-out job (replayed at start-up).
    pub fn pending_fanout_jobs(&self) -> Result<Vec<FanoutJob>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.fanout_jobs.iter() {
            let (k, v) = row?;
            if let Ok(job) = codec::decode(JOBS, &k, &v) {
                out.push(job);
            }
        }
        Ok(out)
    }

    pub fn pending_fanout_count(&self) -> usize {
        self.trees.fanout_jobs.len()
    }

    /// Whether this exact job is still pending (a job already done is not run again).
    pub fn fanout_job_pending(&self, job: &FanoutJob) -> Result<bool, StorageError> {
        let expected = codec::encode(job)?;
        Ok(self.trees.fanout_jobs.get(job.key())?.is_some_and(|v| v.as_ref() == expected.as_slice()))
    }

    /// Marks a fan-out job done, unless it was replaced meanwhile (a delete that
    /// followed the publish keeps its own job; a second edit, its own).
    pub fn finish_fanout_job(&self, job: &FanoutJob) -> Result<(), StorageError> {
        let expected = codec::encode(job)?;
        let _ = self.trees.fanout_jobs.compare_and_swap(job.key(), Some(expected), None::<&[u8]>)?;
        Ok(())
    }

    /// Direct replies of a status, oldest first.
    pub fn reply_ids(&self, parent: Id) -> Result<Vec<Id>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.statusid_replyids.scan_prefix(keys::id_key(parent)) {
            let (k, _) = row?;
            if let Some((_, id)) = keys::read_pair(&k) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// An earlier version of an edited status (`statusid_edits`: `StatusId ++ EditId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusVersion {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub mentions: Vec<crate::domain::Mention>,
    pub tags: Vec<String>,
    /// When this version was written (the creation or the previous edit).
    pub created_at_ms: i64,
}

impl Store {
    /// Replaces a status's text, keeping the previous version in its history and the tag
    /// index in step (a tag the edit adds counts as used on the day of the edit), with the
    /// fan-out job that tells the streams; durable on return.
    pub async fn edit_status(&self, old: &Status, new: &Status) -> Result<(), StorageError> {
        let t = &self.trees;
        let version = StatusVersion {
            text: old.text.clone(),
            spoiler_text: old.spoiler_text.clone(),
            sensitive: old.sensitive,
            mentions: old.mentions.clone(),
            tags: old.tags.clone(),
            created_at_ms: old.edited_at_ms.unwrap_or(old.created_at_ms),
        };
        let version = codec::encode(&version)?;
        let value = codec::encode(new)?;
        let edit_key = keys::pair_key(old.id, self.next_id());
        let sid = keys::id_key(old.id);
        let job = FanoutJob::Edit(new.clone());
        let job_value = codec::encode(&job)?;
        let added: Vec<String> = if tags_listed(old) {
            new.tags.iter().filter(|tag| !old.tags.contains(tag)).cloned().collect()
        } else {
            Vec::new()
        };
        let fresh_tag_ids: Vec<Id> = added.iter().map(|_| self.next_id()).collect();
        let day = day_of(new.edited_at_ms.unwrap_or_else(now_millis));
        let trees = [
            &t.statusid_status,
            &t.statusid_edits,
            &t.tag_statusids,
            &t.fanout_jobs,
            &t.tag_tagid,
            &t.tagday_uses,
            &t.tagdayuser_used,
        ];
        // The author's lock keeps a version from landing between a delete's read of the
        // history and its transaction.
        let guard = self.author_locks.lock([old.account_id]);
        let result = trees[..].transaction(|tx| {
            let (statuses, edits, tags, jobs) = (&tx[0], &tx[1], &tx[2], &tx[3]);
            let tag_uses = TagTrees { ids: &tx[4], days: &tx[5], users: &tx[6] };
            if statuses.get(sid)?.is_none() {
                return Ok::<(), ConflictableTransactionError<StorageError>>(());
            }
            edits.insert(&edit_key, version.as_slice())?;
            statuses.insert(&sid, value.as_slice())?;
            jobs.insert(job.key(), job_value.as_slice())?;
            if old.visibility == Visibility::Public {
                for tag in &old.tags {
                    tags.remove(tag_key(tag, old.id))?;
                }
                for tag in &new.tags {
                    tags.insert(tag_key(tag, new.id), &[])?;
                }
                tag_uses.count_uses(&added, &fresh_tag_ids, old.account_id, day)?;
            }
            Ok(())
        });
        drop(guard);
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StorageError::from(e),
        })?;
        self.durable().await
    }

    /// Statuses that are not reblogs (the instance's `status_count`), kept on write.
    pub fn status_count(&self) -> Result<u64, StorageError> {
        Ok(self.trees.name_count.get(STATUS_COUNT.as_bytes())?.as_deref().and_then(read_u64).unwrap_or(0))
    }

    /// Data written before the status count was kept: the accounts' `statuses_count`
    /// add up to it (an unreadable account counts nothing: `check_invariants` reports it
    /// and the count). Whether it wrote anything.
    pub(crate) fn backfill_status_count(&self) -> Result<bool, StorageError> {
        let t = &self.trees;
        if t.name_count.get(STATUS_COUNT.as_bytes())?.is_some() || t.statusid_status.is_empty() {
            return Ok(false);
        }
        let mut total = 0u64;
        for row in t.userid_account.iter() {
            let (k, v) = row?;
            total += codec::decode::<Account>("userid_account", &k, &v).map_or(0, |a| a.statuses_count);
        }
        t.name_count.insert(STATUS_COUNT.as_bytes(), &total.to_be_bytes())?;
        Ok(true)
    }

    /// Data written before a delete took the edit history along: the versions of
    /// statuses that are gone. Whether it removed any.
    pub(crate) fn remove_orphan_versions(&self) -> Result<bool, StorageError> {
        let t = &self.trees;
        let mut last: Option<(Id, bool)> = None;
        let mut removed = false;
        for row in t.statusid_edits.iter() {
            let (k, _) = row?;
            let Some(id) = keys::read_id(&k) else { continue };
            let exists = match last {
                Some((seen, exists)) if seen == id => exists,
                _ => t.statusid_status.contains_key(keys::id_key(id))?,
            };
            last = Some((id, exists));
            if !exists {
                t.statusid_edits.remove(&k)?;
                removed = true;
            }
        }
        Ok(removed)
    }

    /// Earlier versions of a status, oldest first.
    pub fn status_versions(&self, id: Id) -> Result<Vec<StatusVersion>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.statusid_edits.scan_prefix(keys::id_key(id)) {
            let (k, v) = row?;
            out.push(codec::decode("statusid_edits", &k, &v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::accounts::tests::account;

    fn post(store: &Store, author: Id, text: &str) -> Status {
        Status {
            id: store.next_id(),
            account_id: author,
            text: text.into(),
            spoiler_text: String::new(),
            visibility: Visibility::Public,
            sensitive: false,
            language: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            reblog_of: None,
            mentions: Vec::new(),
            tags: crate::domain::status::extract_tags(text),
            created_at_ms: now_millis(),
            edited_at_ms: None,
        }
    }

    async fn edit(store: &Store, old: &Status, text: &str) -> Status {
        let new = Status {
            text: text.into(),
            tags: crate::domain::status::extract_tags(text),
            edited_at_ms: Some(now_millis()),
            ..old.clone()
        };
        store.edit_status(old, &new).await.unwrap();
        new
    }

    /// Opens the store again once the dropped one's flusher has let go of the lock.
    fn reopen(dir: &std::path::Path) -> Store {
        for _ in 0..200 {
            if let Ok(store) = Store::open(dir, 0) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the store did not reopen");
    }

    fn version_keys(store: &Store, id: Id) -> usize {
        store.trees.statusid_edits.scan_prefix(keys::id_key(id)).count()
    }

    #[tokio::test]
    async fn a_delete_takes_the_edit_history_along() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        store.create_account(&account(1, "alice")).await.unwrap();
        let gone = post(&store, Id(1), "one");
        store.create_status(&gone, None).await.unwrap();
        let gone2 = edit(&store, &gone, "two").await;
        let gone3 = edit(&store, &gone2, "three").await;
        let kept = post(&store, Id(1), "keep");
        store.create_status(&kept, None).await.unwrap();
        edit(&store, &kept, "kept").await;
        assert_eq!((version_keys(&store, gone.id), version_keys(&store, kept.id)), (2, 1));

        store.delete_status(&gone3).await.unwrap();
        assert_eq!(version_keys(&store, gone.id), 0, "the history tree holds nothing of the deleted status");
        assert_eq!(store.status_versions(gone.id).unwrap(), Vec::new());
        assert_eq!(version_keys(&store, kept.id), 1, "other histories stay");
        assert_eq!(store.trees.statusid_edits.len(), 1);
        let report = store.check_invariants().unwrap();
        assert_eq!((report.violations, report.edit_versions), (Vec::<String>::new(), 1));
    }

    #[tokio::test]
    async fn the_status_count_is_kept_on_write_and_rebuilt_for_older_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 0).unwrap();
            store.create_account(&account(1, "alice")).await.unwrap();
            store.create_account(&account(2, "bob")).await.unwrap();
            let mut posts = Vec::new();
            for n in 0..5 {
                let s = post(&store, Id(1 + n % 2), &format!("post {n}"));
                store.create_status(&s, None).await.unwrap();
                posts.push(s);
            }
            let reblog = Status { id: store.next_id(), reblog_of: Some(posts[0].id), ..post(&store, Id(2), "") };
            store.create_status(&reblog, None).await.unwrap();
            assert_eq!(store.status_count().unwrap(), 5, "reblogs are not counted");
            store.delete_status(&posts[0]).await.unwrap();
            store.delete_status(&posts[1]).await.unwrap();
            assert_eq!(store.status_count().unwrap(), 3);
            assert!(store.check_invariants().unwrap().is_clean());
            // Older data: no count, and versions of a status deleted before deletes took
            // them along.
            store.trees.name_count.remove(STATUS_COUNT.as_bytes()).unwrap();
            let orphan = keys::pair_key(posts[1].id, store.next_id());
            let version = StatusVersion {
                text: "old".into(),
                spoiler_text: String::new(),
                sensitive: false,
                mentions: Vec::new(),
                tags: Vec::new(),
                created_at_ms: 0,
            };
            store.trees.statusid_edits.insert(orphan, codec::encode(&version).unwrap()).unwrap();
            assert_eq!(store.check_invariants().unwrap().violation_count, 2);
            store.flush_blocking().unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.status_count().unwrap(), 3);
        assert!(store.trees.statusid_edits.is_empty());
        assert!(store.check_invariants().unwrap().is_clean());
    }

    #[tokio::test]
    async fn tag_uses_count_public_statuses_and_distinct_accounts_per_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        for (id, name) in [(1, "alice"), (2, "bob")] {
            store.create_account(&account(id, name)).await.unwrap();
        }
        let today = day_of(now_millis());
        assert_eq!(store.tag_id("rust").unwrap(), None);
        for (author, text) in [(1, "#rust"), (1, "#Rust #rust"), (2, "#rust #ferris")] {
            store.create_status(&post(&store, Id(author), text), None).await.unwrap();
        }
        let private = Status { visibility: Visibility::Private, ..post(&store, Id(2), "#rust #hidden") };
        store.create_status(&private, None).await.unwrap();
        let history = store.tag_history("RUST", today, 7).unwrap();
        assert_eq!(history.len(), 7);
        assert_eq!(history[0], crate::storage::TagDay { day: today, uses: 3, accounts: 2 });
        assert!(history[1..].iter().all(|d| d.uses == 0 && d.accounts == 0));
        assert_eq!(history[6].day, today - 6);
        assert!(store.tag_id("rust").unwrap().is_some());
        assert_ne!(store.tag_id("rust").unwrap(), store.tag_id("ferris").unwrap());
        assert_eq!(store.tag_id("hidden").unwrap(), None, "private statuses make no tags");
        let report = store.check_invariants().unwrap();
        assert_eq!((report.violations, report.tags), (Vec::<String>::new(), 2));

        // Older data: tags in the index without records get them at start-up.
        store.trees.tag_tagid.clear().unwrap();
        assert_eq!(store.check_invariants().unwrap().violation_count, 4, "two tags, in the index and day counts");
        store.flush_blocking().unwrap();
        drop(store);
        let store = reopen(dir.path());
        assert!(store.tag_id("rust").unwrap().is_some() && store.tag_id("ferris").unwrap().is_some());
        assert!(store.check_invariants().unwrap().is_clean());
    }
}
