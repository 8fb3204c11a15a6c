//! Timelines: home (served from the user's `TimelineActor` hot page when it can be,
//! sled otherwise), public, hashtag, and an account's statuses; all paged with `Link`.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::error::ApiError;
use super::pagination::PageParams;
use super::params::{Params, de};
use super::schemas;
use super::statuses::{parse_id, status_page};
use crate::actors::timeline::FetchHotPage;
use crate::domain::{Id, Status};
use crate::storage::{PageQuery, StorageError, Store};

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

/// Whether a home-timeline entry is shown to `me` now: it exists and is visible, its
/// author is `me` or someone `me` follows, and a reply to someone else is shown only if
/// `me` is that someone or follows them (Mastodon's home filter).
pub fn home_entry_visible(store: &Store, me: Id, status: &Status) -> Result<bool, StorageError> {
    HomeFilter { store, me, hidden: None, follows: HashMap::new() }.visible_status(status)
}

/// [`home_entry_visible`] for many entries of one viewer: whom the viewer hides (blocks
/// either way, mutes) is read once, and whether they follow an author once per author.
pub struct HomeFilter<'a> {
    store: &'a Store,
    me: Id,
    /// Everyone `me` hides; `None` for a single check (point reads are cheaper then).
    hidden: Option<HashSet<Id>>,
    follows: HashMap<Id, bool>,
}

impl<'a> HomeFilter<'a> {
    pub fn new(store: &'a Store, me: Id) -> Result<Self, StorageError> {
        Ok(Self { store, me, hidden: Some(store.hidden_accounts(me)?), follows: HashMap::new() })
    }

    fn hides(&self, other: Id) -> Result<bool, StorageError> {
        match &self.hidden {
            Some(hidden) => Ok(hidden.contains(&other)),
            None => self.store.hides(self.me, other),
        }
    }

    fn follows(&mut self, author: Id) -> Result<bool, StorageError> {
        if let Some(known) = self.follows.get(&author) {
            return Ok(*known);
        }
        let known = self.store.follows(self.me, author)?;
        self.follows.insert(author, known);
        Ok(known)
    }

    pub fn visible(&mut self, id: Id) -> Result<bool, StorageError> {
        match self.store.status(id)? {
            Some(status) => self.visible_status(&status),
            None => Ok(false),
        }
    }

    /// [`HomeFilter::visible`] for a status already read.
    pub fn visible_status(&mut self, status: &Status) -> Result<bool, StorageError> {
        let (store, me) = (self.store, self.me);
        if !store.can_view(Some(me), status)? {
            return Ok(false);
        }
        if status.account_id == me {
            return Ok(true);
        }
        if self.hides(status.account_id)? || !self.follows(status.account_id)? {
            return Ok(false);
        }
        if let Some(original) = status.reblog_of
            && let Some(o) = store.status(original)?
            && self.hides(o.account_id)?
        {
            return Ok(false);
        }
        if status.reblog_of.is_none()
            && let Some(replied) = status.in_reply_to_account_id
            && replied != status.account_id
            && replied != me
            && !self.follows(replied)?
        {
            return Ok(false);
        }
        Ok(true)
    }
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
    let q = p.query()?;
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
struct PublicParams {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageParams,
    /// Only remote statuses (there are none: every account is local).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    remote: Option<bool>,
    /// Only statuses with media (there are none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    only_media: Option<bool>,
}

fn viewer_of(caller: &MaybeCaller) -> Option<Id> {
    caller.0.as_ref().and_then(|p| p.user_id)
}

/// For public and tag timelines: the status exists and, for a logged-in viewer, its
/// author is not blocked or muted (either way for blocks).
fn listed(store: &Store, viewer: Option<Id>, id: Id) -> Result<bool, StorageError> {
    let Some(status) = store.status(id)? else { return Ok(false) };
    if store.is_suspended(status.account_id)? {
        return Ok(false);
    }
    match viewer {
        Some(v) => Ok(!store.hides(v, status.account_id)?),
        None => Ok(true),
    }
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
    let q = p.page.query()?;
    // Everything here is local and there is no media yet.
    let ids = if p.remote == Some(true) || p.only_media == Some(true) {
        vec![]
    } else {
        let viewer = viewer_of(&caller);
        state.store.public_page(&q, |id| listed(&state.store, viewer, id))?
    };
    status_page(&req, &state, viewer_of(&caller), &ids)
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
    let q = p.page.query()?;
    let ids = match valid_tag(&path) {
        Some(tag) if p.remote != Some(true) && p.only_media != Some(true) => {
            let viewer = viewer_of(&caller);
            state.store.tag_page(&tag, &q, |id| listed(&state.store, viewer, id))?
        }
        _ => vec![],
    };
    status_page(&req, &state, viewer_of(&caller), &ids)
}

/// A hashtag.
#[utoipa::path(
    get, path = "/api/v1/tags/{name}", tag = "timelines",
    params(("name" = String, Path, description = "The hashtag, without `#`")),
    responses(
        (status = 200, description = "The hashtag", body = schemas::Tag),
        (status = 404, description = "Not a valid hashtag", body = schemas::ErrorBody),
    )
)]
async fn get_tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tag = valid_tag(&path).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(json!({
        "name": tag,
        "url": format!("{}/tags/{tag}", state.base_url(&req)),
        "history": [],
        "following": false,
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AccountStatusParams {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageParams,
    /// Leave out replies to others.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    exclude_replies: Option<bool>,
    /// Leave out reblogs.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    exclude_reblogs: Option<bool>,
    /// Only statuses with media (none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    only_media: Option<bool>,
    /// Only pinned statuses (none yet).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pinned: Option<bool>,
    /// Only statuses with this hashtag.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    tagged: Option<String>,
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
    path: web::Path<String>,
    Params(p): Params<AccountStatusParams>,
) -> Result<HttpResponse, ApiError> {
    let author = state.store.account(parse_id(&path)?)?.ok_or(ApiError::NotFound)?;
    let viewer = viewer_of(&caller);
    let q = p.page.query()?;
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
        store.can_view(viewer, &s)
    };
    let ids = if p.only_media == Some(true) || p.pinned == Some(true) {
        vec![]
    } else {
        store.account_page(author.id, &q, keep)?
    };
    status_page(&req, &state, viewer, &ids)
}
