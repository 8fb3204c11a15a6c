//! The OpenAPI 3.1 document of every route, generated from the handlers' `#[utoipa::path]`
//! annotations and the schemas in `schemas.rs`, served at `GET /api/openapi.json`, and a
//! plain HTML page listing the operations at `GET /api/docs` (self-contained: no
//! scripts, styles or fonts from elsewhere).
//!
//! A few rules hold for every route and are applied here rather than repeated on each
//! handler ([`Conventions`]):
//! - request bodies are read by `Params`, which takes JSON, form-urlencoded and multipart
//!   alike, and does not insist on a body when every field is optional;
//! - every route the rate limiter counts (`rate_limit::counted`) may answer 429, and
//!   each of its answers carries the `X-RateLimit-*` headers ([`rate_limit_headers`]);
//! - the SSE streams, one route in actix (`/api/v1/streaming/{stream:.*}`), are one path
//!   each here ([`streaming::SSE_CHANNELS`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, KnownFormat, Object, ObjectBuilder, Ref, RefOr, Required, Schema, SchemaFormat, Type};
use utoipa::{Modify, OpenApi};

use super::{accounts, admin, apps, follows, health, instance, interactions, metrics, notifications, oauth};
use super::{rate_limit, schemas, sessions, statuses, streaming, timelines};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "starling",
        description = "A real-time microblogging server compatible with the Mastodon client API. \
            Errors are JSON: `{\"error\": \"...\"}`, plus `error_description` for OAuth errors and \
            `details` for validation errors. Paged lists take `max_id`, `since_id`, `min_id` and `limit` \
            and answer with a `Link` header. Authenticate with `Authorization: Bearer <token>`.",
    ),
    servers((url = "/", description = "This server")),
    paths(
        health::health, health::ready, health::jwks, health::default_avatar, health::default_header,
        metrics::scrape,
        streaming::websocket, streaming::health, streaming::sse,
        instance::instance_v1, instance::instance_v2,
        apps::create_app, apps::verify_app_credentials,
        oauth::authorize_form, oauth::authorize_submit, oauth::token, oauth::revoke, oauth::metadata,
        follows::relationships, follows::follow, follows::unfollow, follows::block, follows::unblock,
        follows::mute, follows::unmute, follows::followers, follows::following, follows::follow_requests,
        follows::authorize_request, follows::reject_request, follows::list_blocks, follows::list_mutes,
        timelines::home_timeline, timelines::public_timeline, timelines::tag_timeline, timelines::get_tag,
        timelines::account_statuses,
        accounts::create_account, accounts::verify_credentials, accounts::update_credentials,
        accounts::lookup_account, accounts::delete_own_account, accounts::get_account,
        statuses::create_status, statuses::get_status, statuses::delete_status, statuses::edit_status,
        statuses::status_history, statuses::status_source, statuses::status_context, statuses::reblog,
        statuses::unreblog,
        interactions::favourite, interactions::unfavourite, interactions::bookmark, interactions::unbookmark,
        interactions::favourited_by, interactions::reblogged_by, interactions::list_favourites,
        interactions::list_bookmarks,
        notifications::list_notifications, notifications::clear_notifications, notifications::get_notification,
        notifications::dismiss_notification, notifications::list_groups, notifications::unread_group_count,
        notifications::get_group, notifications::dismiss_group, notifications::group_accounts,
        sessions::login, sessions::refresh, sessions::logout, sessions::logout_all, sessions::list_sessions,
        sessions::end_session,
        admin::create_report, admin::list_accounts, admin::get_account, admin::account_action, admin::unsuspend,
        admin::list_reports, admin::get_report, admin::resolve_report, admin::measures,
        openapi_json, docs_page,
    ),
    components(schemas(schemas::ErrorBody, schemas::ValidationDetail)),
    modifiers(&Conventions),
    tags(
        (name = "accounts", description = "Sign-up, the caller's account, look-ups"),
        (name = "follows", description = "Follows, follow requests, blocks, mutes, relationships"),
        (name = "statuses", description = "Posting, reading, editing and deleting statuses; reblogs, favourites, bookmarks"),
        (name = "timelines", description = "Home, public, hashtag and account timelines; hashtags"),
        (name = "notifications", description = "The caller's notifications"),
        (name = "apps", description = "OAuth applications"),
        (name = "oauth", description = "OAuth 2: authorization, tokens, revocation, metadata, keys"),
        (name = "sessions", description = "First-party login sessions"),
        (name = "instance", description = "About this server"),
        (name = "streaming", description = "Live events over WebSocket and server-sent events (docs/streaming.md)"),
        (name = "moderation", description = "Reports, and the admin API for moderators and admins"),
        (name = "operations", description = "Health, readiness, metrics, default images"),
        (name = "openapi", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The document, rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());

/// Every documented path as an actix pattern, with the methods it is served with (the
/// document holds exactly the registered routes: `tests/api/openapi.rs`).
static ROUTES: LazyLock<Vec<(ResourceDef, Vec<&'static str>)>> = LazyLock::new(|| {
    let doc = ApiDoc::openapi();
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("HEAD", item.head.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
                ("OPTIONS", item.options.is_some()),
            ];
            let methods = methods.into_iter().filter(|(_, served)| *served).map(|(m, _)| m).collect();
            (ResourceDef::new(path.as_str()), methods)
        })
        .collect()
});

