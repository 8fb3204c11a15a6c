//! What a streaming connection does, whatever its transport: its subscriptions, their
//! resume cursors, and turning events into frames for its viewer. `WsSession` and
//! `SseSession` each own one [`StreamCore`] and only move frames.
//!
//! User streams (`user`, `user:notification`, `direct`) follow the user's event log by
//! its numbers. A [`UserEvent`] handed over live is sent at once when it is the next
//! number after the cursor, with the frame the fan-out rendered once for everyone
//! (personal only for a viewer with marks of their own on the status); any other number
//! means a gap (a resume, a message lost), and the log is read from the cursor up to the
//! durable mark instead. Either way the cursor only moves forward, so every event is
//! sent once. Public, hashtag and thread streams take [`Broadcast`]s; with a `since`
//! they first replay the timeline (or thread) after that status id and then skip live
//! events they already sent.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;

use super::connections::{Conn, Connections};
use super::delivery::{Broadcast, BroadcastEvent, Payload, UserEvent};
use super::streams::thread_root;
use crate::domain::Id;
use crate::storage::{EventKind, PageQuery, StorageError, Store, StreamEvent};
use crate::view::{HomeFilter, View, Viewer, to_json};

/// Events read from the log per wake-up; more are read on the next one.
pub const READ_BATCH: usize = 100;
/// Statuses replayed at most when a public stream resumes.
const REPLAY_MAX: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamName {
    User,
    UserNotification,
    Public,
    PublicLocal,
    Hashtag(String),
    HashtagLocal(String),
    Direct,
    Thread(Id),
}

impl StreamName {
    /// Parses Mastodon's stream names; `tag` and `id` come with the request.
    pub fn parse(stream: &str, tag: Option<&str>, id: Option<&str>) -> Result<Self, StreamError> {
        let tag = || {
            tag.map(|t| t.trim_start_matches('#').to_owned())
                .filter(|t| !t.is_empty())
                .ok_or(StreamError::BadRequest("Missing tag name parameter"))
        };
        Ok(match stream {
            "user" => Self::User,
            "user:notification" => Self::UserNotification,
            "public" | "public:media" | "public:remote" | "public:remote:media" => Self::Public,
            "public:local" | "public:local:media" => Self::PublicLocal,
            "hashtag" => Self::Hashtag(tag()?),
            "hashtag:local" => Self::HashtagLocal(tag()?),
            "direct" => Self::Direct,
            "thread" => Self::Thread(
                id.and_then(|i| i.parse().ok()).ok_or(StreamError::BadRequest("Missing or invalid id parameter"))?,
            ),
            _ => return Err(StreamError::BadRequest("Unknown stream type")),
        })
    }

    /// The `stream` array of a frame.
    pub fn labels(&self) -> Vec<String> {
        match self {
            Self::User => vec!["user".into()],
            Self::UserNotification => vec!["user:notification".into()],
            Self::Public => vec!["public".into()],
            Self::PublicLocal => vec!["public:local".into()],
            Self::Hashtag(t) => vec!["hashtag".into(), t.clone()],
            Self::HashtagLocal(t) => vec!["hashtag:local".into(), t.clone()],
            Self::Direct => vec!["direct".into()],
            Self::Thread(id) => vec!["thread".into(), id.to_string()],
        }
    }

    fn is_user_log(&self) -> bool {
        matches!(self, Self::User | Self::UserNotification | Self::Direct)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("Record not found")]
    NotFound,
    #[error("{0}")]
    Storage(String),
}

impl From<StorageError> for StreamError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e.to_string())
    }
}

impl StreamError {
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::NotFound => 404,
            Self::Storage(_) => 500,
        }
    }

    /// Mastodon's in-socket error message.
    pub fn frame(&self) -> String {
        json!({ "error": self.to_string(), "status": self.status() }).to_string()
    }
}

/// One event for one stream.
#[derive(Debug, Clone)]
pub struct Frame {
    pub stream: Vec<String>,
    pub event: &'static str,
    pub payload: Arc<str>,
    /// The payload as a JSON string literal, when a shared rendering already made it.
    pub escaped: Option<Arc<str>>,
    /// The resume cursor (event number or status id), if the event can be resumed from.
    pub id: Option<String>,
}

impl Frame {
    pub fn new(stream: Vec<String>, event: &'static str, payload: String, id: Option<String>) -> Self {
        Self { stream, event, payload: Arc::from(payload), escaped: None, id }
    }

