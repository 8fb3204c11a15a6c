//! Follows: follow, unfollow, relationships, followers and following. Following someone
//! merges their statuses into your home timeline; unfollowing takes them out; both are
//! done before the answer, so the next home read reflects them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{CurrentUser, MaybeCaller};
use super::entities;
use super::error::ApiError;
use super::pagination::{PageParams, link_header};
use super::params::{Params, de};
use super::statuses::parse_id;
use crate::actors::timeline::Reload;
use crate::domain::Id;
use crate::storage::{StorageError, Store, keys, timelines::page_ids};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/accounts/relationships", web::get().to(relationships))
        .route("/api/v1/accounts/{id}/follow", web::post().to(follow))
        .route("/api/v1/accounts/{id}/unfollow", web::post().to(unfollow))
        .route("/api/v1/accounts/{id}/followers", web::get().to(followers))
        .route("/api/v1/accounts/{id}/following", web::get().to(following));
}

/// The Relationship entity between `me` and `other`.
pub fn relationship(store: &Store, me: Id, other: Id) -> Result<Value, StorageError> {
    let following = store.follows(me, other)?;
    Ok(json!({
        "id": other.to_string(),
        "following": following,
        "showing_reblogs": following,
        "notifying": false,
        "languages": Value::Null,
        "followed_by": store.follows(other, me)?,
        "blocking": false,
        "blocked_by": false,
        "muting": false,
        "muting_notifications": false,
        "requested": false,
        "requested_by": false,
        "domain_blocking": false,
        "endorsed": false,
        "note": "",
    }))
}

async fn follow(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let target = state.store.account(parse_id(&path)?)?.ok_or(ApiError::NotFound)?;
    if target.id == me {
        return Err(ApiError::Forbidden("You cannot follow yourself".into()));
    }
    if state.store.follow(me, target.id).await? {
        state.store.merge_author_into(me, target.id)?;
        state.store.durable().await?;
        state.timelines.notify(me, Reload);
    }
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

async fn unfollow(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:follows", "follow"])?;
    let me = user.account.id;
    let target = state.store.account(parse_id(&path)?)?.ok_or(ApiError::NotFound)?;
    if state.store.unfollow(me, target.id).await? {
        state.store.unmerge_author_from(me, target.id)?;
        state.store.durable().await?;
        state.timelines.notify(me, Reload);
    }
    Ok(HttpResponse::Ok().json(relationship(&state.store, me, target.id)?))
}

#[derive(Deserialize)]
struct Ids {
    #[serde(default, deserialize_with = "de::string_list")]
    id: Vec<String>,
}

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

async fn account_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw_id: &str,
    p: PageParams,
    tree: &sled::Tree,
) -> Result<HttpResponse, ApiError> {
    let owner = state.store.account(parse_id(raw_id)?)?.ok_or(ApiError::NotFound)?;
    let q = p.query()?;
    let ids = page_ids(tree, &keys::id_key(owner.id), &q, |_| Ok(true))?;
    let base = state.base_url(&req);
    let mut accounts = Vec::new();
    for id in &ids {
        if let Some(a) = state.store.account(*id)? {
            accounts.push(entities::account(&a, &base));
        }
    }
    let mut response = HttpResponse::Ok();
    if let Some(link) = link_header(&req, &state, &ids) {
        response.insert_header(("Link", link));
    }
    Ok(response.json(accounts))
}

async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let tree = state.store.trees.userid_followers.clone();
    account_list(req, state, &path, p, &tree).await
}

async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let tree = state.store.trees.userid_following.clone();
    account_list(req, state, &path, p, &tree).await
}
