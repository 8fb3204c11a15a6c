//! Authentication extractors. The token comes from `Authorization: Bearer …` or the
//! `access_token` query parameter (Mastodon accepts both).
//!
//! - [`Caller`]: any valid token (user or app-only); 401 without one.
//! - [`MaybeCaller`]: public routes; a token, if sent, must be valid.
//! - [`CurrentUser`]: a token with a user, and that user's account; 422 for an app-only token.
//!
//! Scopes are checked in the handler with `require_scope`, naming the scopes any one of
//! which grants the route (as Mastodon's `doorkeeper_authorize!` does).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use super::error::{ApiError, INVALID_TOKEN, OUTSIDE_SCOPES, USER_REQUIRED};
use crate::auth::Principal;
use crate::domain::Account;

/// The raw bearer token of a request, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("access_token").cloned())
        .filter(|t| !t.is_empty())
}

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::Internal("application state missing".into()))
}

fn verify(req: &HttpRequest) -> Result<Option<Principal>, ApiError> {
    let Some(token) = bearer_token(req) else { return Ok(None) };
    let principal = state(req)?.auth.verify(&token).map_err(|_| ApiError::Unauthorized(INVALID_TOKEN))?;
    Ok(Some(principal))
}

fn require_scope(principal: &Principal, any_of: &[&str]) -> Result<(), ApiError> {
    if any_of.iter().any(|s| principal.scopes.grants(s)) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(OUTSIDE_SCOPES.into()))
    }
}

pub struct Caller(pub Principal);

impl Caller {
    pub fn require_scope(&self, any_of: &[&str]) -> Result<(), ApiError> {
        require_scope(&self.0, any_of)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verify(req).and_then(|p| p.map(Caller).ok_or(ApiError::Unauthorized(INVALID_TOKEN))))
    }
}

pub struct MaybeCaller(pub Option<Principal>);

impl MaybeCaller {
    /// The calling user, if the token has one.
    pub fn user_id(&self) -> Option<crate::domain::Id> {
        self.0.as_ref().and_then(|p| p.user_id)
    }
}

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verify(req).map(MaybeCaller))
    }
}

pub struct CurrentUser {
    pub principal: Principal,
    pub account: Account,
}

impl CurrentUser {
    /// The user behind `token` (taken from the request by the caller: the streaming
    /// handshake also reads `Sec-WebSocket-Protocol`): 401 without a valid token, 422
    /// for an app-only token, 401 if the account is gone. Records the user as active.
    pub fn authenticate(req: &HttpRequest, token: Option<String>) -> Result<Self, ApiError> {
        let token = token.ok_or(ApiError::Unauthorized(INVALID_TOKEN))?;
        let state = state(req)?;
        let principal = state.auth.verify(&token).map_err(|_| ApiError::Unauthorized(INVALID_TOKEN))?;
        let user = principal.user_id.ok_or_else(|| ApiError::Unprocessable(USER_REQUIRED.into()))?;
        let account = state.store.account(user)?.ok_or(ApiError::Unauthorized(INVALID_TOKEN))?;
        state.store.mark_active(user)?;
        Ok(CurrentUser { principal, account })
    }

    pub fn require_scope(&self, any_of: &[&str]) -> Result<(), ApiError> {
        require_scope(&self.principal, any_of)
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(CurrentUser::authenticate(req, bearer_token(req)))
    }
}
