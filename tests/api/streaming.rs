//! Streaming (docs/streaming.md): WebSocket and SSE against the real server. Clients are
//! tokio-tungstenite (WebSocket) and reqwest with a small SSE parser. No fixed sleeps:
//! every wait for a frame is bounded, and "X does not arrive" is checked by publishing a
//! later marker and asserting X did not come before it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use reqwest::Client;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::*;

/// Upper bound for any single wait; tests normally get what they wait for in
/// milliseconds.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// WebSocket client
// ---------------------------------------------------------------------------------------

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/api/v1/streaming{query}", app.base.replacen("http://", "ws://", 1))
}

/// A handshake request for `/api/v1/streaming{query}`, with `Authorization: Bearer` if
/// a token is given.
fn ws_request(app: &TestApp, query: &str, bearer: Option<&str>) -> Request {
    let mut req = ws_url(app, query).into_client_request().unwrap();
    if let Some(t) = bearer {
        req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
    }
    req
}

/// Connects; the raw result, so refusals before the upgrade can be inspected.
async fn ws_try(req: Request) -> Result<(Ws, Response), WsError> {
    let (inner, res) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("websocket handshake timed out")?;
    Ok((Ws { inner, pending: VecDeque::new() }, res))
}

async fn ws_connect(app: &TestApp, token: &str) -> Ws {
    ws_try(ws_request(app, "", Some(token))).await.unwrap().0
}

/// Alice, and Bob who follows her with his `user` stream open: (alice, bob, bob's socket).
async fn follower_on_user_stream(app: &TestApp) -> (String, String, Ws) {
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let mut ws = ws_connect(app, &bob).await;
    ws.subscribe(json!({"type": "subscribe", "stream": "user"})).await;
    (alice, bob, ws)
}

/// The HTTP answer of a refused upgrade: (status, JSON body).
async fn ws_refused(req: Request) -> (u16, Value) {
    match ws_try(req).await {
        Ok((_, res)) => panic!("upgrade accepted ({}), expected a refusal", res.status()),
        Err(WsError::Http(res)) => {
            let status = res.status().as_u16();
            let body = res.body().clone().unwrap_or_default();
            let text = String::from_utf8_lossy(&body).into_owned();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body not JSON ({e}): {text}"));
            (status, json)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    }
}

struct Ws {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while waiting for something else (see [`Ws::sync`]).
    pending: VecDeque<Value>,
}

/// How a connection ended.
#[derive(Debug, PartialEq)]
enum End {
    /// A close frame with this code.
    Close(u16),
    /// A close frame without a code, EOF or a reset.
    Gone,
}

impl Ws {
    async fn send(&mut self, message: Value) {
        self.inner.send(Message::text(message.to_string())).await.unwrap();
    }

    /// Sends a message and waits until the server has handled it (see [`Ws::sync`]).
    async fn subscribe(&mut self, message: Value) {
        self.send(message).await;
        self.sync().await;
    }

    /// Barrier: the server handles a socket's messages in order, and a bad message is
    /// answered with an error frame; once that frame is back, everything sent before it
    /// has been handled. Event frames read meanwhile are kept for [`Ws::next`].
    async fn sync(&mut self) {
        self.send(json!({"type": "subscribe", "stream": "no-such-stream-barrier"})).await;
        loop {
            let frame = self.read().await;
            if frame.get("error").is_some() {
                assert_eq!(frame["status"], 400, "{frame}");
                return;
            }
            self.pending.push_back(frame);
        }
    }

    /// The next JSON text frame from the socket (pings and pongs skipped).
    async fn read(&mut self) -> Value {
        let next = tokio::time::timeout(WAIT, async {
            loop {
                match self.inner.next().await {
                    Some(Ok(Message::Text(t))) => {
                        return serde_json::from_str::<Value>(t.as_str())
                            .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {t}"));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(other)) => panic!("unexpected message: {other:?}"),
                    Some(Err(e)) => panic!("websocket error: {e}"),
                    None => panic!("websocket closed"),
                }
            }
        });
        next.await.expect("no frame within the time limit")
    }

    /// The next frame (event or error).
    async fn next(&mut self) -> Value {
        match self.pending.pop_front() {
            Some(f) => f,
            None => self.read().await,
        }
    }

    /// The next frame, asserted to be an event.
    async fn event(&mut self) -> Value {
        let f = self.next().await;
        assert!(f.get("event").is_some() && f.get("error").is_none(), "not an event: {f}");
        f
    }

    /// Reads frames until `done` holds for the ones read so far; returns them all.
    async fn collect_until(&mut self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut frames = Vec::new();
        while !done(&frames) {
            frames.push(self.next().await);
        }
        frames
    }

    /// Waits (bounded) for the connection to end, skipping any frames before it.
    async fn ended(&mut self, limit: Duration) -> End {
        let wait = tokio::time::timeout(limit, async {
            loop {
                match self.inner.next().await {
                    Some(Ok(Message::Close(Some(c)))) => return End::Close(c.code.into()),
                    Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return End::Gone,
                    Some(Ok(_)) => {}
                }
            }
        });
        wait.await.expect("the connection was not closed within the time limit")
    }
}

// ---------------------------------------------------------------------------------------
// SSE client
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct SseEvent {
    event: String,
    data: String,
    id: Option<String>,
    /// Comment lines (`:thump`) of the block, without the colon.
    comments: Vec<String>,
}

impl SseEvent {
    fn is_comment_only(&self) -> bool {
        self.event.is_empty() && self.data.is_empty() && self.id.is_none()
    }
}

struct Sse {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>>>>,
    buf: Vec<u8>,
}

/// Opens an SSE stream; asserts 200 and `text/event-stream`. SSE has no barrier like
/// [`Ws::sync`]: the session subscribes when it starts on the server's worker, which
/// happens before that worker handles the test's next request.
async fn sse_open(app: &TestApp, path: &str, token: &str, last_event_id: Option<&str>) -> Sse {
    let res = sse_request(app, path, token, last_event_id).await;
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    if status != 200 {
        panic!("{path}: {status} {}", res.text().await.unwrap_or_default());
    }
    assert!(ctype.starts_with("text/event-stream"), "{path}: content-type {ctype}");
    Sse { body: Box::pin(res.bytes_stream()), buf: Vec::new() }
}

async fn sse_request(app: &TestApp, path: &str, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    tokio::time::timeout(WAIT, req.send()).await.expect("SSE response timed out").unwrap()
}

impl Sse {
    /// The next block (event or comments only), bounded.
    async fn next_block(&mut self) -> SseEvent {
        let wait = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(block) = self.take_block() {
                    return block;
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buf.extend(chunk.iter().filter(|b| **b != b'\r')),
                    Some(Err(e)) => panic!("SSE body error: {e}"),
                    None => panic!("SSE stream ended"),
                }
            }
        });
        wait.await.expect("no SSE event within the time limit")
    }

    /// The next event, comments skipped.
    async fn next(&mut self) -> SseEvent {
        loop {
            let block = self.next_block().await;
            if !block.is_comment_only() {
                return block;
            }
        }
    }

    fn take_block(&mut self) -> Option<SseEvent> {
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let block: Vec<u8> = self.buf.drain(..end + 2).collect();
        let text = String::from_utf8(block).expect("SSE is UTF-8");
        let mut ev = SseEvent::default();
        let mut data: Vec<&str> = Vec::new();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            if let Some(comment) = line.strip_prefix(':') {
                ev.comments.push(comment.to_owned());
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => ev.event = value.to_owned(),
                "data" => data.push(value),
                "id" => ev.id = Some(value.to_owned()),
                _ => {}
            }
        }
        ev.data = data.join("\n");
        if ev.event.is_empty() && !ev.data.is_empty() {
            ev.event = "message".into();
        }
        Some(ev)
    }
}

