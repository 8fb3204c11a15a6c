//! Timelines: home (served from the user's `TimelineActor` hot page when it can be,
//! sled otherwise), public, hashtag, and an account's statuses; all paged with `Link`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::error::ApiError;
use super::pagination::{PageParams, empty_page};
use super::params::{Params, de};
use super::schemas;
use super::statuses::status_page;
use crate::actors::timeline::FetchHotPage;
use crate::domain::{Id, Status};
use crate::storage::{PageQuery, StorageError, Store};
use crate::view::HomeFilter;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/timelines/home", web::get().to(home_timeline))
        .route("/api/v1/timelines/public", web::get().to(public_timeline))
        .route("/api/v1/timelines/tag/{hashtag}", web::get().to(tag_timeline))
        .route("/api/v1/tags/{name}", web::get().to(get_tag))
        .route("/api/v1/accounts/{id}/statuses", web::get().to(account_statuses));
}

fn is_first_page(q: &PageQuery) -> bool {
    q.max_id.is_none() && q.since_id.is_none() && q.min_id.is_none()
}

/// The caller's home timeline: their own statuses and those of the accounts they follow.
#[utoipa::path(
    get, path = "/api/v1/timelines/home", tag = "timelines",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Statuses, newest first", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn home_timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:statuses"])?;
    let me = user.account.id;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let store = &state.store;
    let mut filter = HomeFilter::new(store, me)?;
    let mut keep = |id: Id| filter.visible(id);
    let celebrities = state.celebrities.followed_by(store, me)?;
    let actor = state.timelines.get_or_start(me);
    let ids = if !celebrities.is_empty() {
        merged_home(store, me, &q, &celebrities)?
    } else if is_first_page(&q) {
        let hot =
            actor.send(FetchHotPage).await.map_err(|_| ApiError::Internal("timeline actor unavailable".into()))??;
        let mut ids = Vec::with_capacity(q.limit);
        for id in &hot.ids {
            if ids.len() == q.limit {
                break;
            }
            if keep(*id)? {
                ids.push(*id);
            }
        }
        if ids.len() < q.limit && !hot.complete {
            let rest = PageQuery { max_id: hot.ids.last().copied(), limit: q.limit - ids.len(), ..q };
            ids.extend(store.home_page(me, &rest, &mut keep)?);
        }
        ids
    } else {
        store.home_page(me, &q, keep)?
    };
    status_page(&req, &state, Some(me), &ids)
}

/// A home page for someone who follows celebrities: their fanned-out timeline merged
/// with the followed celebrities' own statuses, newest first, without duplicates.
fn merged_home(store: &Store, me: Id, q: &PageQuery, celebrities: &[Id]) -> Result<Vec<Id>, StorageError> {
    let mut filter = HomeFilter::new(store, me)?;
    let mut keep = |id: Id| filter.visible(id);
    let mut ids = store.home_page(me, q, &mut keep)?;
    for celebrity in celebrities {
        ids.extend(store.account_page(*celebrity, q, &mut keep)?);
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    if q.min_id.is_some() {
        // The page just above min_id: the oldest `limit` of the candidates.
        let skip = ids.len().saturating_sub(q.limit);
        ids.drain(..skip);
    } else {
        ids.truncate(q.limit);
    }
    Ok(ids)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PublicParams {
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) page: PageParams,
    /// Only remote statuses (there are none: every account is local).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) remote: Option<bool>,
    /// Only statuses with media (there are none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) only_media: Option<bool>,
}

/// Public statuses of every account (all are local).
#[utoipa::path(
    get, path = "/api/v1/timelines/public", tag = "timelines",
    params(PageParams, PublicParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Statuses, newest first", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn public_timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    Params(p): Params<PublicParams>,
) -> Result<HttpResponse, ApiError> {
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    // Everything here is local and there is no media yet.
    let ids = if p.remote == Some(true) || p.only_media == Some(true) {
        vec![]
    } else {
        let viewer = state.viewer(&req, caller.user_id());
        state.store.public_page(&q, |id| viewer.listed_id(id))?
    };
    status_page(&req, &state, caller.user_id(), &ids)
}

fn valid_tag(name: &str) -> Option<String> {
    let name = name.trim_start_matches('#');
    let ok = !name.is_empty() && name.chars().count() <= 100 && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    ok.then(|| name.to_lowercase())
}

/// Public statuses with a hashtag.
#[utoipa::path(
    get, path = "/api/v1/timelines/tag/{hashtag}", tag = "timelines",
    params(("hashtag" = String, Path, description = "The hashtag, without `#`"), PageParams, PublicParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Statuses, newest first (none for an invalid hashtag)", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn tag_timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<String>,
    Params(p): Params<PublicParams>,
) -> Result<HttpResponse, ApiError> {
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    let ids = match valid_tag(&path) {
        Some(tag) if p.remote != Some(true) && p.only_media != Some(true) => {
            let viewer = state.viewer(&req, caller.user_id());
            state.store.tag_page(&tag, &q, |id| viewer.listed_id(id))?
        }
        _ => vec![],
    };
    status_page(&req, &state, caller.user_id(), &ids)
}

/// A hashtag, with its use over the last seven days.
#[utoipa::path(
    get, path = "/api/v1/tags/{name}", tag = "timelines",
    params(("name" = String, Path, description = "The hashtag, without `#`")),
    responses(
        (status = 200, description = "The hashtag", body = schemas::Tag),
        (status = 404, description = "Not a valid hashtag, or one no public status has used", body = schemas::ErrorBody),
    )
)]
async fn get_tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = valid_tag(&path).ok_or(ApiError::NotFound)?;
    let tag = state.viewer(&req, None).tag(&name)?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(tag))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountStatusParams {
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) page: PageParams,
    /// Leave out replies to others.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) exclude_replies: Option<bool>,
    /// Leave out reblogs.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) exclude_reblogs: Option<bool>,
    /// Only statuses with media (none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) only_media: Option<bool>,
    /// Only pinned statuses (none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) pinned: Option<bool>,
    /// Only statuses with this hashtag.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) tagged: Option<String>,
}

/// An account's statuses that the caller may see.
#[utoipa::path(
    get, path = "/api/v1/accounts/{id}/statuses", tag = "timelines",
    params(("id" = String, Path, description = "The account's id"), PageParams, AccountStatusParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Statuses, newest first", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn account_statuses(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
    Params(p): Params<AccountStatusParams>,
) -> Result<HttpResponse, ApiError> {
    let author = state.store.account(*path)?.ok_or(ApiError::NotFound)?;
    let viewer = state.viewer(&req, caller.user_id());
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    let tagged = p.tagged.as_deref().and_then(valid_tag);
    let store = &state.store;
    let keep = |id: Id| -> Result<bool, StorageError> {
        let Some(s): Option<Status> = store.status(id)? else { return Ok(false) };
        if p.exclude_replies == Some(true) && s.is_reply_to_other() {
            return Ok(false);
        }
        if p.exclude_reblogs == Some(true) && s.reblog_of.is_some() {
            return Ok(false);
        }
        if let Some(tag) = &tagged
            && !s.tags.contains(tag)
        {
            return Ok(false);
        }
        viewer.can_see(&s)
    };
    let ids = if p.only_media == Some(true) || p.pinned == Some(true) {
        vec![]
    } else {
        store.account_page(author.id, &q, keep)?
    };
    status_page(&req, &state, viewer.me, &ids)
}
