//! Per-user stream events, for resumable streams: `userid_events`
//! (`UserId ++ EventSeq`, both u64 BE → [`StreamEvent`]) and `userid_streamlease`
//! (`UserId` → lease expiry, i64 BE milliseconds).
//!
//! Every user has their own sequence `1, 2, 3, …`. Appends are serialised by one lock
//! that covers assigning the number and inserting the record, so for each user a record
//! is in the tree before any record with a higher number. After the writer's durable
//! flush it calls [`Store::mark_events_durable`]; a reader takes events up to the
//! durable mark only, so a live client never sees an event a crash could take back, and
//! everything up to the mark is there (it was inserted before the flush that covers the
//! mark began).
//!
//! Events are logged only for users holding a stream lease: a user who connected a
//! stream within the retention window. A lease that lapsed means events may be missing,
//! so the next resume gets a gap. Retention: a user's newest `retention_events` events
//! are always kept, older ones once they are older than `retention`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::{StorageError, Store, codec, keys};
use crate::domain::Id;
use crate::domain::time::now_millis;

const TREE: &str = "userid_events";
/// A lease lasts at least this long after the user's last connection.
const MIN_LEASE_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A status entered the user's home timeline.
    Update(Id),
    /// A status left it (deleted).
    Delete(Id),
    /// A status in it was edited.
    StatusUpdate(Id),
    /// A notification (by its id).
    Notification(Id),
    /// A direct status the user sent or received.
    Conversation(Id),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEvent {
    pub seq: u64,
    pub at_ms: i64,
    pub kind: EventKind,
}

/// What a reader gets: events after its cursor, and whether some were lost to
/// retention (or the cursor was never issued).
#[derive(Debug, Default)]
pub struct EventsRead {
    pub events: Vec<StreamEvent>,
    pub gap: bool,
}

/// In-memory side of the log: sequence counters, durable marks and leases.
#[derive(Debug)]
pub struct EventLog {
    next: Mutex<HashMap<Id, u64>>,
    durable: DashMap<Id, u64>,
    leases: DashMap<Id, i64>,
    retention_events: AtomicU64,
    retention_ms: AtomicI64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            next: Mutex::default(),
            durable: DashMap::new(),
            leases: DashMap::new(),
            retention_events: AtomicU64::new(1000),
            retention_ms: AtomicI64::new(24 * 3_600_000),
        }
    }
}

fn event_key(user: Id, seq: u64) -> [u8; 16] {
    keys::pair_key(user, Id(seq))
}

impl Store {
    /// Sets the retention window (from the `streaming` settings).
    pub fn set_event_retention(&self, events: u64, hours: u64) {
        self.events.retention_events.store(events.max(1), Ordering::Relaxed);
        self.events.retention_ms.store((hours as i64).saturating_mul(3_600_000), Ordering::Relaxed);
    }

    fn lease_ms(&self) -> i64 {
        self.events.retention_ms.load(Ordering::Relaxed).max(MIN_LEASE_MS)
    }

    fn lease_of(&self, user: Id) -> Result<i64, StorageError> {
        if let Some(l) = self.events.leases.get(&user) {
            return Ok(*l);
        }
        let stored = match self.trees.userid_streamlease.get(keys::id_key(user))? {
            Some(v) => v.as_ref().try_into().map(i64::from_be_bytes).unwrap_or(0),
            None => 0,
        };
        Ok(stored)
    }

    /// A stream of `user` connects: starts or extends their lease. Returns whether the
    /// log has been kept without a lapse (if not, an old cursor must get a gap).
    pub fn open_stream_lease(&self, user: Id) -> Result<bool, StorageError> {
        let now = now_millis();
        let continuous = self.lease_of(user)? >= now;
        self.renew_stream_lease(user, true)?;
        Ok(continuous)
    }

    /// Extends a connected (or just disconnected) user's lease; `persist` also writes
    /// it to storage (on connect and disconnect; periodic renewals stay in memory).
    pub fn renew_stream_lease(&self, user: Id, persist: bool) -> Result<(), StorageError> {
        let until = now_millis() + self.lease_ms();
        self.events.leases.insert(user, until);
        if persist {
            self.trees.userid_streamlease.insert(keys::id_key(user), &until.to_be_bytes())?;
        }
        Ok(())
    }

