//! Moderation: `POST /api/v1/reports` for every user, and the subset of Mastodon's admin
//! API that moderators and admins use: accounts (list, show, act on, unsuspend), reports
//! (list, show, resolve) and the dashboard measures. Every admin route needs the
//! moderator (or admin) role and an `admin:read` / `admin:write` scope; anyone else gets
//! 403.
//!
//! Suspending an account ends its sessions (its sockets close within a second), refuses
//! its logins and hides its posts everywhere; lifting the suspension shows them again.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::pagination::{PageParams, empty_page};
use super::params::{Params, de, id_param};
use super::schemas;
use crate::domain::time::{now_millis, rfc3339_millis};
use crate::domain::{Account, Id, Role};
use crate::storage::moderation::day_of;
use crate::storage::{PageQuery, Report};
use crate::view::account::Role as RoleEntity;
use crate::view::visibility::can_see;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/reports", web::post().to(create_report))
        .route("/api/v1/admin/accounts", web::get().to(list_accounts))
        .route("/api/v1/admin/accounts/{id}", web::get().to(get_account))
        .route("/api/v1/admin/accounts/{id}/action", web::post().to(account_action))
        .route("/api/v1/admin/accounts/{id}/unsuspend", web::post().to(unsuspend))
        .route("/api/v1/admin/reports", web::get().to(list_reports))
        .route("/api/v1/admin/reports/{id}", web::get().to(get_report))
        .route("/api/v1/admin/reports/{id}/resolve", web::post().to(resolve_report))
        .route("/api/v1/admin/measures", web::post().to(measures));
}

const NOT_STAFF: &str = "This action is not allowed";

/// The caller must be staff and hold one of the scopes.
fn staff(user: &CurrentUser, scopes: &[&str]) -> Result<Id, ApiError> {
    user.require_scope(scopes)?;
    if user.account.role < Role::Moderator {
        return Err(ApiError::Forbidden(NOT_STAFF.into()));
    }
    Ok(user.account.id)
}

fn admin_account(state: &AppState, req: &HttpRequest, a: &Account) -> Result<Value, ApiError> {
    let suspended = state.store.suspension(a.id)?.is_some();
    Ok(json!({
        "id": a.id.to_string(),
        "username": a.username,
        "domain": Value::Null,
        "created_at": rfc3339_millis(a.created_at_ms),
        "email": a.email,
        "ip": Value::Null,
        "ips": [],
        "locale": a.locale,
        "invite_request": Value::Null,
        "role": RoleEntity::of(a.role),
        "confirmed": true,
        "approved": true,
        "disabled": false,
        "silenced": false,
        "suspended": suspended,
        "sensitized": false,
        "account": state.viewer(req, None).account(a),
    }))
}

fn admin_report(state: &AppState, req: &HttpRequest, r: &Report) -> Result<Value, ApiError> {
    let account = |id: Id| -> Result<Value, ApiError> {
        match state.store.account(id)? {
            Some(a) => admin_account(state, req, &a),
            None => Ok(Value::Null),
        }
    };
    let statuses = state.viewer(req, None).statuses(&r.status_ids)?;
    Ok(json!({
        "id": r.id.to_string(),
        "action_taken": r.resolved.is_some(),
        "action_taken_at": r.resolved.map(|(at, _)| rfc3339_millis(at)),
        "category": r.category,
        "comment": r.comment,
        "forwarded": r.forwarded,
        "created_at": rfc3339_millis(r.created_at_ms),
        "updated_at": rfc3339_millis(r.resolved.map_or(r.created_at_ms, |(at, _)| at)),
        "account": account(r.reporter)?,
        "target_account": account(r.target)?,
        "assigned_account": Value::Null,
        "action_taken_by_account": match r.resolved { Some((_, by)) => account(by)?, None => Value::Null },
        "statuses": statuses,
        "rules": [],
    }))
}

