//! What travels from writers to stream sessions: the [`Push`] messages a session actor
//! takes, a user-log [`UserEvent`], and the [`Broadcast`] of one status event with its
//! [`Payload`] rendered once for everyone. Built by `Streams` and the `FanoutRouter`,
//! offered by `Connections`, read by `StreamCore`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use actix::prelude::*;

use crate::domain::{Id, Status, Visibility};
use crate::storage::{EventKind, StorageError};

/// What a session actor (`WsSession`, `SseSession`) is sent: by `Streams` (events and
/// broadcasts, after their flush), by `Connections` (`Close`: a revoked session, a slow
/// consumer, a suspension) and by the session itself (`Wake`).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub enum Push {
    /// Events may be waiting in the user's log (sent by a session to itself, to read on).
    Wake,
    /// A durable event of the user's log.
    Event(UserEvent),
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

/// A rendered Status entity: the JSON text, and the same as a JSON string literal (what a
/// WebSocket frame's `payload` holds), each made once and shared by every recipient.
#[derive(Debug, Clone)]
pub struct Payload {
    pub json: Arc<str>,
    pub escaped: Arc<str>,
}

impl Payload {
    pub fn new(json: String) -> Self {
        let escaped = serde_json::to_string(&json).unwrap_or_default();
        Self { json: Arc::from(json), escaped: Arc::from(escaped) }
    }
}

/// One status event, shared by everyone it reaches: its user-stream recipients and the
/// public, hashtag and thread subscribers it is offered to.
pub struct Broadcast {
    pub event: BroadcastEvent,
    pub status: Status,
    /// The root of the status's thread (itself when it is not a reply).
    pub thread_root: Id,
    /// User-stream recipients whose home filter hides it (their cursor still moves).
    pub hidden: HashSet<Id>,
    /// Users with a favourite, reblog or bookmark of their own on it: their rendering
    /// differs from the anonymous one (for a new status: nobody).
    pub marked: HashSet<Id>,
    /// The anonymous rendering per base URL, made by the first recipient that needs it
    /// (`None`: the author or original is gone).
    payloads: Mutex<Vec<(String, Option<Payload>)>>,
}

impl Broadcast {
    pub fn new(event: BroadcastEvent, status: Status, thread_root: Id) -> Self {
        Self { event, status, thread_root, hidden: HashSet::new(), marked: HashSet::new(), payloads: Mutex::default() }
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

    /// The anonymous Status entity for `base_url`, rendered once.
    pub fn payload(
        &self,
        base_url: &str,
        render: impl FnOnce() -> Result<Option<String>, StorageError>,
    ) -> Result<Option<Payload>, StorageError> {
        let mut payloads = self.payloads.lock().map_err(|_| StorageError::Unavailable)?;
        if let Some((_, p)) = payloads.iter().find(|(b, _)| b == base_url) {
            return Ok(p.clone());
        }
        let payload = render()?.map(Payload::new);
        // Clients reach one server by very few names: a handful of entries at most.
        if payloads.len() < 8 {
            payloads.push((base_url.to_owned(), payload.clone()));
        }
        Ok(payload)
    }
}

/// One event of a user's log, handed to that user's connections once it is durable.
#[derive(Clone)]
pub struct UserEvent {
    pub seq: u64,
    pub kind: EventKind,
    /// The status event it belongs to, when it has one (updates, edits, deletes).
    pub shared: Option<Arc<Broadcast>>,
}
