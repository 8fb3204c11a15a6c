//! `Params<T>`: request parameters the way Mastodon (Rails) reads them. The body may be
//! JSON, form-urlencoded or multipart (file parts are skipped); query parameters are
//! merged underneath, so the body wins. Rails-style keys build arrays and objects
//! (`id[]=1`, `key[0]=a`, `fields_attributes[0][name]=x`). An empty body is fine (masto.js
//! sends follow and favourite with none). Form values are strings, so fields that are
//! booleans or numbers use the lenient deserializers in [`de`].
//!
//! Errors: a body over `server.max_body_bytes` → 413; an unknown content type → 415;
//! malformed JSON or invalid UTF-8 → 400; parameters of the wrong type → 422.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;

pub struct Params<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let limit =
                req.app_data::<web::Data<AppState>>().map(|s| s.settings.server.max_body_bytes).unwrap_or(1 << 20);
            let value = read_params(&req, payload, limit).await?;
            serde_json::from_value(value)
                .map(Params)
                .map_err(|e| ApiError::Unprocessable(format!("Validation failed: {e}")))
        })
    }
}

/// Reads query and body parameters into one JSON object.
pub async fn read_params(req: &HttpRequest, payload: Payload, limit: usize) -> Result<Value, ApiError> {
    let mut map = Map::new();
    for (k, v) in parse_urlencoded(req.query_string().as_bytes())? {
        insert_param(&mut map, &k, Value::String(v));
    }
    let body = read_body(req, payload, limit).await?;
    if !body.is_empty() {
        let mime = req.mime_type().map_err(|_| ApiError::UnsupportedMediaType("Invalid Content-Type header".into()))?;
        let kind = mime.as_ref().map(|m| (m.type_().as_str(), m.subtype().as_str()));
        if is_json(mime.as_ref()) {
            let parsed: Value =
                serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
            match parsed {
                Value::Object(obj) => map.extend(obj),
                _ => return Err(ApiError::BadRequest("The JSON body must be an object".into())),
            }
        } else if matches!(kind, None | Some(("application", "x-www-form-urlencoded"))) {
            for (k, v) in parse_urlencoded(&body)? {
                insert_param(&mut map, &k, Value::String(v));
            }
        } else if kind == Some(("multipart", "form-data")) {
            for (k, v) in parse_multipart(req, body).await? {
                insert_param(&mut map, &k, Value::String(v));
            }
        } else {
            return Err(ApiError::UnsupportedMediaType(
                "Unsupported Content-Type; send application/json, application/x-www-form-urlencoded or multipart/form-data".into(),
            ));
        }
    }
    Ok(Value::Object(collapse_arrays(map)))
}

fn is_json(mime: Option<&mime::Mime>) -> bool {
    mime.is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
}

async fn read_body(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let too_large = || ApiError::PayloadTooLarge(format!("The request body is larger than {limit} bytes"));
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("Could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Decodes `a=1&b=x+y`, rejecting invalid UTF-8 instead of replacing it.
fn parse_urlencoded(input: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |raw: &[u8]| -> Result<String, ApiError> {
        let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
        String::from_utf8(bytes).map_err(|_| ApiError::BadRequest("Parameters must be valid UTF-8".into()))
    };
    input
        .split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut kv = part.splitn(2, |&b| b == b'=');
            let key = decode(kv.next().unwrap_or_default())?;
            let value = decode(kv.next().unwrap_or_default())?;
            Ok((key, value))
        })
        .collect()
}

async fn parse_multipart(req: &HttpRequest, body: web::Bytes) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |e: String| ApiError::BadRequest(format!("Malformed multipart body: {e}"));
    // actix-multipart 0.7 slices the lines before the first boundary assuming the boundary
    // has at least 4 characters, and panics on short lines otherwise. RFC 2046 allows 1 to
    // 70; clients send long random ones.
    let boundary = req.mime_type().ok().flatten().and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().len()));
    if boundary.is_some_and(|len| len < 4) {
        return Err(bad("the boundary must have at least 4 characters".into()));
    }
    let stream = futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut multipart = actix_multipart::Multipart::new(req.headers(), stream);
    let mut out = Vec::new();
    while let Some(field) = next_in_memory(&mut multipart).await? {
        let mut field = field.map_err(|e| bad(e.to_string()))?;
        let Some(name) = field.content_disposition().and_then(|cd| cd.get_name()).map(str::to_owned) else {
            continue;
        };
        let is_file = field.content_disposition().and_then(|cd| cd.get_filename()).is_some();
        let mut data = Vec::new();
        while let Some(chunk) = next_in_memory(&mut field).await? {
            data.extend_from_slice(&chunk.map_err(|e| bad(e.to_string()))?);
        }
        // File uploads (avatars, media) are not supported yet; their parts are ignored.
        if is_file {
            continue;
        }
        let text =
            String::from_utf8(data).map_err(|_| ApiError::BadRequest("Parameters must be valid UTF-8".into()))?;
        out.push((name, text));
    }
    Ok(out)
}

/// The next item of a multipart stream over a body that is already all in memory. Not
/// ready then means it waits for input that will never come: actix-multipart does that
/// (forever, without a wake-up) on a body that ends inside a part, for example with a
/// trailing CRLF and no closing boundary. That is an incomplete body, a 400.
async fn next_in_memory<S: futures_util::Stream + Unpin>(stream: &mut S) -> Result<Option<S::Item>, ApiError> {
    futures_util::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
        std::task::Poll::Ready(item) => std::task::Poll::Ready(Ok(item)),
        std::task::Poll::Pending => std::task::Poll::Ready(Err(ApiError::BadRequest(
            "Malformed multipart body: it ends inside a part (no closing boundary)".into(),
        ))),
    })
    .await
}