/// The Report entity the reporter sees.
fn user_report(state: &AppState, req: &HttpRequest, r: &Report, target: &Account) -> Value {
    json!({
        "id": r.id.to_string(),
        "action_taken": r.resolved.is_some(),
        "action_taken_at": r.resolved.map(|(at, _)| rfc3339_millis(at)),
        "category": r.category,
        "comment": r.comment,
        "forwarded": r.forwarded,
        "created_at": rfc3339_millis(r.created_at_ms),
        "status_ids": r.status_ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "rule_ids": r.rule_ids,
        "target_account": state.viewer(req, None).account(target),
    })
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewReport {
    /// The account reported (required).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String)]
    pub(crate) account_id: Option<String>,
    /// Statuses of that account, as evidence.
    #[serde(default, deserialize_with = "de::string_list")]
    pub(crate) status_ids: Vec<String>,
    /// At most 1000 characters.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) comment: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub(crate) forward: Option<bool>,
    /// `spam`, `legal`, `violation` or `other` (default).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(crate) category: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    pub(crate) rule_ids: Vec<String>,
}

/// Reports an account (and some of its statuses) to the moderators.
#[utoipa::path(
    post, path = "/api/v1/reports", tag = "moderation",
    request_body = NewReport,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = schemas::Report),
        schemas::UserErrors, schemas::Forbidden,
        (status = 404, description = "The account, or one of the statuses, does not exist or is not visible", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn create_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<NewReport>,
) -> Result<HttpResponse, ApiError> {
    user.require_scope(&["write:reports"])?;
    let me = user.account.id;
    let raw = p.account_id.ok_or_else(|| ApiError::Unprocessable("Validation failed: account_id is missing".into()))?;
    let target = state.store.account(id_param(&raw)?)?.ok_or(ApiError::NotFound)?;
    let comment = p.comment.unwrap_or_default();
    if comment.chars().count() > 1000 {
        return Err(ApiError::Unprocessable(
            "Validation failed: Comment is too long (maximum is 1000 characters)".into(),
        ));
    }
    let category = p.category.unwrap_or_else(|| "other".into());
    if !["spam", "legal", "violation", "other"].contains(&category.as_str()) {
        return Err(ApiError::Unprocessable(format!("Validation failed: Category '{category}' is not valid")));
    }
    let mut status_ids = Vec::new();
    for raw in &p.status_ids {
        // Only the target's statuses the reporter can see.
        let status = state.store.status(id_param(raw)?)?.ok_or(ApiError::NotFound)?;
        if status.account_id != target.id || !can_see(&state.store, Some(me), &status)? {
            return Err(ApiError::NotFound);
        }
        status_ids.push(status.id);
    }
    let report = Report {
        id: state.store.next_id(),
        reporter: me,
        target: target.id,
        status_ids,
        comment,
        category,
        rule_ids: p.rule_ids,
        forwarded: p.forward.unwrap_or(false),
        created_at_ms: now_millis(),
        resolved: None,
    };
    state.store.create_report(&report).await?;
    Ok(HttpResponse::Ok().json(user_report(&state, &req, &report, &target)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AccountFilter {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    suspended: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    active: Option<bool>,
    /// Moderators and admins only.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    staff: Option<bool>,
    /// Part of the username.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    username: Option<String>,
    /// Part of the e-mail address.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    email: Option<String>,
    /// Remote accounts (there are none).
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    remote: Option<bool>,
}

/// Accounts, newest first, with moderation details (staff only).
#[utoipa::path(
    get, path = "/api/v1/admin/accounts", tag = "moderation",
    params(PageParams, AccountFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accounts", body = [schemas::AdminAccount], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::StaffForbidden, schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_accounts(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<AccountFilter>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:read:accounts"])?;
    let store = &state.store;
    let Some(q): Option<PageQuery> = p.page.query() else { return Ok(empty_page()) };
    if p.remote == Some(true) {
        return Ok(HttpResponse::Ok().json(Vec::<Value>::new()));
    }
    let mut accounts: Vec<Account> = Vec::new();
    for a in store.all_accounts()? {
        let suspended = store.is_suspended(a.id)?;
        let keep = q.max_id.is_none_or(|m| a.id < m)
            && q.min_id.or(q.since_id).is_none_or(|m| a.id > m)
            && p.suspended.is_none_or(|s| s == suspended)
            && p.active.is_none_or(|active| active != suspended)
            && p.staff.is_none_or(|s| s == (a.role >= Role::Moderator))
            && p.username.as_deref().is_none_or(|u| a.username.to_lowercase().contains(&u.to_lowercase()))
            && p.email.as_deref().is_none_or(|e| a.email.to_lowercase().contains(&e.to_lowercase()));
        if keep {
            accounts.push(a);
        }
    }
    // Newest first; with min_id, the oldest after it.
    accounts.sort_by_key(|a| std::cmp::Reverse(a.id));
    if q.min_id.is_some() {
        let skip = accounts.len().saturating_sub(q.limit);
        accounts.drain(..skip);
    } else {
        accounts.truncate(q.limit);
    }
    let ids: Vec<Id> = accounts.iter().map(|a| a.id).collect();
    let body = accounts.iter().map(|a| admin_account(&state, &req, a)).collect::<Result<Vec<_>, _>>()?;
    Ok(super::pagination::paged(&req, &state, &ids, body))
}

/// An account with moderation details (staff only).
#[utoipa::path(
    get, path = "/api/v1/admin/accounts/{id}", tag = "moderation", operation_id = "admin_get_account",
    params(("id" = String, Path, description = "The account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = schemas::AdminAccount),
        schemas::UserErrors, schemas::StaffForbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:read:accounts"])?;
    let account = state.store.account(*path)?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &req, &account)?))
}

