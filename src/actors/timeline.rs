//! `TimelineActor`: one per active user. State: the newest entries of the user's home
//! timeline (raw status ids, newest first) loaded from sled when it starts, and the time
//! of its last use. Messages: [`FetchHotPage`] (from the home-timeline handler),
//! [`EntryAdded`] / [`EntryRemoved`] (from the `FanoutRouter`, by `try_send`), and
//! [`Reload`]. Addresses live in the [`TimelineRegistry`], which starts actors on
//! demand; an actor stops itself after `idle` without use and leaves the registry, so
//! inactive users cost disk, not memory.
//!
//! sled stays the truth: the router writes entries to sled before telling the actor, and
//! a message that finds the mailbox full marks the actor stale, so its next read
//! reloads from sled instead of serving a page that missed an entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use dashmap::DashMap;

use crate::domain::Id;
use crate::storage::{PageQuery, StorageError, Store};

/// Entries kept in memory per active user.
pub const HOT_ENTRIES: usize = 80;
/// Mailbox bound per actor: fan-out never queues more than this per user.
const MAILBOX: usize = 256;

/// The newest raw entries. `complete` means the timeline has nothing older.
#[derive(Debug, Clone)]
pub struct HotPage {
    pub ids: Vec<Id>,
    pub complete: bool,
}

/// Asks for the hot page; sent by the home-timeline handler.
#[derive(Message)]
#[rtype(result = "Result<HotPage, StorageError>")]
pub struct FetchHotPage;

/// Sent by the router after it wrote the entry to sled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EntryAdded(pub Id);

/// Sent by the router after a deleted status left the timeline in sled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EntryRemoved(pub Id);

/// The timeline changed in bulk (a follow merged or an unfollow removed entries).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload;

struct Slot {
    addr: Addr<TimelineActor>,
    generation: u64,
    stale: Arc<AtomicBool>,
}

/// Who is active: user id → their timeline actor.
pub struct TimelineRegistry {
    slots: DashMap<Id, Slot>,
    store: Store,
    idle: Duration,
    generations: AtomicU64,
}

impl TimelineRegistry {
    pub fn new(store: Store, idle: Duration) -> Arc<Self> {
        Arc::new(Self { slots: DashMap::new(), store, idle, generations: AtomicU64::new(0) })
    }

