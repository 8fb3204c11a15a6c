//! Favourites and bookmarks: `/api/v1/statuses/:id/{favourite,unfavourite,bookmark,
//! unbookmark,favourited_by,reblogged_by}`, `GET /api/v1/favourites` and
//! `GET /api/v1/bookmarks`. Repeating an action is harmless and counts stay exact.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::error::ApiError;
use super::follows::account_page;
use super::pagination::{PageParams, empty_page};
use super::params::Params;
use super::schemas;
use super::statuses::{action_target, one, visible_status};
use crate::domain::Id;
use crate::storage::{Mark, NotificationKind};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/statuses/{id}/favourite", web::post().to(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", web::post().to(unfavourite))
        .route("/api/v1/statuses/{id}/bookmark", web::post().to(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", web::post().to(unbookmark))
        .route("/api/v1/statuses/{id}/favourited_by", web::get().to(favourited_by))
        .route("/api/v1/statuses/{id}/reblogged_by", web::get().to(reblogged_by))
        .route("/api/v1/favourites", web::get().to(list_favourites))
        .route("/api/v1/bookmarks", web::get().to(list_bookmarks));
}

async fn set_mark(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: Id,
    mark: Mark,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    let scope = match mark {
        Mark::Favourite => "write:favourites",
        Mark::Bookmark => "write:bookmarks",
    };
    user.require_scope(&[scope])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let status = action_target(&viewer, id)?;
    let changed = state.store.set_mark(mark, me, status.id, on).await?;
    if changed && on && mark == Mark::Favourite {
        state.streams.notify(status.account_id, NotificationKind::Favourite, me, Some(status.id))?;
        state.store.count(crate::storage::Metric::Interactions, 1)?;
        state.store.durable().await?;
    }
    one(&viewer, &status)
}

/// Favourites a status.
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/favourite", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:favourites`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn favourite(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    set_mark(req, state, user, *path, Mark::Favourite, true).await
}

/// Undoes a favourite.
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/unfavourite", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:favourites`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unfavourite(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    set_mark(req, state, user, *path, Mark::Favourite, false).await
}

/// Bookmarks a status.
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/bookmark", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:bookmarks`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn bookmark(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    set_mark(req, state, user, *path, Mark::Bookmark, true).await
}

/// Removes a bookmark.
#[utoipa::path(
    post, path = "/api/v1/statuses/{id}/unbookmark", tag = "statuses",
    params(("id" = String, Path, description = "The status's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status", body = schemas::Status),
        schemas::UserErrors,
        (status = 403, description = "The token lacks `write:bookmarks`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unbookmark(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    set_mark(req, state, user, *path, Mark::Bookmark, false).await
}

async fn marked_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    p: PageParams,
    mark: Mark,
) -> Result<HttpResponse, ApiError> {
    let scope = match mark {
        Mark::Favourite => "read:favourites",
        Mark::Bookmark => "read:bookmarks",
    };
    user.require_scope(&[scope])?;
    let me = user.account.id;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let page = state.store.marks_page(mark, me, &q)?;
    let viewer = state.viewer(&req, Some(me));
    let mut visible = Vec::new();
    let mut cursors = Vec::new();
    for (mark_id, status_id) in page {
        cursors.push(mark_id);
        if viewer.visible_status(status_id)?.is_some() {
            visible.push(status_id);
        }
    }
    let body = viewer.statuses_json(&visible)?;
    // Paging goes by when the mark was made, as on Mastodon.
    Ok(super::pagination::paged_json(&req, &state, &cursors, body))
}

/// The statuses the caller favourited, most recently favourited first.
#[utoipa::path(
    get, path = "/api/v1/favourites", tag = "statuses",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Statuses", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_favourites(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    marked_list(req, state, user, p, Mark::Favourite).await
}

/// The statuses the caller bookmarked, most recently bookmarked first.
#[utoipa::path(
    get, path = "/api/v1/bookmarks", tag = "statuses",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Statuses", body = [schemas::Status], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_bookmarks(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    marked_list(req, state, user, p, Mark::Bookmark).await
}

async fn who(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    id: Id,
    p: PageParams,
    reblogs: bool,
) -> Result<HttpResponse, ApiError> {
    let status = visible_status(&state.viewer(&req, caller.user_id()), id)?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = if reblogs {
        state.store.rebloggers_page(status.id, &q)?
    } else {
        state.store.favouriters_page(status.id, &q)?
    };
    account_page(&req, &state, &ids)
}

/// The accounts that favourited a status.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}/favourited_by", tag = "statuses",
    params(("id" = String, Path, description = "The status's id"), PageParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn favourited_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    who(req, state, caller, *path, p, false).await
}

/// The accounts that reblogged a status.
#[utoipa::path(
    get, path = "/api/v1/statuses/{id}/reblogged_by", tag = "statuses",
    params(("id" = String, Path, description = "The status's id"), PageParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn reblogged_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<Id>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    who(req, state, caller, *path, p, true).await
}
