//! `WsSession`: one per WebSocket connection (`/api/v1/streaming`). The only module that
//! uses actix-web-actors (deprecated upstream; measured as fast as the alternatives).
//!
//! It reads Mastodon's `subscribe` / `unsubscribe` messages, answers bad ones with
//! Mastodon's error frame (the socket stays open), and writes the frames its
//! [`StreamCore`] makes from [`Push`] messages. Its mailbox holds `queue_frames`
//! messages; the supervisor's `try_send` finding it full is the sign the client stopped
//! reading. Heartbeat: a ping every `ping_interval`, dropped after `idle_timeout` without
//! hearing from the client. Frames over `max_frame_bytes` are closed with 1009, text that
//! is not UTF-8 with 1007, more than `max_messages_per_10s` messages with 1008.

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use serde::Deserialize;

use super::connections::CLOSE_POLICY;
use super::delivery::Push;
use super::stream_core::{Frame, StreamCore, StreamError, StreamName};
use crate::config::StreamingSettings;

const FLOOD_WINDOW: Duration = Duration::from_secs(10);

pub struct WsSession {
    core: StreamCore,
    initial: Option<(StreamName, Option<String>)>,
    ping_every: Duration,
    idle_timeout: Duration,
    queue: usize,
    max_messages: u32,
    last_heard: Instant,
    window: (Instant, u32),
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    stream: Option<String>,
    tag: Option<String>,
    list: Option<String>,
    id: Option<serde_json::Value>,
    since: Option<serde_json::Value>,
}

/// A JSON string or number, as text.
fn text_of(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a client message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRequest {
    Subscribe { name: StreamName, since: Option<String> },
    Unsubscribe(StreamName),
}

/// Parses one client text message (`{"type", "stream", "tag", "list", "id", "since"}`).
/// An error is answered with Mastodon's error frame; the socket stays open.
pub fn parse_client_message(text: &str) -> Result<ClientRequest, StreamError> {
    let message: ClientMessage =
        serde_json::from_str(text).map_err(|_| StreamError::BadRequest("Invalid JSON message"))?;
    let Some(stream) = message.stream.as_deref() else {
        return Err(StreamError::BadRequest("Missing stream parameter"));
    };
    if stream == "list" || message.list.is_some() {
        return Err(StreamError::BadRequest("Lists are not supported"));
    }
    let id = text_of(message.id);
    let name = StreamName::parse(stream, message.tag.as_deref(), id.as_deref())?;
    match message.kind.as_str() {
        "subscribe" => Ok(ClientRequest::Subscribe { name, since: text_of(message.since) }),
        "unsubscribe" => Ok(ClientRequest::Unsubscribe(name)),
        _ => Err(StreamError::BadRequest("Unknown message type")),
    }
}

/// Upgrades the request and starts the session. `initial` subscribes at once (the
/// `?stream=` form); `protocol` is echoed back when the token came in
/// `Sec-WebSocket-Protocol`.
pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    core: StreamCore,
    initial: Option<(StreamName, Option<String>)>,
    protocol: Option<&str>,
    settings: &StreamingSettings,
) -> Result<HttpResponse, actix_web::Error> {
    let conn = core.conn.clone();
    let session = WsSession {
        core,
        initial,
        ping_every: Duration::from_secs(settings.ping_interval_secs.max(1)),
        idle_timeout: Duration::from_secs(settings.idle_timeout_secs.max(1)),
        queue: settings.queue_frames.max(1),
        max_messages: settings.max_messages_per_10s.max(1),
        last_heard: Instant::now(),
        window: (Instant::now(), 0),
    };
    let protocols = protocol.map(|p| [p]);
    let mut builder = ws::WsResponseBuilder::new(session, req, payload).frame_size(settings.max_frame_bytes);
    if let Some(p) = protocols.as_ref() {
        builder = builder.protocols(p);
    }
    let (addr, response) = builder.start_with_addr()?;
    conn.attach(addr.recipient());
    Ok(response)
}