// ---------------------------------------------------------------------------------------
// Frames and the REST calls the tests make
// ---------------------------------------------------------------------------------------

/// The `payload` of a WebSocket event, parsed (a JSON string holding an entity, or a bare
/// id for `delete`).
fn payload(frame: &Value) -> Value {
    let raw = frame["payload"].as_str().unwrap_or_else(|| panic!("payload is not a string: {frame}"));
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// Whether an event is about status `sid`: an update / status.update of it, its delete,
/// a notification on it or a conversation whose last status it is.
fn refers_to(frame: &Value, sid: &str) -> bool {
    if frame.get("payload").is_none() {
        return false;
    }
    let p = payload(frame);
    p == Value::String(sid.to_owned())
        || p["id"] == sid && p.get("content").is_some()
        || p["status"]["id"] == sid
        || p["last_status"]["id"] == sid
}

fn stream_of(frame: &Value) -> &str {
    frame["stream"][0].as_str().unwrap_or("")
}

fn event_id(frame: &Value) -> u64 {
    let id = frame["id"].as_str().unwrap_or_else(|| panic!("no string id: {frame}"));
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "id not decimal: {frame}");
    id.parse().unwrap()
}

fn sid(status: &Value) -> String {
    status["id"].as_str().unwrap().to_owned()
}

async fn post_with(app: &TestApp, token: &str, body: Value) -> String {
    sid(&app.post_status(token, body).await)
}

async fn delete_status(app: &TestApp, token: &str, id: &str) {
    ok_json(app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(token).send().await.unwrap())
        .await;
}

async fn edit_status(app: &TestApp, token: &str, id: &str, text: &str) {
    ok_json(
        app.client
            .put(app.url(&format!("/api/v1/statuses/{id}")))
            .bearer_auth(token)
            .json(&json!({ "status": text }))
            .send()
            .await
            .unwrap(),
    )
    .await;
}

