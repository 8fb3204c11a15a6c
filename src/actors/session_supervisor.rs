//! Live connections (WebSocket and SSE) and how events reach them.
//!
//! - [`Connections`]: the book of every live connection by id, user, auth session and
//!   client address, with the per-user and per-IP caps, and the topic indexes (public,
//!   hashtag, thread) so a public event is offered to its subscribers once, not once per
//!   follower.
//! - [`Streams`]: what writers call. User events (home timeline, notifications, direct)
//!   are appended to the user's event log ([`Store::append_events`]); after the durable
//!   flush the connections of those users are woken and read the log themselves, so
//!   live delivery and resume are the same path. Public, hashtag and thread events are
//!   offered directly, as a shared [`Broadcast`].
//! - [`SessionSupervisor`]: an actor that sweeps the book four times a second: closes
//!   connections whose auth session was revoked (or account deleted), cuts slow
//!   consumers (more than `queue_frames` events waiting), shuts down sockets that did not
//!   close when told, and keeps stream leases of connected users alive.
//!
//! Sessions get [`Push`] messages by `try_send` only: a full mailbox means the client
//! stopped reading, and the connection is cut. A wake-up is coalesced (one pending per
//! connection), so it never fills a mailbox by itself.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use dashmap::DashMap;

use crate::auth::AuthService;
use crate::domain::{Id, Status, Visibility};
use crate::storage::{EventKind, StorageError, Store};

/// Close code for a client that stopped reading.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code for a revoked session, a deleted account or a message flood.
pub const CLOSE_POLICY: u16 = 1008;
/// A connection told to close that is still open after this long has its socket shut.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
const SWEEP_EVERY: Duration = Duration::from_millis(250);
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(60);

