//! Statuses: post (with `Idempotency-Key`), read, edit, delete, context, reblog and
//! unreblog. A post, an edit or a delete is acknowledged after one durable flush; its
//! fan-out job (timelines, streams, the notifications it causes) was written in the same
//! transaction, and the `FanoutRouter` is told afterwards.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::error::ApiError;
use super::params::{Params, de};
use super::schemas;
use crate::actors::Fanout;
use crate::auth::sha256;
use crate::domain::status::{Token, countable_length, extract_tags, tokenize};
use crate::domain::time::now_millis;
use crate::domain::{Id, Mention, Role, Status, ValidationError, Visibility};
use crate::storage::{FanoutJob, StatusWriteError};
use crate::view::Viewer;
use crate::view::status::{Context, StatusSource};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/statuses", web::post().to(create_status))
        .route("/api/v1/statuses/{id}", web::get().to(get_status))
        .route("/api/v1/statuses/{id}", web::delete().to(delete_status))
        .route("/api/v1/statuses/{id}", web::put().to(edit_status))
        .route("/api/v1/statuses/{id}/history", web::get().to(status_history))
        .route("/api/v1/statuses/{id}/source", web::get().to(status_source))
        .route("/api/v1/statuses/{id}/context", web::get().to(status_context))
        .route("/api/v1/statuses/{id}/reblog", web::post().to(reblog))
        .route("/api/v1/statuses/{id}/unreblog", web::post().to(unreblog));
}

/// A status the viewer may see; anything else is 404, as on Mastodon (a private post is
/// indistinguishable from a missing one).
pub fn visible_status(viewer: &Viewer<'_>, id: Id) -> Result<Status, ApiError> {
    viewer.visible_status(id)?.ok_or(ApiError::NotFound)
}

/// The status an action (reblog, favourite, bookmark) applies to: a reblog stands for
/// its original.
pub fn action_target(viewer: &Viewer<'_>, id: Id) -> Result<Status, ApiError> {
    viewer.action_target(id)?.ok_or(ApiError::NotFound)
}

/// A 200 with the Status entity of `s` (404 if its author is gone).
pub(super) fn one(viewer: &Viewer<'_>, s: &Status) -> Result<HttpResponse, ApiError> {
    let body = viewer.status_json(s)?.ok_or(ApiError::NotFound)?;
    Ok(json_text(body))
}

/// A 200 with JSON text rendered by the view layer.
pub(super) fn json_text(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body)
}

fn send_fanout(state: &AppState, job: FanoutJob) {
    // A full mailbox is fine: the job is in sled and the periodic replay delivers it.
    if state.router.try_send(Fanout(job)).is_err() {
        metrics::counter!("starling_mailbox_drops_total", "mailbox" => "fanout_router").increment(1);
        tracing::debug!("fan-out router busy; job left for replay");
    }
}

/// Checks status text as Mastodon does: not blank, and text plus content warning within
/// the instance's character limit (URLs count 23). Media is not supported yet.
fn validate_text(state: &AppState, text: &str, spoiler_text: &str, media_ids: &[String]) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    if !media_ids.is_empty() {
        errors.push(ValidationError::new("media_ids", "ERR_INVALID", "are not supported by this server yet"));
    }
    if text.trim().is_empty() {
        errors.push(ValidationError::new("text", "ERR_BLANK", "can't be blank"));
    }
    let max = state.settings.instance.max_characters;
    if countable_length(text) + countable_length(spoiler_text) > max {
        errors.push(ValidationError::new("text", "ERR_TOO_LONG", format!("character limit of {max} exceeded")));
    }
    errors
}

