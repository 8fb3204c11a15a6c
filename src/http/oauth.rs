//! OAuth 2 for Mastodon clients: `/oauth/authorize` (an HTML login-and-consent page; the
//! out-of-band redirect shows the code), `/oauth/token` (authorization_code with PKCE
//! S256, password, client_credentials, refresh_token), `/oauth/revoke`, and the RFC 8414
//! metadata at `/.well-known/oauth-authorization-server`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::apps::{OOB_REDIRECT, authenticate_client};
use super::entities;
use super::error::ApiError;
use super::params::{Params, de};
use super::schemas;
use crate::auth::{NewSession, random_token, sha256};
use crate::domain::time::now_millis;
use crate::domain::{Id, Scopes, scope};
use crate::storage::{App, AuthCode, SessionKind};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize_form))
        .route("/oauth/authorize", web::post().to(authorize_submit))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/revoke", web::post().to(revoke))
        .route("/.well-known/oauth-authorization-server", web::get().to(metadata));
}

const GRANTS: [&str; 4] = ["authorization_code", "password", "client_credentials", "refresh_token"];

/// OAuth 2 authorization server metadata (RFC 8414).
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "The metadata", body = schemas::OAuthMetadata))
)]
async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = state.base_url(&req);
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "scopes_supported": scope::all_known(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": GRANTS,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// `authorization_code`, `password`, `client_credentials` or `refresh_token`.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, pattern = "^(authorization_code|password|client_credentials|refresh_token)$")]
    pub(crate) grant_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) client_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) client_secret: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) scope: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) password: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) code: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) code_verifier: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) refresh_token: Option<String>,
}

/// Client credentials from HTTP Basic, else from the body.
fn client_credentials(req: &HttpRequest, body: &TokenRequest) -> Option<(String, String)> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned());
            Some((decode(id)?, decode(secret)?))
        });
    basic.or_else(|| Some((body.client_id.clone()?, body.client_secret.clone()?)))
}

/// The scopes a token asks for: a subset of the app's, or the app's own when none are named.
fn requested_scopes(app: &App, raw: Option<&str>) -> Result<Scopes, ApiError> {
    match Scopes::parse(raw.unwrap_or("")) {
        Ok(Some(asked)) if app.scopes.covers(&asked) => Ok(asked),
        Ok(Some(_)) | Err(_) => Err(ApiError::invalid_scope()),
        Ok(None) => Ok(app.scopes.clone()),
    }
}