impl WsSession {
    fn send(&self, frames: Vec<Frame>, ctx: &mut ws::WebsocketContext<Self>) {
        for f in frames {
            ctx.text(f.ws_text());
        }
    }

    fn error(&self, e: &StreamError, ctx: &mut ws::WebsocketContext<Self>) {
        if let StreamError::Storage(reason) = e {
            tracing::warn!(%reason, "stream storage error");
        }
        ctx.text(e.frame());
    }

    fn wake(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let read = self.core.on_wake();
        self.after_read(read, ctx);
    }

    fn after_read(&mut self, read: Result<(Vec<Frame>, bool), StreamError>, ctx: &mut ws::WebsocketContext<Self>) {
        match read {
            Ok((frames, more)) => {
                self.send(frames, ctx);
                if more {
                    ctx.notify(Push::Wake);
                }
            }
            Err(e) => self.error(&e, ctx),
        }
    }

    fn subscribe(&mut self, name: StreamName, since: Option<&str>, ctx: &mut ws::WebsocketContext<Self>) {
        match self.core.subscribe(name, since) {
            Ok(frames) => {
                self.send(frames, ctx);
                self.wake(ctx);
            }
            Err(e) => self.error(&e, ctx),
        }
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        match parse_client_message(text) {
            Ok(ClientRequest::Subscribe { name, since }) => self.subscribe(name, since.as_deref(), ctx),
            Ok(ClientRequest::Unsubscribe(name)) => self.core.unsubscribe(&name),
            Err(e) => self.error(&e, ctx),
        }
    }

    fn close(&self, code: u16, reason: &str, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.close(Some(ws::CloseReason { code: ws::CloseCode::from(code), description: Some(reason.to_owned()) }));
        ctx.stop();
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.queue);
        ctx.run_interval(self.ping_every, |act, ctx| {
            if act.last_heard.elapsed() >= act.idle_timeout {
                act.close(1000, "no answer to pings", ctx);
            } else {
                ctx.ping(b"");
            }
        });
        if let Some((name, since)) = self.initial.take() {
            self.subscribe(name, since.as_deref(), ctx);
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.core.finish();
    }
}

impl Handler<Push> for WsSession {
    type Result = ();

    fn handle(&mut self, push: Push, ctx: &mut Self::Context) {
        match push {
            Push::Wake => self.wake(ctx),
            Push::Event(event) => {
                let read = self.core.on_event(&event);
                self.after_read(read, ctx);
            }
            Push::Item(item) => match self.core.on_broadcast(&item) {
                Ok(frames) => self.send(frames, ctx),
                Err(e) => self.error(&e, ctx),
            },
            Push::Close(code, reason) => self.close(code, reason, ctx),
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, message: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        let message = match message {
            Ok(m) => m,
            Err(ws::ProtocolError::Overflow) => return self.close(1009, "frame too large", ctx),
            Err(ws::ProtocolError::Io(e)) if e.to_string().to_lowercase().contains("utf-8") => {
                return self.close(1007, "invalid UTF-8", ctx);
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                return self.close(1002, "protocol error", ctx);
            }
        };
        if matches!(message, ws::Message::Text(_) | ws::Message::Binary(_)) {
            if self.window.0.elapsed() >= FLOOD_WINDOW {
                self.window = (Instant::now(), 0);
            }
            self.window.1 += 1;
            if self.window.1 > self.max_messages {
                return self.close(CLOSE_POLICY, "too many messages", ctx);
            }
        }
        match message {
            ws::Message::Text(text) => self.on_text(&text, ctx),
            ws::Message::Binary(_) => self.error(&StreamError::BadRequest("Binary messages are not supported"), ctx),
            ws::Message::Ping(p) => ctx.pong(&p),
            ws::Message::Pong(_) | ws::Message::Continuation(_) | ws::Message::Nop => {}
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
        }
    }
}