/// What a session actor is sent.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub enum Push {
    /// Events are waiting in the user's log.
    Wake,
    /// A public, hashtag or thread event.
    Item(Arc<Broadcast>),
    /// Close with this code and reason, then stop.
    Close(u16, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastEvent {
    Update,
    StatusUpdate,
    Delete,
}

/// A public-side event: offered to public, hashtag and thread subscribers, each of which
/// filters it for its viewer.
pub struct Broadcast {
    pub event: BroadcastEvent,
    pub status: Status,
    /// The root of the status's thread (itself when it is not a reply).
    pub thread_root: Id,
    /// The anonymous Status entity, rendered by the first subscriber that needs it, for
    /// that subscriber's base URL.
    pub rendered: Mutex<Option<(String, Option<String>)>>,
}

impl Broadcast {
    pub fn new(event: BroadcastEvent, status: Status, thread_root: Id) -> Arc<Self> {
        Arc::new(Self { event, status, thread_root, rendered: Mutex::new(None) })
    }

    /// Whether it belongs in the public timeline streams (Mastodon: public, not a
    /// reblog, not a reply to someone else).
    pub fn is_public(&self) -> bool {
        let s = &self.status;
        s.visibility == Visibility::Public
            && s.reblog_of.is_none()
            && s.in_reply_to_account_id.is_none_or(|a| a == s.account_id)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.status.visibility == Visibility::Public
            && self.status.reblog_of.is_none()
            && self.status.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// One live connection, shared between its session actor and the book.
pub struct Conn {
    pub id: u64,
    /// "websocket" or "sse".
    pub transport: &'static str,
    pub user: Id,
    pub session: Id,
    pub ip: String,
    /// The socket and its peer, so a session that cannot be reached (its socket is not
    /// being read) can still be cut.
    pub socket: Option<(i32, std::net::SocketAddr)>,
    recipient: OnceLock<Recipient<Push>>,
    wake_pending: AtomicBool,
    /// The lowest user-log cursor among its subscriptions (`u64::MAX`: none).
    pub cursor: AtomicU64,
    closing: Mutex<Option<Instant>>,
    topics: Mutex<Topics>,
}

#[derive(Default)]
struct Topics {
    public: bool,
    tags: HashSet<String>,
    threads: HashSet<Id>,
}

impl Conn {
    pub fn new(
        id: u64,
        transport: &'static str,
        user: Id,
        session: Id,
        ip: String,
        socket: Option<(i32, std::net::SocketAddr)>,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            transport,
            user,
            session,
            ip,
            socket,
            recipient: OnceLock::new(),
            wake_pending: AtomicBool::new(false),
            cursor: AtomicU64::new(u64::MAX),
            closing: Mutex::new(None),
            topics: Mutex::default(),
        })
    }

    /// Set once, right after the session actor is created.
    pub fn attach(&self, recipient: Recipient<Push>) {
        let _ = self.recipient.set(recipient);
    }

    /// The session took the pending wake-up; the next one must be sent again.
    pub fn wake_taken(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
    }

    /// Sends a message; false when the mailbox is full (or the actor is gone).
    fn offer(&self, push: Push) -> bool {
        match self.recipient.get() {
            Some(r) => r.try_send(push).is_ok(),
            None => true,
        }
    }

    fn is_closing(&self) -> bool {
        self.closing.lock().map(|c| c.is_some()).unwrap_or(true)
    }
}

/// The book of live connections.
pub struct Connections {
    next_id: AtomicU64,
    by_id: DashMap<u64, Arc<Conn>>,
    by_user: DashMap<Id, Vec<u64>>,
    per_ip: DashMap<String, usize>,
    public: DashMap<u64, ()>,
    tags: DashMap<String, HashSet<u64>>,
    threads: DashMap<Id, HashSet<u64>>,
    max_per_user: usize,
    max_per_ip: usize,
    queue_frames: u64,
    slow_cuts: AtomicU64,
    /// Anonymous Status JSON of recently streamed statuses, shared by every recipient
    /// with no favourite, reblog or bookmark of their own on it (for a new status: all of
    /// them), so a fan-out to N streams renders once, not N times.
    pub rendered: RenderCache,
}

/// Recently rendered anonymous Status entities by (status id, version, base URL), the
/// version being the time of the last edit; entries live
/// two seconds (counts in them may be that old), at most 1,024 of them.
#[derive(Default)]
pub struct RenderCache {
    entries: DashMap<RenderKey, (Instant, Option<Arc<str>>)>,
}

/// Status id, time of its last edit, base URL.
type RenderKey = (Id, Option<i64>, String);

const RENDER_TTL: Duration = Duration::from_secs(2);
const RENDER_MAX: usize = 1024;

impl RenderCache {
    pub fn get_or_render(
        &self,
        status: &Status,
        base_url: &str,
        render: impl FnOnce() -> Result<Option<String>, StorageError>,
    ) -> Result<Option<Arc<str>>, StorageError> {
        let key = (status.id, status.edited_at_ms, base_url.to_owned());
        if let Some(hit) = self.entries.get(&key)
            && hit.0.elapsed() < RENDER_TTL
        {
            return Ok(hit.1.clone());
        }
        let value: Option<Arc<str>> = render()?.map(Arc::from);
        if self.entries.len() >= RENDER_MAX {
            self.entries.retain(|_, (at, _)| at.elapsed() < RENDER_TTL);
            if self.entries.len() >= RENDER_MAX {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (Instant::now(), value.clone()));
        Ok(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapExceeded {
    User,
    Ip,
}

impl Connections {
    pub fn new(max_per_user: usize, max_per_ip: usize, queue_frames: usize) -> Arc<Self> {
        Arc::new(Self {
            next_id: AtomicU64::new(1),
            by_id: DashMap::new(),
            by_user: DashMap::new(),
            per_ip: DashMap::new(),
            public: DashMap::new(),
            tags: DashMap::new(),
            threads: DashMap::new(),
            max_per_user,
            max_per_ip,
            queue_frames: queue_frames as u64,
            slow_cuts: AtomicU64::new(0),
            rendered: RenderCache::default(),
        })
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a connection, unless its user or address is at the cap.
    pub fn register(&self, conn: Arc<Conn>) -> Result<(), CapExceeded> {
        {
            let mut ip = self.per_ip.entry(conn.ip.clone()).or_insert(0);
            if *ip >= self.max_per_ip {
                return Err(CapExceeded::Ip);
            }
            let mut user = self.by_user.entry(conn.user).or_default();
            if user.len() >= self.max_per_user {
                return Err(CapExceeded::User);
            }
            user.push(conn.id);
            *ip += 1;
        }
        self.by_id.insert(conn.id, conn);
        Ok(())
    }

    /// Removes a connection and its subscriptions (from its session's `stopped`).
    pub fn unregister(&self, id: u64) {
        let Some((_, conn)) = self.by_id.remove(&id) else { return };
        self.by_user.remove_if_mut(&conn.user, |_, ids| {
            ids.retain(|i| *i != id);
            ids.is_empty()
        });
        self.per_ip.remove_if_mut(&conn.ip, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        let topics = std::mem::take(&mut *conn.topics.lock().unwrap_or_else(|e| e.into_inner()));
        if topics.public {
            self.public.remove(&id);
        }
        for tag in topics.tags {
            toggle_index(&self.tags, tag, id, false);
        }
        for root in topics.threads {
            toggle_index(&self.threads, root, id, false);
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Live connections by transport.
    pub fn count_by_transport(&self) -> (usize, usize) {
        let ws = self.by_id.iter().filter(|c| c.transport == "websocket").count();
        (ws, self.by_id.len() - ws)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Connections cut because their client stopped reading, since start-up.
    pub fn slow_consumer_cuts(&self) -> u64 {
        self.slow_cuts.load(Ordering::Relaxed)
    }

    pub fn subscribe_public(&self, conn: &Conn, on: bool) {
        if let Ok(mut t) = conn.topics.lock() {
            t.public = on;
        }
        if on {
            self.public.insert(conn.id, ());
        } else {
            self.public.remove(&conn.id);
        }
    }

    pub fn subscribe_tag(&self, conn: &Conn, tag: &str, on: bool) {
        let tag = tag.to_lowercase();
        if let Ok(mut t) = conn.topics.lock() {
            toggle(&mut t.tags, tag.clone(), on);
        }
        toggle_index(&self.tags, tag, conn.id, on);
    }

    pub fn subscribe_thread(&self, conn: &Conn, root: Id, on: bool) {
        if let Ok(mut t) = conn.topics.lock() {
            toggle(&mut t.threads, root, on);
        }
        toggle_index(&self.threads, root, conn.id, on);
    }

    /// Wakes every connection of these users (their new events are durable).
    pub fn wake_users(&self, users: impl IntoIterator<Item = Id>) {
        for user in users {
            let ids = match self.by_user.get(&user) {
                Some(ids) => ids.clone(),
                None => continue,
            };
            for id in ids {
                if let Some(conn) = self.by_id.get(&id).map(|c| c.clone())
                    && !conn.wake_pending.swap(true, Ordering::SeqCst)
                    && !conn.offer(Push::Wake)
                {
                    conn.wake_pending.store(false, Ordering::SeqCst);
                    self.cut_slow(&conn);
                }
            }
        }
    }

    /// Offers a public-side event to its subscribers.
    pub fn broadcast(&self, item: Arc<Broadcast>) {
        let mut targets: HashSet<u64> = HashSet::new();
        if item.is_public() || item.event == BroadcastEvent::Delete {
            targets.extend(self.public.iter().map(|e| *e.key()));
        }
        for tag in &item.status.tags {
            if let Some(ids) = self.tags.get(&tag.to_lowercase()) {
                targets.extend(ids.iter().copied());
            }
        }
        if let Some(ids) = self.threads.get(&item.thread_root) {
            targets.extend(ids.iter().copied());
        }
        for id in targets {
            if let Some(conn) = self.by_id.get(&id).map(|c| c.clone())
                && !conn.offer(Push::Item(item.clone()))
            {
                self.cut_slow(&conn);
            }
        }
    }

    pub fn cut_slow(&self, conn: &Conn) {
        if !conn.is_closing() {
            self.slow_cuts.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("starling_stream_slow_consumer_cuts_total").increment(1);
            tracing::info!(user_id = %conn.user, conn = conn.id, "cutting a slow stream consumer");
            self.close(conn, CLOSE_SLOW_CONSUMER, "slow consumer");
            // It is not reading: no close frame will get through, so end the socket now.
            self.shutdown_socket(conn);
        }
    }

    /// Asks a connection to close; the sweep shuts its socket if it does not.
    pub fn close(&self, conn: &Conn, code: u16, reason: &'static str) {
        if let Ok(mut closing) = conn.closing.lock() {
            if closing.is_some() {
                return;
            }
            *closing = Some(Instant::now());
        }
        let _ = conn.offer(Push::Close(code, reason));
    }

    /// Closes every connection of an auth session (or of a user, for `None`).
    pub fn close_where(&self, matches: impl Fn(&Conn) -> bool, code: u16, reason: &'static str) {
        let conns: Vec<Arc<Conn>> = self.by_id.iter().filter(|c| matches(c)).map(|c| c.clone()).collect();
        for conn in conns {
            self.close(&conn, code, reason);
        }
    }

    fn shutdown_socket(&self, conn: &Conn) {
        use std::os::fd::FromRawFd;
        // Only while the connection is in the book, and only if the descriptor still
        // leads to the same peer, so it cannot hit a socket that reused the number.
        if !self.by_id.contains_key(&conn.id) {
            return;
        }
        let Some((fd, peer)) = conn.socket else { return };
        // SAFETY: the stream is never dropped (ManuallyDrop), so the descriptor is not
        // closed here; `peer_addr` and `shutdown` on a stale descriptor just fail.
        let stream = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
        if stream.peer_addr().ok() == Some(peer) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn all(&self) -> Vec<Arc<Conn>> {
        self.by_id.iter().map(|c| c.clone()).collect()
    }
}

fn toggle<K: std::hash::Hash + Eq>(set: &mut HashSet<K>, key: K, on: bool) {
    if on {
        set.insert(key);
    } else {
        set.remove(&key);
    }
}

/// Adds or removes a connection under `key` of a topic index; empty entries go.
fn toggle_index<K: std::hash::Hash + Eq + Clone>(index: &DashMap<K, HashSet<u64>>, key: K, id: u64, on: bool) {
    if on {
        index.entry(key).or_default().insert(id);
    } else {
        index.remove_if_mut(&key, |_, s| {
            s.remove(&id);
            s.is_empty()
        });
    }
}

/// What writers call to get events to streams.
pub struct Streams {
    store: Store,
    pub connections: Arc<Connections>,
}

impl Streams {
    pub fn new(store: Store, connections: Arc<Connections>) -> Arc<Self> {
        Arc::new(Self { store, connections })
    }

    /// Logs user events (for users with a stream lease). Returns what to deliver once
    /// the caller's durable flush is done.
    pub fn log(&self, items: &[(Id, EventKind)]) -> Result<Vec<(Id, u64)>, StorageError> {
        self.store.append_events(items)
    }

    /// After the durable flush: marks the events durable and wakes their users'
    /// connections, then offers the public-side event.
    pub fn deliver(&self, appended: &[(Id, u64)], broadcast: Option<Arc<Broadcast>>) {
        if !appended.is_empty() {
            self.store.mark_events_durable(appended);
            self.connections.wake_users(appended.iter().map(|(u, _)| *u));
        }
        if let Some(item) = broadcast {
            if item.event == BroadcastEvent::Update {
                let ms = crate::domain::time::now_millis() - item.status.created_at_ms;
                metrics::histogram!("starling_fanout_delivery_seconds").record(ms.max(0) as f64 / 1000.0);
            }
            self.connections.broadcast(item);
        }
    }

    /// Logs, waits for a durable flush in the background, then delivers. For handlers
    /// whose own write is already durable or about to be.
    pub fn publish(self: &Arc<Self>, items: &[(Id, EventKind)], broadcast: Option<Arc<Broadcast>>) {
        let appended = match self.log(items) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "could not log stream events");
                Vec::new()
            }
        };
        if appended.is_empty() && broadcast.is_none() {
            return;
        }
        let this = self.clone();
        actix::spawn(async move {
            match this.store.durable().await {
                Ok(()) => this.deliver(&appended, broadcast),
                Err(e) => tracing::warn!(error = %e, "stream events not delivered: storage flush failed"),
            }
        });
    }

    /// The root of `status`'s thread.
    pub fn thread_root(&self, status: &Status) -> Result<Id, StorageError> {
        thread_root(&self.store, status)
    }
}

/// Follows `in_reply_to_id` up to the first status (or the first one missing).
pub fn thread_root(store: &Store, status: &Status) -> Result<Id, StorageError> {
    let mut root = status.id;
    let mut parent = status.in_reply_to_id;
    for _ in 0..1024 {
        let Some(p) = parent else { break };
        match store.status(p)? {
            Some(s) => {
                root = s.id;
                parent = s.in_reply_to_id;
            }
            None => break,
        }
    }
    Ok(root)
}

/// Sweeps the book: revoked sessions, slow consumers, stuck closes, leases.
pub struct SessionSupervisor {
    connections: Arc<Connections>,
    auth: Arc<AuthService>,
    store: Store,
    last_lease_renewal: Instant,
}

impl SessionSupervisor {
    pub fn new(connections: Arc<Connections>, auth: Arc<AuthService>, store: Store) -> Self {
        Self { connections, auth, store, last_lease_renewal: Instant::now() }
    }

    fn sweep(&mut self) {
        let renew = self.last_lease_renewal.elapsed() >= LEASE_RENEW_EVERY;
        if renew {
            self.last_lease_renewal = Instant::now();
        }
        let book = &self.connections;
        for conn in book.all() {
            let closing_since = conn.closing.lock().ok().and_then(|c| *c);
            if let Some(since) = closing_since {
                if since.elapsed() >= CLOSE_GRACE {
                    book.shutdown_socket(&conn);
                }
                continue;
            }
            // Deleting an account revokes its sessions, so this covers both.
            if !self.auth.session_is_live(conn.session) {
                book.close(&conn, CLOSE_POLICY, "session revoked");
                continue;
            }
            let cursor = conn.cursor.load(Ordering::SeqCst);
            if cursor != u64::MAX
                && let Ok(durable) = self.store.durable_event_seq(conn.user)
                && durable.saturating_sub(cursor) > book.queue_frames
            {
                book.cut_slow(&conn);
                continue;
            }
            if renew && let Err(e) = self.store.renew_stream_lease(conn.user, false) {
                tracing::warn!(error = %e, "could not renew a stream lease");
            }
        }
    }
}

impl Actor for SessionSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SWEEP_EVERY, |act, _| act.sweep());
    }
}

impl Handler<super::Shutdown> for SessionSupervisor {
    type Result = ();

    fn handle(&mut self, _: super::Shutdown, ctx: &mut Self::Context) {
        self.connections.close_where(|_| true, 1001, "server shutting down");
        ctx.stop();
    }
}
