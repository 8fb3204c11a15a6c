//! Follows, follow requests, blocks and mutes: follow, unfollow, relationships,
//! followers, following, `/follow_requests` with authorize and reject, block, unblock,
//! mute, unmute, `/blocks` and `/mutes`. Following someone merges their statuses into
//! your home timeline and unfollowing takes them out, before the answer, so the next
//! home read reflects it. A block ends follows (and requests) both ways.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::error::ApiError;
use super::pagination::{PageParams, empty_page};
use super::params::{Params, de};
use super::schemas;
use crate::actors::timeline::Reload;
use crate::domain::{Account, Id};
use crate::storage::{NotificationKind, keys, timelines::page_ids};
use crate::view::relationship::relationship;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/accounts/relationships", web::get().to(relationships))
        .route("/api/v1/accounts/{id}/follow", web::post().to(follow))
        .route("/api/v1/accounts/{id}/unfollow", web::post().to(unfollow))
        .route("/api/v1/accounts/{id}/block", web::post().to(block))
        .route("/api/v1/accounts/{id}/unblock", web::post().to(unblock))
        .route("/api/v1/accounts/{id}/mute", web::post().to(mute))
        .route("/api/v1/accounts/{id}/unmute", web::post().to(unmute))
        .route("/api/v1/accounts/{id}/followers", web::get().to(followers))
        .route("/api/v1/accounts/{id}/following", web::get().to(following))
        .route("/api/v1/follow_requests", web::get().to(follow_requests))
        .route("/api/v1/follow_requests/{id}/authorize", web::post().to(authorize_request))
        .route("/api/v1/follow_requests/{id}/reject", web::post().to(reject_request))
        .route("/api/v1/blocks", web::get().to(list_blocks))
        .route("/api/v1/mutes", web::get().to(list_mutes));
}

fn other_account(state: &AppState, id: Id) -> Result<Account, ApiError> {
    state.store.account(id)?.ok_or(ApiError::NotFound)
}

/// Keeps the celebrity set in step with a changed follower count. An author who drops
/// below the threshold is no longer merged at read time, so the posts they made as a
/// celebrity are merged into their followers' timelines here (rare: on the way down).
fn recount(state: &AppState, followee: Id) -> Result<(), ApiError> {
    if let Some(account) = state.store.account(followee)?
        && state.celebrities.update(followee, account.followers_count)
    {
        // One transaction: a crash leaves every follower merged or none.
        let followers = state.store.follower_ids(followee)?;
        state.store.merge_author_into_all(&followers, followee)?;
        for follower in followers {
            state.timelines.notify(follower, Reload);
        }
    }
    Ok(())
}

/// Makes `follower` follow `followee` now: the follow, the merge into the home
/// timeline, the notification; durable on return.
async fn start_following(state: &AppState, follower: Id, followee: Id) -> Result<(), ApiError> {
    if state.store.follow(follower, followee).await? {
        // `follow` merged the followee's posts in the same write (a celebrity's are
        // merged when the home timeline is read).
        recount(state, followee)?;
        state.streams.notify(followee, NotificationKind::Follow, follower, None)?;
        state.store.durable().await?;
        state.timelines.notify(follower, Reload);
    }
    Ok(())
}

async fn stop_following(state: &AppState, follower: Id, followee: Id) -> Result<(), ApiError> {
    state.store.set_follow_request(followee, follower, false).await?;
    if state.store.unfollow(follower, followee).await? {
        // `unfollow` took the followee's posts out in the same write.
        recount(state, followee)?;
        state.store.durable().await?;
        state.timelines.notify(follower, Reload);
    }
    Ok(())
}

