//! `FanoutRouter`: one per node. It takes [`Fanout`] jobs — a status published, edited
//! or deleted — each written durably in the same sled transaction as the change, and
//! does what follows from it:
//! - works out the audience's home timelines (the author, their followers; for direct
//!   posts only the mentioned followers), holding the author's follow lock so an
//!   unfollow is wholly before or after it;
//! - writes the notifications a post causes (mentions; for a reblog, the original's
//!   author), keyed by the post so a replay rewrites the same ones;
//! - logs the stream events, runs the home filter once for every recipient
//!   ([`HomeAudience`]) and hands each connection its event with the frame rendered once
//!   ([`Streams::deliver`]) as soon as a flush covers the events;
//! - writes (or removes) the timeline entries one key at a time and tells active users'
//!   `TimelineActor`s; once a flush covers them too, deletes the job.
//!
//! Handlers send it jobs with `try_send`; jobs that do not fit its bounded mailbox stay
//! in sled and are picked up by the periodic replay, which also runs at start-up.
//! Timeline keys are `(user, status)` and notification keys `(user, post)`, so replaying
//! a job changes nothing, and a replay does not log an event a user's log already holds.
//! Its address is held in `AppState`; it runs until the system stops.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::delivery::{Broadcast, BroadcastEvent};
use super::streams::Streams;
use super::timeline::{EntryAdded, EntryRemoved, TimelineRegistry};
use crate::domain::{Id, Status, Visibility};
use crate::storage::{EventKind, FanoutJob, Notification, NotificationKind, StorageError, Store};
use crate::view::visibility::{HomeAudience, can_see};

/// A reblog is left out of a home whose newest this many entries hold its original (or
/// another reblog of it), as Mastodon's `REBLOG_FALLOFF`.
const REBLOG_FALLOFF: usize = 40;

/// A fan-out written: the stream events it logged and the shared status event, to
/// deliver once `events_durable` resolves (the events are on disk; the timeline entries
/// written after them need not be yet).
struct Delivery {
    appended: Vec<(Id, u64, EventKind)>,
    shared: Arc<Broadcast>,
    events_durable: std::pin::Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send>>,
}

const MAILBOX: usize = 4096;

/// Authors with more followers than the threshold ("celebrities"): their posts are not
/// fanned out on write but merged into followers' home pages at read time. Kept in
/// memory (loaded at start-up, updated on every follow change); small by definition.
pub struct Celebrities {
    threshold: u64,
    ids: dashmap::DashSet<Id>,
}

impl Celebrities {
    pub fn load(store: &Store, threshold: u64) -> Result<Arc<Self>, StorageError> {
        let ids = dashmap::DashSet::new();
        for account in store.all_accounts()? {
            if account.followers_count > threshold {
                ids.insert(account.id);
            }
        }
        Ok(Arc::new(Self { threshold, ids }))
    }

    pub fn contains(&self, id: Id) -> bool {
        self.ids.contains(&id)
    }

    /// Re-checks an author after their follower count changed. Returns true when the
    /// author just stopped being a celebrity: their recent posts were never fanned out,
    /// so the caller must merge them into their followers' timelines now.
    pub fn update(&self, id: Id, followers: u64) -> bool {
        if followers > self.threshold {
            self.ids.insert(id);
            false
        } else {
            self.ids.remove(&id).is_some()
        }
    }

    /// The celebrities `user` follows.
    pub fn followed_by(&self, store: &Store, user: Id) -> Result<Vec<Id>, StorageError> {
        let mut out = Vec::new();
        for id in self.ids.iter() {
            if *id != user && store.follows(user, *id)? {
                out.push(*id);
            }
        }
        Ok(out)
    }
}

/// A job just written with its change; sent by the handler that wrote it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Fanout(pub FanoutJob);

/// Re-reads pending jobs from sled; sent by tests and the crash-test harness.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReplayPending;

pub struct FanoutRouter {
    store: Store,
    timelines: Arc<TimelineRegistry>,
    celebrities: Arc<Celebrities>,
    streams: Arc<Streams>,
    replay_every: Duration,
    /// Test seam (setting `fanout.paused`): accept jobs but leave them pending in sled.
    paused: bool,
    /// Jobs done but not yet flushed and removed: the periodic replay skips them, so a
    /// slow flush never makes a job (and its stream events) run twice.
    in_flight: std::collections::HashSet<Vec<u8>>,
}

impl FanoutRouter {
    pub fn new(
        store: Store,
        timelines: Arc<TimelineRegistry>,
        celebrities: Arc<Celebrities>,
        streams: Arc<Streams>,
        replay_every: Duration,
        paused: bool,
    ) -> Self {
        Self { store, timelines, celebrities, streams, replay_every, paused, in_flight: Default::default() }
    }

    pub fn start_bounded(self) -> Addr<Self> {
        Self::create(|ctx| {
            ctx.set_mailbox_capacity(MAILBOX);
            self
        })
    }

