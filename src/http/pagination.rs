//! Mastodon paging: `max_id`, `since_id`, `min_id` and `limit` (default 20, at most 40,
//! clamped) in; an absolute-URL `Link` header out, `rel="next"` carrying `max_id` (older)
//! and `rel="prev"` carrying `min_id` (newer).

use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::params::de;
use crate::domain::Id;
use crate::storage::PageQuery;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 40;

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Only results older than this id (one that is not a numeric id matches nothing).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub max_id: Option<String>,
    /// Only results newer than this id, the newest first.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub since_id: Option<String>,
    /// Only results newer than this id, the ones just after it.
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = String)]
    pub min_id: Option<String>,
    /// How many results, at most 40 (larger values are clamped; non-numeric ones ignored).
    #[serde(default, deserialize_with = "de::opt_string")]
    #[param(value_type = i64, default = 20)]
    pub limit: Option<String>,
}

/// A cursor: `Ok(None)` when absent or blank, `Err(())` when not a numeric id.
fn cursor(raw: &Option<String>) -> Result<Option<Id>, ()> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<Id>().map(Some).map_err(|_| ()),
    }
}

impl PageParams {
    /// The page asked for, with `limit` clamped to 1..=40 (non-numeric: the default);
    /// `None` when a cursor is not a numeric id. No stored id compares with such a
    /// cursor, so the page is empty ([`empty_page`]), as on Mastodon, where ids are
    /// strings to clients.
    pub fn query(&self) -> Option<PageQuery> {
        self.query_with(DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// [`PageParams::query`] with another default and maximum `limit`.
    pub fn query_with(&self, default: usize, max: usize) -> Option<PageQuery> {
        let limit = match self.limit.as_deref().map(str::trim).map(str::parse::<i64>) {
            Some(Ok(n)) if n > 0 => (n as u64).min(max as u64) as usize,
            Some(Ok(_)) => 1,
            _ => default,
        };
        Some(PageQuery {
            max_id: cursor(&self.max_id).ok()?,
            since_id: cursor(&self.since_id).ok()?,
            min_id: cursor(&self.min_id).ok()?,
            limit,
        })
    }
}

/// The answer for a page that holds nothing: a 200 with `[]` and no `Link`.
pub fn empty_page() -> HttpResponse {
    HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body("[]")
}

/// The `Link` header for a page of `ids` (newest first), or `None` for an empty page.
pub fn link_header(req: &HttpRequest, state: &AppState, ids: &[Id]) -> Option<String> {
    let (first, last) = (ids.first()?, ids.last()?);
    let base = format!("{}{}", state.base_url(req), req.path());
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| !matches!(k.as_ref(), "max_id" | "min_id" | "since_id"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let url_with = |key: &str, id: Id| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        query.append_pair(key, &id.to_string());
        format!("{base}?{}", query.finish())
    };
    Some(format!("<{}>; rel=\"next\", <{}>; rel=\"prev\"", url_with("max_id", *last), url_with("min_id", *first)))
}

/// A 200 with the JSON list `body` and, when `ids` is not empty, its `Link` header.
pub fn paged(req: &HttpRequest, state: &AppState, ids: &[Id], body: impl serde::Serialize) -> HttpResponse {
    paged_response(req, state, ids).json(body)
}

/// [`paged`] with a body that is already JSON text.
pub fn paged_json(req: &HttpRequest, state: &AppState, ids: &[Id], json: String) -> HttpResponse {
    paged_response(req, state, ids).content_type(actix_web::http::header::ContentType::json()).body(json)
}

fn paged_response(req: &HttpRequest, state: &AppState, ids: &[Id]) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    if let Some(link) = link_header(req, state, ids) {
        response.insert_header(("Link", link));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(limit: Option<&str>) -> PageQuery {
        PageParams { limit: limit.map(str::to_owned), ..Default::default() }.query().unwrap()
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(q(None).limit, 20);
        assert_eq!(q(Some("5")).limit, 5);
        assert_eq!(q(Some("1000000000")).limit, 40);
        assert_eq!(q(Some("-1")).limit, 1);
        assert_eq!(q(Some("0")).limit, 1);
        assert_eq!(q(Some("x")).limit, 20);
    }

    #[test]
    fn non_numeric_cursors_match_nothing() {
        for field in ["max_id", "since_id", "min_id"] {
            let raw = Some("abc".to_owned());
            let p = match field {
                "max_id" => PageParams { max_id: raw, ..Default::default() },
                "since_id" => PageParams { since_id: raw, ..Default::default() },
                _ => PageParams { min_id: raw, ..Default::default() },
            };
            assert!(p.query().is_none(), "{field}");
        }
        let blank = PageParams { max_id: Some(" ".into()), min_id: Some("12".into()), ..Default::default() };
        let q = blank.query().unwrap();
        assert_eq!((q.max_id, q.min_id), (None, Some(Id(12))));
    }
}
