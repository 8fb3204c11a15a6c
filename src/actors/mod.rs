//! Actors that hold hot state or run periodic work:
//! - [`FanoutRouter`]: one per node; delivers new and deleted statuses to home timelines.
//! - [`TimelineActor`]s in a [`TimelineRegistry`]: one per active user, the hot page of
//!   their home timeline; they stop when idle.
//! - [`SessionJanitor`]: sweeps expired auth sessions.
//! - [`Connections`]: the book of live streams (caps, topic indexes); [`Streams`]: how
//!   writers reach them; [`SessionSupervisor`]: revocation, slow consumers, leases.
//! - `WsSession` / `SseSession`: one per streaming connection, around a `StreamCore`.

pub mod connections;
pub mod delivery;
pub mod fanout_router;
pub mod session_janitor;
pub mod session_supervisor;
pub mod sse_session;
pub mod stream_core;
pub mod streams;
pub mod timeline;
pub mod ws_session;

pub use connections::Connections;
pub use fanout_router::{Celebrities, Fanout, FanoutRouter, ReplayPending};
pub use session_janitor::SessionJanitor;
pub use session_supervisor::SessionSupervisor;
pub use streams::{Broadcast, BroadcastEvent, Streams};

/// Sent by the `Application` at shutdown to the node's long-lived actors, so they let go
/// of the store and the database can close.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Shutdown;
pub use timeline::{TimelineActor, TimelineRegistry};