/// Follows an account (or asks to, if it is locked).
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/follow", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        (status = 403, description = "Yourself, a blocked or blocking account, or the token lacks `write:follows`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn follow(state: web::Data<AppState>, user: CurrentUser, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    if target.id == me {
        return Err(ApiError::Forbidden("You cannot follow yourself".into()));
    }
    if state.store.blocks(target.id, me)? || state.store.blocks(me, target.id)? {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    if state.store.follows(me, target.id)? {
        // Already following: nothing to do.
    } else if target.locked {
        if state.store.set_follow_request(target.id, me, true).await? {
            state.streams.notify(target.id, NotificationKind::FollowRequest, me, None)?;
            state.store.durable().await?;
        }
    } else {
        start_following(&state, me, target.id).await?;
    }
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

/// Stops following an account (or withdraws the request).
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/unfollow", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        schemas::Forbidden,
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unfollow(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    stop_following(&state, me, target.id).await?;
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

/// Blocks an account: follows both ways end.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/block", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        (status = 403, description = "Yourself, or the token lacks `write:blocks`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn block(state: web::Data<AppState>, user: CurrentUser, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:blocks", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    if target.id == me {
        return Err(ApiError::Forbidden("You cannot block yourself".into()));
    }
    state.store.set_block(me, target.id, true).await?;
    stop_following(&state, me, target.id).await?;
    stop_following(&state, target.id, me).await?;
    state.timelines.notify(target.id, Reload);
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

/// Unblocks an account.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/unblock", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        schemas::Forbidden,
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unblock(state: web::Data<AppState>, user: CurrentUser, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:blocks", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    state.store.set_block(me, target.id, false).await?;
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

/// Mutes an account.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/mute", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        (status = 403, description = "Yourself, or the token lacks `write:mutes`", body = schemas::ErrorBody),
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn mute(state: web::Data<AppState>, user: CurrentUser, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:mutes", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    if target.id == me {
        return Err(ApiError::Forbidden("You cannot mute yourself".into()));
    }
    state.store.set_mute(me, target.id, true).await?;
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

/// Unmutes an account.
#[utoipa::path(
    post, path = "/api/v1/accounts/{id}/unmute", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        schemas::Forbidden,
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unmute(state: web::Data<AppState>, user: CurrentUser, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:mutes", "follow"])?;
    let me = user.account.id;
    let target = other_account(&state, *path)?;
    state.store.set_mute(me, target.id, false).await?;
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Ids {
    /// Account ids (`id[]=1&id[]=2`).
    #[serde(default, deserialize_with = "de::string_list")]
    #[param(rename = "id[]")]
    pub(crate) id: Vec<String>,
}

/// The caller's relationships with the given accounts (unknown ids are left out).
#[utoipa::path(
    get, path = "/api/v1/accounts/relationships", tag = "follows",
    params(Ids),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One relationship per known id, at most 100", body = [schemas::Relationship]),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn relationships(
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<Ids>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:follows", "follow"])?;
    let mut out = Vec::new();
    for raw in p.id.iter().take(100) {
        if let Ok(id) = raw.parse::<Id>()
            && state.store.account(id)?.is_some()
        {
            out.push(relationship(&state.store, user.account.id, id)?);
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Renders a page of account ids with its `Link` header.
pub fn account_page(req: &HttpRequest, state: &AppState, ids: &[Id]) -> Result<HttpResponse, ApiError> {
    let accounts = state.viewer(req, None).accounts(ids)?;
    Ok(super::pagination::paged(req, state, ids, accounts))
}

/// The accounts following an account.
#[utoipa::path(
    get, path = "/api/v1/accounts/{id}/followers", tag = "follows",
    params(("id" = String, Path, description = "The account's id"), PageParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    path: web::Path<Id>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let owner = other_account(&state, *path)?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = page_ids(&state.store.trees.userid_followers, &keys::id_key(owner.id), &q, |_| Ok(true))?;
    account_page(&req, &state, &ids)
}

/// The accounts an account follows.
#[utoipa::path(
    get, path = "/api/v1/accounts/{id}/following", tag = "follows",
    params(("id" = String, Path, description = "The account's id"), PageParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::Unauthorized, schemas::NotFound, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    path: web::Path<Id>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let owner = other_account(&state, *path)?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = page_ids(&state.store.trees.userid_following, &keys::id_key(owner.id), &q, |_| Ok(true))?;
    account_page(&req, &state, &ids)
}

/// The accounts asking to follow the caller.
#[utoipa::path(
    get, path = "/api/v1/follow_requests", tag = "follows",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn follow_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:follows", "follow"])?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = state.store.follow_requests_page(user.account.id, &q)?;
    account_page(&req, &state, &ids)
}

/// Accepts a follow request.
#[utoipa::path(
    post, path = "/api/v1/follow_requests/{id}/authorize", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        schemas::Forbidden,
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn authorize_request(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let requester = other_account(&state, *path)?;
    if !state.store.set_follow_request(me, requester.id, false).await? {
        return Err(ApiError::NotFound);
    }
    start_following(&state, requester.id, me).await?;
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, requester.id)?))
}

/// Rejects a follow request.
#[utoipa::path(
    post, path = "/api/v1/follow_requests/{id}/reject", tag = "follows",
    params(("id" = String, Path, description = "The other account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship now", body = schemas::Relationship),
        schemas::UserErrors,
        schemas::Forbidden,
        schemas::NotFound, schemas::Unavailable,
    )
)]
async fn reject_request(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let requester = other_account(&state, *path)?;
    if !state.store.set_follow_request(me, requester.id, false).await? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, requester.id)?))
}

/// The accounts the caller blocks.
#[utoipa::path(
    get, path = "/api/v1/blocks", tag = "follows",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_blocks(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:blocks", "follow"])?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = state.store.blocked_page(user.account.id, &q)?;
    account_page(&req, &state, &ids)
}

/// The accounts the caller mutes.
#[utoipa::path(
    get, path = "/api/v1/mutes", tag = "follows",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts, newest first", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_mutes(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:mutes", "follow"])?;
    let Some(q) = p.query() else { return Ok(empty_page()) };
    let ids = state.store.muted_page(user.account.id, &q)?;
    account_page(&req, &state, &ids)
}
