//! First-party sessions: `/api/v1/auth/login` (short access token + rotating refresh
//! token), `/refresh`, `/logout`, `/logout_all`, and `/sessions` to list and end them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::params::{Params, de};
use super::schemas;
use crate::auth::{AuthError, IssuedTokens, NewSession};
use crate::domain::time::rfc3339_millis;
use crate::domain::{Id, Scopes};
use crate::storage::SessionKind;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/auth/login", web::post().to(login))
        .route("/api/v1/auth/refresh", web::post().to(refresh))
        .route("/api/v1/auth/logout", web::post().to(logout))
        .route("/api/v1/auth/logout_all", web::post().to(logout_all))
        .route("/api/v1/auth/sessions", web::get().to(list_sessions))
        .route("/api/v1/auth/sessions/{id}", web::delete().to(end_session));
}

const INVALID_LOGIN: &str = "Invalid login or password";

#[derive(Deserialize, ToSchema)]
pub(crate) struct Login {
    /// A username or an e-mail address (`login` and `email` are accepted too).
    #[serde(default, deserialize_with = "de::opt_string", alias = "login", alias = "email")]
    #[schema(required = true, value_type = String)]
    pub(crate) username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) password: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) client_name: Option<String>,
}

fn session_tokens(t: &IssuedTokens) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": t.scope,
        "created_at": t.created_at,
        "session_id": t.session_id.to_string(),
    }))
}

/// First-party login: a short-lived access token and a rotating refresh token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "sessions",
    request_body = Login,
    responses(
        (status = 200, description = "The session's tokens", body = schemas::SessionTokens),
        (status = 401, description = "Invalid login or password (or a suspended account)", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    Params(p): Params<Login>,
) -> Result<HttpResponse, ApiError> {
    let (Some(login), Some(password)) = (p.username, p.password) else {
        return Err(ApiError::Unauthorized(INVALID_LOGIN));
    };
    let account = state.auth.check_password(&login, &password).await.map_err(|e| match e {
        AuthError::Storage(e) => ApiError::from(e),
        _ => ApiError::Unauthorized(INVALID_LOGIN),
    })?;
    let tokens = state
        .auth
        .start_session(NewSession {
            user_id: Some(account.id),
            app_id: None,
            client_name: p.client_name.map(|c| c.chars().take(60).collect()).unwrap_or_else(|| "starling".into()),
            kind: SessionKind::FirstParty,
            scopes: Scopes::all_user(),
            user_agent: req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
            ip: AppState::client_ip(&req),
            with_refresh: true,
        })
        .await?;
    Ok(session_tokens(&tokens))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct Refresh {
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) refresh_token: Option<String>,
}

/// Trades a refresh token for new tokens (the old refresh token stops working).
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "sessions",
    request_body = Refresh,
    responses(
        (status = 200, description = "New tokens", body = schemas::SessionTokens),
        (status = 401, description = "The refresh token is invalid, expired or already used", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn refresh(state: web::Data<AppState>, Params(p): Params<Refresh>) -> Result<HttpResponse, ApiError> {
    let token = p.refresh_token.ok_or(ApiError::Unauthorized("The refresh token is invalid"))?;
    let tokens = state.auth.refresh(&token, None).await.map_err(|e| match e {
        AuthError::Storage(e) => ApiError::from(e),
        _ => ApiError::Unauthorized("The refresh token is invalid"),
    })?;
    Ok(session_tokens(&tokens))
}

/// Ends the session of the token used.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended", body = schemas::Empty),
        schemas::UserErrors, schemas::Unavailable,
    )
)]
async fn logout(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    state.auth.revoke_session(user.principal.session_id).await?;
    Ok(super::empty_object())
}

/// Ends every session of the caller.
#[utoipa::path(
    post, path = "/api/v1/auth/logout_all", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many sessions ended", body = schemas::Revoked),
        schemas::UserErrors, schemas::Unavailable,
    )
)]
async fn logout_all(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    let revoked = state.auth.revoke_user_sessions(user.account.id).await?;
    Ok(HttpResponse::Ok().json(json!({ "revoked": revoked })))
}

/// The caller's live sessions.
#[utoipa::path(
    get, path = "/api/v1/auth/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions", body = [schemas::Session]),
        schemas::UserErrors, schemas::Unavailable,
    )
)]
async fn list_sessions(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    let sessions = state.auth.sessions_of_user(user.account.id)?;
    let body: Vec<_> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "created_at": rfc3339_millis(s.created_at_ms),
                "last_used_at": rfc3339_millis(s.last_used_at_ms),
                "expires_at": rfc3339_millis(s.expires_at_ms),
                "client": s.client_name,
                "kind": match s.kind { SessionKind::OAuth => "oauth", SessionKind::FirstParty => "first_party" },
                "scopes": s.scopes.to_string(),
                "user_agent": s.user_agent,
                "ip": s.ip,
                "current": s.id == user.principal.session_id,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Ends one of the caller's sessions.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended", body = schemas::Empty),
        schemas::UserErrors, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn end_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = *path;
    // Another user's session is answered exactly like a missing one.
    match state.store.session(id)? {
        Some(s) if s.user_id == Some(user.account.id) => {
            state.auth.revoke_session(id).await?;
            Ok(super::empty_object())
        }
        _ => Err(ApiError::NotFound),
    }
}