    /// The user's actor, started if needed. Call from within an actix arbiter.
    pub fn get_or_start(self: &Arc<Self>, user: Id) -> Addr<TimelineActor> {
        if let Some(slot) = self.slots.get(&user)
            && slot.addr.connected()
        {
            return slot.addr.clone();
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let stale = Arc::new(AtomicBool::new(false));
        let actor = TimelineActor {
            user,
            generation,
            store: self.store.clone(),
            registry: Arc::downgrade(self),
            hot: Vec::new(),
            complete: false,
            stale: stale.clone(),
            last_used: Instant::now(),
            idle: self.idle,
        };
        let addr = TimelineActor::create(|ctx| {
            ctx.set_mailbox_capacity(MAILBOX);
            actor
        });
        self.slots.insert(user, Slot { addr: addr.clone(), generation, stale });
        addr
    }

    /// Tells an active user's actor about a change; inactive users are skipped (sled
    /// already has the change). A full mailbox marks the actor stale.
    pub fn notify<M>(&self, user: Id, message: M)
    where
        M: Message<Result = ()> + Send + 'static,
        TimelineActor: Handler<M>,
    {
        if let Some(slot) = self.slots.get(&user)
            && slot.addr.try_send(message).is_err()
        {
            metrics::counter!("starling_mailbox_drops_total", "mailbox" => "timeline").increment(1);
            slot.stale.store(true, Ordering::SeqCst);
        }
    }

    pub fn active_count(&self) -> usize {
        self.slots.len()
    }

    pub fn is_active(&self, user: Id) -> bool {
        self.slots.get(&user).is_some_and(|s| s.addr.connected())
    }

    fn leave(&self, user: Id, generation: u64) {
        self.slots.remove_if(&user, |_, slot| slot.generation == generation);
    }
}

pub struct TimelineActor {
    user: Id,
    generation: u64,
    store: Store,
    registry: std::sync::Weak<TimelineRegistry>,
    hot: Vec<Id>,
    complete: bool,
    stale: Arc<AtomicBool>,
    last_used: Instant,
    idle: Duration,
}

impl TimelineActor {
    fn load(&mut self) -> Result<(), StorageError> {
        self.stale.store(false, Ordering::SeqCst);
        let q = PageQuery { limit: HOT_ENTRIES, ..PageQuery::default() };
        self.hot = self.store.home_page(self.user, &q, |_| Ok(true))?;
        self.complete = self.hot.len() < HOT_ENTRIES;
        Ok(())
    }
}

impl Actor for TimelineActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Err(e) = self.load() {
            tracing::warn!(user_id = %self.user, error = %e, "timeline actor could not load; will retry on read");
            self.stale.store(true, Ordering::SeqCst);
        }
        let check = (self.idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(check, |act, ctx| {
            if act.last_used.elapsed() >= act.idle {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(registry) = self.registry.upgrade() {
            registry.leave(self.user, self.generation);
        }
    }
}

impl Handler<FetchHotPage> for TimelineActor {
    type Result = Result<HotPage, StorageError>;

    fn handle(&mut self, _: FetchHotPage, _: &mut Self::Context) -> Self::Result {
        self.last_used = Instant::now();
        if self.stale.load(Ordering::SeqCst) {
            self.load()?;
        }
        Ok(HotPage { ids: self.hot.clone(), complete: self.complete })
    }
}

impl Handler<EntryAdded> for TimelineActor {
    type Result = ();

    fn handle(&mut self, EntryAdded(id): EntryAdded, _: &mut Self::Context) {
        // Newest first; entries can arrive slightly out of order.
        if let Err(at) = self.hot.binary_search_by(|probe| id.cmp(probe)) {
            self.hot.insert(at, id);
            if self.hot.len() > HOT_ENTRIES {
                self.hot.truncate(HOT_ENTRIES);
                self.complete = false;
            }
        }
    }
}

impl Handler<EntryRemoved> for TimelineActor {
    type Result = ();

    fn handle(&mut self, EntryRemoved(id): EntryRemoved, _: &mut Self::Context) {
        self.hot.retain(|h| *h != id);
        if self.hot.len() < HOT_ENTRIES / 2 && !self.complete {
            self.stale.store(true, Ordering::SeqCst);
        }
    }
}

impl Handler<Reload> for TimelineActor {
    type Result = ();

    fn handle(&mut self, _: Reload, _: &mut Self::Context) {
        self.stale.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix::test]
    async fn actors_start_on_demand_serve_the_hot_page_and_stop_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let user = Id(7);
        store.add_to_timelines(Id(100), &[user]).unwrap();
        store.add_to_timelines(Id(300), &[user]).unwrap();
        let registry = TimelineRegistry::new(store.clone(), Duration::from_millis(300));
        let addr = registry.get_or_start(user);
        assert!(registry.is_active(user));
        let page = addr.send(FetchHotPage).await.unwrap().unwrap();
        assert_eq!((page.ids, page.complete), (vec![Id(300), Id(100)], true));
        // The router tells it about new entries; out-of-order arrivals are placed right.
        registry.notify(user, EntryAdded(Id(200)));
        registry.notify(user, EntryRemoved(Id(300)));
        let page = addr.send(FetchHotPage).await.unwrap().unwrap();
        assert_eq!(page.ids, vec![Id(200), Id(100)]);
        // Idle: it stops and leaves the registry (bounded wait, no timing assertion).
        for _ in 0..100 {
            if registry.active_count() == 0 {
                break;
            }
            actix::clock::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(registry.active_count(), 0);
        assert!(!registry.is_active(user));
        // The next use starts a fresh actor from sled.
        let again = registry.get_or_start(user).send(FetchHotPage).await.unwrap().unwrap();
        assert_eq!(again.ids, vec![Id(300), Id(100)], "sled is the truth: the hot page was a cache");
    }
}
