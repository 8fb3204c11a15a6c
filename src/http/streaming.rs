//! Streaming on the API port (docs/streaming.md): the WebSocket at `/api/v1/streaming`
//! and SSE at `/api/v1/streaming/<stream>`. Authentication and the connection caps are
//! checked here, before any upgrade; the sessions (`actors::ws_session`,
//! `actors::sse_session`) do the rest.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::{CurrentUser, bearer_token};
use super::error::ApiError;
use super::schemas;
use crate::actors::connections::{CapExceeded, Conn};
use crate::actors::sse_session::SseSession;
use crate::actors::stream_core::{StreamCore, StreamError, StreamName};
use crate::actors::ws_session;

/// The client socket, stored per connection by `HttpServer::on_connect`.
#[derive(Clone, Copy)]
pub struct ClientSocket(pub i32, pub std::net::SocketAddr);

/// The SSE channels: the path under `/api/v1/streaming/` and the stream it opens.
pub const SSE_CHANNELS: [(&str, &str); 9] = [
    ("user", "user"),
    ("user/notification", "user:notification"),
    ("public", "public"),
    ("public/local", "public:local"),
    ("public/remote", "public:remote"),
    ("hashtag", "hashtag"),
    ("hashtag/local", "hashtag:local"),
    ("direct", "direct"),
    ("thread", "thread"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/streaming", web::get().to(websocket))
        .route("/api/v1/streaming/health", web::get().to(health))
        .route("/api/v1/streaming/{stream:.*}", web::get().to(sse));
}

/// Whether the streaming API is up (Mastodon's streaming health check).
#[utoipa::path(
    get, path = "/api/v1/streaming/health", tag = "streaming", operation_id = "streaming_health",
    responses((status = 200, description = "`OK`", content_type = "text/plain", body = String))
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("OK")
}

/// The token: `Authorization`, then `access_token`, then `Sec-WebSocket-Protocol`
/// (returned second so it can be echoed).
fn stream_token(req: &HttpRequest) -> (Option<String>, Option<String>) {
    if let Some(t) = bearer_token(req) {
        return (Some(t), None);
    }
    let protocol = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    (protocol.clone(), protocol)
}

/// Authenticates (as every route does) and registers a connection: 401, 403, 422 or 429
/// before any upgrade.
fn open(
    state: &AppState,
    req: &HttpRequest,
    token: Option<String>,
    transport: &'static str,
) -> Result<StreamCore, ApiError> {
    // The same authentication as every route, with the token found where browsers put it.
    let current = CurrentUser::authenticate(req, token)?;
    current.require_scope(&["read", "read:statuses", "read:notifications"])?;
    let (user, principal) = (current.account.id, current.principal);
    let socket = req.conn_data::<ClientSocket>().map(|s| (s.0, s.1));
    let connections = state.streams.connections.clone();
    let conn =
        Conn::new(connections.next_id(), transport, user, principal.session_id, AppState::client_ip(req), socket);
    connections.register(conn.clone()).map_err(|cap| {
        ApiError::TooManyRequests(match cap {
            CapExceeded::User => "Too many streaming connections for this user".into(),
            CapExceeded::Ip => "Too many streaming connections from this address".into(),
        })
    })?;
    Ok(StreamCore::new(conn, connections, state.view.clone(), state.base_url(req)))
}

fn stream_error(e: StreamError) -> ApiError {
    match e {
        StreamError::BadRequest(m) => ApiError::BadRequest(m.into()),
        StreamError::NotFound => ApiError::NotFound,
        StreamError::Storage(m) => ApiError::Internal(m),
    }
}

