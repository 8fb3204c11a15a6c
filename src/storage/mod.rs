//! The store: sled with one named tree per relation (`<key>_<value>`, key layout in a
//! comment beside each), a single value codec, big-endian keys, and group-commit
//! durability. Each area's reads and writes live in their own repository file
//! (`accounts.rs`, `apps.rs`, `sessions.rs`) as `impl Store` blocks.
//!
//! Write methods are `async` and return only after a durable flush covers the write, so
//! a handler that answers after `.await` never acknowledges what a crash could lose.

pub mod accounts;
pub mod apps;
pub mod check;
pub mod codec;
pub mod events;
pub mod files;
pub mod flusher;
pub mod follows;
pub mod keys;
pub mod marks;
pub mod moderation;
pub mod notifications;
pub mod relations;
pub mod sessions;
pub mod statuses;
pub mod tags;
pub mod timelines;

use std::path::Path;
use std::sync::Arc;

use crate::domain::{Id, IdGenerator};

pub use accounts::CreateAccountError;
pub use apps::App;
pub use events::{EventKind, EventsRead, StreamEvent};
pub use marks::Mark;
pub use moderation::{Metric, Report, Suspension};
pub use notifications::{Notification, NotificationKind};
pub use sessions::{AuthCode, AuthSession, RefreshRecord, SessionKind};
pub use statuses::{Counters, FanoutJob, StatusWriteError};
pub use tags::TagDay;
pub use timelines::PageQuery;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine error: {0}")]
    Sled(Arc<sled::Error>),
    #[error("storage i/o error: {0}")]
    Io(Arc<std::io::Error>),
    #[error("corrupt value in tree {tree}: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("could not encode value: {0}")]
    Encode(String),
    #[error("storage is unavailable after a failed flush")]
    Unavailable,
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        Self::Sled(Arc::new(e))
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

/// Maps the error of a transaction that never aborts on purpose.
pub(crate) fn tx_storage(e: sled::transaction::TransactionError<()>) -> StorageError {
    match e {
        sled::transaction::TransactionError::Storage(e) => StorageError::from(e),
        sled::transaction::TransactionError::Abort(()) => StorageError::Encode("transaction aborted".into()),
    }
}

