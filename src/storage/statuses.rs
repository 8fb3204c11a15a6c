//! Statuses and their indexes: `statusid_status`, `userid_statusids`,
//! `statusid_replyids`, `tag_statusids`, `public_statusids`, `statusid_counters`,
//! `statusid_rebloggers`, `userid_idempotency`, and the durable `fanout_jobs` written in
//! the same transaction as the status, so a crash between acknowledgement and fan-out
//! loses nothing: start-up replays the job.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{StorageError, Store, codec, keys};
use crate::domain::{Account, Id, Status, Visibility};

const STATUSES: &str = "statusid_status";
const COUNTERS: &str = "statusid_counters";
const JOBS: &str = "fanout_jobs";

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
        ];
        let guard = self.author_locks.lock([status.account_id]);
        let result = trees[..].transaction(|tx| {
            let (statuses, by_author, replies, tags, public, counters, rebloggers, idem, jobs, accounts) =
                (&tx[0], &tx[1], &tx[2], &tx[3], &tx[4], &tx[5], &tx[6], &tx[7], &tx[8], &tx[9]);
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
                    if !status.is_reply_to_other() {
                        public.insert(&sid, &[])?;
                    }
                }
                bump_account(accounts, status.account_id, |a| a.statuses_count += 1)?;
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
    /// deleted status are deleted with it, as on Mastodon.
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
        ];
        let guard = self.author_locks.lock(removed.iter().map(|s| s.account_id));
        let result = trees[..].transaction(|tx| {
            let (statuses, by_author, replies, tags, public, counters, rebloggers, jobs, accounts) =
                (&tx[0], &tx[1], &tx[2], &tx[3], &tx[4], &tx[5], &tx[6], &tx[7], &tx[8]);
            for s in &removed {
                let sid = keys::id_key(s.id);
                if statuses.remove(&sid)?.is_none() {
                    continue; // already gone (a concurrent delete)
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
    /// index in step, with the fan-out job that tells the streams; durable on return.
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
        let trees = [&t.statusid_status, &t.statusid_edits, &t.tag_statusids, &t.fanout_jobs];
        trees[..]
            .transaction(|tx| {
                let (statuses, edits, tags, jobs) = (&tx[0], &tx[1], &tx[2], &tx[3]);
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
                }
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StorageError::from(e),
            })?;
        self.durable().await
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