    fn shared(stream: Vec<String>, event: &'static str, payload: &Payload, id: Option<String>) -> Self {
        Self { stream, event, payload: payload.json.clone(), escaped: Some(payload.escaped.clone()), id }
    }

    /// The WebSocket text frame.
    pub fn ws_text(&self) -> String {
        // Written field by field: the payload (a whole entity) is escaped straight into
        // the frame, never copied into a `Value` first. Strings cannot fail to serialise.
        let mut out = Vec::with_capacity(self.payload.len() + self.payload.len() / 8 + 96);
        out.extend_from_slice(b"{\"stream\":");
        let _ = serde_json::to_writer(&mut out, &self.stream);
        out.extend_from_slice(b",\"event\":");
        let _ = serde_json::to_writer(&mut out, self.event);
        out.extend_from_slice(b",\"payload\":");
        match &self.escaped {
            Some(escaped) => out.extend_from_slice(escaped.as_bytes()),
            None => {
                let _ = serde_json::to_writer(&mut out, &*self.payload);
            }
        }
        if let Some(id) = &self.id {
            out.extend_from_slice(b",\"id\":");
            let _ = serde_json::to_writer(&mut out, id);
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }

    /// The SSE event (data on one line: payloads are single-line JSON or an id).
    pub fn sse(&self) -> String {
        let mut out = format!("event: {}\n", self.event);
        if let Some(id) = &self.id {
            out.push_str(&format!("id: {id}\n"));
        }
        for line in self.payload.split('\n') {
            out.push_str(&format!("data: {line}\n"));
        }
        out.push('\n');
        out
    }
}

struct Subscription {
    name: StreamName,
    /// User-log streams: the last event number handled.
    cursor: u64,
    /// Public-side streams after a replay: live updates up to this id were sent.
    replayed_upto: Option<Id>,
}

pub struct StreamCore {
    pub conn: Arc<Conn>,
    connections: Arc<Connections>,
    view: View,
    base_url: String,
    subs: Vec<Subscription>,
    /// Whether the user's log has been kept without a lapse (see `open_stream_lease`).
    continuous: bool,
}

impl StreamCore {
    pub fn new(conn: Arc<Conn>, connections: Arc<Connections>, view: View, base_url: String) -> Self {
        let continuous = match view.store().open_stream_lease(conn.user) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not open a stream lease");
                false
            }
        };
        Self { conn, connections, view, base_url, subs: Vec::new(), continuous }
    }

    fn store(&self) -> &Store {
        self.view.store()
    }

    pub fn user(&self) -> Id {
        self.conn.user
    }

    fn viewer(&self, viewer: Option<Id>) -> Viewer<'_> {
        self.view.viewer(viewer, &self.base_url)
    }

    /// Checks that a stream may be subscribed (a thread the user can see).
    pub fn check(&self, name: &StreamName) -> Result<(), StreamError> {
        if let StreamName::Thread(id) = name {
            self.viewer(Some(self.user())).visible_status(*id)?.ok_or(StreamError::NotFound)?;
        }
        Ok(())
    }

    /// Subscribes (again subscribing is harmless). `since` resumes: an event number for
    /// user streams, a status id for the others. Returns frames to send now (a replay
    /// or a `gap`); user-log events follow on the next [`StreamCore::on_wake`].
    pub fn subscribe(&mut self, name: StreamName, since: Option<&str>) -> Result<Vec<Frame>, StreamError> {
        self.check(&name)?;
        let since: Option<u64> = match since.map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(raw.parse().map_err(|_| StreamError::BadRequest("Invalid since parameter"))?),
            None => None,
        };
        let name = match name {
            StreamName::Thread(id) => {
                let status = self.store().status(id)?.ok_or(StreamError::NotFound)?;
                StreamName::Thread(thread_root(self.store(), &status)?)
            }
            other => other,
        };
        if self.subs.iter().any(|s| s.name == name) {
            return Ok(Vec::new());
        }
        let mut frames = Vec::new();
        let mut sub = Subscription { name: name.clone(), cursor: 0, replayed_upto: None };
        if name.is_user_log() {
            let newest = self.store().durable_event_seq(self.user())?;
            sub.cursor = match since {
                None => newest,
                Some(s) if self.continuous && s <= newest => {
                    let read = self.store().events_after(self.user(), s, 1)?;
                    if read.gap {
                        frames.push(gap_frame(&name, s, newest));
                        newest
                    } else {
                        s
                    }
                }
                Some(s) => {
                    frames.push(gap_frame(&name, s, newest));
                    newest
                }
            };
        } else {
            match &name {
                StreamName::Public | StreamName::PublicLocal => self.connections.subscribe_public(&self.conn, true),
                StreamName::Hashtag(t) | StreamName::HashtagLocal(t) => {
                    self.connections.subscribe_tag(&self.conn, t, true)
                }
                StreamName::Thread(root) => self.connections.subscribe_thread(&self.conn, *root, true),
                _ => {}
            }
            // Registered first, replayed second: a live event racing the replay is
            // either in the replay or arrives after it (and is skipped if already sent).
            if let Some(since) = since {
                let ids = self.replay_ids(&name, Id(since))?;
                sub.replayed_upto = ids.last().copied();
                for id in ids {
                    if let Some(s) = self.store().status(id)?
                        && let Some(f) = self.status_frame(&name, "update", &s)?
                    {
                        frames.push(f);
                    }
                }
            }
        }
        self.subs.push(sub);
        self.update_cursor();
        Ok(frames)
    }

    pub fn unsubscribe(&mut self, name: &StreamName) {
        let name = match name {
            StreamName::Thread(id) => match self.store().status(*id) {
                Ok(Some(s)) => StreamName::Thread(thread_root(self.store(), &s).unwrap_or(*id)),
                _ => name.clone(),
            },
            other => other.clone(),
        };
        self.subs.retain(|s| s.name != name);
        let still = |pred: &dyn Fn(&StreamName) -> bool| self.subs.iter().any(|s| pred(&s.name));
        match &name {
            StreamName::Public | StreamName::PublicLocal
                if !still(&|n| matches!(n, StreamName::Public | StreamName::PublicLocal)) =>
            {
                self.connections.subscribe_public(&self.conn, false);
            }
            StreamName::Hashtag(t) | StreamName::HashtagLocal(t) => {
                let t = t.to_lowercase();
                if !still(
                    &|n| matches!(n, StreamName::Hashtag(x) | StreamName::HashtagLocal(x) if x.to_lowercase() == t),
                ) {
                    self.connections.subscribe_tag(&self.conn, &t, false);
                }
            }
            StreamName::Thread(root) => self.connections.subscribe_thread(&self.conn, *root, false),
            _ => {}
        }
        self.update_cursor();
    }

    fn update_cursor(&self) {
        let lowest = self.subs.iter().filter(|s| s.name.is_user_log()).map(|s| s.cursor).min().unwrap_or(u64::MAX);
        self.conn.cursor.store(lowest, Ordering::SeqCst);
    }

    /// Statuses of a public-side stream newer than `since`, oldest first.
    fn replay_ids(&self, name: &StreamName, since: Id) -> Result<Vec<Id>, StreamError> {
        let mut out = Vec::new();
        if let StreamName::Thread(root) = name {
            let mut stack = vec![*root];
            while let Some(id) = stack.pop() {
                for reply in self.store().reply_ids(id)? {
                    if reply > since {
                        out.push(reply);
                    }
                    stack.push(reply);
                }
                if out.len() >= REPLAY_MAX {
                    break;
                }
            }
            out.sort();
            out.truncate(REPLAY_MAX);
            return Ok(out);
        }
        let mut cursor = since;
        while out.len() < REPLAY_MAX {
            let q = PageQuery { min_id: Some(cursor), limit: 40, ..PageQuery::default() };
            let mut page = match name {
                StreamName::Hashtag(t) | StreamName::HashtagLocal(t) => {
                    self.store().tag_page(&t.to_lowercase(), &q, |_| Ok(true))?
                }
                _ => self.store().public_page(&q, |_| Ok(true))?,
            };
            if page.is_empty() {
                break;
            }
            page.sort();
            cursor = *page.last().unwrap_or(&cursor);
            out.extend(page);
        }
        out.truncate(REPLAY_MAX);
        Ok(out)
    }

    /// Reads the user's log for every user stream. Returns the frames and whether more
    /// events are waiting (then the caller wakes itself again).
    pub fn on_wake(&mut self) -> Result<(Vec<Frame>, bool), StreamError> {
        let mut frames = Vec::new();
        let mut more = false;
        for i in 0..self.subs.len() {
            if !self.subs[i].name.is_user_log() {
                continue;
            }
            let read = self.store().events_after(self.user(), self.subs[i].cursor, READ_BATCH)?;
            more |= read.events.len() == READ_BATCH;
            for event in read.events {
                self.subs[i].cursor = event.seq;
                let name = self.subs[i].name.clone();
                if let Some(f) = self.event_frame(&name, &event)? {
                    frames.push(f);
                }
            }
        }
        self.update_cursor();
        Ok((frames, more))
    }

    fn event_frame(&self, name: &StreamName, event: &StreamEvent) -> Result<Option<Frame>, StreamError> {
        let me = self.user();
        let id = Some(event.seq.to_string());
        let frame = |event: &'static str, payload: String| Frame::new(name.labels(), event, payload, id.clone());
        Ok(match (name, event.kind) {
            (StreamName::User, EventKind::Update(sid)) | (StreamName::User, EventKind::StatusUpdate(sid)) => {
                let kind = if matches!(event.kind, EventKind::Update(_)) { "update" } else { "status.update" };
                let Some(status) = self.store().status(sid)? else { return Ok(None) };
                if !HomeFilter::single(self.store(), me).visible_status(&status)? {
                    return Ok(None);
                }
                self.status_payload(&status)?.map(|p| frame(kind, p))
            }
            (StreamName::User, EventKind::Delete(sid)) => Some(frame("delete", sid.to_string())),
            (StreamName::User | StreamName::UserNotification, EventKind::Notification(nid)) => {
                let Some(n) = self.store().notification(me, nid)? else { return Ok(None) };
                let viewer = self.viewer(Some(me));
                if !viewer.notification_shown(&n)? {
                    return Ok(None);
                }
                viewer.notification(&n)?.map(|v| frame("notification", to_json(&v)))
            }
            (StreamName::Direct, EventKind::Conversation(sid)) => {
                let Some(status) = self.store().status(sid)? else { return Ok(None) };
                let viewer = self.viewer(Some(me));
                if !viewer.listed(&status)? {
                    return Ok(None);
                }
                viewer.conversation(&status)?.map(|v| frame("conversation", to_json(&v)))
            }
            _ => None,
        })
    }

    /// The Status entity for this viewer, read back after a gap (the live path takes
    /// the fan-out's shared rendering instead).
    fn status_payload(&self, status: &crate::domain::Status) -> Result<Option<String>, StreamError> {
        Ok(self.viewer(Some(self.user())).status_json(status)?)
    }

    /// A durable event of the user's log, handed over live. Sent at once when it is the
    /// next one for every user stream of this connection; after a gap the log is read
    /// instead (which includes this event). Returns the frames and whether more events
    /// are waiting in the log.
    pub fn on_event(&mut self, event: &UserEvent) -> Result<(Vec<Frame>, bool), StreamError> {
        let cursors: Vec<u64> = self.subs.iter().filter(|s| s.name.is_user_log()).map(|s| s.cursor).collect();
        if cursors.iter().all(|c| *c >= event.seq) {
            return Ok((Vec::new(), false)); // already read from the log (or no user stream)
        }
        if cursors.iter().any(|c| *c + 1 != event.seq) {
            return self.on_wake();
        }
        let mut frames = Vec::new();
        for i in 0..self.subs.len() {
            if !self.subs[i].name.is_user_log() {
                continue;
            }
            self.subs[i].cursor = event.seq;
            let name = self.subs[i].name.clone();
            let frame = match (&event.shared, &name, event.kind) {
                (Some(shared), StreamName::User, EventKind::Update(_) | EventKind::StatusUpdate(_)) => {
                    self.shared_user_frame(&name, event, shared)?
                }
                _ => {
                    let logged = StreamEvent { seq: event.seq, at_ms: 0, kind: event.kind };
                    self.event_frame(&name, &logged)?
                }
            };
            frames.extend(frame);
        }
        self.update_cursor();
        Ok((frames, false))
    }

    /// A home-timeline status event from the fan-out, which already ran the home filter
    /// for every recipient and knows who has marks of their own on it.
    fn shared_user_frame(
        &self,
        name: &StreamName,
        event: &UserEvent,
        shared: &Broadcast,
    ) -> Result<Option<Frame>, StreamError> {
        let me = self.user();
        if shared.hidden.contains(&me) {
            return Ok(None);
        }
        let kind = if matches!(event.kind, EventKind::Update(_)) { "update" } else { "status.update" };
        let id = Some(event.seq.to_string());
        if shared.marked.contains(&me) {
            let payload = self.viewer(Some(me)).status_json(&shared.status)?;
            return Ok(payload.map(|p| Frame::new(name.labels(), kind, p, id)));
        }
        let payload = shared.payload(&self.base_url, || self.viewer(None).status_json(&shared.status))?;
        Ok(payload.map(|p| Frame::shared(name.labels(), kind, &p, id)))
    }

    /// Frames for a public-side event, one per matching subscription.
    pub fn on_broadcast(&mut self, item: &Broadcast) -> Result<Vec<Frame>, StreamError> {
        let me = self.user();
        let s = &item.status;
        let mut frames = Vec::new();
        let mut allowed: Option<bool> = None;
        for i in 0..self.subs.len() {
            let matches = match &self.subs[i].name {
                StreamName::Public | StreamName::PublicLocal => item.is_public(),
                StreamName::Hashtag(t) | StreamName::HashtagLocal(t) => item.has_tag(t),
                StreamName::Thread(root) => {
                    item.thread_root == *root && (s.id != *root || item.event != BroadcastEvent::Update)
                }
                _ => false,
            };
            if !matches {
                continue;
            }
            if item.event == BroadcastEvent::Update && self.subs[i].replayed_upto.is_some_and(|upto| s.id <= upto) {
                continue;
            }
            let ok = match allowed {
                Some(ok) => ok,
                None => {
                    let ok = self.viewer(Some(me)).listed(s)?;
                    allowed = Some(ok);
                    ok
                }
            };
            if !ok {
                return Ok(Vec::new());
            }
            let name = self.subs[i].name.clone();
            let frame = match item.event {
                BroadcastEvent::Delete => Some(Frame::new(name.labels(), "delete", s.id.to_string(), None)),
                BroadcastEvent::Update => self.shared_frame(&name, "update", item)?,
                BroadcastEvent::StatusUpdate => self.shared_frame(&name, "status.update", item)?,
            };
            frames.extend(frame);
        }
        Ok(frames)
    }

    /// A frame with the anonymous rendering shared by every subscriber (as Mastodon's
    /// public streams do); private thread replies are rendered for the viewer.
    fn shared_frame(
        &self,
        name: &StreamName,
        event: &'static str,
        item: &Broadcast,
    ) -> Result<Option<Frame>, StreamError> {
        use crate::domain::Visibility;
        let s = &item.status;
        if !matches!(s.visibility, Visibility::Public | Visibility::Unlisted) {
            return self.status_frame(name, event, s);
        }
        let payload = item.payload(&self.base_url, || self.viewer(None).status_json(s))?;
        let id = (event == "update").then(|| s.id.to_string());
        Ok(payload.map(|payload| Frame::shared(name.labels(), event, &payload, id)))
    }

    fn status_frame(
        &self,
        name: &StreamName,
        event: &'static str,
        s: &crate::domain::Status,
    ) -> Result<Option<Frame>, StreamError> {
        let viewer = self.viewer(Some(self.user()));
        if !viewer.listed(s)? {
            return Ok(None);
        }
        let id = (event == "update").then(|| s.id.to_string());
        Ok(viewer.status_json(s)?.map(|payload| Frame::new(name.labels(), event, payload, id)))
    }

    /// The connection ends: its lease runs from now.
    pub fn finish(&self) {
        self.connections.unregister(self.conn.id);
        if let Err(e) = self.store().renew_stream_lease(self.user(), true) {
            tracing::warn!(error = %e, "could not renew a stream lease");
        }
    }
}

fn gap_frame(name: &StreamName, since: u64, resume_from: u64) -> Frame {
    Frame::new(
        name.labels(),
        "gap",
        json!({ "since": since.to_string(), "resume_from": resume_from.to_string() }).to_string(),
        Some(resume_from.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ws_frame_is_mastodons_object_with_the_payload_as_a_string() {
        let payload = r#"{"content":"<p>\"quoted\" \\ é 😀</p>","id":"1"}"#.to_owned();
        let mut frame = Frame::new(vec!["hashtag".into(), "tag\"x".into()], "update", payload.clone(), None);
        let parsed: serde_json::Value = serde_json::from_str(&frame.ws_text()).unwrap();
        assert_eq!(parsed, json!({"stream": ["hashtag", "tag\"x"], "event": "update", "payload": payload}));
        frame.id = Some("42".into());
        let parsed: serde_json::Value = serde_json::from_str(&frame.ws_text()).unwrap();
        assert_eq!(parsed["id"], "42");
    }
}
