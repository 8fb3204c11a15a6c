//! Actors that hold hot state or run periodic work. So far: the [`SessionJanitor`],
//! which sweeps expired auth sessions. The fan-out router, timeline actors and the
//! session supervisor of the design join here as their issues land.

pub mod session_janitor;

pub use session_janitor::{SessionJanitor, StopJanitor};
