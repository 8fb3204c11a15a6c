//! The OpenAPI document at `/api/openapi.json`: it parses, it is OpenAPI 3.1, and it
//! describes exactly the routes the server registers. The routes are read from the
//! source (every `.route("…", web::<method>())` in `src/http/*.rs`), so a route added
//! without its `#[utoipa::path]` (and its entry in `openapi.rs`) fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every (method, OpenAPI path) registered in `src/http/*.rs`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            sources.insert(path.display().to_string(), std::fs::read_to_string(&path).unwrap());
        }
    }
    // Paths given as constants (`DEFAULT_AVATAR_PATH`, some defined by the view layer).
    let constant = Regex::new(r#"const ([A-Z_]+): &str = "([^"]+)";"#).unwrap();
    let view = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/view/account.rs")).unwrap();
    let constants: BTreeMap<String, String> = sources
        .values()
        .chain(std::iter::once(&view))
        .flat_map(|s| constant.captures_iter(s).map(|c| (c[1].to_owned(), c[2].to_owned())).collect::<Vec<_>>())
        .collect();
    let route = Regex::new(r#"\.route\(\s*("([^"]+)"|([A-Z_]+))\s*,\s*web::(get|post|put|patch|delete)\(\)"#).unwrap();
    let param = Regex::new(r"\{([a-z_]+)(:[^}]*)?\}").unwrap();
    let mut routes = BTreeSet::new();
    for (file, source) in &sources {
        // Any other way of registering a route would slip past this test.
        assert!(!source.contains("web::resource(") && !source.contains("web::scope("), "{file}: unparsed routes");
        let calls = source.matches(".route(").count();
        let parsed: Vec<_> = route.captures_iter(source).collect();
        assert_eq!(parsed.len(), calls, "{file}: a `.route(` this test cannot read");
        for c in parsed {
            let path = match (c.get(2), c.get(3)) {
                (Some(literal), _) => literal.as_str().to_owned(),
                (_, Some(name)) => constants.get(name.as_str()).unwrap_or_else(|| panic!("{file}: {}", &c[1])).clone(),
                _ => unreachable!(),
            };
            let method = c[4].to_owned();
            if path == "/api/v1/streaming/{stream:.*}" {
                // One actix route, one documented path per SSE channel.
                for (channel, _) in starling::http::streaming::SSE_CHANNELS {
                    routes.insert((method.clone(), format!("/api/v1/streaming/{channel}")));
                }
                continue;
            }
            assert!(!path.contains(':'), "{file}: a path pattern this test cannot map: {path}");
            routes.insert((method, param.replace_all(&path, "{$1}").into_owned()));
        }
    }
    routes
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}: unexpected method");
            ops.insert((method.clone(), path.clone()));
        }
    }
    ops
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[actix_web::test]
async fn the_document_describes_every_route_and_nothing_else() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"].to_str().unwrap(), "application/json");
    let doc: Value = serde_json::from_str(&res.text().await.unwrap()).expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "starling");

    let routes = registered_routes();
    assert!(routes.len() > 80, "only {} routes found in src/http: is the pattern still right?", routes.len());
    let documented = documented_operations(&doc);
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:#?}");
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(stale.is_empty(), "documented operations no route serves: {stale:#?}");

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref to a missing schema: {r}");
    }
    let mut operation_ids = BTreeSet::new();
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2') || s == "101"), "{method} {path}: no success answer");
        if starling::http::rate_limit::counted(path) {
            assert!(responses.contains_key("429"), "{method} {path}: rate limited, yet no 429");
        }
        let mut parameters = BTreeSet::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            assert!(parameters.insert((p["in"].to_string(), p["name"].to_string())), "{method} {path}: {p} twice");
        }
        if path.contains('{') {
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(['{', '}']);
                assert!(
                    op["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == name && p["in"] == "path"),
                    "{method} {path}: path parameter {name} undocumented"
                );
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[actix_web::test]
async fn the_docs_page_lists_the_operations_without_outside_assets() {
    let app = spawn_app().await;
    let res = app.get("/api/docs", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = res.text().await.unwrap();
    for expected in ["/api/v1/statuses/{id}/context", "/api/v1/timelines/home", "/api/openapi.json", "OpenAPI 3.1"] {
        assert!(page.contains(expected), "the docs page lacks {expected}");
    }
    for outside in ["<script", "<link", "<img", "src=", "url(", "@import"] {
        assert!(!page.contains(outside), "the docs page refers to something outside it: {outside}");
    }
}

/// The `X-RateLimit-*` headers the rate limiter adds are in the document, on every
/// answer of every route it counts (429 included) and on no other.
#[actix_web::test]
async fn the_document_describes_the_rate_limit_headers() {
    const HEADERS: [&str; 3] = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"];
    let app = spawn_with(|s| s.rate_limits.enabled = true).await;
    let doc: Value = serde_json::from_str(&app.get("/api/openapi.json", None).await.text().await.unwrap()).unwrap();
    let (mut counted, mut other) = (0, 0);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let headers = &response["headers"];
                if starling::http::rate_limit::counted(path) {
                    counted += 1;
                    for name in HEADERS {
                        let header = &headers[name];
                        assert!(header.is_object(), "{method} {path} {status}: no {name}");
                        assert!(header["description"].is_string(), "{method} {path} {status}: {name}");
                    }
                    assert_eq!(headers["X-RateLimit-Limit"]["schema"]["type"], "integer");
                    assert_eq!(headers["X-RateLimit-Remaining"]["schema"]["type"], "integer");
                    assert_eq!(headers["X-RateLimit-Reset"]["schema"]["format"], "date-time");
                } else {
                    other += 1;
                    for name in HEADERS {
                        assert!(headers.get(name).is_none(), "{method} {path} {status}: {name} on an uncounted route");
                    }
                }
            }
        }
    }
    assert!(counted > 200 && other > 5, "{counted} counted answers, {other} others");
    // What the server sends matches.
    let res = app.get("/api/v1/instance", None).await;
    for name in HEADERS {
        assert!(res.headers().contains_key(name), "GET /api/v1/instance has no {name}");
    }
    let reset = res.headers()["x-ratelimit-reset"].to_str().unwrap().to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(&reset).is_ok(), "{reset}");
    assert!(app.get("/health", None).await.headers().get("x-ratelimit-limit").is_none());
}