fn user_agent(req: &HttpRequest) -> String {
    req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn token_response(tokens: &crate::auth::IssuedTokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(entities::token(tokens))
}

/// Issues tokens: `authorization_code` (with PKCE S256), `password`, `client_credentials`, `refresh_token`.
///
/// The client authenticates with HTTP Basic or `client_id` and `client_secret` in the body.
#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth",
    request_body = TokenRequest,
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The tokens", body = schemas::Token),
        schemas::BadParams,
        (status = 400, description = "An OAuth error (`invalid_request`, `invalid_grant`, `invalid_scope`, \
            `unsupported_grant_type`), or a malformed body", body = schemas::ErrorBody),
        (status = 401, description = "`invalid_client`: unknown client or wrong secret", body = schemas::ErrorBody),
        schemas::Unavailable,
    )
)]
async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Params(body): Params<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let grant = body.grant_type.clone().unwrap_or_default();
    if !GRANTS.contains(&grant.as_str()) {
        return Err(if grant.is_empty() {
            ApiError::invalid_request("The request is missing a required parameter: grant_type.")
        } else {
            ApiError::OAuth {
                status: actix_web::http::StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "The authorization grant type is not supported by the authorization server.",
            }
        });
    }
    let (client_id, secret) = client_credentials(&req, &body).ok_or_else(ApiError::invalid_client)?;
    let app = authenticate_client(&state, &client_id, &secret)?;
    let session = |user_id: Option<Id>, scopes: Scopes, with_refresh: bool| NewSession {
        user_id,
        app_id: Some(app.id),
        client_name: app.name.clone(),
        kind: SessionKind::OAuth,
        scopes,
        user_agent: user_agent(&req),
        ip: AppState::client_ip(&req),
        with_refresh,
    };
    let tokens = match grant.as_str() {
        "client_credentials" => {
            let scopes = requested_scopes(&app, body.scope.as_deref())?;
            state.auth.start_session(session(None, scopes, false)).await?
        }
        "password" => {
            let scopes = requested_scopes(&app, body.scope.as_deref())?;
            let (Some(login), Some(password)) = (body.username.as_deref(), body.password.as_deref()) else {
                return Err(ApiError::invalid_request(
                    "The request is missing a required parameter: username or password.",
                ));
            };
            let account = state.auth.check_password(login, password).await.map_err(|_| ApiError::invalid_grant())?;
            state.auth.start_session(session(Some(account.id), scopes, true)).await?
        }
        "authorization_code" => {
            let code = body
                .code
                .as_deref()
                .ok_or_else(|| ApiError::invalid_request("The request is missing a required parameter: code."))?;
            let grant = state.store.take_auth_code(sha256(code))?.ok_or_else(ApiError::invalid_grant)?;
            let redirect_ok = body.redirect_uri.as_deref().is_none_or(|r| r == grant.redirect_uri);
            if grant.app_id != app.id || grant.expires_at_ms <= now_millis() || !redirect_ok {
                return Err(ApiError::invalid_grant());
            }
            if let Some(challenge) = &grant.code_challenge {
                let verifier = body.code_verifier.as_deref().unwrap_or("");
                if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                    return Err(ApiError::invalid_grant());
                }
            }
            state.auth.start_session(session(Some(grant.user_id), grant.scopes, true)).await?
        }
        _ => {
            let refresh = body.refresh_token.as_deref().ok_or_else(|| {
                ApiError::invalid_request("The request is missing a required parameter: refresh_token.")
            })?;
            state.auth.refresh(refresh, Some(app.id)).await.map_err(|e| match e {
                crate::auth::AuthError::Storage(e) => ApiError::from(e),
                _ => ApiError::invalid_grant(),
            })?
        }
    };
    Ok(token_response(&tokens))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RevokeRequest {
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) token: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) client_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) client_secret: Option<String>,
}

