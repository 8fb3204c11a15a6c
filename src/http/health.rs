//! Liveness, readiness, the JWK set and the default images.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::entities::{DEFAULT_AVATAR_PATH, DEFAULT_HEADER_PATH};

const AVATAR_PNG: &[u8] = include_bytes!("../../assets/avatar_missing.png");
const HEADER_PNG: &[u8] = include_bytes!("../../assets/header_missing.png");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route(DEFAULT_AVATAR_PATH, web::get().to(|| async { png(AVATAR_PNG) }))
        .route(DEFAULT_HEADER_PATH, web::get().to(|| async { png(HEADER_PNG) }));
}

/// The process is up and serving.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The store answers reads and its flusher has not failed.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let ok = web::block(move || store.is_ready()).await.unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "error": "Storage is not ready" }))
    }
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=300")).json(state.auth.keys().jwks())
}

fn png(bytes: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(bytes)
}