async fn account_action(app: &TestApp, token: &str, account: &str, action: &str) {
    ok_json(app.post_json(&format!("/api/v1/accounts/{account}/{action}"), Some(token), &json!({})).await).await;
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn ws_user_stream_carries_updates_notifications_edits_and_deletes() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let mut ws = ws_connect(&app, &bob).await;
    ws.subscribe(json!({"type": "subscribe", "stream": "user"})).await;

    let posted = app.say(&alice, "hello streams").await;
    let update = ws.event().await;
    assert_eq!(update["event"], "update", "{update}");
    assert_eq!(update["stream"], json!(["user"]));
    let p = payload(&update);
    assert_eq!(p["id"], posted.as_str());
    assert_eq!(p["account"]["id"], alice_id);
    assert!(p["content"].as_str().unwrap().contains("hello streams"), "{p}");
    let mut last = event_id(&update);

    // A follow: a notification.
    account_action(&app, &alice, &bob_id, "follow").await;
    let n = ws.event().await;
    assert_eq!((n["event"].as_str(), stream_of(&n)), (Some("notification"), "user"), "{n}");
    let np = payload(&n);
    assert_eq!((np["type"].as_str(), np["account"]["id"].as_str()), (Some("follow"), Some(alice_id.as_str())));
    assert!(event_id(&n) > last);
    last = event_id(&n);

    // A mention from someone bob follows: the status in home and a mention notification,
    // in either order.
    let mention = app.say(&alice, "@bob are you there?").await;
    let frames = ws.collect_until(|f| f.len() == 2).await;
    let mut kinds: Vec<&str> = frames.iter().map(|f| f["event"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["notification", "update"], "{frames:?}");
    for f in &frames {
        assert!(refers_to(f, &mention), "{f}");
        let id = event_id(f);
        assert!(id > last, "event ids must grow: {frames:?}");
        last = id;
    }
    let note = frames.iter().find(|f| f["event"] == "notification").unwrap();
    assert_eq!(payload(note)["type"], "mention");

    // An edit: status.update with the new text.
    edit_status(&app, &alice, &posted, "hello streams, edited").await;
    let edit = ws.event().await;
    assert_eq!(edit["event"], "status.update", "{edit}");
    assert_eq!(edit["stream"], json!(["user"]));
    let ep = payload(&edit);
    assert_eq!(ep["id"], posted.as_str());
    assert!(ep["content"].as_str().unwrap().contains("edited"), "{ep}");
    assert!(ep["edited_at"].is_string(), "{ep}");
    assert!(event_id(&edit) > last);
    last = event_id(&edit);

    // A delete: the bare id.
    delete_status(&app, &alice, &posted).await;
    let del = ws.event().await;
    assert_eq!(del["event"], "delete", "{del}");
    assert_eq!(del["stream"], json!(["user"]));
    assert_eq!(del["payload"], posted.as_str());
    assert!(event_id(&del) > last);
}

#[actix_web::test]
async fn ws_token_from_the_protocol_header_or_the_query() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;

    // Sec-WebSocket-Protocol: the value is echoed back.
    let mut req = ws_request(&app, "", None);
    req.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_str(&bob).unwrap());
    let (mut by_protocol, res) = ws_try(req).await.unwrap();
    assert_eq!(res.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap()), Some(bob.as_str()));
    by_protocol.subscribe(json!({"type": "subscribe", "stream": "user"})).await;

    // access_token in the query, with the stream subscribed from the URL.
    let (mut by_query, _) = ws_try(ws_request(&app, &format!("?access_token={bob}&stream=user"), None)).await.unwrap();
    by_query.sync().await;

    // Both are bob's: his home timeline's update arrives on each.
    let s = app.say(&alice, "to both sockets").await;
    for ws in [&mut by_protocol, &mut by_query] {
        let f = ws.event().await;
        assert_eq!((f["event"].as_str(), stream_of(&f)), (Some("update"), "user"), "{f}");
        assert_eq!(payload(&f)["id"], s.as_str());
    }
}

#[actix_web::test]
async fn ws_bad_missing_revoked_or_app_tokens_get_401_before_the_upgrade() {
    let app = spawn_app().await;
    let (bob, _) = app.user("bob").await;
    let (status, body) = ws_refused(ws_request(&app, "", None)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let (status, _) = ws_refused(ws_request(&app, "", Some("not-a-token"))).await;
    assert_eq!(status, 401);
    let (status, _) = ws_refused(ws_request(&app, "?access_token=garbage", None)).await;
    assert_eq!(status, 401);
    // A forged token: bob's with one character of its signature changed.
    let mut forged = bob.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (status, _) = ws_refused(ws_request(&app, "", Some(&forged))).await;
    assert_eq!(status, 401);
    // An app-only token (client credentials): no user — 422, as every route for a user.
    let oauth = app.create_app("read").await;
    let app_only = app.app_token(&oauth, "read").await;
    let (status, body) = ws_refused(ws_request(&app, "", Some(&app_only))).await;
    assert_eq!(status, 422, "{body}");
    let res = app.client.get(app.url("/api/v1/timelines/home")).bearer_auth(&app_only).send().await.unwrap();
    assert_eq!(res.status(), 422, "the REST answer for the same token");
    // A revoked session's token.
    let login = app.login("bob").await;
    let revoked = login["access_token"].as_str().unwrap();
    ok_json(app.post_json("/api/v1/auth/logout", Some(revoked), &json!({})).await).await;
    let (status, _) = ws_refused(ws_request(&app, "", Some(revoked))).await;
    assert_eq!(status, 401);
    // The same over SSE.
    let res = sse_request(&app, "/api/v1/streaming/user", "garbage", None).await;
    json_with(res, 401).await;
    let res = app.client.get(app.url("/api/v1/streaming/public")).send().await.unwrap();
    json_with(res, 401).await;
    // And bob's real token works.
    ws_connect(&app, &bob).await.sync().await;
}

#[actix_web::test]
async fn ws_bad_messages_get_error_frames_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let mut ws = ws_connect(&app, &bob).await;
    let bad = [
        "this is not json".to_owned(),
        "{\"type\":".to_owned(),
        json!({"type": "subscribe", "stream": "nope"}).to_string(),
        json!({"type": "subscribe", "stream": "hashtag"}).to_string(),
        json!({"type": "subscribe", "stream": "thread"}).to_string(),
        json!({"type": "dance", "stream": "user"}).to_string(),
    ];
    for message in &bad {
        ws.inner.send(Message::text(message.clone())).await.unwrap();
        let f = ws.next().await;
        assert!(f["error"].is_string(), "{message}: {f}");
        assert_eq!(f["status"], 400, "{message}: {f}");
        assert!(f.get("event").is_none(), "{f}");
    }
    // Still open and working.
    ws.subscribe(json!({"type": "subscribe", "stream": "user"})).await;
    let s = app.say(&alice, "still there").await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), payload(&f)["id"].as_str()), (Some("update"), Some(s.as_str())));
}