    fn logs_events_for(&self, user: Id, now: i64) -> Result<bool, StorageError> {
        if let Some(l) = self.events.leases.get(&user) {
            return Ok(*l >= now);
        }
        let lease = self.lease_of(user)?;
        if lease > 0 {
            self.events.leases.insert(user, lease);
        }
        Ok(lease >= now)
    }

    /// Users who hold a lease now (they may be followers of a celebrity, whose posts
    /// are not fanned out: the router checks these one by one).
    pub fn leased_users(&self) -> Vec<Id> {
        let now = now_millis();
        self.events.leases.iter().filter(|e| *e.value() >= now).map(|e| *e.key()).collect()
    }

    fn last_seq(&self, user: Id) -> Result<u64, StorageError> {
        Ok(match self.trees.userid_events.scan_prefix(keys::id_key(user)).next_back() {
            Some(row) => keys::read_pair(&row?.0).map_or(0, |(_, s)| s.0),
            None => 0,
        })
    }

    /// Appends events for the users among `items` who hold a lease; returns the
    /// `(user, seq)` numbers given. Not yet durable: the caller flushes, then calls
    /// [`Store::mark_events_durable`].
    ///
    /// `replay_of`: the work that logs them may have run before (a fan-out job replayed
    /// after a crash or a failed flush) and began at this time; then an event a user's
    /// log already holds since then is not logged again, so resume stays exactly once.
    pub fn append_events(
        &self,
        items: &[(Id, EventKind)],
        replay_of: Option<i64>,
    ) -> Result<Vec<(Id, u64, EventKind)>, StorageError> {
        let now = now_millis();
        let mut wanted = Vec::with_capacity(items.len());
        for (user, kind) in items {
            if self.logs_events_for(*user, now)? && !self.replayed(*user, *kind, replay_of)? {
                wanted.push((*user, *kind));
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(wanted.len());
        let mut prune = Vec::new();
        // Pruning scans from the oldest event; often enough that at most an eighth of
        // the retained count (and at most 64) is over the limit.
        let prune_every = (self.events.retention_events.load(Ordering::Relaxed) / 8).clamp(1, 64);
        {
            let mut next = self.events.next.lock().map_err(|_| StorageError::Unavailable)?;
            for (user, kind) in wanted {
                let seq = match next.get(&user) {
                    Some(n) => *n,
                    None => {
                        // First append since start-up: what is stored came from disk.
                        let last = self.last_seq(user)?;
                        self.events.durable.entry(user).or_insert(last);
                        last + 1
                    }
                };
                next.insert(user, seq + 1);
                // Inside the lock: a higher number is never in the tree before a lower
                // one. One insert at a time (no batch): a batch holds sled's write lock,
                // and in sled 0.34 it is no cheaper per key.
                self.trees
                    .userid_events
                    .insert(event_key(user, seq), codec::encode(&StreamEvent { seq, at_ms: now, kind })?)?;
                if seq.is_multiple_of(prune_every) {
                    prune.push(user);
                }
                out.push((user, seq, kind));
            }
        }
        for user in prune {
            self.prune_events(user, now)?;
        }
        Ok(out)
    }

    /// Whether `user`'s log already holds `kind` logged at or after `since` (minus a
    /// minute of clock slack): read from the newest event back, only on a replay.
    fn replayed(&self, user: Id, kind: EventKind, since: Option<i64>) -> Result<bool, StorageError> {
        let Some(since) = since else { return Ok(false) };
        let range = event_key(user, 0)..=event_key(user, u64::MAX);
        for row in self.trees.userid_events.range(range).rev() {
            let (k, v) = row?;
            let event: StreamEvent = codec::decode(TREE, &k, &v)?;
            if event.at_ms < since - 60_000 {
                break;
            }
            if event.kind == kind {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records that the given events are on disk (and with them every lower number).
    pub fn mark_events_durable(&self, appended: &[(Id, u64, EventKind)]) {
        for (user, seq, _) in appended {
            let mut mark = self.events.durable.entry(*user).or_insert(0);
            if *mark < *seq {
                *mark = *seq;
            }
        }
    }

    /// The highest event number of `user` that is durable.
    pub fn durable_event_seq(&self, user: Id) -> Result<u64, StorageError> {
        if let Some(mark) = self.events.durable.get(&user) {
            return Ok(*mark);
        }
        // Nothing appended since start-up (appends set the mark first, under the same
        // lock): what is in the tree came back from disk.
        let _appends = self.events.next.lock().map_err(|_| StorageError::Unavailable)?;
        if let Some(mark) = self.events.durable.get(&user) {
            return Ok(*mark);
        }
        let last = self.last_seq(user)?;
        Ok(*self.events.durable.entry(user).or_insert(last))
    }

    /// Up to `limit` durable events of `user` after `after`, oldest first. `gap` when
    /// `after` is not 0 and events right after it are gone (retention, a lapsed lease
    /// when `continuous` is false) or `after` was never issued.
    pub fn events_after(&self, user: Id, after: u64, limit: usize) -> Result<EventsRead, StorageError> {
        let upto = self.durable_event_seq(user)?;
        let mut read = EventsRead::default();
        if after > upto {
            read.gap = true;
            return Ok(read);
        }
        let range = event_key(user, after.saturating_add(1))..=event_key(user, upto);
        for row in self.trees.userid_events.range(range).take(limit) {
            let (k, v) = row?;
            let event: StreamEvent = codec::decode(TREE, &k, &v)?;
            if read.events.is_empty() && after > 0 && event.seq != after + 1 {
                read.gap = true;
            }
            read.events.push(event);
        }
        if read.events.is_empty() && after < upto {
            read.gap = true;
        }
        Ok(read)
    }

    /// Drops events that are both beyond the newest `retention_events` and older than
    /// the retention period.
    fn prune_events(&self, user: Id, now: i64) -> Result<(), StorageError> {
        let last = self.last_seq(user)?;
        let keep = self.events.retention_events.load(Ordering::Relaxed);
        let cutoff = now - self.events.retention_ms.load(Ordering::Relaxed);
        let mut old = Vec::new();
        for row in self.trees.userid_events.scan_prefix(keys::id_key(user)) {
            let (k, v) = row?;
            let event: StreamEvent = codec::decode(TREE, &k, &v)?;
            if last - event.seq < keep || event.at_ms >= cutoff {
                break;
            }
            old.push(k);
        }
        // Oldest first, one key at a time (a batch would write sled's log buffer twice).
        for k in old {
            self.trees.userid_events.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        (dir, store)
    }

    #[test]
    fn events_are_logged_only_for_leased_users_and_read_up_to_the_durable_mark() {
        let (_dir, store) = store();
        let (alice, bob) = (Id(1), Id(2));
        assert!(!store.open_stream_lease(alice).unwrap(), "no lease before the first connection");
        let appended =
            store.append_events(&[(alice, EventKind::Update(Id(10))), (bob, EventKind::Update(Id(10)))], None).unwrap();
        assert_eq!(appended, vec![(alice, 1, EventKind::Update(Id(10)))], "bob never streamed: nothing logged for him");
        assert!(store.events_after(alice, 0, 10).unwrap().events.is_empty(), "not durable yet");
        store.mark_events_durable(&appended);
        let second = store.append_events(&[(alice, EventKind::Delete(Id(10)))], None).unwrap();
        store.mark_events_durable(&second);
        let read = store.events_after(alice, 0, 10).unwrap();
        assert_eq!(read.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert!(!read.gap);
        let read = store.events_after(alice, 1, 10).unwrap();
        assert_eq!((read.events.len(), read.events[0].kind, read.gap), (1, EventKind::Delete(Id(10)), false));
        assert!(store.events_after(alice, 2, 10).unwrap().events.is_empty());
        assert!(store.events_after(alice, 9, 10).unwrap().gap, "a cursor never issued is a gap");
    }

    #[test]
    fn retention_keeps_the_newest_events_and_reports_a_gap_for_older_cursors() {
        let (_dir, store) = store();
        store.set_event_retention(10, 0);
        let user = Id(5);
        store.open_stream_lease(user).unwrap();
        for i in 0..200 {
            let appended = store.append_events(&[(user, EventKind::Update(Id(i)))], None).unwrap();
            store.mark_events_durable(&appended);
        }
        let read = store.events_after(user, 3, 1000).unwrap();
        assert!(read.gap, "event 4 was pruned");
        assert!(read.events.len() >= 10);
        assert_eq!(read.events.last().unwrap().seq, 200);
        let recent = store.events_after(user, 195, 1000).unwrap();
        assert!(!recent.gap);
        assert_eq!(recent.events.len(), 5);
    }
}
