//! The HTTP surface: Mastodon's client API plus starling's own auth routes. One file per
//! resource area; `error.rs` maps failures to Mastodon's error JSON, `params.rs` reads
//! JSON/form/multipart bodies, `auth.rs` holds the authentication extractors.

pub mod accounts;
pub mod admin;
pub mod apps;
pub mod auth;
pub mod entities;
pub mod error;
pub mod follows;
pub mod health;
pub mod instance;
pub mod interactions;
pub mod metrics;
pub mod notifications;
pub mod oauth;
pub mod openapi;
pub mod pagination;
pub mod params;
pub mod rate_limit;
pub mod schemas;
pub mod sessions;
pub mod statuses;
pub mod streaming;
pub mod timelines;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, web};

use actix::Addr;

use crate::actors::{Celebrities, FanoutRouter, Streams, TimelineRegistry};
use crate::auth::AuthService;
use crate::config::Settings;
use crate::domain::Id;
use crate::storage::Store;
use crate::view::{View, Viewer};
use error::ApiError;

/// Shared by every handler (`web::Data<AppState>`).
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub view: View,
    pub auth: Arc<AuthService>,
    pub router: Addr<FanoutRouter>,
    pub timelines: Arc<TimelineRegistry>,
    pub celebrities: Arc<Celebrities>,
    pub streams: Arc<Streams>,
    pub limits: rate_limit::RateLimits,
}

impl AppState {
    /// The absolute base URL clients reach us at: `instance.public_url` if set, else the
    /// scheme and `Host` of the request.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        if !self.settings.instance.public_url.is_empty() {
            return self.settings.instance.public_url.trim_end_matches('/').to_owned();
        }
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    }

    /// What `me` (`None`: logged out) sees, with links for this request.
    pub fn viewer(&self, req: &HttpRequest, me: Option<Id>) -> Viewer<'_> {
        self.view.viewer(me, &self.base_url(req))
    }

    /// The client's address as seen by the socket (proxies are not trusted).
    pub fn client_ip(req: &HttpRequest) -> String {
        req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
    }
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()))
        .configure(health::configure)
        .configure(metrics::configure)
        .configure(streaming::configure)
        .configure(instance::configure)
        .configure(apps::configure)
        .configure(oauth::configure)
        // Before accounts: `/api/v1/accounts/relationships` must win over `/{id}`.
        .configure(follows::configure)
        .configure(timelines::configure)
        .configure(accounts::configure)
        .configure(statuses::configure)
        .configure(interactions::configure)
        .configure(notifications::configure)
        .configure(sessions::configure)
        .configure(admin::configure)
        .configure(openapi::configure)
        .default_service(web::to(unmatched));
}

/// What no route took: 405 with `Allow` for a path that routes serve with other methods,
/// 404 for any other.
async fn unmatched(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = openapi::allowed_methods(req.path());
    if allowed.is_empty() { Err(ApiError::NotFound) } else { Err(ApiError::MethodNotAllowed(allowed.join(", "))) }
}

/// Last line of defence for the rule "every response is JSON": an error response that
/// some layer produced without a JSON body (405, a framework error) gets one.
pub fn json_error_fallback<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // JSON errors are already right; the OAuth pages are HTML on purpose.
    let keep = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if keep {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let message = status.canonical_reason().unwrap_or("Error");
    let body = serde_json::json!({ "error": message }).to_string();
    let (req, res) = res.into_parts();
    let mut res = res.set_body(BoxBody::new(body));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, res).map_into_right_body()))
}

/// CORS as Mastodon does it: any origin may call the API without credentials (browser
/// clients such as Elk and Phanpy send the token in a header, never a cookie).
pub fn cors() -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allow_any_origin()
        .allow_any_method()
        .allow_any_header()
        .expose_headers(["link", "x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"])
        .max_age(3600)
}

/// A 200 with an empty JSON object, Mastodon's answer for many actions.
pub fn empty_object() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({}))
}