/// The methods some route serves `path` with (for `Allow`), in a fixed order; empty
/// for a path no route serves.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    const ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let mut allowed: Vec<&'static str> = Vec::new();
    for (def, methods) in ROUTES.iter() {
        if def.is_match(path) {
            for m in methods {
                if !allowed.contains(m) {
                    allowed.push(m);
                }
            }
        }
    }
    allowed.sort_by_key(|m| ORDER.iter().position(|o| o == m));
    allowed
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/openapi.json", web::get().to(openapi_json)).route("/api/docs", web::get().to(docs_page));
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "openapi",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(DOCUMENT.as_str())
}

/// The operations of this document as a plain HTML page.
#[utoipa::path(
    get, path = "/api/docs", tag = "openapi",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String))
)]
async fn docs_page() -> HttpResponse {
    static PAGE: LazyLock<String> = LazyLock::new(|| render_docs(&ApiDoc::openapi()));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(PAGE.as_str())
}

/// The rules every route follows (see the module documentation).
struct Conventions;

const BODY_TYPES: [&str; 3] = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"];

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `/oauth/token`, `/api/v1/accounts` or `/api/v1/auth/login`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("OAuth client authentication: `client_id:client_secret`"))
                    .build(),
            ),
        );
        expand_sse_channels(doc);
        let schemas = doc.components.as_ref().map(|c| c.schemas.clone()).unwrap_or_default();
        for (path, item) in doc.paths.paths.iter_mut() {
            let counted = rate_limit::counted(path);
            for op in operations_mut(item) {
                if let Some(body) = op.request_body.as_mut() {
                    all_body_types(body, &schemas);
                }
                if counted {
                    op.responses.responses.entry("429".into()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("Rate limit exceeded; see the `X-RateLimit-*` headers")
                                .content("application/json", Content::new(Some(Ref::from_schema_name("Error"))))
                                .build(),
                        )
                    });
                    for response in op.responses.responses.values_mut() {
                        if let RefOr::T(response) = response {
                            for (name, header) in rate_limit_headers() {
                                response.headers.entry(name.to_owned()).or_insert(header);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The headers `rate_limit::enforce` puts on every answer it counts (when rate limits
/// are on: `rate_limits.enabled`), of the tightest limit that applied.
fn rate_limit_headers() -> [(&'static str, Header); 3] {
    let header = |kind: Type, format: Option<KnownFormat>, description: &str| {
        let mut schema = ObjectBuilder::new().schema_type(kind);
        if let Some(format) = format {
            schema = schema.format(Some(SchemaFormat::KnownFormat(format)));
        }
        HeaderBuilder::new().schema(schema.build()).description(Some(description)).build()
    };
    [
        ("X-RateLimit-Limit", header(Type::Integer, None, "Requests the limit allows per period")),
        ("X-RateLimit-Remaining", header(Type::Integer, None, "Requests left before the limit answers 429")),
        (
            "X-RateLimit-Reset",
            header(Type::String, Some(KnownFormat::DateTime), "When the limit is whole again (ISO 8601)"),
        ),
    ]
}

/// A body described as JSON is also accepted as form-urlencoded and multipart; one whose
/// fields are all optional may be left out.
fn all_body_types(body: &mut RequestBody, schemas: &BTreeMap<String, RefOr<Schema>>) {
    let Some(json) = body.content.get("application/json").cloned() else { return };
    for kind in BODY_TYPES {
        body.content.entry(kind.to_owned()).or_insert_with(|| json.clone());
    }
    let resolved = match &json.schema {
        Some(RefOr::Ref(r)) => r.ref_location.rsplit('/').next().and_then(|name| schemas.get(name)),
        other => other.as_ref(),
    };
    if let Some(RefOr::T(Schema::Object(object))) = resolved
        && object.required.is_empty()
    {
        body.required = Some(Required::False);
    }
}

/// Copies the documented `/api/v1/streaming/user` operation to every other SSE channel.
fn expand_sse_channels(doc: &mut utoipa::openapi::OpenApi) {
    let Some(template) = doc.paths.paths.get("/api/v1/streaming/user").cloned() else { return };
    for (channel, stream) in streaming::SSE_CHANNELS {
        let mut item = template.clone();
        if let Some(op) = item.get.as_mut() {
            op.operation_id = Some(format!("stream_{}", channel.replace('/', "_")));
            op.summary = Some(format!("Server-sent events of the `{stream}` stream"));
            let needs = match stream {
                "hashtag" | "hashtag:local" => Some(("tag", "The hashtag, without `#`")),
                "thread" => Some(("id", "The id of a status in the thread")),
                _ => None,
            };
            if let Some((name, description)) = needs {
                let param = ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(Object::with_type(Type::String)))
                    .build();
                op.parameters.get_or_insert_with(Vec::new).push(param);
            }
        }
        doc.paths.paths.insert(format!("/api/v1/streaming/{channel}"), item);
    }
}

/// The HTML page: for each tag, its operations with their summaries and answers.
fn render_docs(doc: &utoipa::openapi::OpenApi) -> String {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let mut by_tag: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in methods {
            let Some(op) = op else { continue };
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_else(|| "other".into());
            let statuses: Vec<&str> = op.responses.responses.keys().map(String::as_str).collect();
            let auth = match op.security.as_ref().map(|s| s.len()) {
                Some(1) => " <span class=\"auth\">token</span>",
                Some(_) => " <span class=\"auth opt\">token optional</span>",
                None => "",
            };
            by_tag.entry(tag).or_default().push(format!(
                "<li><code class=\"m\">{method}</code> <code>{}</code>{auth}<br>{}<br><small>answers: {}</small></li>",
                esc(path),
                esc(op.summary.as_deref().unwrap_or("")),
                statuses.join(", "),
            ));
        }
    }
    let description = doc.info.description.as_deref().unwrap_or("");
    let mut body = format!(
        "<h1>{} {}</h1><p>{}</p><p>Machine-readable: <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI {}).</p>",
        esc(&doc.info.title),
        esc(&doc.info.version),
        esc(description),
        serde_json::to_value(&doc.openapi).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
    );
    for (tag, items) in by_tag {
        body.push_str(&format!("<h2>{}</h2><ul>{}</ul>", esc(&tag), items.concat()));
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>starling API</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}\
         li{{margin:.6em 0}}.m{{font-weight:bold}}.auth{{font-size:.8em;background:#eee;padding:0 .3em}}</style>\
         </head><body>{body}</body></html>"
    )
}