/// An ISO 639 code (two or three letters), or nothing.
fn parse_language(raw: Option<String>) -> Option<String> {
    raw.map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewStatus {
    /// The text (plain; mentions, hashtags and links are recognised).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) in_reply_to_id: Option<String>,
    /// `public` (default), `unlisted`, `private` or `direct`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) visibility: Option<String>,
    /// A content warning.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) sensitive: Option<bool>,
    /// An ISO 639 code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) language: Option<String>,
    /// Media are not supported yet: any id is a 422.
    #[serde(default, deserialize_with = "de::string_list")]
    pub(crate) media_ids: Vec<String>,
}

/// Local accounts mentioned in `text` (`@name` or `@name@our.domain`), in order, once each.
fn resolve_mentions(state: &AppState, text: &str) -> Result<Vec<Mention>, ApiError> {
    let mut out: Vec<Mention> = Vec::new();
    for token in tokenize(text) {
        if let Token::Mention { username, domain, .. } = token {
            if domain.is_some_and(|d| !d.eq_ignore_ascii_case(&state.settings.instance.domain)) {
                continue;
            }
            if let Some(account) = state.store.account_by_username(username)?
                && !out.iter().any(|m| m.account_id == account.id)
            {
                out.push(Mention { account_id: account.id, username: account.username });
            }
        }
    }
    Ok(out)
}

/// Posts a status. A repeated `Idempotency-Key` answers with the earlier status.
#[utoipa::path(
    post, path = "/api/v1/statuses", tag = "statuses",
    request_body = NewStatus,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a key repeats the answer, not the post")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new status", body = schemas::Status),
        schemas::UserErrors, schemas::Forbidden,
        (status = 404, description = "The status replied to does not exist or is not visible", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn create_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<NewStatus>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:statuses"])?;
    let me = user.account.id;
    let text = p.status.unwrap_or_default();
    let spoiler_text = p.spoiler_text.unwrap_or_default();
    let mut errors = validate_text(&state, &text, &spoiler_text, &p.media_ids);
    let visibility = match p.visibility.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Visibility::parse(v).map_err(|e| errors.push(e)).unwrap_or(Visibility::Public),
        None => Visibility::Public,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let viewer = state.viewer(&req, Some(me));
    let parent = match p.in_reply_to_id.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(visible_status(&viewer, raw.parse().map_err(|_| ApiError::NotFound)?)?),
        None => None,
    };
    let language = parse_language(p.language);
    let status = Status {
        id: state.store.next_id(),
        account_id: me,
        mentions: resolve_mentions(&state, &text)?,
        tags: extract_tags(&text),
        text,
        spoiler_text: spoiler_text.clone(),
        visibility,
        sensitive: p.sensitive.unwrap_or(false) || !spoiler_text.is_empty(),
        language,
        in_reply_to_id: parent.as_ref().map(|s| s.id),
        in_reply_to_account_id: parent.as_ref().map(|s| s.account_id),
        reblog_of: None,
        created_at_ms: now_millis(),
        edited_at_ms: None,
    };
    let idempotency =
        req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).filter(|k| !k.is_empty()).map(sha256);
    let id = match state.store.create_status(&status, idempotency).await {
        Ok(id) => id,
        Err(StatusWriteError::ParentMissing) => return Err(ApiError::NotFound),
        Err(StatusWriteError::AlreadyReblogged(_)) => return Err(ApiError::Internal("unexpected reblog".into())),
        Err(StatusWriteError::Storage(e)) => return Err(e.into()),
    };
    if id != status.id {
        // A repeated Idempotency-Key: the earlier status, nothing new stored.
        let earlier = state.store.status(id)?.ok_or(ApiError::NotFound)?;
        return one(&viewer, &earlier);
    }
    if status.in_reply_to_id.is_some() {
        // A daily counter: the next flush covers it; the post's own flush is done.
        state.store.count(crate::storage::Metric::Interactions, 1)?;
    }
    // Mentions are notified by the fan-out job written with the status.
    send_fanout(&state, FanoutJob::Publish(status.clone()));
    one(&viewer, &status)
}

/// A status.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::Unauthorized, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let viewer = state.viewer(&req, caller.user_id());
    let status = visible_status(&viewer, *path)?;
    one(&viewer, &status)
}

