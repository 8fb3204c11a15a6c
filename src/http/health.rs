//! Liveness, readiness, the JWK set and the default images.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::schemas;
use crate::view::account::{DEFAULT_AVATAR_PATH, DEFAULT_HEADER_PATH};

const AVATAR_PNG: &[u8] = include_bytes!("../../assets/avatar_missing.png");
const HEADER_PNG: &[u8] = include_bytes!("../../assets/header_missing.png");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route(DEFAULT_AVATAR_PATH, web::get().to(default_avatar))
        .route(DEFAULT_HEADER_PATH, web::get().to(default_header));
}

/// Liveness: the process is up and serving.
#[utoipa::path(
    get, path = "/health", tag = "operations", operation_id = "health",
    responses((status = 200, description = "Up", body = schemas::HealthStatus, example = json!({"status": "ok"})))
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the store answers reads and its flusher has not failed.
#[utoipa::path(
    get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = schemas::HealthStatus, example = json!({"status": "ready"})),
        (status = 503, description = "Storage is not ready", body = schemas::ErrorBody),
    )
)]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let ok = web::block(move || store.is_ready()).await.unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "error": "Storage is not ready" }))
    }
}

/// The public keys that verify access tokens (JWK set).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "The JWK set", body = schemas::JwkSet))
)]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=300")).json(state.auth.keys().jwks())
}

/// The default avatar.
#[utoipa::path(
    get, path = "/avatars/original/missing.png", tag = "operations",
    responses((status = 200, description = "A PNG image", content(("image/png"))))
)]
async fn default_avatar() -> HttpResponse {
    png(AVATAR_PNG)
}

/// The default profile header.
#[utoipa::path(
    get, path = "/headers/original/missing.png", tag = "operations",
    responses((status = 200, description = "A PNG image", content(("image/png"))))
)]
async fn default_header() -> HttpResponse {
    png(HEADER_PNG)
}

fn png(bytes: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(bytes)
}