/// Inserts `key=value` where `key` may be `a`, `a[]`, `a[0]` or `a[b][c]`. Bracketed
/// segments become nested objects; `[]` appends with the next free index; objects whose
/// keys are all indexes become arrays in [`collapse_arrays`].
fn insert_param(map: &mut Map<String, Value>, key: &str, value: Value) {
    let (base, rest) = match key.find('[') {
        Some(i) if key.ends_with(']') && i > 0 => (&key[..i], &key[i..]),
        _ => {
            map.insert(key.to_owned(), value);
            return;
        }
    };
    let segments: Vec<&str> = rest.trim_start_matches('[').trim_end_matches(']').split("][").collect();
    let mut slot = map.entry(base.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    for (i, seg) in segments.iter().enumerate() {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(obj) = slot else { return };
        let name = if seg.is_empty() { format!("{:08}", obj.len()) } else { (*seg).to_owned() };
        if i + 1 == segments.len() {
            obj.insert(name, value);
            return;
        }
        slot = obj.entry(name).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn collapse_arrays(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().map(|(k, v)| (k, collapse(v))).collect()
}

fn collapse(value: Value) -> Value {
    match value {
        Value::Object(obj) if !obj.is_empty() && obj.keys().all(|k| k.bytes().all(|b| b.is_ascii_digit())) => {
            let mut items: Vec<(u64, Value)> =
                obj.into_iter().map(|(k, v)| (k.parse().unwrap_or(u64::MAX), collapse(v))).collect();
            items.sort_by_key(|(i, _)| *i);
            Value::Array(items.into_iter().map(|(_, v)| v).collect())
        }
        Value::Object(obj) => Value::Object(collapse_arrays(obj)),
        other => other,
    }
}

/// Lenient deserializers for parameters that arrive as strings from forms.
/// An id given in a body or query field: anything but a decimal number names nothing.
pub fn id_param(raw: &str) -> Result<crate::domain::Id, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::NotFound)
}

pub mod de {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    fn to_bool(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" | "t" => Some(true),
                "false" | "0" | "off" | "no" | "f" | "" => Some(false),
                _ => None,
            },
            Value::Null => Some(false),
            _ => None,
        }
    }

    /// `true/false/1/0/on/off` as a boolean.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        to_bool(&v).ok_or_else(|| D::Error::custom(format!("expected a boolean, got {v}")))
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        to_bool(&v).map(Some).ok_or_else(|| D::Error::custom(format!("expected a boolean, got {v}")))
    }

    /// A string, also accepting a number (ids sent as JSON numbers) or null.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            other => Err(D::Error::custom(format!("expected a string, got {other}"))),
        }
    }

    /// A list given as an array, one string, or a string with one item per line.
    pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(vec![]),
            Value::String(s) => {
                Ok(s.split(['\n', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            }
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(D::Error::custom(format!("expected a string, got {other}"))),
                })
                .collect(),
            other => Err(D::Error::custom(format!("expected a list, got {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(input: &str) -> Value {
        let mut map = Map::new();
        for (k, v) in parse_urlencoded(input.as_bytes()).unwrap() {
            insert_param(&mut map, &k, Value::String(v));
        }
        Value::Object(collapse_arrays(map))
    }

    #[test]
    fn rails_style_keys() {
        assert_eq!(form("a=1&b=x+y%21"), json!({"a": "1", "b": "x y!"}));
        assert_eq!(form("id[]=1&id[]=2"), json!({"id": ["1", "2"]}));
        assert_eq!(form("k[1]=b&k[0]=a"), json!({"k": ["a", "b"]}));
        assert_eq!(
            form("f[0][name]=n&f[0][value]=v&f[1][name]=m"),
            json!({"f": [{"name": "n", "value": "v"}, {"name": "m"}]})
        );
        assert_eq!(form("source[privacy]=public"), json!({"source": {"privacy": "public"}}));
        assert_eq!(form("[x]=1"), json!({"[x]": "1"}));
    }

    #[tokio::test]
    async fn multipart_ending_inside_a_part_is_a_bad_request_not_a_hang() {
        let read = |body: &'static str| {
            let (req, payload) = actix_web::test::TestRequest::post()
                .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=bound"))
                .set_payload(body)
                .to_http_parts();
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(5), read_params(&req, payload, 1 << 20))
                    .await
                    .expect("multipart parsing hung")
            }
        };
        let whole = read("--bound\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--bound--\r\n").await;
        assert_eq!(whole.unwrap(), json!({"a": "x"}));
        // Found by fuzzing: actix-multipart waits forever (no wake-up) for the rest.
        let cut = read("--bound\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n").await;
        assert!(matches!(cut, Err(ApiError::BadRequest(_))), "{cut:?}");
    }

    #[tokio::test]
    async fn short_multipart_boundaries_are_a_bad_request_not_a_panic() {
        // Found by fuzzing: actix-multipart 0.7 panics slicing these lines before the first
        // boundary when the boundary is shorter than 4 characters.
        for (boundary, body) in [("X", "\n"), ("abc", "--\n"), ("ab", "--\n--ab--\r\n")] {
            let (req, payload) = actix_web::test::TestRequest::post()
                .insert_header((header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")))
                .set_payload(body)
                .to_http_parts();
            let result = read_params(&req, payload, 1 << 20).await;
            assert!(matches!(result, Err(ApiError::BadRequest(_))), "{boundary:?}: {result:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert!(parse_urlencoded(b"a=%ff%fe").is_err());
        assert!(parse_urlencoded(b"a=\xff").is_err());
    }
}
