//! `SessionSupervisor`: an actor that sweeps the book of connections: closes connections
//! whose auth session was revoked (or account deleted), cuts slow consumers (more than
//! `queue_frames` events waiting), shuts down sockets that did not close when told, and
//! keeps stream leases of connected users alive. It looks four times a second whether a
//! session ended (then it sweeps at once, so a revocation closes sockets within 250 ms)
//! and sweeps every second in any case: with 10,000 connections a sweep is a few
//! milliseconds of work, which the push path should not pay four times a second. Started by the
//! `Application`, which holds its address; stops at shutdown, closing every socket.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::connections::{CLOSE_POLICY, Connections};
use crate::auth::AuthService;
use crate::storage::Store;

/// A connection told to close that is still open after this long has its socket shut.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
const CHECK_EVERY: Duration = Duration::from_millis(250);
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(60);

/// Sweeps the book: revoked sessions, slow consumers, stuck closes, leases.
pub struct SessionSupervisor {
    connections: Arc<Connections>,
    auth: Arc<AuthService>,
    store: Store,
    last_lease_renewal: Instant,
    last_sweep: Instant,
    /// `AuthService::sessions_ended` at the last sweep.
    ended_seen: u64,
}

impl SessionSupervisor {
    pub fn new(connections: Arc<Connections>, auth: Arc<AuthService>, store: Store) -> Self {
        Self { connections, auth, store, last_lease_renewal: Instant::now(), last_sweep: Instant::now(), ended_seen: 0 }
    }

    /// Sweeps when a session ended since the last sweep, or a second has passed.
    fn check(&mut self) {
        let ended = self.auth.sessions_ended();
        if ended != self.ended_seen || self.last_sweep.elapsed() >= SWEEP_EVERY {
            self.ended_seen = ended;
            self.last_sweep = Instant::now();
            self.sweep();
        }
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
        ctx.run_interval(CHECK_EVERY, |act, _| act.check());
    }
}

impl Handler<super::Shutdown> for SessionSupervisor {
    type Result = ();

    fn handle(&mut self, _: super::Shutdown, ctx: &mut Self::Context) {
        self.connections.close_where(|_| true, 1001, "server shutting down");
        ctx.stop();
    }
}
