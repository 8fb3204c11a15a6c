//! `FanoutRouter`: one per node. It takes [`Fanout`] jobs (a status published or
//! deleted), works out the audience's home timelines — the author, their followers, and
//! for direct posts only the mentioned followers — logs their stream events, then writes
//! or removes those timeline entries in one sled batch and tells active users'
//! `TimelineActor`s. The streams get the events as soon as a flush covers the events
//! (not waiting for the timeline batch); once a flush covers the entries too, the job
//! record is deleted. Handlers send it jobs with `try_send`; jobs
//! that do not fit its bounded mailbox stay in sled and are picked up by the periodic
//! replay, which also runs at start-up. Timeline keys are `(user, status)`, so replaying
//! a job twice changes nothing. Its address is held in `AppState`; it runs until the
//! system stops.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::session_supervisor::{Broadcast, BroadcastEvent, Streams};
use super::timeline::{EntryAdded, EntryRemoved, TimelineRegistry};
use crate::domain::{Id, Status, Visibility};
use crate::storage::{EventKind, FanoutJob, StorageError, Store};

/// A fan-out written: the stream events it logged and the broadcast, to deliver once
/// `events_durable` resolves (the events are on disk; the timeline entries written after
/// them need not be yet).
struct Delivery {
    appended: Vec<(Id, u64)>,
    broadcast: Option<Arc<Broadcast>>,
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

#[derive(Message)]
#[rtype(result = "()")]
pub struct Fanout(pub FanoutJob);

/// Re-reads pending jobs from sled.
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
    in_flight: std::collections::HashSet<(Id, bool)>,
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

    fn process(&mut self, job: FanoutJob, ctx: &mut Context<Self>) {
        if self.paused {
            return;
        }
        let key = match &job {
            FanoutJob::Publish(s) => (s.id, false),
            FanoutJob::Delete(s) => (s.id, true),
        };
        match self.store.fanout_job_pending(&job) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "could not check a fan-out job; running it"),
        }
        if !self.in_flight.insert(key) {
            return;
        }
        let result = match &job {
            FanoutJob::Publish(status) => self.publish(status),
            FanoutJob::Delete(status) => self.retract(status),
        };
        match result {
            Ok(Delivery { appended, broadcast, events_durable }) => {
                let store = self.store.clone();
                let streams = self.streams.clone();
                async move {
                    // Events must be on disk before anyone sees them (a resumed stream
                    // reads the same log); the timeline entries, before the job goes.
                    events_durable.await?;
                    streams.deliver(&appended, broadcast);
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

    fn publish(&self, status: &Status) -> Result<Delivery, StorageError> {
        let celebrity = status.visibility != Visibility::Direct && self.celebrities.contains(status.account_id);
        let audience = if celebrity {
            // Merged at read time; only the author's own timeline is written.
            vec![status.account_id]
        } else {
            audience(&self.store, status)?
        };
        let mut events: Vec<(Id, EventKind)> = audience.iter().map(|u| (*u, EventKind::Update(status.id))).collect();
        if celebrity {
            // Followers with a stream still get the event (only they: not a write per
            // follower).
            for user in self.store.leased_users() {
                if user != status.account_id && self.store.follows(user, status.account_id)? {
                    events.push((user, EventKind::Update(status.id)));
                }
            }
        }
        if status.visibility == Visibility::Direct {
            events.push((status.account_id, EventKind::Conversation(status.id)));
            events.extend(status.mentions.iter().map(|m| (m.account_id, EventKind::Conversation(status.id))));
        }
        // The events first, so their flush (and the frames) need not wait for the
        // timeline batch.
        let appended = self.streams.log(&events)?;
        let events_durable = Box::pin(self.store.durable_from_now());
        self.store.add_to_timelines(status.id, &audience)?;
        for user in audience {
            self.timelines.notify(user, EntryAdded(status.id));
        }
        let root = self.streams.thread_root(status)?;
        let broadcast = Some(Broadcast::new(BroadcastEvent::Update, status.clone(), root));
        Ok(Delivery { appended, broadcast, events_durable })
    }

    fn retract(&self, status: &Status) -> Result<Delivery, StorageError> {
        let mut audience = audience(&self.store, status)?;
        audience.extend(status.mentions.iter().map(|m| m.account_id));
        audience.sort();
        audience.dedup();
        let events: Vec<(Id, EventKind)> = audience.iter().map(|u| (*u, EventKind::Delete(status.id))).collect();
        let appended = self.streams.log(&events)?;
        let events_durable = Box::pin(self.store.durable_from_now());
        self.store.remove_from_timelines(status.id, &audience)?;
        for user in audience {
            self.timelines.notify(user, EntryRemoved(status.id));
        }
        let root = self.streams.thread_root(status)?;
        let broadcast = Some(Broadcast::new(BroadcastEvent::Delete, status.clone(), root));
        Ok(Delivery { appended, broadcast, events_durable })
    }

    fn replay(&mut self, ctx: &mut Context<Self>) {
        match self.store.pending_fanout_jobs() {
            Ok(jobs) => {
                if !jobs.is_empty() && !self.paused {
                    tracing::info!(jobs = jobs.len(), "replaying pending fan-out jobs");
                }
                for job in jobs {
                    self.process(job, ctx);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read pending fan-out jobs"),
        }
    }
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
        self.process(job, ctx);
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