/// Deletes one of the caller's statuses (moderators: anyone's).
///
/// The answer carries the source `text`, for "delete and redraft".
#[utoipa::path(
    delete, path = "/api/v1/statuses/{id}", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:statuses`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn delete_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:statuses"])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let status = visible_status(&viewer, *path)?;
    let moderator = user.account.role >= Role::Moderator;
    if status.account_id != me && !moderator {
        // Mastodon answers 404 here too: nothing to learn about others' posts.
        return Err(ApiError::NotFound);
    }
    if status.reblog_of.is_some() {
        return Err(ApiError::NotFound);
    }
    let body = match viewer.status(&status)? {
        Some(view) => view.with_text().to_json(),
        None => "{}".to_owned(),
    };
    let removed = state.store.delete_status(&status).await?;
    for s in removed {
        send_fanout(&state, FanoutJob::Delete(s));
    }
    Ok(json_text(body))
}

/// Most ancestors and descendants a context returns.
const CONTEXT_LIMIT: usize = 4096;

/// The thread around a status: its ancestors and descendants the caller may see.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}/context", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The thread", body = schemas::Context),
        schemas::Unauthorized, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn status_context(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let viewer = state.viewer(&req, caller.user_id());
    let status = visible_status(&viewer, *path)?;
    let store = &state.store;
    let mut ancestors = Vec::new();
    let mut parent = status.in_reply_to_id;
    while let Some(id) = parent {
        if ancestors.len() >= CONTEXT_LIMIT {
            break;
        }
        let Some(s) = store.status(id)? else { break };
        parent = s.in_reply_to_id;
        if viewer.can_see(&s)? {
            ancestors.push(s.id);
        }
    }
    ancestors.reverse();
    // Depth-first, oldest reply first at each level, as Mastodon orders a thread.
    let mut descendants = Vec::new();
    let mut stack: Vec<Id> = store.reply_ids(status.id)?.into_iter().rev().collect();
    while let Some(id) = stack.pop() {
        if descendants.len() >= CONTEXT_LIMIT {
            break;
        }
        let Some(s) = store.status(id)? else { continue };
        if !viewer.listed(&s)? {
            continue;
        }
        descendants.push(s.id);
        stack.extend(store.reply_ids(s.id)?.into_iter().rev());
    }
    let context = Context { ancestors: viewer.statuses(&ancestors)?, descendants: viewer.statuses(&descendants)? };
    Ok(HttpResponse::Ok().json(context))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ReblogParams {
    /// `public`, `unlisted` or `private`; default: the status's.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) visibility: Option<String>,
}

/// Reblogs a status (again: the existing reblog).
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/reblog", tag = "statuses",
    request_body = ReblogParams,
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "A private or direct status of someone else, or the token lacks `write:statuses`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn reblog(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
    Params(p): Params<ReblogParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:statuses"])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let target = action_target(&viewer, *path)?;
    let allowed = target.visibility.is_open() || (target.visibility == Visibility::Private && target.account_id == me);
    if !allowed {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    let visibility = match p.visibility.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Visibility::parse(v).map_err(ApiError::validation)?,
        None => target.visibility,
    };
    let wrapper = Status {
        id: state.store.next_id(),
        account_id: me,
        text: String::new(),
        spoiler_text: String::new(),
        visibility: if target.visibility == Visibility::Private { Visibility::Private } else { visibility },
        sensitive: false,
        language: None,
        in_reply_to_id: None,
        in_reply_to_account_id: None,
        reblog_of: Some(target.id),
        mentions: vec![],
        tags: vec![],
        created_at_ms: now_millis(),
        edited_at_ms: None,
    };
    match state.store.create_status(&wrapper, None).await {
        Ok(_) => {
            // The original's author is notified by the fan-out job written with it.
            state.store.count(crate::storage::Metric::Interactions, 1)?;
            send_fanout(&state, FanoutJob::Publish(wrapper.clone()));
            one(&viewer, &wrapper)
        }
        // Reblogging twice is harmless: the existing reblog is returned.
        Err(StatusWriteError::AlreadyReblogged(existing)) => {
            let existing = state.store.status(existing)?.ok_or(ApiError::NotFound)?;
            one(&viewer, &existing)
        }
        Err(StatusWriteError::ParentMissing) => Err(ApiError::NotFound),
        Err(StatusWriteError::Storage(e)) => Err(e.into()),
    }
}

/// Undoes the caller's reblog of a status.
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/unreblog", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:statuses`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unreblog(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:statuses"])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let target = action_target(&viewer, *path)?;
    if let Some(wrapper_id) = state.store.reblog_by(target.id, me)?
        && let Some(wrapper) = state.store.status(wrapper_id)?
    {
        for s in state.store.delete_status(&wrapper).await? {
            send_fanout(&state, FanoutJob::Delete(s));
        }
    }
    one(&viewer, &target)
}

