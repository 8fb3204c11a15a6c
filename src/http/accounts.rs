//! Accounts: registration, the caller's own account (read, update, delete), and public
//! look-ups by id and by `acct`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, CurrentUser, MaybeCaller};
use super::entities;
use super::error::{ApiError, USER_REQUIRED};
use super::params::{Params, de};
use super::schemas;
use crate::auth::registration::NewAccount;
use crate::auth::{NewSession, password};
use crate::domain::account::{validate_display_name, validate_note};
use crate::domain::{Id, Role, Username, ValidationError};
use crate::storage::SessionKind;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/accounts", web::post().to(create_account))
        .route("/api/v1/accounts/verify_credentials", web::get().to(verify_credentials))
        .route("/api/v1/accounts/update_credentials", web::patch().to(update_credentials))
        .route("/api/v1/accounts/lookup", web::get().to(lookup_account))
        .route("/api/v1/accounts/me", web::delete().to(delete_own_account))
        .route("/api/v1/accounts/{id}", web::get().to(get_account));
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct Registration {
    /// Letters, digits and underscores, at most 30 (unique, case-insensitively).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_]{1,30}$")]
    pub(crate) username: Option<String>,
    /// An e-mail address (unique).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, pattern = "^[^@\\s]+@[^@\\s.][^@\\s]*\\.[^@\\s]*[^@\\s.]$", max_length = 254)]
    pub(crate) email: Option<String>,
    /// At least 8 characters, at most 1024 bytes.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, min_length = 8)]
    pub(crate) password: Option<String>,
    /// Acceptance of the server's rules: must be true.
    #[serde(default, deserialize_with = "de::bool")]
    #[schema(required = true, schema_with = must_be_true)]
    pub(crate) agreement: bool,
    /// The user's language (default `en`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) locale: Option<String>,
}

/// The schema of a boolean that must be `true`.
fn must_be_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("Acceptance of the server's rules: must be true."))
        .build()
}

/// Registers an account and answers with a token for it (sign-up).
///
/// Needs an app token (client credentials) with `write:accounts`; the new token has its scopes.
#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "accounts",
    request_body = Registration,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new account's access token", body = schemas::Token),
        (status = 403, description = "Registrations are closed, or the token lacks `write:accounts`", body = schemas::ErrorBody),
        schemas::Unauthorized, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn create_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Params(p): Params<Registration>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(&["write:accounts"])?;
    if !state.settings.instance.registrations_open {
        return Err(ApiError::Forbidden("Registrations are closed on this server".into()));
    }
    let parsed = NewAccount::parse(
        p.username.as_deref().unwrap_or(""),
        p.email.as_deref().unwrap_or(""),
        p.password.as_deref().unwrap_or(""),
        p.locale.as_deref().unwrap_or(""),
        Role::User,
    );
    let mut errors = match &parsed {
        Ok(_) => vec![],
        Err(errors) => errors.clone(),
    };
    if !p.agreement {
        errors.push(ValidationError::new("agreement", "ERR_ACCEPTED", "must be accepted"));
    }
    let new = match parsed {
        Ok(new) if errors.is_empty() => new,
        _ => return Err(ApiError::Validation(errors)),
    };
    let account = new.create(&state.store).await?;
    let app_name = match caller.0.app_id {
        Some(id) => state.store.app(id)?.map(|a| a.name).unwrap_or_default(),
        None => "starling".to_owned(),
    };
    let tokens = state
        .auth
        .start_session(NewSession {
            user_id: Some(account.id),
            app_id: caller.0.app_id,
            client_name: app_name,
            kind: SessionKind::OAuth,
            scopes: (*caller.0.scopes).clone(),
            user_agent: req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
            ip: AppState::client_ip(&req),
            with_refresh: false,
        })
        .await?;
    tracing::info!(user_id = %account.id, "account registered");
    Ok(HttpResponse::Ok().json(entities::token(&tokens)))
}