#[derive(Deserialize, ToSchema)]
struct Action {
    /// `none` (default) or `suspend`; `disable`, `sensitive` and `silence` are not supported (422).
    #[serde(default, rename = "type", deserialize_with = "de::opt_string")]
    kind: Option<String>,
    /// A report about the account, resolved by this action.
    #[serde(default, deserialize_with = "de::opt_string")]
    report_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    #[allow(dead_code)]
    text: Option<String>,
}

async fn suspend(state: &AppState, target: &Account, by: Id) -> Result<(), ApiError> {
    state.store.set_suspended(target.id, Some(by)).await?;
    // Its tokens stop working at once; the supervisor closes its sockets.
    state.auth.revoke_user_sessions(target.id).await?;
    Ok(())
}

/// Acts on an account: `none` or `suspend`, optionally resolving a report (staff only).
#[utoipa::path(
    post, path = "/api/v1/admin/accounts/{id}/action", tag = "moderation",
    request_body = Action,
    params(("id" = String, Path, description = "The account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Done", body = schemas::Empty),
        schemas::UserErrors,
        (status = 403, description = "Not staff, the token lacks `admin:write:accounts`, or the target is the caller or staff of equal rank", body = schemas::ErrorBody),
        (status = 404, description = "No such account or report", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn account_action(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
    Params(p): Params<Action>,
) -> Result<HttpResponse, ApiError> {
    let me = staff(&user, &["admin:write:accounts"])?;
    let target = state.store.account(*path)?.ok_or(ApiError::NotFound)?;
    if target.id == me || (target.role >= Role::Moderator && user.account.role < Role::Admin) {
        return Err(ApiError::Forbidden(NOT_STAFF.into()));
    }
    match p.kind.as_deref().unwrap_or("none") {
        "none" => {}
        "suspend" => suspend(&state, &target, me).await?,
        "disable" | "sensitive" | "silence" => {
            return Err(ApiError::Unprocessable("Only none and suspend are supported".into()));
        }
        other => return Err(ApiError::Unprocessable(format!("Unknown action type '{other}'"))),
    }
    if let Some(raw) = p.report_id {
        let report = state.store.report(id_param(&raw)?)?.ok_or(ApiError::NotFound)?;
        if report.target != target.id {
            return Err(ApiError::Unprocessable("The report is about another account".into()));
        }
        state.store.resolve_report(report.id, me).await?;
    }
    Ok(super::empty_object())
}

/// Lifts an account's suspension (staff only).
#[utoipa::path(
    post, path = "/api/v1/admin/accounts/{id}/unsuspend", tag = "moderation",
    params(("id" = String, Path, description = "The account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = schemas::AdminAccount),
        schemas::UserErrors, schemas::StaffForbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn unsuspend(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:write:accounts"])?;
    let target = state.store.account(*path)?.ok_or(ApiError::NotFound)?;
    state.store.set_suspended(target.id, None).await?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &req, &target)?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportFilter {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageParams,
    /// Resolved reports instead of open ones.
    #[serde(default, deserialize_with = "de::opt_bool")]
    #[param(value_type = bool)]
    resolved: Option<bool>,
    /// Only reports by this account.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    account_id: Option<String>,
    /// Only reports about this account.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    target_account_id: Option<String>,
}

/// Reports, newest first (staff only).
#[utoipa::path(
    get, path = "/api/v1/admin/reports", tag = "moderation",
    params(PageParams, ReportFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reports", body = [schemas::AdminReport], headers(("Link" = String, description = "`rel=\"next\"` (older) and `rel=\"prev\"` (newer) pages"))),
        schemas::UserErrors, schemas::StaffForbidden,
        (status = 404, description = "`account_id` or `target_account_id` is not an id", body = schemas::ErrorBody),
        schemas::BadParams, schemas::Unavailable,
    )
)]
async fn list_reports(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<ReportFilter>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:read:reports"])?;
    let reporter = p.account_id.as_deref().map(id_param).transpose()?;
    let target = p.target_account_id.as_deref().map(id_param).transpose()?;
    let Some(q) = p.page.query() else { return Ok(empty_page()) };
    let resolved = p.resolved.unwrap_or(false);
    let reports = state.store.reports_page(&q, |r| {
        r.resolved.is_some() == resolved
            && reporter.is_none_or(|a| a == r.reporter)
            && target.is_none_or(|t| t == r.target)
    })?;
    let ids: Vec<Id> = reports.iter().map(|r| r.id).collect();
    let body = reports.iter().map(|r| admin_report(&state, &req, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(super::pagination::paged(&req, &state, &ids, body))
}

/// A report (staff only).
#[utoipa::path(
    get, path = "/api/v1/admin/reports/{id}", tag = "moderation",
    params(("id" = String, Path, description = "The report's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = schemas::AdminReport),
        schemas::UserErrors, schemas::StaffForbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn get_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:read:reports"])?;
    let report = state.store.report(*path)?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(admin_report(&state, &req, &report)?))
}

/// Marks a report resolved (staff only).
#[utoipa::path(
    post, path = "/api/v1/admin/reports/{id}/resolve", tag = "moderation",
    params(("id" = String, Path, description = "The report's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = schemas::AdminReport),
        schemas::UserErrors, schemas::StaffForbidden, schemas::NotFound, schemas::Unavailable,
    )
)]
async fn resolve_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let me = staff(&user, &["admin:write:reports"])?;
    let report = state.store.resolve_report(*path, me).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(admin_report(&state, &req, &report)?))
}

#[derive(Deserialize, ToSchema)]
struct MeasureParams {
    /// Measures to compute (unknown ones are left out).
    #[serde(default, deserialize_with = "de::string_list")]
    #[schema(required = true)]
    keys: Vec<String>,
    /// The first day, `YYYY-MM-DD` (a time after it is ignored).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    start_at: Option<String>,
    /// The last day, at most a year after the first.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[schema(required = true, value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    end_at: Option<String>,
}

/// `2026-11-21` or a full datetime (the time is ignored) → days since the epoch.
fn parse_day(field: &str, raw: Option<&str>) -> Result<u32, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::BadRequest(format!("{field} is missing")))?;
    let date = raw.get(..10).unwrap_or(raw);
    let parsed = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest(format!("{field} is not a date")))?;
    let ms = parsed.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0);
    Ok(day_of(ms))
}