/// The WebSocket of the streaming API (docs/streaming.md); without an upgrade, `?stream=` serves that stream as server-sent events.
#[utoipa::path(
    get, path = "/api/v1/streaming", tag = "streaming",
    params(
        ("stream" = Option<String>, Query, description = "A stream to subscribe to at once (`user`, `public`, `hashtag`, …)"),
        ("tag" = Option<String>, Query, description = "For `hashtag` streams"),
        ("id" = Option<String>, Query, description = "For the `thread` stream: a status id"),
        ("since" = Option<String>, Query, description = "Resume after this event id"),
        ("Sec-WebSocket-Protocol" = Option<String>, Header, description = "The access token, for browsers"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 200, description = "Without an upgrade, with `stream`: server-sent events", content_type = "text/event-stream", body = String),
        (status = 400, description = "Unknown stream, missing `tag` or `id`, or a failed handshake", body = schemas::ErrorBody),
        schemas::UserErrors,
        (status = 403, description = "The token has no read scope", body = schemas::ErrorBody),
        (status = 404, description = "No upgrade and no `stream` (the streaming API is on this host), or an unknown thread", body = schemas::ErrorBody),
        (status = 429, description = "Too many open streams for this user or address", body = schemas::ErrorBody),
        schemas::Unavailable,
    )
)]
async fn websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        // `?stream=` without an upgrade is the SSE form of the same stream.
        return match query.get("stream") {
            Some(stream) => sse_stream(&req, &state, &query, stream),
            None => Err(ApiError::NotFound),
        };
    }
    let initial = match query.get("stream") {
        Some(stream) => Some((
            StreamName::parse(stream, query.get("tag").map(String::as_str), query.get("id").map(String::as_str))
                .map_err(stream_error)?,
            query.get("since").cloned(),
        )),
        None => None,
    };
    let (token, protocol) = stream_token(&req);
    let core = open(&state, &req, token, "websocket")?;
    let conn = core.conn.clone();
    if let Some((name, _)) = &initial
        && let Err(e) = core.check(name)
    {
        core.finish();
        return Err(stream_error(e));
    }
    ws_session::start(&req, payload, core, initial, protocol.as_deref(), &state.settings.streaming).map_err(|e| {
        state.streams.connections.unregister(conn.id);
        ApiError::BadRequest(e.to_string())
    })
}

/// Server-sent events of the `user` stream.
#[utoipa::path(
    get, path = "/api/v1/streaming/user", tag = "streaming", operation_id = "stream_user",
    params(
        ("since" = Option<String>, Query, description = "Resume after this event id"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (wins over `since`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "Missing or invalid `tag` or `id`", body = schemas::ErrorBody),
        schemas::UserErrors,
        (status = 403, description = "The token has no read scope", body = schemas::ErrorBody),
        (status = 404, description = "The thread does not exist or is not visible", body = schemas::ErrorBody),
        (status = 429, description = "Too many open streams for this user or address", body = schemas::ErrorBody),
        schemas::Unavailable,
    )
)]
async fn sse(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let channel = path.trim_end_matches('/');
    let Some((_, stream)) = SSE_CHANNELS.iter().find(|(c, _)| *c == channel) else {
        return Err(ApiError::BadRequest("Unknown channel requested".into()));
    };
    sse_stream(&req, &state, &query, stream)
}

fn sse_stream(
    req: &HttpRequest,
    state: &AppState,
    query: &HashMap<String, String>,
    stream: &str,
) -> Result<HttpResponse, ApiError> {
    let name = StreamName::parse(stream, query.get("tag").map(String::as_str), query.get("id").map(String::as_str))
        .map_err(stream_error)?;
    let since = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.get("since").cloned());
    let core = open(state, req, bearer_token(req), "sse")?;
    if let Err(e) = core.check(&name) {
        core.finish();
        return Err(stream_error(e));
    }
    let settings = &state.settings.streaming;
    let rx = SseSession::start(
        core,
        state.streams.connections.clone(),
        name,
        since,
        settings.queue_frames,
        Duration::from_secs(settings.sse_heartbeat_secs.max(1)),
    );
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, actix_web::Error>(bytes), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
