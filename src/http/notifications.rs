//! Notifications: created by the actions that cause them (follow, mention, favourite,
//! reblog) through `Streams::notify`, listed with filters and paging, read one by one,
//! dismissed and cleared. Notifications about a deleted status, or from an account the
//! user blocked or muted, are not shown.
//!
//! The v2 API lists them grouped (`view::notification_group`: favourites and reblogs of
//! one status, and follows, within 12 hours): a page holds one notification per group,
//! the newest met, and each group counts and samples its notifications up to the page's
//! newest, as Mastodon's `GET /api/v2/notifications` does. There are no read markers
//! here, so `unread_count` counts every group.

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
use crate::view::notification::{Grouping, ungrouped_id};
use crate::view::notification_group::{GroupedNotificationsResults, PageRange, UnreadCount};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/notifications", web::get().to(list_notifications))
        .route("/api/v1/notifications/clear", web::post().to(clear_notifications))
        .route("/api/v1/notifications/{id}", web::get().to(get_notification))
        .route("/api/v1/notifications/{id}/dismiss", web::post().to(dismiss_notification))
        .route("/api/v2/notifications", web::get().to(list_groups))
        .route("/api/v2/notifications/unread_count", web::get().to(unread_group_count))
        .route("/api/v2/notifications/{group_key}", web::get().to(get_group))
        .route("/api/v2/notifications/{group_key}/dismiss", web::post().to(dismiss_group))
        .route("/api/v2/notifications/{group_key}/accounts", web::get().to(group_accounts));
}

fn entity(
    state: &AppState,
    req: &HttpRequest,
    me: Id,
    n: &Notification,
) -> Result<Option<NotificationEntity>, ApiError> {
    Ok(state.viewer(req, Some(me)).notification(n)?)
}

/// The `types[]`, `exclude_types[]` and `account_id` filters, shared by the v1 and v2
/// lists. Unknown type names are ignored (naming only unknown ones in `types[]` admits
/// nothing).
pub(crate) struct Selection {
    types: Option<Vec<NotificationKind>>,
    excluded: Vec<NotificationKind>,
    from: Option<Id>,
}

impl Selection {
    pub(crate) fn new(filter: &FilterParams) -> Result<Self, ApiError> {
        let FilterParams { types, exclude_types, account_id } = filter;
        let parse = |names: &[String]| names.iter().filter_map(|t| NotificationKind::parse(t)).collect::<Vec<_>>();
        let from = match account_id {
            Some(raw) => Some(raw.parse().map_err(|_| ApiError::BadRequest("Invalid account_id".into()))?),
            None => None,
        };
        Ok(Self { types: (!types.is_empty()).then(|| parse(types)), excluded: parse(exclude_types), from })
    }

    pub(crate) fn admits(&self, n: &Notification) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(&n.kind))
            && !self.excluded.contains(&n.kind)
            && self.from.is_none_or(|f| f == n.from_account)
    }
}

/// The filters every notification list and count takes (see [`Selection`]).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FilterParams {
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

#[derive(Deserialize)]
pub(crate) struct ListParams {
    #[serde(flatten)]
    pub(crate) page: PageParams,
    #[serde(flatten)]
    pub(crate) filter: FilterParams,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "notifications",
    params(PageParams, FilterParams),
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
    let selection = Selection::new(&p.filter)?;
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    let viewer = state.viewer(&req, Some(me));
    let items = state.store.notifications_page(me, &q, |n| Ok(selection.admits(n) && viewer.notification_shown(n)?))?;
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

// --- v2: grouped notifications -------------------------------------------------------

/// Default and maximum `limit` of `GET /api/v2/notifications` (groups).
const GROUPS_LIMIT: (usize, usize) = (40, 80);
/// Default and maximum `limit` of `GET /api/v2/notifications/unread_count`.
const COUNT_LIMIT: (usize, usize) = (100, 1000);
/// Default and maximum `limit` of a group's accounts.
const ACCOUNTS_LIMIT: (usize, usize) = (40, 80);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GroupListParams {
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) page: PageParams,
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) filter: FilterParams,
    /// Only these of the groupable types (`favourite`, `reblog`, `follow`) are grouped;
    /// the others come one notification per group, `ungrouped-<id>`.
    #[serde(default, deserialize_with = "de::string_list")]
    #[param(rename = "grouped_types[]")]
    pub(crate) grouped_types: Vec<String>,
    /// `full` (the default) or `partial_avatars`; every account is sent in full either
    /// way (Mastodon sends the others in `partial_accounts`). Anything else is a 400.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub(crate) expand_accounts: Option<String>,
    /// Accepted and ignored: there are no notification policies here, nothing is filtered.
    #[allow(dead_code, reason = "read only to check it is a boolean")]
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    pub(crate) include_filtered: Option<bool>,
}

