//! `SessionJanitor`: every `auth.session_sweep_interval_secs` it removes expired auth
//! sessions, stale refresh tokens and authorization codes, and writes back last-use
//! times. State: the auth service and the interval. Messages: [`Shutdown`]. Its
//! address is held by the `Application`; it stops on `Shutdown`.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::Shutdown;
use crate::auth::AuthService;

pub struct SessionJanitor {
    auth: Arc<AuthService>,
    every: Duration,
    /// True while a sweep is running, so slow sweeps never pile up.
    busy: bool,
}

impl SessionJanitor {
    pub fn new(auth: Arc<AuthService>, every: Duration) -> Self {
        Self { auth, every, busy: false }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let auth = self.auth.clone();
        async move { auth.sweep().await }
            .into_actor(self)
            .map(|result, act, _| {
                act.busy = false;
                match result {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "swept expired sessions"),
                    Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                }
            })
            .spawn(ctx);
    }
}

impl Actor for SessionJanitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| act.sweep(ctx));
    }
}

impl Handler<Shutdown> for SessionJanitor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