/// RFC 7009: answers 200 whether or not the token was known; a token of another
/// client is left alone.
#[utoipa::path(
    post, path = "/oauth/revoke", tag = "oauth",
    request_body = RevokeRequest,
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or unknown", body = schemas::Empty),
        schemas::BadParams,
        (status = 400, description = "`invalid_request`: no token, or a malformed body", body = schemas::ErrorBody),
        (status = 401, description = "`invalid_client`: unknown client or wrong secret", body = schemas::ErrorBody),
        schemas::Unavailable,
    )
)]
async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    Params(body): Params<RevokeRequest>,
) -> Result<HttpResponse, ApiError> {
    let as_token = TokenRequest {
        grant_type: None,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scope: None,
        username: None,
        password: None,
        code: None,
        redirect_uri: None,
        code_verifier: None,
        refresh_token: None,
    };
    let (client_id, secret) = client_credentials(&req, &as_token).ok_or_else(ApiError::invalid_client)?;
    let app = authenticate_client(&state, &client_id, &secret)?;
    let token =
        body.token.ok_or_else(|| ApiError::invalid_request("The request is missing a required parameter: token."))?;
    if let Some(session_id) = state.auth.session_of_token(&token)?
        && state.store.session(session_id)?.is_some_and(|s| s.app_id == Some(app.id))
    {
        state.auth.revoke_session(session_id).await?;
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

/// The authorization request (query of the form, fields of its submission).
#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthorizeQuery {
    /// Required.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String, required = true)]
    #[schema(value_type = String, required = true)]
    pub(crate) client_id: Option<String>,
    /// One of the app's redirect URIs; may be left out if it has only one.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) redirect_uri: Option<String>,
    /// Required: `code`.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String, required = true, pattern = "^code$")]
    #[schema(value_type = String, required = true, pattern = "^code$")]
    pub(crate) response_type: Option<String>,
    /// Space-separated; default: the app's scopes.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) scope: Option<String>,
    /// Returned unchanged with the code.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) state: Option<String>,
    /// PKCE: base64url SHA-256 of the verifier.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) code_challenge: Option<String>,
    /// `S256` (with a `code_challenge`).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String, pattern = "^S256$")]
    #[schema(pattern = "^S256$")]
    pub(crate) code_challenge_method: Option<String>,
    /// Form submission only: username or e-mail.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(ignore)]
    pub(crate) login: Option<String>,
    /// Form submission only.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(ignore)]
    pub(crate) password: Option<String>,
    /// Form submission only: `approve` or `deny`.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(ignore)]
    pub(crate) decision: Option<String>,
}

struct ValidAuthorize {
    app: App,
    redirect_uri: String,
    scopes: Scopes,
}

fn check_authorize(state: &AppState, q: &AuthorizeQuery) -> Result<ValidAuthorize, String> {
    let app = q
        .client_id
        .as_deref()
        .and_then(|id| state.store.app_by_client_id(id).ok().flatten())
        .ok_or("Unknown client_id.")?;
    let redirect_uri = match q.redirect_uri.as_deref() {
        Some(r) if app.redirect_uris.iter().any(|u| u == r) => r.to_owned(),
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        _ => return Err("The redirect_uri is not registered for this application.".into()),
    };
    if q.response_type.as_deref() != Some("code") {
        return Err("response_type must be \"code\".".into());
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref().unwrap_or("plain") != "S256" {
        return Err("Only the S256 code_challenge_method is supported.".into());
    }
    let scopes =
        requested_scopes(&app, q.scope.as_deref()).map_err(|_| "The requested scope is invalid.".to_owned())?;
    Ok(ValidAuthorize { app, redirect_uri, scopes })
}

/// The Content-Security-Policy of these pages: their inline style and nothing else to
/// load; a form may only post back here.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// The login-and-consent page's: the same without `form-action`, as on Mastodon's. Browsers
/// apply `form-action` to the redirects that follow a form's submission too, so `'self'`
/// would refuse the 302 to the app's redirect URI (another origin, or the app's own
/// scheme) and leave the person on this page. The page runs no script: its one form is
/// the one it was served with.
const AUTHORIZE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    html_with_csp(status, CSP, body)
}

fn html_with_csp(status: actix_web::http::StatusCode, csp: &str, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", csp))
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>starling</title><style>body{{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}}\
             input{{display:block;width:100%;margin:.3em 0 1em;padding:.4em}}code{{font-size:1.3em;word-break:break-all}}</style>\
             </head><body>{body}</body></html>"
        ))
}

fn esc(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn login_page(q: &AuthorizeQuery, valid: &ValidAuthorize, error: Option<&str>) -> HttpResponse {
    let hidden: String = [
        ("client_id", q.client_id.as_deref()),
        ("redirect_uri", Some(valid.redirect_uri.as_str())),
        ("response_type", Some("code")),
        ("scope", Some(&valid.scopes.to_string())),
        ("state", q.state.as_deref()),
        ("code_challenge", q.code_challenge.as_deref()),
        ("code_challenge_method", q.code_challenge_method.as_deref()),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v))))
    .collect();
    let scopes: String = valid.scopes.iter().map(|s| format!("<li>{}</li>", esc(s))).collect();
    let error = error.map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>", esc(e))).unwrap_or_default();
    let status =
        if error.is_empty() { actix_web::http::StatusCode::OK } else { actix_web::http::StatusCode::UNAUTHORIZED };
    html_with_csp(
        status,
        AUTHORIZE_CSP,
        format!(
            "<h1>Authorize {}</h1><p>This application asks for access to your account:</p><ul>{scopes}</ul>{error}\
             <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <label>Username or e-mail<input name=\"login\" autocomplete=\"username\" required></label>\
             <label>Password<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button name=\"decision\" value=\"approve\">Authorize</button> \
             <button name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
            esc(&valid.app.name)
        ),
    )
}