#[actix_web::test]
async fn ws_oversized_frames_close_with_1009() {
    let app = spawn_app().await;
    let (bob, _) = app.user("bob").await;
    let mut ws = ws_connect(&app, &bob).await;
    ws.sync().await;
    let big = format!("{{\"type\":\"subscribe\",\"stream\":\"{}\"}}", "x".repeat(70 * 1024));
    assert!(big.len() > app.settings.streaming.max_frame_bytes);
    ws.inner.send(Message::text(big)).await.unwrap();
    assert_eq!(ws.ended(WAIT).await, End::Close(1009));
}

#[actix_web::test]
async fn ws_text_that_is_not_utf8_closes_with_1007() {
    let app = spawn_app().await;
    let (bob, _) = app.user("bob").await;
    let mut ws = ws_connect(&app, &bob).await;
    ws.sync().await;
    // A raw text frame whose payload is not UTF-8 (tungstenite sends Frame as is, masked).
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, 0x80, b'}'], OpCode::Data(Data::Text), true);
    ws.inner.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(ws.ended(WAIT).await, End::Close(1007));
}

#[actix_web::test]
async fn ws_message_flood_closes_with_1008() {
    let app = spawn_with(|s| s.streaming.max_messages_per_10s = 5).await;
    let (bob, _) = app.user("bob").await;
    let mut ws = ws_connect(&app, &bob).await;
    for _ in 0..20 {
        if ws.inner.send(Message::text(json!({"type": "subscribe", "stream": "user"}).to_string())).await.is_err() {
            break;
        }
    }
    assert_eq!(ws.ended(WAIT).await, End::Close(1008));
}

#[actix_web::test]
async fn visibility_blocks_and_mutes_apply_on_every_stream() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, _) = app.user("dave").await;
    let (mallory, mallory_id) = app.user("mallory").await;
    let (oscar, oscar_id) = app.user("oscar").await;
    app.follow(&bob, &alice_id).await;
    account_action(&app, &bob, &mallory_id, "block").await;
    account_action(&app, &bob, &oscar_id, "mute").await;

    let mut bob_ws = ws_connect(&app, &bob).await;
    bob_ws.send(json!({"type": "subscribe", "stream": "user"})).await;
    bob_ws.subscribe(json!({"type": "subscribe", "stream": "public"})).await;
    let mut carol_ws = ws_connect(&app, &carol).await;
    carol_ws.send(json!({"type": "subscribe", "stream": "user"})).await;
    carol_ws.send(json!({"type": "subscribe", "stream": "public"})).await;
    carol_ws.subscribe(json!({"type": "subscribe", "stream": "hashtag", "tag": "rust"})).await;
    let mut dave_ws = ws_connect(&app, &dave).await;
    dave_ws.send(json!({"type": "subscribe", "stream": "direct"})).await;
    dave_ws.send(json!({"type": "subscribe", "stream": "public"})).await;
    dave_ws.subscribe(json!({"type": "subscribe", "stream": "hashtag", "tag": "rust"})).await;

    let private = post_with(&app, &alice, json!({"status": "followers only #rust", "visibility": "private"})).await;
    let direct = post_with(&app, &alice, json!({"status": "@dave just us #rust", "visibility": "direct"})).await;
    let unlisted = post_with(&app, &alice, json!({"status": "quiet #rust", "visibility": "unlisted"})).await;
    let blocked = app.say(&mallory, "from a blocked account #rust").await;
    let muted = app.say(&oscar, "from a muted account #rust").await;
    let marker = app.say(&alice, "@carol @dave marker #rust").await;
    let hidden = [private.as_str(), direct.as_str(), unlisted.as_str()];

    let seen_on =
        |frames: &[Value], stream: &str, s: &str| frames.iter().any(|f| stream_of(f) == stream && refers_to(f, s));

    // bob: the private and unlisted posts in home, before the marker; his public stream
    // has neither them nor the blocked and muted accounts' posts.
    let frames = bob_ws.collect_until(|fs| seen_on(fs, "user", &marker) && seen_on(fs, "public", &marker)).await;
    assert!(seen_on(&frames, "user", &private), "{frames:#?}");
    assert!(seen_on(&frames, "user", &unlisted), "{frames:#?}");
    assert!(!seen_on(&frames, "user", &direct), "{frames:#?}");
    let mut not_public = hidden.to_vec();
    not_public.extend([blocked.as_str(), muted.as_str()]);
    for s in not_public {
        assert!(!seen_on(&frames, "public", s), "bob's public stream got {s}: {frames:#?}");
    }
    for f in &frames {
        let p = payload(f);
        assert_ne!(p["account"]["id"], mallory_id, "{f}");
        assert_ne!(p["account"]["id"], oscar_id, "{f}");
    }

    // carol follows no one: nothing of alice's private, direct or unlisted posts anywhere.
    let frames =
        carol_ws.collect_until(|fs| ["user", "public", "hashtag"].iter().all(|st| seen_on(fs, st, &marker))).await;
    for s in hidden {
        assert!(!frames.iter().any(|f| refers_to(f, s)), "carol got {s}: {frames:#?}");
    }
    let on_tag: Vec<&Value> = frames.iter().filter(|f| stream_of(f) == "hashtag").collect();
    assert!(on_tag.iter().all(|f| f["stream"][1] == "rust"), "{on_tag:?}");
    // Public posts of mallory and oscar do reach carol, who neither blocked nor muted them.
    assert!(seen_on(&frames, "public", &blocked) && seen_on(&frames, "public", &muted), "{frames:#?}");

    // dave: the direct post as a conversation; never on public or hashtag.
    let frames = dave_ws
        .collect_until(|fs| {
            seen_on(fs, "direct", &direct) && seen_on(fs, "public", &marker) && seen_on(fs, "hashtag", &marker)
        })
        .await;
    let conv = frames.iter().find(|f| stream_of(f) == "direct").unwrap();
    assert_eq!(conv["event"], "conversation", "{conv}");
    let cp = payload(conv);
    assert_eq!(cp["last_status"]["id"], direct.as_str());
    assert_eq!(cp["last_status"]["visibility"], "direct");
    assert!(cp["accounts"].as_array().unwrap().iter().any(|a| a["id"] == alice_id), "{cp}");
    for st in ["public", "hashtag"] {
        for s in hidden {
            assert!(!seen_on(&frames, st, s), "dave's {st} stream got {s}: {frames:#?}");
        }
    }
}

