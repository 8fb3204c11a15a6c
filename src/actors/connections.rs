//! The book of live connections (WebSocket and SSE): every connection by id, user, auth
//! session and client address, with the per-user and per-IP caps, and the topic indexes
//! (public, hashtag, thread) so a public event is offered to its subscribers once, not
//! once per follower. Writers reach it through [`Streams`](super::streams::Streams); the
//! [`SessionSupervisor`](super::session_supervisor::SessionSupervisor) sweeps it.
//!
//! Sessions get [`Push`] messages by `try_send` only: a full mailbox means the client
//! stopped reading, and the connection is cut.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use actix::prelude::*;
use dashmap::DashMap;

use super::delivery::{Broadcast, BroadcastEvent, Push, UserEvent};
use crate::domain::Id;

/// Close code for a client that stopped reading.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code for a revoked session, a deleted account or a message flood.
pub const CLOSE_POLICY: u16 = 1008;

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
    /// The lowest user-log cursor among its subscriptions (`u64::MAX`: none).
    pub cursor: AtomicU64,
    pub(super) closing: Mutex<Option<Instant>>,
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
            cursor: AtomicU64::new(u64::MAX),
            closing: Mutex::new(None),
            topics: Mutex::default(),
        })
    }

    /// Set once, right after the session actor is created.
    pub fn attach(&self, recipient: Recipient<Push>) {
        let _ = self.recipient.set(recipient);
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
    pub(super) queue_frames: u64,
    slow_cuts: AtomicU64,
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

    /// Hands a durable event of `user`'s log to each of their connections. A full
    /// mailbox means the client stopped reading: it is cut.
    pub fn hand(&self, user: Id, event: UserEvent) {
        let ids = match self.by_user.get(&user) {
            Some(ids) => ids.clone(),
            None => return,
        };
        for id in ids {
            if let Some(conn) = self.by_id.get(&id).map(|c| c.clone())
                && !conn.offer(Push::Event(event.clone()))
            {
                self.cut_slow(&conn);
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

    pub(super) fn shutdown_socket(&self, conn: &Conn) {
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

    pub(super) fn all(&self) -> Vec<Arc<Conn>> {
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
