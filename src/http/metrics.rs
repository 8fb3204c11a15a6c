//! `GET /metrics`: Prometheus text, for a scraper holding `metrics.token` (off when the
//! setting is empty), and the middleware that counts and times every request by route
//! pattern and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::AppState;
use super::auth::bearer_token;
use super::error::ApiError;
use super::schemas;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

/// Prometheus metrics, for a scraper holding `metrics.token`.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 404, description = "Metrics are off (no `metrics.token`), or the token is not `metrics.token`",
            body = schemas::ErrorBody),
    )
)]
async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let expected = state.settings.metrics.token.as_bytes();
    let given = bearer_token(&req).unwrap_or_default();
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(ApiError::NotFound);
    }
    let handle = crate::metrics::handle().ok_or_else(|| ApiError::Internal("metrics recorder missing".into()))?;
    let (ws, sse) = state.streams.connections.count_by_transport();
    metrics::gauge!("starling_stream_connections", "transport" => "websocket").set(ws as f64);
    metrics::gauge!("starling_stream_connections", "transport" => "sse").set(sse as f64);
    metrics::gauge!("starling_fanout_pending_jobs").set(state.store.pending_fanout_count() as f64);
    metrics::gauge!("starling_timeline_actors").set(state.timelines.active_count() as f64);
    metrics::gauge!("starling_auth_live_sessions").set(state.auth.live_session_count() as f64);
    if let Ok(size) = state.store.size_on_disk() {
        metrics::gauge!("starling_storage_size_bytes").set(size as f64);
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render()))
}

/// Counts and times each request: `starling_http_requests_total{method,route,status}`
/// and `starling_http_request_duration_seconds{method,route}` (route = the matched
/// pattern, so ids do not make new series).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let response = next.call(req).await;
    let status = match &response {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics::counter!("starling_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("starling_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
