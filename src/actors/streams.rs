//! `Streams`: what writers call to get events to live connections.
//!
//! User events (home timeline, notifications, direct) are appended to the user's event
//! log ([`Store::append_events`]); once a flush covers them, every connection of those
//! users is handed its [`UserEvent`]: the event number, the kind, and for a status the
//! shared [`Broadcast`] — the status, whom the home filter hides it from, who has marks
//! of their own on it, and its anonymous rendering made once. A session that has every
//! event before this one sends the frame without reading anything; one that sees a gap
//! (it just resumed, a message was lost) reads its log from its cursor instead. Live
//! delivery and resume are the same log either way, so a frame is sent exactly once.
//!
//! Public, hashtag and thread events are offered directly, as that same [`Broadcast`].

use std::sync::Arc;

use super::connections::Connections;
pub use super::delivery::{Broadcast, BroadcastEvent, Payload, UserEvent};
use crate::domain::{Id, Status};
use crate::storage::{EventKind, Notification, NotificationKind, StorageError, Store};
use crate::view::View;

/// What writers call to get events to streams.
pub struct Streams {
    store: Store,
    pub view: View,
    pub connections: Arc<Connections>,
}

impl Streams {
    pub fn new(view: View, connections: Arc<Connections>) -> Arc<Self> {
        Arc::new(Self { store: view.store().clone(), view, connections })
    }

    /// Records a notification for `recipient` and streams it, unless it would be about
    /// themselves or from someone they hide. Not flushed here: the caller's `durable()`
    /// covers it (the stream event is delivered after a flush of its own).
    pub fn notify(
        self: &Arc<Self>,
        recipient: Id,
        kind: NotificationKind,
        from: Id,
        status: Option<Id>,
    ) -> Result<(), StorageError> {
        let store = &self.store;
        if recipient == from || store.hides(recipient, from)? {
            return Ok(());
        }
        let id = store.next_id();
        store.add_notifications(&[Notification {
            id,
            user_id: recipient,
            kind,
            from_account: from,
            status_id: status,
            created_at_ms: crate::domain::time::now_millis(),
        }])?;
        self.publish(&[(recipient, EventKind::Notification(id))], None);
        Ok(())
    }

    /// Logs user events (for users with a stream lease). Returns what to deliver once
    /// the caller's durable flush is done. `replay_of`: see [`Store::append_events`].
    pub fn log(
        &self,
        items: &[(Id, EventKind)],
        replay_of: Option<i64>,
    ) -> Result<Vec<(Id, u64, EventKind)>, StorageError> {
        self.store.append_events(items, replay_of)
    }

    /// After the durable flush: marks the events durable and hands them to their users'
    /// connections, then offers the public-side event. `shared` goes with the events
    /// about its status.
    pub fn deliver(&self, appended: &[(Id, u64, EventKind)], shared: Option<Arc<Broadcast>>, broadcast: bool) {
        if !appended.is_empty() {
            self.store.mark_events_durable(appended);
            let about = |kind: &EventKind| match (kind, &shared) {
                (EventKind::Update(id) | EventKind::StatusUpdate(id) | EventKind::Delete(id), Some(b))
                    if *id == b.status.id =>
                {
                    Some(b.clone())
                }
                _ => None,
            };
            for (user, seq, kind) in appended {
                self.connections.hand(*user, UserEvent { seq: *seq, kind: *kind, shared: about(kind) });
            }
        }
        if let Some(item) = shared.filter(|_| broadcast) {
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
        let appended = match self.log(items, None) {
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
                Ok(()) => this.deliver(&appended, broadcast, true),
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
