//! `GET /api/v1/instance` and `/api/v2/instance`. The version string names a Mastodon
//! release so clients enable the features they gate on it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::schemas;

pub const MASTODON_VERSION: &str = "4.3.0";

pub fn version() -> String {
    format!("{MASTODON_VERSION} (compatible; starling {})", env!("CARGO_PKG_VERSION"))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/instance", web::get().to(instance_v1)).route("/api/v2/instance", web::get().to(instance_v2));
}

fn streaming_url(base_url: &str) -> String {
    if let Some(rest) = base_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base_url.to_owned()
    }
}

fn statuses_config(state: &AppState) -> Value {
    json!({
        "max_characters": state.settings.instance.max_characters,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    })
}

fn polls() -> Value {
    json!({ "max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746 })
}

fn media_config() -> Value {
    json!({
        "supported_mime_types": [],
        "description_limit": 1500,
        "image_size_limit": 0,
        "image_matrix_limit": 0,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    })
}

/// The instance (Mastodon's v1 entity).
#[utoipa::path(
    get, path = "/api/v1/instance", tag = "instance",
    responses((status = 200, description = "The instance", body = schemas::InstanceV1), schemas::Unavailable)
)]
async fn instance_v1(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let base = state.base_url(&req);
    let inst = &state.settings.instance;
    Ok(HttpResponse::Ok().json(json!({
        "uri": inst.domain,
        "title": inst.title,
        "short_description": inst.description,
        "description": inst.description,
        "email": inst.contact_email,
        "version": version(),
        "urls": { "streaming_api": streaming_url(&base) },
        "stats": {
            "user_count": state.store.account_count(),
            "status_count": state.store.status_count()?,
            "domain_count": 0,
        },
        "thumbnail": Value::Null,
        "languages": ["en"],
        "registrations": inst.registrations_open,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": {
            "accounts": { "max_featured_tags": 0 },
            "statuses": statuses_config(&state),
            "media_attachments": media_config(),
            "polls": polls(),
        },
        "contact_account": Value::Null,
        "rules": [],
    })))
}

/// The instance.
#[utoipa::path(
    get, path = "/api/v2/instance", tag = "instance",
    responses((status = 200, description = "The instance", body = schemas::Instance))
)]
async fn instance_v2(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = state.base_url(&req);
    let inst = &state.settings.instance;
    HttpResponse::Ok().json(json!({
        "domain": inst.domain,
        "title": inst.title,
        "version": version(),
        "source_url": "https://github.com/starling-social/starling",
        "description": inst.description,
        "usage": { "users": { "active_month": state.store.account_count() } },
        "thumbnail": { "url": format!("{base}/headers/original/missing.png") },
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {
                "streaming": streaming_url(&base),
                "status": Value::Null,
                "about": format!("{base}/about"),
                "privacy_policy": Value::Null,
                "terms_of_service": Value::Null,
            },
            "vapid": { "public_key": "" },
            "accounts": {
                "max_display_name_length": crate::domain::account::MAX_DISPLAY_NAME_CHARS,
                "max_note_length": crate::domain::account::MAX_NOTE_CHARS,
                "max_featured_tags": 0,
                "max_pinned_statuses": 0,
                "max_profile_fields": 0,
                "profile_field_name_limit": 255,
                "profile_field_value_limit": 255,
            },
            "statuses": statuses_config(&state),
            "media_attachments": media_config(),
            "polls": polls(),
            "translation": { "enabled": false },
        },
        "registrations": {
            "enabled": inst.registrations_open,
            "approval_required": false,
            "reason_required": false,
            "message": Value::Null,
            "min_age": Value::Null,
            "url": Value::Null,
        },
        "api_versions": { "mastodon": 2 },
        "contact": { "email": inst.contact_email, "account": Value::Null },
        "rules": [],
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn streaming_url_swaps_scheme() {
        assert_eq!(super::streaming_url("https://a.example"), "wss://a.example");
        assert_eq!(super::streaming_url("http://127.0.0.1:8080"), "ws://127.0.0.1:8080");
        assert!(super::version().starts_with("4.3.0 (compatible; starling "));
    }
}