/// The named trees. Names say key and value; comments give the key layout.
#[derive(Debug)]
pub(crate) struct Trees {
    /// UserId (u64 BE) → Account
    pub userid_account: sled::Tree,
    /// lower-case username (UTF-8) → UserId (u64 BE); kept after deletion so a name is never reused
    pub username_userid: sled::Tree,
    /// lower-case e-mail (UTF-8) → UserId (u64 BE)
    pub email_userid: sled::Tree,
    /// AppId (u64 BE) → App
    pub appid_app: sled::Tree,
    /// client_id (UTF-8) → AppId (u64 BE)
    pub clientid_appid: sled::Tree,
    /// SessionId (u64 BE) → AuthSession
    pub sessionid_session: sled::Tree,
    /// UserId ++ SessionId (u64 BE ++ u64 BE) → ()
    pub userid_sessionids: sled::Tree,
    /// SHA-256 of a refresh token (32 bytes) → RefreshRecord
    pub refreshhash_refresh: sled::Tree,
    /// SHA-256 of an authorization code (32 bytes) → AuthCode
    pub codehash_authcode: sled::Tree,
    /// StatusId → Status
    pub statusid_status: sled::Tree,
    /// AuthorId ++ StatusId → () (the author's statuses and reblogs)
    pub userid_statusids: sled::Tree,
    /// ParentId ++ ReplyId → ()
    pub statusid_replyids: sled::Tree,
    /// lower-case tag (UTF-8) ++ 0xff ++ StatusId → () (public statuses)
    pub tag_statusids: sled::Tree,
    /// StatusId → () (public statuses that are not replies to others)
    pub public_statusids: sled::Tree,
    /// StatusId → Counters (replies, reblogs, favourites)
    pub statusid_counters: sled::Tree,
    /// OriginalId ++ RebloggerId → ReblogStatusId
    pub statusid_rebloggers: sled::Tree,
    /// AuthorId ++ SHA-256 of the Idempotency-Key → (StatusId, created_at_ms)
    pub userid_idempotency: sled::Tree,
    /// StatusId → FanoutJob (pending fan-out work)
    pub fanout_jobs: sled::Tree,
    /// FolloweeId ++ FollowerId → ()
    pub userid_followers: sled::Tree,
    /// FollowerId ++ FolloweeId → ()
    pub userid_following: sled::Tree,
    /// UserId ++ StatusId → () (home timeline entries)
    pub userid_timeline: sled::Tree,
    /// StatusId ++ UserId → FavouriteId
    pub statusid_favouriters: sled::Tree,
    /// UserId ++ FavouriteId → StatusId
    pub userid_favourites: sled::Tree,
    /// StatusId ++ UserId → BookmarkId
    pub statusid_bookmarkers: sled::Tree,
    /// UserId ++ BookmarkId → StatusId
    pub userid_bookmarks: sled::Tree,
    /// UserId ++ NotificationId → Notification
    pub userid_notifications: sled::Tree,
    /// BlockerId ++ BlockedId → ()
    pub userid_blocks: sled::Tree,
    /// BlockedId ++ BlockerId → ()
    pub userid_blockedby: sled::Tree,
    /// MuterId ++ MutedId → ()
    pub userid_mutes: sled::Tree,
    /// MutedId ++ MuterId → () (mirror of `userid_mutes`: who mutes an author)
    pub userid_mutedby: sled::Tree,
    /// TargetId ++ RequesterId → () (pending follow requests to locked accounts)
    pub userid_followrequests: sled::Tree,
    /// StatusId ++ EditId → StatusVersion (earlier versions of edited statuses)
    pub statusid_edits: sled::Tree,
    /// UserId ++ EventSeq (u64 BE) → StreamEvent (resumable stream events)
    pub userid_events: sled::Tree,
    /// UserId → lease expiry (i64 BE ms): events are logged while it runs
    pub userid_streamlease: sled::Tree,
    /// UserId → Suspension
    pub userid_suspension: sled::Tree,
    /// ReportId → Report
    pub reportid_report: sled::Tree,
    /// metric name ++ 0xff ++ day (u32 BE) → count (u64 BE)
    pub metricday_count: sled::Tree,
    /// day (u32 BE) ++ UserId → () (active users per day)
    pub dayuser_active: sled::Tree,
    /// counter name (UTF-8) → u64 BE: instance-wide counts kept in the transactions of
    /// the records they count (`statuses`: statuses that are not reblogs)
    pub name_count: sled::Tree,
    /// lower-case tag (UTF-8) → TagId (u64 BE) (tags public statuses used; `tags.rs`)
    pub tag_tagid: sled::Tree,
    /// lower-case tag ++ 0xff ++ day (u32 BE) → uses ++ accounts (u64 BE each)
    pub tagday_uses: sled::Tree,
    /// lower-case tag ++ 0xff ++ day (u32 BE) ++ UserId → () (who used a tag on a day)
    pub tagdayuser_used: sled::Tree,
}

#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    pub(crate) trees: Arc<Trees>,
    flusher: Arc<flusher::Flusher>,
    ids: Arc<IdGenerator>,
    pub(crate) followers: Arc<follows::FollowerCache>,
    pub(crate) author_locks: Arc<follows::AuthorLocks>,
    pub(crate) events: Arc<events::EventLog>,
    /// The day each user was last recorded active (see `mark_active`).
    pub(crate) active_days: Arc<dashmap::DashMap<Id, u32>>,
}

