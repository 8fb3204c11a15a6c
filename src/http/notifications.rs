//! Notifications: created by the actions that cause them (follow, mention, favourite,
//! reblog) through `Streams::notify`, listed with filters and paging, read one by one,
//! dismissed and cleared. Notifications about a deleted status, or from an account the
//! user blocked or muted, are not shown.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::pagination::{PageParams, empty_page};
use super::params::{Params, de};
use super::schemas;
use crate::domain::Id;
use crate::storage::{Notification, NotificationKind};
use crate::view::notification::Notification as NotificationEntity;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/notifications", web::get().to(list_notifications))
        .route("/api/v1/notifications/clear", web::post().to(clear_notifications))
        .route("/api/v1/notifications/{id}", web::get().to(get_notification))
        .route("/api/v1/notifications/{id}/dismiss", web::post().to(dismiss_notification));
}

fn entity(
    state: &AppState,
    req: &HttpRequest,
    me: Id,
    n: &Notification,
) -> Result<Option<NotificationEntity>, ApiError> {
    Ok(state.viewer(req, Some(me)).notification(n)?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) page: PageParams,
    /// Only these types (`types[]=mention&types[]=follow`).
    #[serde(default, deserialize_with = "de::string_list")]
    #[param(rename = "types[]")]
    pub(crate) types: Vec<String>,
    /// Not these types.
    #[serde(default, deserialize_with = "de::string_list")]
    #[param(rename = "exclude_types[]")]
    pub(crate) exclude_types: Vec<String>,
    /// Only from this account (a numeric id; anything else is a 400).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) account_id: Option<String>,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "notifications",
    params(PageParams, ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Notifications", body = [schemas::Notification], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_notifications(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<ListParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let types: Vec<NotificationKind> = p.types.iter().filter_map(|t| NotificationKind::parse(t)).collect();
    let excluded: Vec<NotificationKind> = p.exclude_types.iter().filter_map(|t| NotificationKind::parse(t)).collect();
    let from: Option<Id> = match p.account_id.as_deref() {
        Some(raw) => Some(raw.parse().map_err(|_| ApiError::BadRequest("Invalid account_id".into()))?),
        None => None,
    };
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    let viewer = state.viewer(&req, Some(me));
    let items = state.store.notifications_page(me, &q, |n| {
        if (!p.types.is_empty() && !types.contains(&n.kind)) || excluded.contains(&n.kind) {
            return Ok(false);
        }
        if from.is_some_and(|f| f != n.from_account) {
            return Ok(false);
        }
        viewer.notification_shown(n)
    })?;
    let mut body = Vec::with_capacity(items.len());
    for n in &items {
        if let Some(v) = viewer.notification(n)? {
            body.push(v);
        }
    }
    let ids: Vec<Id> = items.iter().map(|n| n.id).collect();
    Ok(super::pagination::paged(&req, &state, &ids, body))
}

/// One of the caller's notifications.
#[utoipa::path(
    get, path = "/api/v1/notifications/{id}", tag = "notifications",
    params(("id" = String, Path, description = "The notification's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The notification", body = schemas::Notification),
        schemas::UserErrors, schemas::Forbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_notification(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let n = state.store.notification(me, *path)?.ok_or(ApiError::NotFound)?;
    if !state.viewer(&req, Some(me)).notification_shown(&n)? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(entity(&state, &req, me, &n)?.ok_or(ApiError::NotFound)?))
}

/// Dismisses one of the caller's notifications.
#[utoipa::path(
    post, path = "/api/v1/notifications/{id}/dismiss", tag = "notifications",
    params(("id" = String, Path, description = "The notification's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dismissed", body = schemas::Empty),
        schemas::UserErrors, schemas::Forbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn dismiss_notification(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:notifications"])?;
    // Another user's notification id is simply not found among ours.
    if !state.store.dismiss_notification(user.account.id, *path).await? {
        return Err(ApiError::NotFound);
    }
    Ok(super::empty_object())
}

/// Dismisses all of the caller's notifications.
#[utoipa::path(
    post, path = "/api/v1/notifications/clear", tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cleared", body = schemas::Empty),
        schemas::UserErrors, schemas::Forbidden, schemas::Unavailable,
    )
)]
async fn clear_notifications(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:notifications"])?;
    state.store.clear_notifications(user.account.id).await?;
    Ok(super::empty_object())
}
