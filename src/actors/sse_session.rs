//! `SseSession`: one per server-sent-events connection. Same [`StreamCore`] as a
//! WebSocket, one stream per connection; frames go into a bounded channel that is the
//! response body. A full channel means the client stopped reading: the connection is
//! cut. A `:thump` comment keeps the connection alive every `sse_heartbeat_secs`; a
//! closed channel (the client went away) stops the session within a second.

use std::time::Duration;

use actix::prelude::*;
use actix_web::web::Bytes;
use tokio::sync::mpsc;

use super::connections::Connections;
use super::delivery::Push;
use super::stream_core::{Frame, StreamCore, StreamError, StreamName};
use std::sync::Arc;

pub struct SseSession {
    core: StreamCore,
    connections: Arc<Connections>,
    initial: Option<(StreamName, Option<String>)>,
    tx: mpsc::Sender<Bytes>,
    heartbeat: Duration,
}

impl SseSession {
    /// Starts the session; the receiver is the response body. `initial` must already be
    /// checked with [`StreamCore::check`].
    pub fn start(
        core: StreamCore,
        connections: Arc<Connections>,
        name: StreamName,
        since: Option<String>,
        queue_frames: usize,
        heartbeat: Duration,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(queue_frames.max(1));
        let conn = core.conn.clone();
        let session = SseSession { core, connections, initial: Some((name, since)), tx, heartbeat };
        let addr = SseSession::create(|ctx| {
            ctx.set_mailbox_capacity(queue_frames.max(1));
            session
        });
        conn.attach(addr.recipient());
        rx
    }

    /// Queues frames; a full queue cuts the connection, a closed one stops the session.
    fn send(&mut self, frames: Vec<Frame>, ctx: &mut Context<Self>) {
        for f in frames {
            if !self.push(Bytes::from(f.sse()), ctx) {
                return;
            }
        }
    }

    fn push(&mut self, bytes: Bytes, ctx: &mut Context<Self>) -> bool {
        match self.tx.try_send(bytes) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The client does not read: shut its socket, then end the session.
                self.connections.cut_slow(&self.core.conn);
                ctx.stop();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                ctx.stop();
                false
            }
        }
    }

    fn wake(&mut self, ctx: &mut Context<Self>) {
        let read = self.core.on_wake();
        self.after_read(read, ctx);
    }

    fn after_read(&mut self, read: Result<(Vec<Frame>, bool), StreamError>, ctx: &mut Context<Self>) {
        match read {
            Ok((frames, more)) => {
                self.send(frames, ctx);
                if more {
                    ctx.notify(Push::Wake);
                }
            }
            Err(e) => tracing::warn!(error = %e, "stream read failed"),
        }
    }
}

impl Actor for SseSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some((name, since)) = self.initial.take() {
            match self.core.subscribe(name, since.as_deref()) {
                Ok(frames) => self.send(frames, ctx),
                Err(e) => tracing::warn!(error = %e, "stream subscribe failed"),
            }
            self.wake(ctx);
        }
        let heartbeat = self.heartbeat;
        ctx.run_interval(heartbeat, |act, ctx| {
            act.push(Bytes::from_static(b":thump\n\n"), ctx);
        });
        ctx.run_interval(Duration::from_secs(1), |act, ctx| {
            if act.tx.is_closed() {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.core.finish();
    }
}

impl Handler<Push> for SseSession {
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
                Err(e) => tracing::warn!(error = %e, "stream render failed"),
            },
            Push::Close(_, _) => ctx.stop(),
        }
    }
}