impl Store {
    /// Opens (or creates) the database in `dir` and starts the flusher.
    pub fn open(dir: &Path, node_id: u8) -> Result<Self, StorageError> {
        files::create_dir_all_durable(dir)?;
        let db = sled::Config::new().path(dir).open()?;
        // sled names its files (`conf`, `db`, `blobs/`) without fsyncing the directory.
        db.flush()?;
        files::sync_tree_entries(dir)?;
        let tree = |name: &str| db.open_tree(name);
        let trees = Trees {
            userid_account: tree("userid_account")?,
            username_userid: tree("username_userid")?,
            email_userid: tree("email_userid")?,
            appid_app: tree("appid_app")?,
            clientid_appid: tree("clientid_appid")?,
            sessionid_session: tree("sessionid_session")?,
            userid_sessionids: tree("userid_sessionids")?,
            refreshhash_refresh: tree("refreshhash_refresh")?,
            codehash_authcode: tree("codehash_authcode")?,
            statusid_status: tree("statusid_status")?,
            userid_statusids: tree("userid_statusids")?,
            statusid_replyids: tree("statusid_replyids")?,
            tag_statusids: tree("tag_statusids")?,
            public_statusids: tree("public_statusids")?,
            statusid_counters: tree("statusid_counters")?,
            statusid_rebloggers: tree("statusid_rebloggers")?,
            userid_idempotency: tree("userid_idempotency")?,
            fanout_jobs: tree("fanout_jobs")?,
            userid_followers: tree("userid_followers")?,
            userid_following: tree("userid_following")?,
            userid_timeline: tree("userid_timeline")?,
            statusid_favouriters: tree("statusid_favouriters")?,
            userid_favourites: tree("userid_favourites")?,
            statusid_bookmarkers: tree("statusid_bookmarkers")?,
            userid_bookmarks: tree("userid_bookmarks")?,
            userid_notifications: tree("userid_notifications")?,
            userid_blocks: tree("userid_blocks")?,
            userid_blockedby: tree("userid_blockedby")?,
            userid_mutes: tree("userid_mutes")?,
            userid_mutedby: tree("userid_mutedby")?,
            userid_followrequests: tree("userid_followrequests")?,
            statusid_edits: tree("statusid_edits")?,
            userid_events: tree("userid_events")?,
            userid_streamlease: tree("userid_streamlease")?,
            userid_suspension: tree("userid_suspension")?,
            reportid_report: tree("reportid_report")?,
            metricday_count: tree("metricday_count")?,
            dayuser_active: tree("dayuser_active")?,
            name_count: tree("name_count")?,
            tag_tagid: tree("tag_tagid")?,
            tagday_uses: tree("tagday_uses")?,
            tagdayuser_used: tree("tagdayuser_used")?,
        };
        // Data written before `userid_mutedby` existed: build the mirror once.
        if trees.userid_mutedby.is_empty() && !trees.userid_mutes.is_empty() {
            for row in trees.userid_mutes.iter() {
                let (k, _) = row?;
                if let Some((muter, muted)) = keys::read_pair(&k) {
                    trees.userid_mutedby.insert(keys::pair_key(muted, muter), &[])?;
                }
            }
        }
        let ids = IdGenerator::new(node_id);
        // Ids must stay above everything already stored, whatever the clock says.
        for t in [
            &trees.userid_account,
            &trees.appid_app,
            &trees.sessionid_session,
            &trees.statusid_status,
            &trees.reportid_report,
        ] {
            if let Some((k, _)) = t.last()?
                && let Some(id) = keys::read_id(&k)
            {
                ids.observe(id);
            }
        }
        let flusher = flusher::Flusher::start(db.clone(), dir)?;
        let store = Self {
            db,
            trees: Arc::new(trees),
            flusher: Arc::new(flusher),
            ids: Arc::new(ids),
            followers: Arc::new(follows::FollowerCache::default()),
            author_locks: Arc::default(),
            events: Arc::new(events::EventLog::default()),
            active_days: Arc::default(),
        };
        // Data written before these were kept on write.
        let mut changed = store.backfill_status_count()?;
        changed |= store.remove_orphan_versions()?;
        changed |= store.backfill_tag_ids()?;
        if changed {
            store.flush_blocking()?;
        }
        Ok(store)
    }

    pub fn next_id(&self) -> Id {
        self.ids.next_id()
    }

    /// Waits until every write made before this call is on disk.
    pub async fn durable(&self) -> Result<(), StorageError> {
        self.flusher.durable().await
    }

    /// Waits until every write made before this call (not before the first poll) is on
    /// disk; the writes that follow the call do not delay it.
    pub fn durable_from_now(&self) -> impl Future<Output = Result<(), StorageError>> + Send + 'static {
        self.flusher.durable_from_now()
    }

    /// Flushes synchronously; for shutdown and command-line tools.
    pub fn flush_blocking(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }

    /// Flushes completed so far.
    pub fn flush_count(&self) -> u64 {
        self.flusher.flush_count()
    }

    /// True while the store can read and flush.
    pub fn is_ready(&self) -> bool {
        self.flusher.is_healthy() && self.db.get(b"__ready_probe").is_ok()
    }

    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.db.size_on_disk()?)
    }
}