/// Renders a page of status ids with its `Link` header.
pub fn status_page(
    req: &HttpRequest,
    state: &AppState,
    viewer: Option<Id>,
    ids: &[Id],
) -> Result<HttpResponse, ApiError> {
    let body = state.viewer(req, viewer).statuses_json(ids)?;
    Ok(super::pagination::paged_json(req, state, ids, body))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct EditStatus {
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) language: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    pub(crate) media_ids: Vec<String>,
}

/// The author's own status, or 404 (for everyone else it might as well not exist).
fn own_status(viewer: &Viewer<'_>, me: Id, id: Id) -> Result<Status, ApiError> {
    let status = visible_status(viewer, id)?;
    if status.account_id != me || status.reblog_of.is_some() {
        return Err(ApiError::NotFound);
    }
    Ok(status)
}

/// Edits one of the caller's statuses.
#[utoipa::path(
    put, path = "/api/v1/statuses/{id}", tag = "statuses",
    request_body = EditStatus,
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:statuses`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn edit_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
    Params(p): Params<EditStatus>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:statuses"])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let old = own_status(&viewer, me, *path)?;
    let text = p.status.unwrap_or_else(|| old.text.clone());
    let spoiler_text = p.spoiler_text.unwrap_or_else(|| old.spoiler_text.clone());
    let errors = validate_text(&state, &text, &spoiler_text, &p.media_ids);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut new = old.clone();
    new.mentions = resolve_mentions(&state, &text)?;
    new.tags = extract_tags(&text);
    new.text = text;
    new.sensitive = p.sensitive.unwrap_or(old.sensitive) || !spoiler_text.is_empty();
    new.spoiler_text = spoiler_text;
    if p.language.is_some() {
        new.language = parse_language(p.language);
    }
    new.edited_at_ms = Some(now_millis());
    // With its fan-out job, which tells the streams of everyone whose home has it.
    state.store.edit_status(&old, &new).await?;
    send_fanout(&state, FanoutJob::Edit(new.clone()));
    one(&viewer, &new)
}

/// The versions of a status, oldest first, the current one last.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}/history", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Its versions", body = [schemas::StatusEdit]),
        schemas::Unauthorized, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn status_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let viewer = state.viewer(&req, caller.user_id());
    let status = visible_status(&viewer, *path)?;
    Ok(json_text(viewer.status_history(&status)?.ok_or(ApiError::NotFound)?))
}
/// The source text of one of the caller's statuses, for editing.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}/source", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The source", body = schemas::StatusSource),
        schemas::UserErrors, schemas::Forbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn status_source(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:statuses"])?;
    let me = user.account.id;
    let status = own_status(&state.viewer(&req, Some(me)), me, *path)?;
    Ok(HttpResponse::Ok().json(StatusSource { id: status.id, text: &status.text, spoiler_text: &status.spoiler_text }))
}