fn day_string(day: u32) -> String {
    let ms = day as i64 * 86_400_000;
    format!("{}T00:00:00Z", &rfc3339_millis(ms)[..10])
}

/// Daily measures for the dashboard (staff only): `active_users`, `new_users`, `interactions`, … per day.
#[utoipa::path(
    post, path = "/api/v1/admin/measures", tag = "moderation",
    request_body = MeasureParams,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One measure per known key", body = [schemas::AdminMeasure]),
        schemas::UserErrors, schemas::StaffForbidden, schemas::BadParams,
        (status = 400, description = "A missing or invalid date, or a range that runs backwards or spans more than a year", body = schemas::ErrorBody),
        schemas::Unavailable,
    )
)]
async fn measures(
    state: web::Data<AppState>,
    user: CurrentUser,
    Params(p): Params<MeasureParams>,
) -> Result<HttpResponse, ApiError> {
    staff(&user, &["admin:read"])?;
    let from = parse_day("start_at", p.start_at.as_deref())?;
    let to = parse_day("end_at", p.end_at.as_deref())?;
    if to < from || to - from > 366 {
        return Err(ApiError::BadRequest("The date range must run forwards and span at most a year".into()));
    }
    let span = to - from + 1;
    let (prev_from, prev_to) = (from.saturating_sub(span), from.saturating_sub(1));
    let mut out = Vec::new();
    for key in &p.keys {
        let Some(data) = state.store.measure(key, from, to)? else { continue };
        let (total, previous) = if key == "active_users" {
            (state.store.distinct_active(from, to)?, state.store.distinct_active(prev_from, prev_to)?)
        } else {
            let previous = state.store.measure(key, prev_from, prev_to)?.unwrap_or_default();
            (data.iter().map(|(_, v)| v).sum(), previous.iter().map(|(_, v)| v).sum())
        };
        out.push(json!({
            "key": key,
            "unit": Value::Null,
            "total": total.to_string(),
            "previous_total": previous.to_string(),
            "data": data.iter().map(|(d, v)| json!({ "date": day_string(*d), "value": v.to_string() })).collect::<Vec<_>>(),
        }));
    }
    Ok(HttpResponse::Ok().json(out))
}