#[actix_web::test]
async fn public_and_hashtag_streams_over_ws() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (carol, _) = app.user("carol").await;
    let mut ws = ws_connect(&app, &carol).await;
    ws.send(json!({"type": "subscribe", "stream": "public"})).await;
    ws.subscribe(json!({"type": "subscribe", "stream": "hashtag", "tag": "rust"})).await;

    let untagged = app.say(&alice, "no tag here").await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), stream_of(&f)), (Some("update"), "public"), "{f}");
    assert_eq!(payload(&f)["id"], untagged.as_str());

    let tagged = app.say(&alice, "I like #Rust").await;
    let frames = ws.collect_until(|fs| fs.len() == 2).await;
    let mut streams: Vec<&str> = frames.iter().map(stream_of).collect();
    streams.sort();
    assert_eq!(streams, ["hashtag", "public"], "{frames:?}");
    for f in &frames {
        assert_eq!(f["event"], "update");
        assert_eq!(payload(f)["id"], tagged.as_str());
    }
    let tag_frame = frames.iter().find(|f| stream_of(f) == "hashtag").unwrap();
    assert_eq!(tag_frame["stream"][1], "rust");

    // Unsubscribing the hashtag: the next tagged post comes on public only.
    ws.subscribe(json!({"type": "unsubscribe", "stream": "hashtag", "tag": "rust"})).await;
    let again = app.say(&alice, "more #rust").await;
    let marker = app.say(&alice, "marker").await;
    let frames = ws.collect_until(|fs| fs.iter().any(|f| refers_to(f, &marker))).await;
    assert!(frames.iter().all(|f| stream_of(f) == "public"), "{frames:?}");
    assert!(frames.iter().any(|f| refers_to(f, &again)), "{frames:?}");

    // Deletes reach public.
    delete_status(&app, &alice, &untagged).await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), stream_of(&f)), (Some("delete"), "public"), "{f}");
    assert_eq!(f["payload"], untagged.as_str());
}

#[actix_web::test]
async fn public_and_hashtag_streams_over_sse() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (carol, _) = app.user("carol").await;
    let mut public = sse_open(&app, "/api/v1/streaming/public", &carol, None).await;
    let mut tag = sse_open(&app, "/api/v1/streaming/hashtag?tag=rust", &carol, None).await;
    let mut local = sse_open(&app, "/api/v1/streaming/public/local", &carol, None).await;

    let untagged = app.say(&alice, "plain").await;
    let tagged = app.say(&alice, "about #rust").await;
    for (sse, expected) in [(&mut public, &untagged), (&mut local, &untagged), (&mut tag, &tagged)] {
        let ev = sse.next().await;
        assert_eq!(ev.event, "update", "{ev:?}");
        let status: Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(status["id"], expected.as_str(), "{ev:?}");
        assert_eq!(ev.id.as_deref(), Some(expected.as_str()), "public streams resume by status id");
    }
    for sse in [&mut public, &mut local] {
        let ev = sse.next().await;
        let status: Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(status["id"], tagged.as_str());
    }
    // A missing tag is refused before streaming, with a JSON error.
    let res = sse_request(&app, "/api/v1/streaming/hashtag", &carol, None).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!((400..500).contains(&status), "{status}: {text}");
    assert!(serde_json::from_str::<Value>(&text).unwrap()["error"].is_string(), "{text}");
}