/// The login-and-consent page of the authorization code flow (HTML).
#[utoipa::path(
    get, path = "/oauth/authorize", tag = "oauth",
    params(AuthorizeQuery),
    responses(
        (status = 200, description = "The login form", content_type = "text/html", body = String),
        schemas::BadParams,
        (status = 400, description = "An invalid request (HTML page), or malformed parameters (JSON)", content(
            (String = "text/html"), (schemas::ErrorBody = "application/json"),
        )),
    )
)]
async fn authorize_form(state: web::Data<AppState>, Params(q): Params<AuthorizeQuery>) -> HttpResponse {
    match check_authorize(&state, &q) {
        Ok(valid) => login_page(&q, &valid, None),
        Err(message) => html(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("<h1>Authorization error</h1><p>{}</p>", esc(&message)),
        ),
    }
}

fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return html(actix_web::http::StatusCode::BAD_REQUEST, "<h1>Invalid redirect URI</h1>".into()),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    HttpResponse::Found().insert_header((header::LOCATION, url.to_string())).finish()
}

/// Submits the login-and-consent form: redirects with a code (or shows it, out of band).
#[utoipa::path(
    post, path = "/oauth/authorize", tag = "oauth",
    request_body = AuthorizeQuery,
    responses(
        (status = 200, description = "The code (out-of-band redirect), or access denied", content_type = "text/html", body = String),
        (status = 302, description = "To the redirect URI with `code` (or `error`) and `state`",
            headers(("Location" = String, description = "The redirect URI with its query"))),
        schemas::BadParams,
        (status = 400, description = "An invalid request (HTML page), or malformed parameters (JSON)", content(
            (String = "text/html"), (schemas::ErrorBody = "application/json"),
        )),
        (status = 401, description = "Wrong login or password: the form again", content_type = "text/html", body = String),
        schemas::Unavailable,
    )
)]
async fn authorize_submit(
    state: web::Data<AppState>,
    Params(q): Params<AuthorizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let valid = match check_authorize(&state, &q) {
        Ok(v) => v,
        Err(message) => {
            return Ok(html(
                actix_web::http::StatusCode::BAD_REQUEST,
                format!("<h1>Authorization error</h1><p>{}</p>", esc(&message)),
            ));
        }
    };
    let state_param = q.state.clone().unwrap_or_default();
    if q.decision.as_deref() == Some("deny") {
        if valid.redirect_uri == OOB_REDIRECT {
            return Ok(html(actix_web::http::StatusCode::OK, "<h1>Access denied</h1>".into()));
        }
        let mut pairs = vec![("error", "access_denied")];
        if !state_param.is_empty() {
            pairs.push(("state", &state_param));
        }
        return Ok(redirect_with(&valid.redirect_uri, &pairs));
    }
    let login = q.login.clone().unwrap_or_default();
    let password = q.password.clone().unwrap_or_default();
    let account = match state.auth.check_password(&login, &password).await {
        Ok(a) => a,
        Err(crate::auth::AuthError::Storage(e)) => return Err(e.into()),
        Err(_) => return Ok(login_page(&q, &valid, Some("Invalid login or password."))),
    };
    let code = random_token();
    let grant = AuthCode {
        app_id: valid.app.id,
        user_id: account.id,
        scopes: valid.scopes.clone(),
        redirect_uri: valid.redirect_uri.clone(),
        code_challenge: q.code_challenge.clone(),
        expires_at_ms: now_millis() + state.settings.auth.authorization_code_ttl_secs * 1000,
    };
    state.store.store_auth_code(sha256(&code), &grant).await?;
    if valid.redirect_uri == OOB_REDIRECT {
        return Ok(html(
            actix_web::http::StatusCode::OK,
            format!(
                "<h1>Authorization code</h1><p>Copy this code and paste it into the application:</p><p><code id=\"code\">{}</code></p>",
                esc(&code)
            ),
        ));
    }
    let mut pairs = vec![("code", code.as_str())];
    if !state_param.is_empty() {
        pairs.push(("state", &state_param));
    }
    Ok(redirect_with(&valid.redirect_uri, &pairs))
}