    /// Runs a job; `replay`: it comes from sled, not fresh from its handler, so it may
    /// have run before (a crash, a failed flush) and must not log its events twice.
    fn process(&mut self, job: FanoutJob, replay: bool, ctx: &mut Context<Self>) {
        if self.paused {
            return;
        }
        match self.store.fanout_job_pending(&job) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "could not check a fan-out job; running it"),
        }
        let key = job.key();
        if !self.in_flight.insert(key.clone()) {
            return;
        }
        let replay_of = replay.then(|| job_time(&job));
        let result = match &job {
            FanoutJob::Publish(status) => self.publish(status, replay_of),
            FanoutJob::Delete(status) => self.retract(status, replay_of),
            FanoutJob::Edit(status) => self.edit(status, replay_of),
        };
        match result {
            Ok(Delivery { appended, shared, events_durable }) => {
                let store = self.store.clone();
                let streams = self.streams.clone();
                async move {
                    // Events must be on disk before anyone sees them (a resumed stream
                    // reads the same log); the timeline entries, before the job goes.
                    events_durable.await?;
                    streams.deliver(&appended, Some(shared), true);
                    store.durable().await?;
                    store.finish_fanout_job(&job)
                }
                .into_actor(self)
                .map(move |result: Result<(), StorageError>, act: &mut Self, _| {
                    act.in_flight.remove(&key);
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "fan-out job left pending");
                    }
                })
                .spawn(ctx);
            }
            Err(e) => {
                self.in_flight.remove(&key);
                tracing::warn!(error = %e, "fan-out failed; the job stays pending");
            }
        }
    }

    fn publish(&self, status: &Status, replay_of: Option<i64>) -> Result<Delivery, StorageError> {
        let store = &self.store;
        let celebrity = status.visibility != Visibility::Direct && self.celebrities.contains(status.account_id);
        // Held while the followers are read and their timelines written: an unfollow
        // (which takes the author's posts out) is wholly before or wholly after.
        let guard = store.lock_authors([status.account_id]);
        let mut audience = if celebrity {
            // Merged at read time; only the author's own timeline is written.
            vec![status.account_id]
        } else {
            audience(store, status)?
        };
        if let Some(original) = status.reblog_of {
            self.reblog_falloff(status, original, &mut audience)?;
        }
        let mut events: Vec<(Id, EventKind)> = audience.iter().map(|u| (*u, EventKind::Update(status.id))).collect();
        if celebrity {
            // Followers with a stream still get the event (only they: not a write per
            // follower).
            for user in store.leased_users() {
                if user != status.account_id && store.follows(user, status.account_id)? {
                    events.push((user, EventKind::Update(status.id)));
                }
            }
        }
        if status.visibility == Visibility::Direct {
            events.push((status.account_id, EventKind::Conversation(status.id)));
            events.extend(status.mentions.iter().map(|m| (m.account_id, EventKind::Conversation(status.id))));
        }
        let notifications = self.notifications(status)?;
        store.add_notifications(&notifications)?;
        events.extend(notifications.iter().map(|n| (n.user_id, EventKind::Notification(n.id))));
        // The events first, so their flush (and the frames) need not wait for the
        // timeline writes.
        let appended = self.streams.log(&events, replay_of)?;
        let events_durable = Box::pin(store.durable_from_now());
        store.add_to_timelines(status.id, &audience)?;
        drop(guard);
        for user in audience {
            self.timelines.notify(user, EntryAdded(status.id));
        }
        let shared = self.shared(BroadcastEvent::Update, status, &appended)?;
        Ok(Delivery { appended, shared, events_durable })
    }

    /// Leaves out of `audience` the followers whose newest entries already hold the
    /// reblogged original or another reblog of it (the reblogger keeps theirs).
    fn reblog_falloff(&self, status: &Status, original: Id, audience: &mut Vec<Id>) -> Result<(), StorageError> {
        let store = &self.store;
        let mut wrappers = vec![original];
        let others = crate::storage::PageQuery { limit: 20, ..Default::default() };
        for reblogger in store.rebloggers_page(original, &others)? {
            if let Some(w) = store.reblog_by(original, reblogger)?
                && w != status.id
            {
                wrappers.push(w);
            }
        }
        let mut keep = Vec::with_capacity(audience.len());
        for &user in audience.iter() {
            let mut recent = false;
            if user != status.account_id {
                for w in &wrappers {
                    if store.recent_in_home(user, *w, REBLOG_FALLOFF)? {
                        recent = true;
                        break;
                    }
                }
            }
            if !recent {
                keep.push(user);
            }
        }
        *audience = keep;
        Ok(())
    }

    /// The notifications a new status causes, keyed by it: a mention for each local
    /// account it names who may see it, or for a reblog one to the original's author.
    fn notifications(&self, status: &Status) -> Result<Vec<Notification>, StorageError> {
        let store = &self.store;
        let from = status.account_id;
        let mut out = Vec::new();
        let mut push = |recipient: Id, kind, about: Id| -> Result<(), StorageError> {
            if recipient != from && !store.hides(recipient, from)? {
                out.push(Notification {
                    id: status.id,
                    user_id: recipient,
                    kind,
                    from_account: from,
                    status_id: Some(about),
                    created_at_ms: status.created_at_ms,
                });
            }
            Ok(())
        };
        match status.reblog_of {
            Some(original) => {
                if let Some(o) = store.status(original)? {
                    push(o.account_id, NotificationKind::Reblog, o.id)?;
                }
            }
            None => {
                for m in &status.mentions {
                    if can_see(store, Some(m.account_id), status)? {
                        push(m.account_id, NotificationKind::Mention, status.id)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The status event shared by every recipient: who among the user-stream recipients
    /// the home filter hides it from, who has marks of their own on it.
    fn shared(
        &self,
        event: BroadcastEvent,
        status: &Status,
        appended: &[(Id, u64, EventKind)],
    ) -> Result<Arc<Broadcast>, StorageError> {
        let root = self.streams.thread_root(status)?;
        let mut shared = Broadcast::new(event, status.clone(), root);
        let about_it =
            |k: &EventKind| matches!(k, EventKind::Update(id) | EventKind::StatusUpdate(id) if *id == status.id);
        if event != BroadcastEvent::Delete && appended.iter().any(|(_, _, k)| about_it(k)) {
            let home = HomeAudience::new(&self.store, status)?;
            shared.hidden =
                appended.iter().filter(|(u, _, k)| about_it(k) && !home.shows(*u)).map(|(u, _, _)| *u).collect();
            shared.marked = self.store.markers(status.reblog_of.unwrap_or(status.id))?;
        }
        Ok(Arc::new(shared))
    }

    fn edit(&self, status: &Status, replay_of: Option<i64>) -> Result<Delivery, StorageError> {
        let store = &self.store;
        // The stored version is the one to show (a later edit may have replaced it).
        let current = store.status(status.id)?.unwrap_or_else(|| status.clone());
        let events: Vec<(Id, EventKind)> =
            audience(store, &current)?.into_iter().map(|u| (u, EventKind::StatusUpdate(current.id))).collect();
        let appended = self.streams.log(&events, replay_of)?;
        let events_durable = Box::pin(store.durable_from_now());
        let shared = self.shared(BroadcastEvent::StatusUpdate, &current, &appended)?;
        Ok(Delivery { appended, shared, events_durable })
    }

    fn retract(&self, status: &Status, replay_of: Option<i64>) -> Result<Delivery, StorageError> {
        let guard = self.store.lock_authors([status.account_id]);
        let mut audience = audience(&self.store, status)?;
        audience.extend(status.mentions.iter().map(|m| m.account_id));
        audience.sort();
        audience.dedup();
        let events: Vec<(Id, EventKind)> = audience.iter().map(|u| (*u, EventKind::Delete(status.id))).collect();
        let appended = self.streams.log(&events, replay_of)?;
        let events_durable = Box::pin(self.store.durable_from_now());
        self.store.remove_from_timelines(status.id, &audience)?;
        drop(guard);
        for user in audience {
            self.timelines.notify(user, EntryRemoved(status.id));
        }
        let shared = self.shared(BroadcastEvent::Delete, status, &appended)?;
        Ok(Delivery { appended, shared, events_durable })
    }

    fn replay(&mut self, ctx: &mut Context<Self>) {
        match self.store.pending_fanout_jobs() {
            Ok(jobs) => {
                if !jobs.is_empty() && !self.paused {
                    tracing::info!(jobs = jobs.len(), "replaying pending fan-out jobs");
                }
                for job in jobs {
                    self.process(job, true, ctx);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read pending fan-out jobs"),
        }
    }
}

/// When a job's work began at the earliest: its status's creation or last edit (a
/// delete's events are logged after the delete, which is later still).
fn job_time(job: &FanoutJob) -> i64 {
    let s = job.status();
    s.edited_at_ms.unwrap_or(s.created_at_ms)
}

/// Whose home timeline a status belongs in: its author, and the author's followers —
/// for a direct post only the followers it mentions.
pub fn audience(store: &Store, status: &Status) -> Result<Vec<Id>, StorageError> {
    let mut users = vec![status.account_id];
    if status.visibility == Visibility::Direct {
        for m in &status.mentions {
            if store.follows(m.account_id, status.account_id)? {
                users.push(m.account_id);
            }
        }
    } else {
        users.extend(store.cached_follower_ids(status.account_id)?.iter());
    }
    users.sort();
    users.dedup();
    Ok(users)
}

impl Actor for FanoutRouter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.replay(ctx);
        ctx.run_interval(self.replay_every, |act, ctx| act.replay(ctx));
    }
}

impl Handler<Fanout> for FanoutRouter {
    type Result = ();

    fn handle(&mut self, Fanout(job): Fanout, ctx: &mut Self::Context) {
        self.process(job, false, ctx);
    }
}

impl Handler<super::Shutdown> for FanoutRouter {
    type Result = ();

    fn handle(&mut self, _: super::Shutdown, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<ReplayPending> for FanoutRouter {
    type Result = ();

    fn handle(&mut self, _: ReplayPending, ctx: &mut Self::Context) {
        self.replay(ctx);
    }
}