#[actix_web::test]
async fn thread_stream_delivers_replies_to_anyone_who_may_see_them() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, _) = app.user("dave").await;
    let root = app.say(&alice, "a thread starts").await;
    let mut ws = ws_connect(&app, &carol).await;
    ws.subscribe(json!({"type": "subscribe", "stream": "thread", "id": root})).await;

    let reply = post_with(&app, &bob, json!({"status": "@alice a reply", "in_reply_to_id": root})).await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), stream_of(&f)), (Some("update"), "thread"), "{f}");
    assert_eq!(payload(&f)["id"], reply.as_str());
    let deeper = post_with(&app, &dave, json!({"status": "@bob a reply to the reply", "in_reply_to_id": reply})).await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), stream_of(&f)), (Some("update"), "thread"), "{f}");
    assert_eq!(payload(&f)["id"], deeper.as_str());
    assert_eq!(payload(&f)["in_reply_to_id"], reply.as_str());

    // A followers-only reply by bob (carol does not follow him) is not hers to see.
    let private =
        post_with(&app, &bob, json!({"status": "@alice psst", "in_reply_to_id": root, "visibility": "private"})).await;
    let marker = post_with(&app, &dave, json!({"status": "@alice marker", "in_reply_to_id": root})).await;
    let frames = ws.collect_until(|fs| fs.iter().any(|f| refers_to(f, &marker))).await;
    assert!(!frames.iter().any(|f| refers_to(f, &private)), "{frames:?}");
    // An unrelated post is not in the thread.
    let _elsewhere = app.say(&alice, "not in the thread").await;

    // A thread whose root carol may not see: an error frame, the socket stays open.
    let secret = post_with(&app, &alice, json!({"status": "followers only", "visibility": "private"})).await;
    ws.send(json!({"type": "subscribe", "stream": "thread", "id": secret})).await;
    let f = ws.next().await;
    assert!(f["error"].is_string(), "{f}");
    let status = f["status"].as_u64().unwrap_or(0);
    assert!((400..500).contains(&status), "{f}");
    let last = post_with(&app, &dave, json!({"status": "@alice still here", "in_reply_to_id": root})).await;
    let f = ws.event().await;
    assert_eq!(payload(&f)["id"], last.as_str(), "the unrelated post must not have come: {f}");
}

#[actix_web::test]
async fn ws_resume_replays_missed_events_exactly_once_in_order() {
    let app = spawn_app().await;
    let (alice, bob, mut ws) = follower_on_user_stream(&app).await;
    app.say(&alice, "before the drop").await;
    let cursor = event_id(&ws.event().await);
    ws.inner.close(None).await.unwrap();
    drop(ws);

    let mut missed = Vec::new();
    for i in 0..50 {
        missed.push(app.say(&alice, &format!("missed {i}")).await);
    }
    let mut ws = ws_connect(&app, &bob).await;
    ws.send(json!({"type": "subscribe", "stream": "user", "since": cursor.to_string()})).await;
    for (i, expected) in missed.iter().enumerate() {
        let f = ws.event().await;
        assert_eq!(f["event"], "update", "{f}");
        assert_eq!(event_id(&f), cursor + 1 + i as u64, "{f}");
        assert_eq!(payload(&f)["id"], expected.as_str(), "replay #{i}");
    }
    let live = app.say(&alice, "live again").await;
    let f = ws.event().await;
    assert_eq!(event_id(&f), cursor + 51, "{f}");
    assert_eq!(payload(&f)["id"], live.as_str());
}

#[actix_web::test]
async fn sse_resume_with_last_event_id() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let mut sse = sse_open(&app, "/api/v1/streaming/user", &bob, None).await;
    app.say(&alice, "before the drop").await;
    let first = sse.next().await;
    assert_eq!(first.event, "update");
    let cursor: u64 = first.id.as_deref().expect("an id line").parse().unwrap();
    drop(sse);

    let mut missed = Vec::new();
    for i in 0..20 {
        missed.push(app.say(&alice, &format!("missed {i}")).await);
    }
    let mut sse = sse_open(&app, "/api/v1/streaming/user", &bob, Some(&cursor.to_string())).await;
    for (i, expected) in missed.iter().enumerate() {
        let ev = sse.next().await;
        assert_eq!(ev.event, "update", "{ev:?}");
        assert_eq!(ev.id, Some((cursor + 1 + i as u64).to_string()), "{ev:?}");
        let status: Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(status["id"], expected.as_str(), "replay #{i}");
    }
    let live = app.say(&alice, "live again").await;
    let ev = sse.next().await;
    assert_eq!(ev.id, Some((cursor + 21).to_string()), "{ev:?}");
    assert_eq!(serde_json::from_str::<Value>(&ev.data).unwrap()["id"], live.as_str());

    // `?since=` works like the header.
    let mut by_query = sse_open(&app, &format!("/api/v1/streaming/user?since={}", cursor + 20), &bob, None).await;
    let ev = by_query.next().await;
    assert_eq!(ev.id, Some((cursor + 21).to_string()), "{ev:?}");
}

/// Asserts a `gap` frame for cursor `since`, and returns its id.
fn assert_gap(gap: &Value, since: u64) -> u64 {
    assert_eq!((gap["event"].as_str(), stream_of(gap)), (Some("gap"), "user"), "{gap}");
    let p = payload(gap);
    assert_eq!(p["since"], since.to_string(), "{gap}");
    assert_eq!(p["resume_from"], gap["id"], "{gap}");
    event_id(gap)
}

