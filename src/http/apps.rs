//! `POST /api/v1/apps` and `GET /api/v1/apps/verify_credentials`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::entities;
use super::error::ApiError;
use super::params::{Params, de};
use super::schemas;
use crate::auth::{random_token, sha256};
use crate::domain::time::now_millis;
use crate::domain::{Scopes, ValidationError};
use crate::storage::App;

pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/apps", web::post().to(create_app))
        .route("/api/v1/apps/verify_credentials", web::get().to(verify_app_credentials));
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateApp {
    /// At most 60 characters.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 60, pattern = "[^\\s]")]
    pub(crate) client_name: Option<String>,
    /// Absolute URIs, or `urn:ietf:wg:oauth:2.0:oob`; one string with one URI per line is
    /// accepted too.
    #[serde(default, deserialize_with = "de::string_list")]
    #[schema(required = true, min_items = 1)]
    pub(crate) redirect_uris: Vec<String>,
    /// Space-separated; default `read`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) scopes: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) website: Option<String>,
}

fn valid_redirect(uri: &str) -> bool {
    uri == OOB_REDIRECT || url::Url::parse(uri).is_ok_and(|u| !matches!(u.scheme(), "javascript" | "data" | "vbscript"))
}

/// Registers an application (an OAuth client).
#[utoipa::path(
    post, path = "/api/v1/apps", tag = "apps",
    request_body = CreateApp,
    responses(
        (status = 200, description = "The application with its client credentials", body = schemas::CredentialApplication),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn create_app(state: web::Data<AppState>, Params(p): Params<CreateApp>) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let name = p.client_name.unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        errors.push(ValidationError::new("name", "ERR_BLANK", "can't be blank"));
    } else if name.chars().count() > 60 {
        errors.push(ValidationError::new("name", "ERR_TOO_LONG", "is too long (maximum is 60 characters)"));
    }
    if p.redirect_uris.is_empty() {
        errors.push(ValidationError::new("redirect_uri", "ERR_BLANK", "can't be blank"));
    } else if !p.redirect_uris.iter().all(|u| valid_redirect(u) && u.len() <= 2000) {
        errors.push(ValidationError::new("redirect_uri", "ERR_INVALID", "must be an absolute URI."));
    }
    let scopes = match Scopes::parse(p.scopes.as_deref().unwrap_or("")) {
        Ok(s) => s.unwrap_or_else(Scopes::default_read),
        Err(bad) => {
            errors.push(ValidationError::new("scopes", "ERR_INVALID", format!("are invalid ({bad})")));
            Scopes::default_read()
        }
    };
    let website = p.website.filter(|w| !w.trim().is_empty());
    if website.as_deref().is_some_and(|w| url::Url::parse(w).is_err() || w.len() > 2000) {
        errors.push(ValidationError::new("website", "ERR_INVALID", "is invalid"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let secret = random_token();
    let app = App {
        id: state.store.next_id(),
        name,
        website,
        redirect_uris: p.redirect_uris,
        scopes,
        client_id: random_token(),
        client_secret_sha256: sha256(&secret).to_vec(),
        created_at_ms: now_millis(),
    };
    state.store.create_app(&app).await?;
    Ok(HttpResponse::Ok().json(entities::application(&app, Some(&secret))))
}

/// The application of the caller's token.
#[utoipa::path(
    get, path = "/api/v1/apps/verify_credentials", tag = "apps",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The application (`starling` for a first-party session)", body = schemas::Application),
        schemas::Unauthorized, schemas::Unavailable,
    )
)]
async fn verify_app_credentials(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let app = match caller.0.app_id {
        Some(id) => state.store.app(id)?,
        None => None,
    };
    match app {
        Some(app) => Ok(HttpResponse::Ok().json(entities::application(&app, None))),
        None => {
            // A first-party session: describe the built-in client.
            let scopes: Vec<&str> = caller.0.scopes.iter().collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "id": "0", "name": "starling", "website": null, "scopes": scopes,
                "redirect_uri": OOB_REDIRECT, "redirect_uris": [OOB_REDIRECT], "vapid_key": "",
            })))
        }
    }
}

/// Authenticates a client by id and secret (constant-time comparison of the hashes).
pub fn authenticate_client(state: &AppState, client_id: &str, client_secret: &str) -> Result<App, ApiError> {
    let app = state.store.app_by_client_id(client_id)?.ok_or_else(ApiError::invalid_client)?;
    if bool::from(sha256(client_secret).ct_eq(app.client_secret_sha256.as_slice())) {
        Ok(app)
    } else {
        Err(ApiError::invalid_client())
    }
}
