//! `FanoutRouter`: one per node. It takes [`Fanout`] jobs (a status published or
//! deleted), works out the audience's home timelines — the author, their followers, and
//! for direct posts only the mentioned followers — writes or removes those timeline
//! entries in one sled batch, tells active users' `TimelineActor`s, waits for a durable
//! flush and then deletes the job record. Handlers send it jobs with `try_send`; jobs
//! that do not fit its bounded mailbox stay in sled and are picked up by the periodic
//! replay, which also runs at start-up. Timeline keys are `(user, status)`, so replaying
//! a job twice changes nothing. Its address is held in `AppState`; it runs until the
//! system stops.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::timeline::{EntryAdded, EntryRemoved, TimelineRegistry};
use crate::domain::{Id, Status, Visibility};
use crate::storage::{FanoutJob, StorageError, Store};

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
    replay_every: Duration,
    /// Test seam (setting `fanout.paused`): accept jobs but leave them pending in sled.
    paused: bool,
}

impl FanoutRouter {
    pub fn new(
        store: Store,
        timelines: Arc<TimelineRegistry>,
        celebrities: Arc<Celebrities>,
        replay_every: Duration,
        paused: bool,
    ) -> Self {
        Self { store, timelines, celebrities, replay_every, paused }
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
        let result = match &job {
            FanoutJob::Publish(status) => self.publish(status),
            FanoutJob::Delete(status) => self.retract(status),
        };
        match result {
            Ok(()) => {
                let store = self.store.clone();
                async move {
                    // Entries must be on disk before the job record goes.
                    store.durable().await?;
                    store.finish_fanout_job(&job)
                }
                .into_actor(self)
                .map(|result: Result<(), StorageError>, _, _| {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "fan-out job left pending");
                    }
                })
                .spawn(ctx);
            }
            Err(e) => tracing::warn!(error = %e, "fan-out failed; the job stays pending"),
        }
    }

    fn publish(&self, status: &Status) -> Result<(), StorageError> {
        let audience = if status.visibility != Visibility::Direct && self.celebrities.contains(status.account_id) {
            // Merged at read time; only the author's own timeline is written.
            vec![status.account_id]
        } else {
            audience(&self.store, status)?
        };
        self.store.add_to_timelines(status.id, &audience)?;
        for user in audience {
            self.timelines.notify(user, EntryAdded(status.id));
        }
        Ok(())
    }

    fn retract(&self, status: &Status) -> Result<(), StorageError> {
        let mut audience = audience(&self.store, status)?;
        audience.extend(status.mentions.iter().map(|m| m.account_id));
        audience.sort();
        audience.dedup();
        self.store.remove_from_timelines(status.id, &audience)?;
        for user in audience {
            self.timelines.notify(user, EntryRemoved(status.id));
        }
        Ok(())
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