#[actix_web::test]
async fn a_stale_cursor_gets_a_gap_then_live_events() {
    let app = spawn_with(|s| {
        s.streaming.retention_events = 5;
        s.streaming.retention_hours = 0;
    })
    .await;
    let (alice, bob, mut ws) = follower_on_user_stream(&app).await;
    app.say(&alice, "the first").await;
    let old = event_id(&ws.event().await);
    ws.inner.close(None).await.unwrap();
    drop(ws);

    for i in 0..20 {
        app.say(&alice, &format!("while away {i}")).await;
    }
    let mut ws = ws_connect(&app, &bob).await;
    ws.send(json!({"type": "subscribe", "stream": "user", "since": old.to_string()})).await;
    // Fan-out to bob's home runs after each post is acknowledged: the newest of the 20
    // may still be on its way, and then follows the gap as a live event.
    let resume_from = assert_gap(&ws.event().await, old);
    assert!(resume_from > old && resume_from <= old + 20, "{resume_from}");
    let live = app.say(&alice, "live after the gap").await;
    let mut next = resume_from + 1;
    loop {
        let f = ws.event().await;
        assert_eq!((f["event"].as_str(), event_id(&f)), (Some("update"), next), "{f}");
        next += 1;
        if refers_to(&f, &live) {
            break;
        }
    }
    assert_eq!(next, old + 22, "20 events while away and the live one");
}

#[actix_web::test]
async fn a_cursor_never_issued_gets_a_gap_then_live_events() {
    let app = spawn_app().await;
    let (alice, bob, mut ws) = follower_on_user_stream(&app).await;
    app.say(&alice, "one").await;
    let newest = event_id(&ws.event().await);

    let mut ws = ws_connect(&app, &bob).await;
    ws.send(json!({"type": "subscribe", "stream": "user", "since": "999999"})).await;
    let resume_from = assert_gap(&ws.event().await, 999_999);
    assert_eq!(resume_from, newest);
    let live = app.say(&alice, "live after the gap").await;
    let f = ws.event().await;
    assert_eq!((f["event"].as_str(), payload(&f)["id"].as_str()), (Some("update"), Some(live.as_str())), "{f}");
    assert_eq!(event_id(&f), resume_from + 1);
    // The same over SSE.
    let mut sse = sse_open(&app, "/api/v1/streaming/user", &bob, Some("999999")).await;
    let ev = sse.next().await;
    assert_eq!((ev.event.as_str(), ev.id), ("gap", Some((newest + 1).to_string())));
    let p: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(p, json!({"since": "999999", "resume_from": (newest + 1).to_string()}));
}