/// The parameters of the unread count.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CountParams {
    /// At most this many groups are counted (default 100, at most 1000, larger values
    /// are clamped; non-numeric ones ignored).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = i64, default = 100)]
    pub(crate) limit: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub(crate) filter: FilterParams,
    /// Only these of the groupable types are grouped; each other notification counts alone.
    #[serde(default, deserialize_with = "de::string_list")]
    #[param(rename = "grouped_types[]")]
    pub(crate) grouped_types: Vec<String>,
}

fn check_expand_accounts(raw: Option<&str>) -> Result<(), ApiError> {
    match raw {
        None | Some("full" | "partial_avatars") => Ok(()),
        Some(other) => Err(ApiError::BadRequest(format!(
            "Invalid value for 'expand_accounts': '{other}', allowed values are 'full' and 'partial_avatars'"
        ))),
    }
}

/// The caller's notifications, grouped, newest first.
#[utoipa::path(
    get, path = "/api/v2/notifications", tag = "notifications",
    params(PageParams, FilterParams, GroupListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of notification groups (`limit`: groups, default 40, at most 80)", body = GroupedNotificationsResults, headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<GroupListParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let selection = Selection::new(&p.filter)?;
    check_expand_accounts(p.expand_accounts.as_deref())?;
    let grouping = Grouping::from_names(&p.grouped_types);
    let Some(q) = p.page.query_with(GROUPS_LIMIT.0, GROUPS_LIMIT.1) else {
        return Ok(HttpResponse::Ok().json(GroupedNotificationsResults::empty()));
    };
    let viewer = state.viewer(&req, Some(me));
    let keep = |n: &Notification| Ok(selection.admits(n) && viewer.notification_shown(n)?);
    let Some(page) = group_page(&state, me, &q, &grouping, keep)? else {
        return Ok(HttpResponse::Ok().json(GroupedNotificationsResults::empty()));
    };
    // Mastodon's pagination range: what the page took in or, on the last page, up to
    // the end the cursors give.
    let range = if page.more {
        PageRange { begin: Some(page.bottom), end: Some(page.top) }
    } else if q.min_id.is_some() {
        PageRange { begin: Some(page.bottom), end: q.max_id.and_then(|m| m.0.checked_sub(1)).map(Id) }
    } else {
        PageRange { begin: q.since_id.and_then(|s| s.0.checked_add(1)).map(Id), end: Some(page.top) }
    };
    let body = viewer.notification_groups(me, &page.firsts, &grouping, Some(range), keep)?;
    // `next` goes on below what the page took in, `prev` above it.
    let ids = [page.top, page.bottom];
    Ok(super::pagination::paged(&req, &state, &ids, body))
}

/// One page of groups: a notification for each (the first met in the page's order),
/// newest first, and the span of notifications the page consumed.
struct GroupPage {
    firsts: Vec<Notification>,
    /// The newest and oldest notification the page took in: its groups' first ones and,
    /// after the last group, the run of notifications that belong to groups already on
    /// the page (so that the next page does not start with them again).
    top: Id,
    bottom: Id,
    /// Whether a further group was met after the page was full.
    more: bool,
}

/// Walks the caller's notifications in the order `q` asks, one group at a time, up to
/// `q.limit` groups; `keep` says which notifications count. `None` for an empty page.
fn group_page(
    state: &AppState,
    me: Id,
    q: &crate::storage::PageQuery,
    grouping: &Grouping,
    mut keep: impl FnMut(&Notification) -> Result<bool, crate::storage::StorageError>,
) -> Result<Option<GroupPage>, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let mut span: Option<(Id, Id)> = None;
    let mut extra = None;
    // One more than the limit: meeting the first group after the page ends the walk.
    let walk = crate::storage::PageQuery { limit: q.limit.saturating_add(1), ..*q };
    let mut firsts = state.store.notifications_page(me, &walk, |n| {
        let key = grouping.key(n);
        let new = !seen.contains(&key);
        if new {
            if !keep(n)? {
                return Ok(false);
            }
            if seen.len() == q.limit {
                extra = Some(n.id);
                return Ok(true);
            }
            seen.insert(key);
        }
        span = Some(match span {
            None => (n.id, n.id),
            Some((top, bottom)) => (top.max(n.id), bottom.min(n.id)),
        });
        Ok(new)
    })?;
    if let Some(extra) = extra {
        firsts.retain(|n| n.id != extra);
    }
    let Some((top, bottom)) = span else { return Ok(None) };
    Ok(Some(GroupPage { firsts, top, bottom, more: extra.is_some() }))
}