/// The caller's own account, with its settings.
#[utoipa::path(
    get, path = "/api/v1/accounts/verify_credentials", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = schemas::CredentialAccount),
        schemas::UserErrors, schemas::Forbidden, schemas::Unavailable,
    )
)]
async fn verify_credentials(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:accounts", "profile"])?;
    Ok(HttpResponse::Ok().json(state.viewer(&req, Some(user.account.id)).credential_account(&user.account)?))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CredentialsUpdate {
    /// At most 30 characters.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(max_length = 30)]
    pub(crate) display_name: Option<String>,
    /// The bio, plain text, at most 500 characters.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(max_length = 500)]
    pub(crate) note: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) locked: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) bot: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) discoverable: Option<bool>,
}

/// Updates the caller's profile.
#[utoipa::path(
    patch, path = "/api/v1/accounts/update_credentials", tag = "accounts",
    request_body = CredentialsUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = schemas::CredentialAccount),
        schemas::UserErrors, schemas::Forbidden, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn update_credentials(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<CredentialsUpdate>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:accounts"])?;
    let mut errors = Vec::new();
    let display_name =
        p.display_name.map(|d| validate_display_name(&d)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let note = p.note.map(|n| validate_note(&n)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let updated = state
        .store
        .update_account(user.account.id, |a| {
            if let Some(d) = &display_name {
                a.display_name = d.clone();
            }
            if let Some(n) = &note {
                a.note = n.clone();
            }
            if let Some(v) = p.locked {
                a.locked = v;
            }
            if let Some(v) = p.bot {
                a.bot = v;
            }
            if let Some(v) = p.discoverable {
                a.discoverable = v;
            }
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(state.viewer(&req, Some(updated.id)).credential_account(&updated)?))
}

/// An account by id.
#[utoipa::path(
    get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The account's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = schemas::Account),
        schemas::Unauthorized, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let account = state.store.account(*path)?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(state.viewer(&req, None).account(&account)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Lookup {
    /// `username` or `username@domain`.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(required = true, value_type = String)]
    pub(crate) acct: Option<String>,
}

/// An account by `acct` (`name` or `name@this.domain`).
#[utoipa::path(
    get, path = "/api/v1/accounts/lookup", tag = "accounts",
    params(Lookup),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = schemas::Account),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn lookup_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    Params(q): Params<Lookup>,
) -> Result<HttpResponse, ApiError> {
    let acct = q.acct.unwrap_or_default();
    let acct = acct.trim().trim_start_matches('@');
    let username = match acct.split_once('@') {
        Some((name, domain)) if domain.eq_ignore_ascii_case(&state.settings.instance.domain) => name,
        Some(_) => return Err(ApiError::NotFound),
        None => acct,
    };
    if Username::parse(username).is_err() {
        return Err(ApiError::NotFound);
    }
    let account = state.store.account_by_username(username)?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(state.viewer(&req, None).account(&account)))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct DeleteAccount {
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) password: Option<String>,
}

/// Deletes the caller's own account after confirming the password: every session ends,
/// the account disappears, and its username stays reserved.
#[utoipa::path(
    delete, path = "/api/v1/accounts/me", tag = "accounts",
    request_body = DeleteAccount,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = schemas::Empty),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn delete_own_account(
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<DeleteAccount>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:accounts"])?;
    if user.principal.user_id.is_none() {
        return Err(ApiError::Unprocessable(USER_REQUIRED.into()));
    }
    let password = p.password.unwrap_or_default();
    if !password::verify_async(Some(user.account.password_hash.clone()), password).await {
        return Err(ApiError::validation(ValidationError::new("password", "ERR_INVALID", "is incorrect")));
    }
    let me = user.account.id;
    state.auth.revoke_user_sessions(me).await?;
    // Their posts and their place in others' follow lists go with them, as on Mastodon.
    for id in state.store.author_status_ids(me, usize::MAX)? {
        if let Some(status) = state.store.status(id)? {
            for removed in state.store.delete_status(&status).await? {
                let _ = state.router.try_send(crate::actors::Fanout(crate::storage::FanoutJob::Delete(removed)));
            }
        }
    }
    for followee in state.store.following_ids(me)? {
        state.store.unfollow(me, followee).await?;
    }
    for follower in state.store.follower_ids(me)? {
        state.store.unfollow(follower, me).await?;
    }
    state.store.delete_account(&user.account).await?;
    tracing::info!(user_id = %user.account.id, "account deleted by its owner");
    Ok(super::empty_object())
}
