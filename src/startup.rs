//! `Application::build(settings)` opens storage, loads the signing key and live
//! sessions, starts the actors and binds the listener; `port()` tells tests where it is.
//! `run_until_stopped` serves until SIGINT/SIGTERM (or a `ServerHandle::stop`), then
//! stops the actors and flushes sled.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlers, NormalizePath};
use actix_web::{App, HttpMessage, HttpServer, web};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::actors::{
    Celebrities, Connections, FanoutRouter, SessionJanitor, SessionSupervisor, Shutdown, Streams, TimelineRegistry,
};
use crate::auth::AuthService;
use crate::config::Settings;
use crate::error::Error;
use crate::http::{self, AppState};
use crate::storage::Store;
use crate::view::View;

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    auth: Arc<AuthService>,
    janitor: Addr<SessionJanitor>,
    router: Addr<FanoutRouter>,
    supervisor: Addr<SessionSupervisor>,
}

impl Application {
    /// Must be called inside an actix system (`#[actix_web::main]`, `#[actix_web::test]`).
    pub async fn build(settings: Settings) -> Result<Self, Error> {
        crate::metrics::handle();
        let store = Store::open(&settings.storage.path, settings.storage.node_id)?;
        let auth = Arc::new(AuthService::new(&settings, store.clone()).map_err(|e| Error::Other(format!("{e:#}")))?);
        let janitor =
            SessionJanitor::new(auth.clone(), Duration::from_secs(settings.auth.session_sweep_interval_secs)).start();

        let streaming = &settings.streaming;
        store.set_event_retention(streaming.retention_events, streaming.retention_hours);
        let connections = Connections::new(
            streaming.max_connections_per_user,
            streaming.max_connections_per_ip,
            streaming.queue_frames,
        );
        let view = View::new(store.clone(), &settings.instance.domain);
        let streams = Streams::new(view.clone(), connections.clone());
        let supervisor = SessionSupervisor::new(connections, auth.clone(), store.clone()).start();

        let timelines = TimelineRegistry::new(store.clone(), Duration::from_secs(settings.timelines.idle_secs));
        let celebrities = Celebrities::load(&store, settings.fanout.celebrity_followers)?;
        store.set_celebrity_threshold(settings.fanout.celebrity_followers);
        let router = FanoutRouter::new(
            store.clone(),
            timelines.clone(),
            celebrities.clone(),
            streams.clone(),
            Duration::from_secs(settings.fanout.replay_interval_secs),
            settings.fanout.paused,
        )
        .start_bounded();

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            n => n,
        };
        let server_settings = settings.server.clone();
        let limits = http::rate_limit::RateLimits::new(&settings.rate_limits);
        let state = web::Data::new(AppState {
            settings: Arc::new(settings),
            store: store.clone(),
            view,
            auth: auth.clone(),
            router: router.clone(),
            timelines,
            celebrities,
            streams,
            limits,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(ErrorHandlers::new().default_handler(http::json_error_fallback))
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
                            response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
                        }
                        Ok(response)
                    }
                })
                .wrap(actix_web::middleware::from_fn(http::rate_limit::enforce))
                .wrap(actix_web::middleware::from_fn(http::metrics::record))
                .wrap(http::cors())
                .wrap(TracingLogger::default())
                .wrap(NormalizePath::trim())
                .configure(http::configure)
        })
        .on_connect(|conn, data| {
            use std::os::fd::AsRawFd;
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Ok(peer) = tcp.peer_addr()
            {
                data.insert(http::streaming::ClientSocket(tcp.as_raw_fd(), peer));
            }
        })
        .disable_signals()
        .workers(workers)
        .client_request_timeout(Duration::from_secs(server_settings.client_request_timeout_secs))
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .listen(listener)?
        .run();
        tracing::info!(port, host = %server_settings.host, "starling listening");
        Ok(Self { port, server, store, auth, janitor, router, supervisor })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn auth(&self) -> Arc<AuthService> {
        self.auth.clone()
    }

    /// Serves until stopped, then stops the actors and flushes storage.
    pub async fn run_until_stopped(self) -> Result<(), Error> {
        let Self { server, store, janitor, router, supervisor, .. } = self;
        // On SIGINT/SIGTERM: close the streams first (1001), then stop serving, so
        // long-lived connections do not hold the graceful stop until its timeout.
        let handle = server.handle();
        let stopper = supervisor.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown signal received");
            let _ = stopper.send(Shutdown).await;
            handle.stop(true).await;
        });
        server.await?;
        let _ = supervisor.send(Shutdown).await;
        let _ = janitor.send(Shutdown).await;
        let _ = router.send(Shutdown).await;
        store.flush_blocking()?;
        tracing::info!("starling stopped; storage flushed");
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