/// Every notification of the caller in group `key`, newest first, that `keep` accepts
/// (a page of them with `q`).
fn group_members(
    state: &AppState,
    me: Id,
    key: &str,
    q: &crate::storage::PageQuery,
    mut keep: impl FnMut(&Notification) -> Result<bool, crate::storage::StorageError>,
) -> Result<Vec<Notification>, ApiError> {
    let grouping = Grouping::default();
    if let Some(id) = ungrouped_id(key) {
        let Some(n) = state.store.notification(me, id)? else { return Ok(Vec::new()) };
        let in_page = q.max_id.is_none_or(|m| n.id < m) && q.min_id.or(q.since_id).is_none_or(|m| n.id > m);
        return Ok(if in_page && keep(&n)? { vec![n] } else { Vec::new() });
    }
    Ok(state.store.notifications_page(me, q, |n| Ok(grouping.key(n) == key && keep(n)?))?)
}

fn everything() -> crate::storage::PageQuery {
    crate::storage::PageQuery { limit: usize::MAX, ..Default::default() }
}

/// How many groups of the caller's notifications are unread, at most `limit`. There
/// are no read markers here: every group counts.
#[utoipa::path(
    get, path = "/api/v2/notifications/unread_count", tag = "notifications",
    params(CountParams, FilterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The capped count of notification groups", body = UnreadCount),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn unread_group_count(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<CountParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let selection = Selection::new(&p.filter)?;
    let grouping = Grouping::from_names(&p.grouped_types);
    let limit = PageParams { limit: p.limit, ..Default::default() };
    let q = limit.query_with(COUNT_LIMIT.0, COUNT_LIMIT.1).unwrap_or_default();
    let viewer = state.viewer(&req, Some(me));
    let page = group_page(&state, me, &q, &grouping, |n| Ok(selection.admits(n) && viewer.notification_shown(n)?))?;
    Ok(HttpResponse::Ok().json(UnreadCount { count: page.map_or(0, |p| p.firsts.len() as u64) }))
}

/// One notification group of the caller's.
#[utoipa::path(
    get, path = "/api/v2/notifications/{group_key}", tag = "notifications",
    params(("group_key" = String, Path, description = "The group's key")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group, alone", body = GroupedNotificationsResults),
        schemas::UserErrors, schemas::Forbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let viewer = state.viewer(&req, Some(me));
    let q = crate::storage::PageQuery { limit: 1, ..Default::default() };
    let newest = group_members(&state, me, &path, &q, |n| viewer.notification_shown(n))?;
    if newest.is_empty() {
        return Err(ApiError::NotFound);
    }
    let grouping = match ungrouped_id(&path) {
        // An `ungrouped-<id>` key names one notification, whatever its type.
        Some(_) => Grouping::from_names(&["none".to_owned()]),
        None => Grouping::default(),
    };
    let body = viewer.notification_groups(me, &newest, &grouping, None, |n| viewer.notification_shown(n))?;
    Ok(HttpResponse::Ok().json(body))
}

/// Dismisses every notification of one of the caller's groups (a key that names none
/// dismisses nothing, as on Mastodon).
#[utoipa::path(
    post, path = "/api/v2/notifications/{group_key}/dismiss", tag = "notifications",
    params(("group_key" = String, Path, description = "The group's key")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dismissed", body = schemas::Empty),
        schemas::UserErrors, schemas::Forbidden, schemas::Unavailable,
    )
)]
async fn dismiss_group(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:notifications"])?;
    let me = user.account.id;
    let ids: Vec<Id> = group_members(&state, me, &path, &everything(), |_| Ok(true))?.iter().map(|n| n.id).collect();
    state.store.dismiss_notifications(me, &ids).await?;
    Ok(super::empty_object())
}

/// The accounts behind one of the caller's groups, one per notification, newest first.
#[utoipa::path(
    get, path = "/api/v2/notifications/{group_key}/accounts", tag = "notifications",
    params(("group_key" = String, Path, description = "The group's key"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts (`limit` default 40, at most 80); none for a key that names no notification", body = [schemas::Account], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::Forbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn group_accounts(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    Params(page): Params<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["read:notifications"])?;
    let me = user.account.id;
    let Some(q) = page.query_with(ACCOUNTS_LIMIT.0, ACCOUNTS_LIMIT.1) else { return Ok(empty_page()) };
    let viewer = state.viewer(&req, Some(me));
    let members = group_members(&state, me, &path, &q, |n| viewer.notification_shown(n))?;
    let mut body = Vec::with_capacity(members.len());
    for n in &members {
        if let Some(a) = viewer.account_json(n.from_account)? {
            body.push(a);
        }
    }
    let ids: Vec<Id> = members.iter().map(|n| n.id).collect();
    Ok(super::pagination::paged(&req, &state, &ids, body))
}