#[actix_web::test]
async fn a_revoked_sessions_socket_is_closed() {
    let app = spawn_app().await;
    let (other, _) = app.user("bob").await;
    let login = app.login("bob").await;
    let token = login["access_token"].as_str().unwrap();
    let session = login["session_id"].as_str().unwrap();
    let mut ws = ws_connect(&app, token).await;
    ws.subscribe(json!({"type": "subscribe", "stream": "user"})).await;
    let mut sse = sse_open(&app, "/api/v1/streaming/user", token, None).await;
    ok_json(
        app.client
            .delete(app.url(&format!("/api/v1/auth/sessions/{session}")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    match ws.ended(Duration::from_secs(5)).await {
        End::Close(code) => assert_eq!(code, 1008),
        End::Gone => {}
    }
    // The SSE stream ends too.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match sse.body.next().await {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    ended.await.expect("the SSE stream of a revoked session was not ended");
    let (status, _) = ws_refused(ws_request(&app, "", Some(token))).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn connections_over_the_per_user_cap_get_429() {
    let app = spawn_with(|s| s.streaming.max_connections_per_user = 2).await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let mut first = ws_connect(&app, &bob).await;
    let mut second = ws_connect(&app, &bob).await;
    first.sync().await;
    second.sync().await;
    let (status, body) = ws_refused(ws_request(&app, "", Some(&bob))).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].is_string(), "{body}");
    // SSE counts against the same cap.
    json_with(sse_request(&app, "/api/v1/streaming/user", &bob, None).await, 429).await;
    // Another user is not affected.
    ws_connect(&app, &carol).await.sync().await;
    // A closed connection frees its place (bounded wait for the server to notice).
    first.inner.close(None).await.unwrap();
    let _ = first.ended(WAIT).await;
    let mut reopened = None;
    for _ in 0..100 {
        match ws_try(ws_request(&app, "", Some(&bob))).await {
            Ok((ws, _)) => {
                reopened = Some(ws);
                break;
            }
            Err(WsError::Http(res)) if res.status().as_u16() == 429 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    reopened.expect("the closed connection's place was not freed").sync().await;
}

#[actix_web::test]
async fn connections_over_the_per_ip_cap_get_429() {
    let app = spawn_with(|s| s.streaming.max_connections_per_ip = 3).await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let mut open = vec![ws_connect(&app, &bob).await, ws_connect(&app, &bob).await, ws_connect(&app, &carol).await];
    for ws in &mut open {
        ws.sync().await;
    }
    let (status, body) = ws_refused(ws_request(&app, "", Some(&carol))).await;
    assert_eq!(status, 429, "{body}");
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_cut_and_others_carry_on() {
    let app = spawn_with(|s| {
        s.streaming.queue_frames = 20;
        // bob's one place is taken by the socket below until the server lets go of it.
        s.streaming.max_connections_per_user = 1;
    })
    .await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    app.follow(&bob, &alice_id).await;

    // bob's socket: a tiny receive buffer, and after the handshake it is never read.
    let host = app.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(host.parse().unwrap()).await.unwrap();
    let head = format!(
        "GET /api/v1/streaming?stream=user HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {bob}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte)).await.unwrap().unwrap();
        assert_eq!(n, 1, "connection closed during the handshake");
        response.push(byte[0]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");

    let mut carol_ws = ws_connect(&app, &carol).await;
    carol_ws.subscribe(json!({"type": "subscribe", "stream": "hashtag", "tag": "marker"})).await;

    // On loopback the server's send buffer grows to megabytes, so the events must be
    // big: 20 long URLs (each counts 23 characters) make a status of ~100 KB, and each
    // is an event for bob. Posting goes on until the server has let go of bob's socket
    // (his place is free again), at most 300 posts: far more than his buffers and queue.
    let url = format!("https://example.com/{}", "a".repeat(2500));
    let text = (0..20).map(|i| format!("{url}{i}")).collect::<Vec<_>>().join(" ");
    let mut posts = 0;
    while posts < 300 {
        app.say(&alice, &text).await;
        posts += 1;
        if posts % 5 == 0 {
            match ws_try(ws_request(&app, "", Some(&bob))).await {
                Ok(_) => break,
                Err(WsError::Http(res)) if res.status().as_u16() == 429 => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    // carol still gets events, and the server answers.
    let marker = app.say(&alice, "marker #marker").await;
    carol_ws.collect_until(|fs| fs.iter().any(|f| refers_to(f, &marker))).await;
    // (A fresh client: a pooled connection may have idled past the server's keep-alive.)
    assert_ok(Client::new().get(app.url("/health")).send().await.unwrap());

    // Now read bob's socket: what was buffered, then the end (a close frame 4008, EOF
    // or a reset), well before all the posts came through.
    let mut read = Vec::new();
    let ended = tokio::time::timeout(WAIT, async {
        let mut chunk = vec![0u8; 65536];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let frames = parse_server_frames(&read);
    let updates = frames.iter().filter(|(op, _)| *op == 1).count();
    assert!(ended.is_ok(), "the server did not cut a client that stopped reading ({updates} events read)");
    assert!(updates < posts, "all {updates} events came through: the client was not cut");
    if let Some((_, close)) = frames.iter().find(|(op, _)| *op == 8)
        && close.len() >= 2
    {
        assert_eq!(u16::from_be_bytes([close[0], close[1]]), 4008);
    }
}

/// A 200, whatever the body.
fn assert_ok(res: reqwest::Response) {
    assert_eq!(res.status().as_u16(), 200, "{}", res.url());
}

/// Unmasked server frames in `bytes`: (opcode, payload); a truncated last frame is
/// ignored.
fn parse_server_frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 <= bytes.len() {
        let op = bytes[i] & 0x0f;
        let mut len = (bytes[i + 1] & 0x7f) as usize;
        let mut at = i + 2;
        if len == 126 {
            if at + 2 > bytes.len() {
                break;
            }
            len = u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize;
            at += 2;
        } else if len == 127 {
            if at + 8 > bytes.len() {
                break;
            }
            len = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            at += 8;
        }
        if at + len > bytes.len() {
            break;
        }
        out.push((op, bytes[at..at + len].to_vec()));
        i = at + len;
    }
    out
}

#[actix_web::test]
async fn streaming_health_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/streaming/health", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "OK");
}

/// Mastodon's streaming server answers an unknown channel with 400 and this body.
#[actix_web::test]
async fn an_unknown_sse_channel_is_400() {
    let app = spawn_app().await;
    let (bob, _) = app.user("bob").await;
    for path in ["/api/v1/streaming/nope", "/api/v1/streaming/user/nope"] {
        let body = json_with(app.get(path, Some(&bob)).await, 400).await;
        assert_eq!(body, json!({"error": "Unknown channel requested"}));
    }
}

#[actix_web::test]
async fn sse_user_stream_heartbeat_and_notification_stream() {
    let app = spawn_with(|s| s.streaming.sse_heartbeat_secs = 1).await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;

    let mut sse = sse_open(&app, "/api/v1/streaming/user", &bob, None).await;
    let s = app.say(&alice, "over SSE").await;
    let ev = sse.next().await;
    assert_eq!(ev.event, "update", "{ev:?}");
    let status: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(status["id"], s.as_str());
    let first_id: u64 = ev.id.as_deref().expect("an id line").parse().unwrap();
    delete_status(&app, &alice, &s).await;
    let ev = sse.next().await;
    assert_eq!((ev.event.as_str(), ev.data.as_str()), ("delete", s.as_str()), "{ev:?}");
    assert_eq!(ev.id, Some((first_id + 1).to_string()));

    // The heartbeat comment (every second here).
    let beat = sse.next_block().await;
    assert!(beat.is_comment_only() && beat.comments.iter().any(|c| c == "thump"), "{beat:?}");

    // user:notification carries notifications only.
    let mut notes = sse_open(&app, "/api/v1/streaming/user/notification", &bob, None).await;
    let _no_notification = app.say(&alice, "not a notification").await;
    let mention = app.say(&alice, "@bob a notification").await;
    let ev = notes.next().await;
    assert_eq!(ev.event, "notification", "{ev:?}");
    let n: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!((n["type"].as_str(), n["status"]["id"].as_str()), (Some("mention"), Some(mention.as_str())));
}
