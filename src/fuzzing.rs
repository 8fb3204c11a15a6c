//! Fuzz targets: the server's untrusted-input paths as plain functions of `&[u8]`, driven
//! by `fuzz/` (cargo-fuzz, nightly) and by `tests/fuzz_smoke.rs` (proptest, stable).
//! Each must never panic on any input; an error result is fine. Where a cheap oracle
//! exists a target also checks it and panics when it fails (a found bug):
//!
//! - [`request_body`]: query string + JSON / form / multipart body → `read_params` (the
//!   `Params<T>` extractor's parsing) → the DTOs the handlers deserialize into, then the
//!   validators those handlers run. Oracle: a complete in-memory body never leaves the
//!   parser waiting (a stall would hang a request until it times out).
//! - [`pagination`]: query string → `PageParams` → `PageQuery` → every paged timeline of
//!   a small stored data set, plus `page_ids` over a tiny tree of edge-case ids. Oracle:
//!   pages equal a simple model (bounds, order, limit).
//! - [`token`]: `AuthService::verify` and `session_of_token` on arbitrary strings,
//!   mutated real tokens, and tokens properly signed over fuzzed claims or headers.
//!   Oracle: only untouched valid tokens, or signed claims naming a live session and its
//!   subject, are accepted.
//! - [`record_decode`]: `codec::decode` into every stored record type, then what the
//!   server does with a record it read (entities, HTML, timestamps). Oracle: a decoded
//!   record re-encodes and decodes to the same bytes.
//! - [`ws_message`]: WebSocket client messages (one per line) → `parse_client_message` →
//!   a real `StreamCore` subscribing, resuming (`since`) and reading a user's event log.
//!   Oracle: every frame is valid JSON (WebSocket) and well-formed SSE.
//! - [`status_text`]: `tokenize`, `countable_length`, `extract_tags`, `render_html`,
//!   `note_html`. Oracles: tokens re-join to the text; the HTML has only our own tags and
//!   links.
//!
//! Targets that need state share one fixture (a store with two accounts, statuses,
//! timelines, notifications and stream events, an `AuthService` and a set of tokens)
//! built once per process in a scratch directory under the system temporary directory
//! (`starling-fuzz-<pid>-…`; directories of processes that are gone are removed when the
//! next fixture is built).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use actix_web::FromRequest;
use actix_web::ResponseError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::actors::Connections;
use crate::actors::connections::Conn;
use crate::actors::stream_core::{Frame, StreamCore, StreamName};
use crate::actors::ws_session::{ClientRequest, parse_client_message};
use crate::auth::{AuthService, Claims, NewSession, SigningKeys};
use crate::config::Settings;
use crate::domain::account::{note_html, validate_display_name, validate_note};
use crate::domain::status::{countable_length, extract_tags, render_html, tokenize};
use crate::domain::time::{now_millis, now_secs, rfc3339_millis};
use crate::domain::{Account, Email, Id, Mention, Password, Role, Scopes, Status, Username, Visibility};
use crate::http::pagination::PageParams;
use crate::http::params::{Params, read_params};
use crate::http::{accounts, admin, apps, entities, follows, notifications, oauth, sessions, statuses, timelines};
use crate::storage::statuses::StatusVersion;
use crate::storage::timelines::page_ids;
use crate::storage::{
    App, AuthCode, AuthSession, Counters, EventKind, FanoutJob, Notification, NotificationKind, PageQuery,
    RefreshRecord, SessionKind, Store, StreamEvent, codec, keys,
};

/// A fuzz target: never panics unless it found a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name `fuzz/` and `scripts/fuzz` use.
pub const TARGETS: &[(&str, Target)] = &[
    ("request_body", request_body),
    ("pagination", pagination),
    ("token", token),
    ("record_decode", record_decode),
    ("ws_message", ws_message),
    ("status_text", status_text),
];

const BASE: &str = "https://fuzz.example";
const DOMAIN: &str = "fuzz.example";
const TAG: &str = "fuzz";

// ---------------------------------------------------------------------------------------
// Running a future that should complete at once

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls a future whose input is all in memory. `Pending` without a wake-up means it
/// would wait forever for input that is not coming: that is a bug, so it panics.
fn complete<F: Future>(future: F) -> F::Output {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    for _ in 0..100_000 {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        if !flag.0.load(Ordering::SeqCst) {
            panic!("stalled: parsing a complete in-memory request never finished and asked for no wake-up");
        }
    }
    panic!("stalled: parsing a complete in-memory request kept rescheduling itself");
}

// ---------------------------------------------------------------------------------------
// request_body

/// The multipart boundary of content-type selector 2.
pub const MULTIPART_BOUNDARY: &str = "XfuzzX";

/// Splits off the first line (up to `\n`).
fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// A request URI with this query, as the HTTP parser would have let it through: bytes a
/// request line cannot hold are percent-encoded.
fn uri_with_query(query: &[u8]) -> Option<String> {
    use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
    const UNSAFE: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'\\')
        .add(b'^')
        .add(b'|');
    let uri = format!("/fuzz?{}", percent_encode(query, UNSAFE));
    uri.parse::<actix_web::http::Uri>().ok().map(|_| uri)
}

/// Byte 0 chooses the content type (bits 0–2: 0 JSON, 1 form, 2 multipart with boundary
/// [`MULTIPART_BOUNDARY`], 3 none, 4 `application/activity+json`, 5 the next line is the
/// Content-Type, 6 multipart with the next line as boundary, 7 `text/plain`), bit 3 a
/// query string on the next line, bit 4 a 64-byte body limit. The rest is the body.
pub fn request_body(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let mut query: &[u8] = &[];
    if selector & 0x08 != 0 {
        (query, rest) = first_line(rest);
    }
    let content_type: Option<Vec<u8>> = match selector & 0x07 {
        0 => Some(b"application/json".to_vec()),
        1 => Some(b"application/x-www-form-urlencoded".to_vec()),
        2 => Some(format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}").into_bytes()),
        3 => None,
        4 => Some(b"application/activity+json; charset=utf-8".to_vec()),
        5 => {
            let (line, body) = first_line(rest);
            rest = body;
            Some(line.to_vec())
        }
        6 => {
            let (line, body) = first_line(rest);
            rest = body;
            Some([b"multipart/form-data; boundary=".as_slice(), line].concat())
        }
        _ => Some(b"text/plain".to_vec()),
    };
    let limit = if selector & 0x10 != 0 { 64 } else { 1 << 20 };
    let Some(uri) = uri_with_query(query) else { return };
    // A Content-Type the HTTP parser would refuse never reaches the extractor.
    let content_type = match content_type.map(|ct| HeaderValue::from_bytes(&ct)) {
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => return,
        None => None,
    };
    let body = actix_web::web::Bytes::copy_from_slice(rest);
    let build = || {
        let mut request = TestRequest::post().uri(&uri);
        if let Some(value) = &content_type {
            request = request.insert_header((header::CONTENT_TYPE, value.clone()));
        }
        request.set_payload(body.clone()).to_http_parts()
    };

    // The extractor itself, as a handler taking `Params<PageParams>` runs it.
    let (req, mut payload) = build();
    if let Err(e) = complete(Params::<PageParams>::from_request(&req, &mut payload)) {
        let _ = e.error_response();
    }

    // Then the merged parameters into every representative DTO.
    let (req, payload) = build();
    match complete(read_params(&req, payload, limit)) {
        Ok(value) => {
            assert!(value.is_object(), "read_params returned a non-object: {value}");
            use_params(value);
        }
        Err(e) => {
            let _ = e.error_response();
        }
    }
}

fn parse<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

/// What the handlers do with their parameters before touching storage.
fn use_params(value: Value) {
    if let Some(p) = parse::<statuses::NewStatus>(&value) {
        if let Some(text) = &p.status {
            let _ = countable_length(text);
            let _ = extract_tags(text);
        }
        if let Some(v) = &p.visibility {
            let _ = Visibility::parse(v);
        }
        let _ = p.in_reply_to_id.as_deref().map(str::parse::<Id>);
        let _ = p.spoiler_text.as_deref().map(countable_length);
    }
    if let Some(p) = parse::<accounts::Registration>(&value) {
        let _ = p.username.as_deref().map(Username::parse);
        let _ = p.email.as_deref().map(Email::parse);
        let _ = p.password.as_deref().map(Password::parse);
        let _ = p.locale.as_deref().map(Role::parse);
    }
    if let Some(p) = parse::<accounts::CredentialsUpdate>(&value) {
        let _ = p.display_name.as_deref().map(validate_display_name);
        if let Some(note) = &p.note {
            let _ = validate_note(note);
            let _ = note_html(note);
        }
    }
    if let Some(p) = parse::<apps::CreateApp>(&value) {
        let _ = p.scopes.as_deref().map(Scopes::parse);
        for uri in &p.redirect_uris {
            let _ = url::Url::parse(uri);
        }
    }
    if let Some(p) = parse::<oauth::TokenRequest>(&value) {
        let _ = p.scope.as_deref().map(Scopes::parse);
    }
    if let Some(p) = parse::<follows::Ids>(&value) {
        let _: Vec<_> = p.id.iter().map(|i| i.parse::<Id>()).collect();
    }
    if let Some(p) = parse::<notifications::ListParams>(&value) {
        let _ = p.page.query();
        let _ = notifications::Selection::new(&p.filter);
    }
    if let Some(p) = parse::<timelines::AccountStatusParams>(&value) {
        let _ = p.page.query();
    }
    if let Some(p) = parse::<timelines::PublicParams>(&value) {
        let _ = p.page.query();
    }
    // The rest are parsed as their handlers parse them (a panic in a deserializer is
    // a found bug); their checks need storage and run in the API tests.
    let _ = parse::<statuses::EditStatus>(&value);
    let _ = parse::<statuses::ReblogParams>(&value);
    let _ = parse::<accounts::Lookup>(&value);
    let _ = parse::<accounts::DeleteAccount>(&value);
    let _ = parse::<oauth::RevokeRequest>(&value);
    let _ = parse::<oauth::AuthorizeQuery>(&value);
    let _ = parse::<sessions::Login>(&value);
    let _ = parse::<sessions::Refresh>(&value);
    let _ = parse::<admin::NewReport>(&value);
}

// ---------------------------------------------------------------------------------------
// The shared fixture

struct Fixture {
    store: Store,
    auth: AuthService,
    connections: Arc<Connections>,
    next_conn: AtomicU64,
    alice: Id,
    bob: Id,
    /// Bob's auth session (the streaming connection's).
    bob_session: Id,
    /// Alice's user session, for signed-claims tokens.
    alice_session: Id,
    /// Tokens: see [`FIXTURE_TOKENS`].
    tokens: Vec<String>,
    /// A tree of ids under two prefixes, for `page_ids`.
    pages: sled::Tree,
    _pages_db: sled::Db,
}

/// What the fixture tokens are, by index, and whether each must verify.
pub const FIXTURE_TOKENS: &[(&str, bool)] = &[
    ("alice's user token", true),
    ("an app-only token", true),
    ("a token of a revoked session", false),
    ("an expired token of a live session", false),
    ("a token signed by another key under our key id", false),
    ("a token with another issuer", false),
    ("a token with another audience", false),
    ("bob's user token", true),
    ("a token naming a session that does not exist", false),
    ("a token whose subject is not its session's user", false),
];

/// Ids in the `page_ids` tree, under each prefix.
const PAGE_IDS: &[u64] = &[0, 1, 2, 3, 5, 8, 13, 21, 100, 1000, 1 << 40, u64::MAX - 1, u64::MAX];
const PAGE_PREFIXES: &[u64] = &[7, 8];

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| Fixture::build().unwrap_or_else(|e| panic!("could not build the fuzz fixture: {e:#}")))
}

/// A fresh scratch directory; those left by processes that are gone are removed first.
fn scratch_dir() -> std::io::Result<PathBuf> {
    let root = std::env::temp_dir();
    let me = std::process::id();
    if Path::new("/proc/self").exists()
        && let Ok(entries) = std::fs::read_dir(&root)
    {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("starling-fuzz-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != me && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = root.join(format!("starling-fuzz-{me}-{nanos}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn account(id: Id, username: &str) -> Account {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned();
    Account {
        display_name: username.to_uppercase(),
        note: format!("I am {username}.\n\nSecond <b>paragraph</b>"),
        ..Account::new(id, username.into(), format!("{username}@{DOMAIN}"), hash)
    }
}

fn status(id: Id, author: Id, text: &str, visibility: Visibility, reply_to: Option<&Status>) -> Status {
    Status {
        id,
        account_id: author,
        text: text.into(),
        spoiler_text: String::new(),
        visibility,
        sensitive: false,
        language: Some("en".into()),
        in_reply_to_id: reply_to.map(|s| s.id),
        in_reply_to_account_id: reply_to.map(|s| s.account_id),
        reblog_of: None,
        mentions: Vec::new(),
        tags: extract_tags(text),
        created_at_ms: id.millis(),
        edited_at_ms: None,
    }
}

impl Fixture {
    fn build() -> anyhow::Result<Self> {
        let dir = scratch_dir()?;
        let mut settings = Settings::load_from(&dir, "fuzz", false)?;
        settings.storage.path = dir.join("store");
        settings.instance.domain = DOMAIN.into();
        settings.instance.public_url = BASE.into();
        let store = Store::open(&settings.storage.path, 0)?;
        let keys = SigningKeys::load_or_create(&dir.join("key.pem"))?;
        let auth = AuthService::with_keys(&settings, store.clone(), keys)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

        let (alice, bob) = (store.next_id(), store.next_id());
        rt.block_on(store.create_account(&account(alice, "alice")))?;
        rt.block_on(store.create_account(&account(bob, "bob")))?;
        rt.block_on(store.follow(bob, alice))?;

        // Statuses: a public thread with a hashtag, other visibilities, a direct one.
        let mut statuses = Vec::new();
        let root = status(store.next_id(), alice, "hello #fuzz https://a.example/x?y=1 @bob", Visibility::Public, None);
        let mut root = root;
        root.mentions.push(Mention { account_id: bob, username: "bob".into() });
        statuses.push(root.clone());
        let reply = status(store.next_id(), bob, "@alice a reply #Fuzz", Visibility::Public, Some(&root));
        statuses.push(reply.clone());
        statuses.push(status(store.next_id(), alice, "deeper <b>#fuzz</b>", Visibility::Public, Some(&reply)));
        statuses.push(status(store.next_id(), alice, "unlisted #fuzz", Visibility::Unlisted, None));
        statuses.push(status(store.next_id(), alice, "followers only", Visibility::Private, None));
        let mut direct = status(store.next_id(), alice, "@bob psst", Visibility::Direct, None);
        direct.mentions.push(Mention { account_id: bob, username: "bob".into() });
        statuses.push(direct.clone());
        for i in 0..12 {
            statuses.push(status(store.next_id(), alice, &format!("post {i} #fuzz"), Visibility::Public, None));
        }
        for s in &statuses {
            rt.block_on(store.create_status(s, None))?;
            if s.account_id == alice && s.visibility != Visibility::Direct {
                store.add_to_timelines(s.id, &[bob])?;
            }
        }
        let notifications: Vec<Notification> = [
            (NotificationKind::Follow, None),
            (NotificationKind::Mention, Some(root.id)),
            (NotificationKind::Favourite, Some(reply.id)),
            (NotificationKind::Mention, Some(direct.id)),
        ]
        .into_iter()
        .map(|(kind, status_id)| Notification {
            id: store.next_id(),
            user_id: bob,
            kind,
            from_account: alice,
            status_id,
            created_at_ms: now_millis(),
        })
        .collect();
        store.add_notifications(&notifications)?;
        // Bob's stream event log.
        store.open_stream_lease(bob)?;
        let mut events: Vec<(Id, EventKind)> = vec![
            (bob, EventKind::Update(root.id)),
            (bob, EventKind::StatusUpdate(root.id)),
            (bob, EventKind::Delete(Id(12345))),
            (bob, EventKind::Update(Id(999))),
            (bob, EventKind::Conversation(direct.id)),
        ];
        events.extend(notifications.iter().map(|n| (bob, EventKind::Notification(n.id))));
        for s in statuses.iter().skip(6) {
            events.push((bob, EventKind::Update(s.id)));
        }
        let appended = store.append_events(&events, None)?;
        rt.block_on(store.durable())?;
        store.mark_events_durable(&appended);

        // Sessions and tokens.
        let session = |user: Option<Id>, app: Option<Id>| NewSession {
            user_id: user,
            app_id: app,
            client_name: "fuzz".into(),
            kind: SessionKind::OAuth,
            scopes: Scopes::all_user(),
            user_agent: "fuzz".into(),
            ip: "127.0.0.1".into(),
            with_refresh: true,
        };
        let alice_tokens = rt.block_on(auth.start_session(session(Some(alice), Some(Id(1)))))?;
        let app_tokens = rt.block_on(auth.start_session(session(None, Some(Id(1)))))?;
        let revoked = rt.block_on(auth.start_session(session(Some(alice), Some(Id(1)))))?;
        rt.block_on(auth.revoke_session(revoked.session_id))?;
        let bob_tokens = rt.block_on(auth.start_session(session(Some(bob), Some(Id(1)))))?;

        let now = now_secs();
        let claims = |sid: Id, sub: String| Claims {
            iss: auth.issuer().to_owned(),
            aud: settings.auth.audience.clone(),
            sub,
            sid: sid.to_string(),
            scope: "read write".into(),
            iat: now,
            exp: now + 3600,
            nbf: None,
            jti: "fuzz".into(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(auth.keys().kid.clone());
        let sign = |c: &Claims, key: &jsonwebtoken::EncodingKey| jsonwebtoken::encode(&header, c, key);
        let other_key = SigningKeys::load_or_create(&dir.join("other.pem"))?;
        let alice_sub = alice.to_string();
        let expired = Claims { iat: now - 7200, exp: now - 3600, ..claims(alice_tokens.session_id, alice_sub.clone()) };
        let wrong_iss =
            Claims { iss: "https://elsewhere.example".into(), ..claims(alice_tokens.session_id, alice_sub.clone()) };
        let wrong_aud = Claims { aud: "someone-else".into(), ..claims(alice_tokens.session_id, alice_sub.clone()) };
        let tokens = vec![
            alice_tokens.access_token.clone(),
            app_tokens.access_token.clone(),
            revoked.access_token.clone(),
            sign(&expired, &auth.keys().encoding)?,
            sign(&claims(alice_tokens.session_id, alice_sub.clone()), &other_key.encoding)?,
            sign(&wrong_iss, &auth.keys().encoding)?,
            sign(&wrong_aud, &auth.keys().encoding)?,
            bob_tokens.access_token.clone(),
            sign(&claims(Id(424242), alice_sub.clone()), &auth.keys().encoding)?,
            sign(&claims(alice_tokens.session_id, bob.to_string()), &auth.keys().encoding)?,
        ];

        let pages_db = sled::Config::new().temporary(true).path(dir.join("pages")).open()?;
        let pages = pages_db.open_tree("pages")?;
        for &prefix in PAGE_PREFIXES {
            for &id in PAGE_IDS {
                pages.insert(keys::pair_key(Id(prefix), Id(id)), &[])?;
            }
        }

        Ok(Self {
            store,
            auth,
            connections: Connections::new(usize::MAX, usize::MAX, 64),
            next_conn: AtomicU64::new(1),
            alice,
            bob,
            bob_session: bob_tokens.session_id,
            alice_session: alice_tokens.session_id,
            tokens,
            pages,
            _pages_db: pages_db,
        })
    }

    /// Replaces `$SID`, `$BOB_SID`, `$SUB`, `$BOB`, `$APP_SUB`, `$ISS`, `$AUD`, `$KID`,
    /// `$NOW` and `$EXP` so stored corpora stay meaningful across runs (the key and the
    /// ids are new each run).
    fn expand(&self, input: &[u8]) -> Vec<u8> {
        if !input.contains(&b'$') {
            return input.to_vec();
        }
        let text = String::from_utf8_lossy(input);
        let now = now_secs();
        text.replace("$BOB_SID", &self.bob_session.to_string())
            .replace("$SID", &self.alice_session.to_string())
            .replace("$APP_SUB", "app:1")
            .replace("$SUB", &self.alice.to_string())
            .replace("$BOB", &self.bob.to_string())
            .replace("$ISS", self.auth.issuer())
            .replace("$AUD", "starling")
            .replace("$KID", &self.auth.keys().kid)
            .replace("$NOW", &now.to_string())
            .replace("$EXP", &(now + 3600).to_string())
            .into_bytes()
    }
}

/// Checks the fixture behaves as the targets assume (valid tokens verify, invalid ones
/// do not, stored data is readable), so a target never fuzzes a broken set-up.
pub fn self_check() -> Result<(), String> {
    let f = fixture();
    for (i, (what, valid)) in FIXTURE_TOKENS.iter().enumerate() {
        let token = f.tokens.get(i).ok_or("missing fixture token")?;
        if f.auth.verify(token).is_ok() != *valid {
            return Err(format!("fixture token {i} ({what}) should {}verify", if *valid { "" } else { "not " }));
        }
    }
    let q = PageQuery { limit: 40, ..PageQuery::default() };
    let home = f.store.home_page(f.bob, &q, |_| Ok(true)).map_err(|e| e.to_string())?;
    if home.len() < 10 {
        return Err(format!("bob's home timeline has {} entries", home.len()));
    }
    let read = f.store.events_after(f.bob, 0, 100).map_err(|e| e.to_string())?;
    if read.events.len() < 10 {
        return Err(format!("bob's event log has {} events", read.events.len()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// pagination

/// The page `page_ids` should return for `q` over `ids` (ascending), keeping `keep`.
fn model_page(ids: &[u64], q: &PageQuery, keep: impl Fn(u64) -> bool) -> Vec<u64> {
    let above = |id: u64| match q.min_id.or(q.since_id) {
        Some(floor) => id > floor.0,
        None => true,
    };
    let below = |id: u64| q.max_id.is_none_or(|max| id < max.0);
    let candidates: Vec<u64> = ids.iter().copied().filter(|&id| above(id) && below(id) && keep(id)).collect();
    if q.min_id.is_some() {
        candidates.into_iter().take(q.limit).rev().collect()
    } else {
        candidates.into_iter().rev().take(q.limit).collect()
    }
}

fn check_page(what: &str, q: &PageQuery, got: &[Id], expected: Option<Vec<u64>>) {
    let got: Vec<u64> = got.iter().map(|i| i.0).collect();
    if let Some(expected) = expected {
        assert_eq!(got, expected, "{what}: page differs from the model for {q:?}");
    }
    assert!(got.len() <= q.limit, "{what}: {} ids for limit {} ({q:?})", got.len(), q.limit);
    assert!(got.windows(2).all(|w| w[0] > w[1]), "{what}: not strictly newest first: {got:?} ({q:?})");
    for id in &got {
        assert!(q.max_id.is_none_or(|m| *id < m.0), "{what}: {id} is not below max_id ({q:?})");
        if let Some(floor) = q.min_id.or(q.since_id) {
            assert!(*id > floor.0, "{what}: {id} is not above the min_id/since_id cursor ({q:?})");
        }
    }
}

/// The input is the query string of a timeline request (`max_id`, `since_id`, `min_id`,
/// `limit`, `tag`, Rails-style keys and all). Every timeline is paged with it.
pub fn pagination(data: &[u8]) {
    let Some(uri) = uri_with_query(data) else { return };
    let (req, payload) = TestRequest::get().uri(&uri).to_http_parts();
    let value = match complete(read_params(&req, payload, 1 << 20)) {
        Ok(v) => v,
        Err(e) => {
            let _ = e.error_response();
            return;
        }
    };
    let tag = value.get("tag").and_then(Value::as_str).map(str::to_owned);
    let Ok(page) = serde_json::from_value::<PageParams>(value) else { return };
    // A cursor that is not an id: the handlers answer an empty page.
    let Some(q) = page.query() else { return };
    assert!((1..=crate::http::pagination::MAX_LIMIT).contains(&q.limit), "limit {} out of 1..=40", q.limit);

    let f = fixture();
    let keep_all = |_: Id| Ok(true);
    let some = |id: Id| Ok(id.0 % 3 != 1);
    let store = &f.store;
    let unwrap = |what: &str, r: Result<Vec<Id>, crate::storage::StorageError>| {
        r.unwrap_or_else(|e| panic!("{what}: storage error on a healthy store: {e}"))
    };
    check_page("home", &q, &unwrap("home", store.home_page(f.bob, &q, keep_all)), None);
    check_page("home (filtered)", &q, &unwrap("home", store.home_page(f.bob, &q, some)), None);
    check_page("public", &q, &unwrap("public", store.public_page(&q, keep_all)), None);
    let tag = tag.as_deref().unwrap_or(TAG);
    check_page("tag", &q, &unwrap("tag", store.tag_page(tag, &q, keep_all)), None);
    check_page("tag", &q, &unwrap("tag", store.tag_page(&tag.to_lowercase(), &q, some)), None);
    check_page("account", &q, &unwrap("account", store.account_page(f.alice, &q, keep_all)), None);
    let notes = store
        .notifications_page(f.bob, &q, |n| Ok(n.kind != NotificationKind::Favourite))
        .unwrap_or_else(|e| panic!("notifications: storage error on a healthy store: {e}"));
    check_page("notifications", &q, &notes.iter().map(|n| n.id).collect::<Vec<_>>(), None);

    // The edge-case tree, against the model.
    for &prefix in PAGE_PREFIXES {
        let got = unwrap("page_ids", page_ids(&f.pages, &keys::id_key(Id(prefix)), &q, keep_all));
        check_page("page_ids", &q, &got, Some(model_page(PAGE_IDS, &q, |_| true)));
        let got = unwrap("page_ids", page_ids(&f.pages, &keys::id_key(Id(prefix)), &q, some));
        check_page("page_ids (filtered)", &q, &got, Some(model_page(PAGE_IDS, &q, |id| id % 3 != 1)));
    }
}

// ---------------------------------------------------------------------------------------
// token

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token over this header and these claims (both raw JSON bytes), signed with our key.
fn signed(f: &Fixture, header: &[u8], claims: &[u8]) -> Option<String> {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &f.auth.keys().encoding, Algorithm::EdDSA).ok()?;
    Some(format!("{message}.{signature}"))
}

fn our_header(f: &Fixture) -> Vec<u8> {
    serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": f.auth.keys().kid }).to_string().into_bytes()
}

/// Byte 0 chooses the mode (mod 5); placeholders such as `$SID` are expanded (see
/// `Fixture::expand`):
/// 0. the rest, as text, is the token;
/// 1. fixture token `data[1]` (see [`FIXTURE_TOKENS`]) with edits `[op, pos_hi, pos_lo, byte]`
///    (set, insert, delete, truncate);
/// 2. fixture token `data[1]` with part `data[2] % 3` replaced by the base64url of the rest;
/// 3. our header and the rest as the claims JSON, properly signed;
/// 4. the rest as the header JSON and valid claims of alice's session, properly signed.
pub fn token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    let pick = |i: Option<&u8>| &f.tokens[usize::from(i.copied().unwrap_or(0)) % f.tokens.len()];
    let (token, original): (String, Option<&String>) = match mode % 5 {
        0 => (String::from_utf8_lossy(&f.expand(rest)).into_owned(), None),
        1 => {
            let original = pick(rest.first());
            let mut bytes = original.as_bytes().to_vec();
            for edit in rest.get(1..).unwrap_or_default().chunks_exact(4) {
                let pos = (usize::from(edit[1]) << 8 | usize::from(edit[2])) % (bytes.len() + 1);
                match edit[0] % 4 {
                    0 if pos < bytes.len() => bytes[pos] = edit[3],
                    1 => bytes.insert(pos, edit[3]),
                    2 if pos < bytes.len() => {
                        bytes.remove(pos);
                    }
                    3 => bytes.truncate(pos),
                    _ => {}
                }
            }
            (String::from_utf8_lossy(&bytes).into_owned(), Some(original))
        }
        2 => {
            let original = pick(rest.first());
            let part = usize::from(rest.get(1).copied().unwrap_or(0) % 3);
            let replacement = b64(&f.expand(rest.get(2..).unwrap_or_default()));
            let mut parts: Vec<&str> = original.split('.').collect();
            if let Some(p) = parts.get_mut(part) {
                *p = &replacement;
            }
            (parts.join("."), Some(original))
        }
        3 => {
            let claims = f.expand(rest);
            let Some(token) = signed(f, &our_header(f), &claims) else { return };
            let result = f.auth.verify(&token);
            if let Ok(p) = &result {
                let c: Claims = serde_json::from_slice(&claims)
                    .unwrap_or_else(|e| panic!("accepted a token whose claims do not parse ({e}): {token}"));
                assert_eq!(c.sid.trim().parse::<u64>().ok(), Some(p.session_id.0), "accepted sid {:?}", c.sid);
                assert!(c.exp > now_secs() - 10, "accepted an expired token: exp {}", c.exp);
                assert_eq!(c.iss, f.auth.issuer(), "accepted another issuer");
                let sub_ok = match (p.user_id, p.app_id) {
                    (Some(u), _) => c.sub == u.to_string(),
                    (None, Some(a)) => c.sub == format!("app:{a}"),
                    _ => false,
                };
                assert!(sub_ok, "accepted subject {:?} for {p:?}", c.sub);
            }
            let _ = f.auth.session_of_token(&token);
            return;
        }
        _ => {
            let header = f.expand(rest);
            let claims = serde_json::json!({
                "iss": f.auth.issuer(), "aud": "starling", "sub": f.alice.to_string(),
                "sid": f.alice_session.to_string(), "scope": "read", "iat": now_secs(),
                "exp": now_secs() + 3600, "jti": "fuzz",
            });
            let Some(token) = signed(f, &header, claims.to_string().as_bytes()) else { return };
            if f.auth.verify(&token).is_ok() {
                // Parsed as jsonwebtoken parses it (values of unknown keys are skipped, not
                // checked, so this is laxer than parsing into a `Value`).
                let h: Header = serde_json::from_slice(&header)
                    .unwrap_or_else(|e| panic!("accepted a token whose header does not parse ({e}): {token}"));
                assert_eq!(h.alg, Algorithm::EdDSA, "accepted header {h:?}");
                assert_eq!(h.kid.as_deref(), Some(f.auth.keys().kid.as_str()), "accepted header {h:?}");
            }
            let _ = f.auth.session_of_token(&token);
            return;
        }
    };
    let result = f.auth.verify(&token);
    if result.is_ok() {
        // Only an untouched valid token may pass: any change must break the signature.
        let untouched = original.is_none_or(|o| *o == token);
        assert!(untouched, "accepted a modified token: {token:?} (from {original:?})");
        assert!(
            f.tokens.iter().zip(FIXTURE_TOKENS).any(|(t, (_, valid))| *valid && *t == token),
            "accepted a token that is not one of the valid fixture tokens: {token:?}"
        );
    }
    let _ = f.auth.session_of_token(&token);
}

// ---------------------------------------------------------------------------------------
// record_decode

/// Decodes `bytes` as a `T`; a decoded value must survive a re-encode and decode.
fn decode_as<T: Serialize + DeserializeOwned>(bytes: &[u8], name: &str) -> Option<T> {
    let value: T = codec::decode("fuzz", b"key", bytes).ok()?;
    let again = codec::encode(&value).unwrap_or_else(|e| panic!("{name}: a decoded record does not encode: {e}"));
    let back: T = codec::decode("fuzz", b"key", &again)
        .unwrap_or_else(|e| panic!("{name}: a re-encoded record does not decode: {e}"));
    let third = codec::encode(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(again, third, "{name}: encoding is not stable across a round trip");
    Some(value)
}

/// The bytes are a stored value (format byte, then bincode); they are decoded as every
/// stored record type, and whatever decodes is used as the server would use it.
pub fn record_decode(data: &[u8]) {
    if let Some(a) = decode_as::<Account>(data, "Account") {
        let _ = crate::view::to_json(&crate::view::account::Account::new(&a, BASE));
        let _ = note_html(&a.note);
    }
    if let Some(s) = decode_as::<Status>(data, "Status") {
        use_status(&s);
    }
    if let Some(job) = decode_as::<FanoutJob>(data, "FanoutJob") {
        let s = job.status();
        use_status(s);
    }
    if let Some(v) = decode_as::<StatusVersion>(data, "StatusVersion") {
        let _ = render_html(&v.text, BASE, &v.mentions, |d| d == DOMAIN);
        let _ = rfc3339_millis(v.created_at_ms);
    }
    if let Some(n) = decode_as::<Notification>(data, "Notification") {
        let _ = (n.kind.as_str(), rfc3339_millis(n.created_at_ms), n.id.millis());
    }
    if let Some(e) = decode_as::<StreamEvent>(data, "StreamEvent") {
        let _ = rfc3339_millis(e.at_ms);
    }
    if let Some(s) = decode_as::<AuthSession>(data, "AuthSession") {
        let _ = (s.scopes.to_string(), rfc3339_millis(s.created_at_ms), rfc3339_millis(s.last_used_at_ms));
        let _ = s.scopes.grants("read:statuses");
    }
    if let Some(app) = decode_as::<App>(data, "App") {
        let _ = entities::application(&app, Some("secret"));
        let _ = app.scopes.covers(&Scopes::default_read());
    }
    if let Some(c) = decode_as::<AuthCode>(data, "AuthCode") {
        let _ = (c.scopes.to_string(), rfc3339_millis(c.expires_at_ms));
    }
    let _ = decode_as::<RefreshRecord>(data, "RefreshRecord");
    let _ = decode_as::<Counters>(data, "Counters");
    if let Some((id, at)) = decode_as::<(Id, i64)>(data, "idempotency") {
        let _ = (id.millis(), rfc3339_millis(at));
    }
}

fn use_status(s: &Status) {
    let _ = render_html(&s.text, BASE, &s.mentions, |d| d == DOMAIN);
    let _ = countable_length(&s.spoiler_text);
    let _ = (rfc3339_millis(s.created_at_ms), s.edited_at_ms.map(rfc3339_millis), s.id.millis());
    let _ = (s.is_reply_to_other(), s.visibility.as_str());
}

/// Valid encodings of one of each stored record type.
fn sample_records() -> Vec<Vec<u8>> {
    let alice = account(Id(1 << 30 | 7), "alice");
    let mut s = status(Id(1 << 31 | 9), alice.id, "hi @bob #fuzz https://x.example", Visibility::Public, None);
    s.mentions.push(Mention { account_id: Id(5), username: "bob".into() });
    let mut reply = status(Id(1 << 32), Id(5), "re", Visibility::Direct, Some(&s));
    reply.edited_at_ms = Some(12345);
    reply.spoiler_text = "cw".into();
    let scopes = Scopes::parse("read write:statuses follow").ok().flatten().unwrap_or_default();
    let encodings: Vec<Result<Vec<u8>, crate::storage::StorageError>> = vec![
        codec::encode(&alice),
        codec::encode(&s),
        codec::encode(&reply),
        codec::encode(&FanoutJob::Publish(s.clone())),
        codec::encode(&FanoutJob::Delete(reply.clone())),
        codec::encode(&StatusVersion {
            text: "old".into(),
            spoiler_text: String::new(),
            sensitive: true,
            mentions: s.mentions.clone(),
            tags: vec!["fuzz".into()],
            created_at_ms: 99,
        }),
        codec::encode(&Notification {
            id: Id(77),
            user_id: Id(5),
            kind: NotificationKind::Reblog,
            from_account: alice.id,
            status_id: Some(s.id),
            created_at_ms: 1_700_000_000_000,
        }),
        codec::encode(&StreamEvent { seq: 42, at_ms: 1_700_000_000_000, kind: EventKind::Conversation(Id(3)) }),
        codec::encode(&AuthSession {
            id: Id(11),
            user_id: Some(alice.id),
            app_id: None,
            client_name: "web".into(),
            kind: SessionKind::FirstParty,
            scopes: scopes.clone(),
            created_at_ms: 1,
            last_used_at_ms: 2,
            expires_at_ms: i64::MAX,
            user_agent: "Mozilla/5.0".into(),
            ip: "::1".into(),
        }),
        codec::encode(&App {
            id: Id(3),
            name: "app".into(),
            website: Some("https://app.example".into()),
            redirect_uris: vec!["urn:ietf:wg:oauth:2.0:oob".into()],
            scopes: scopes.clone(),
            client_id: "cid".into(),
            client_secret_sha256: vec![7; 32],
            created_at_ms: -1,
        }),
        codec::encode(&AuthCode {
            app_id: Id(3),
            user_id: alice.id,
            scopes,
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: Some("abc".into()),
            expires_at_ms: 5,
        }),
        codec::encode(&RefreshRecord { session_id: Id(11), used: true, expires_at_ms: i64::MIN }),
        codec::encode(&Counters { replies: 1, reblogs: u64::MAX, favourites: 300 }),
        codec::encode(&(Id(u64::MAX), -5i64)),
    ];
    encodings.into_iter().filter_map(Result::ok).collect()
}

// ---------------------------------------------------------------------------------------
// ws_message

fn check_frame(frame: &Frame) {
    let ws = frame.ws_text();
    let parsed: Value = serde_json::from_str(&ws).unwrap_or_else(|e| panic!("WebSocket frame is not JSON ({e}): {ws}"));
    assert!(parsed["event"].is_string() && parsed["stream"].is_array(), "frame shape: {ws}");
    let sse = frame.sse();
    assert!(!sse.contains('\r'), "SSE event contains a carriage return: {sse:?}");
    assert!(sse.ends_with("\n\n"), "SSE event is not terminated: {sse:?}");
    for line in sse.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with("event: ") || line.starts_with("id: ") || line.starts_with("data: "),
            "SSE event has a stray line {line:?}: {sse:?}"
        );
    }
}

/// The input is a WebSocket session's client messages, one per line (at most 16). Each
/// is parsed as `WsSession` parses it and acted on by a real `StreamCore` for bob, over
/// the fixture's statuses and event log; every frame produced is checked.
pub fn ws_message(data: &[u8]) {
    let f = fixture();
    let id = f.next_conn.fetch_add(1, Ordering::Relaxed);
    let conn = Conn::new(id, "websocket", f.bob, f.bob_session, "127.0.0.1".into(), None);
    if f.connections.register(conn.clone()).is_err() {
        panic!("could not register a fuzz connection");
    }
    let mut core =
        StreamCore::new(conn, f.connections.clone(), crate::view::View::new(f.store.clone(), DOMAIN), BASE.into());
    for line in data.split(|&b| b == b'\n').take(16) {
        let text = String::from_utf8_lossy(line);
        let _ = StreamName::parse(&text, Some(&text), Some(&text)).map(|n| n.labels());
        let frames = match parse_client_message(&text) {
            Ok(ClientRequest::Subscribe { name, since }) => {
                let labels = name.labels();
                assert!(!labels.is_empty(), "stream {name:?} has no labels");
                core.subscribe(name, since.as_deref())
            }
            Ok(ClientRequest::Unsubscribe(name)) => {
                core.unsubscribe(&name);
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        };
        match frames {
            Ok(frames) => frames.iter().for_each(check_frame),
            Err(e) => {
                let frame = e.frame();
                let v: Value = serde_json::from_str(&frame).unwrap_or_else(|e| panic!("error frame ({e}): {frame}"));
                assert!(v["error"].is_string(), "error frame: {frame}");
            }
        }
        for _ in 0..8 {
            match core.on_wake() {
                Ok((frames, more)) => {
                    frames.iter().for_each(check_frame);
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    let _ = e.frame();
                    break;
                }
            }
        }
    }
    core.finish();
}

// ---------------------------------------------------------------------------------------
// status_text

/// The input, as text (invalid UTF-8 replaced), is a status or a bio.
pub fn status_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let tokens = tokenize(&text);
    let mut rejoined = String::with_capacity(text.len());
    for t in &tokens {
        use crate::domain::status::Token;
        match t {
            Token::Text(s) | Token::Url(s) => rejoined.push_str(s),
            Token::Mention { raw, .. } => rejoined.push_str(raw),
            Token::Tag(name) => {
                rejoined.push('#');
                rejoined.push_str(name);
            }
        }
    }
    assert_eq!(rejoined, text, "tokens do not re-join to the text: {tokens:?}");
    let _ = countable_length(&text);
    let tags = extract_tags(&text);
    for (i, t) in tags.iter().enumerate() {
        assert_eq!(*t, t.to_lowercase(), "tag not lower-case");
        assert!(!tags[..i].contains(t), "tag {t:?} listed twice");
    }
    let mentions = [
        Mention { account_id: Id(1), username: "alice".into() },
        Mention { account_id: Id(2), username: "bob".into() },
    ];
    let html = render_html(&text, BASE, &mentions, |d| d.eq_ignore_ascii_case(DOMAIN));
    check_html(&html, &text);
    let note = note_html(&text);
    for (i, _) in note.match_indices('<') {
        let rest = &note[i..];
        assert!(
            ["<p>", "</p>", "<br />"].iter().any(|t| rest.starts_with(t)),
            "note HTML has markup of its own at {i}: {note:?}"
        );
    }
    let _ = (validate_display_name(&text), validate_note(&text));
}

/// Every `<` starts one of the tags `render_html` writes, and every link goes to our
/// base URL or to an `http(s)` URL from the text.
fn check_html(html: &str, text: &str) {
    const TAGS: &[&str] =
        &["<p>", "</p>", "<br />", "<a href=\"", "</a>", "<span class=\"h-card\"", "<span>", "</span>"];
    for (i, _) in html.match_indices('<') {
        let rest = &html[i..];
        assert!(
            TAGS.iter().any(|t| rest.starts_with(t)),
            "HTML has markup of its own at {i}: {html:?} (from {text:?})"
        );
    }
    for (i, _) in html.match_indices("<a href=\"") {
        let target = &html[i + 9..];
        assert!(
            target.starts_with(BASE) || target.starts_with("http://") || target.starts_with("https://"),
            "link to an unexpected place at {i}: {html:?} (from {text:?})"
        );
        let end = target.find('"').unwrap_or_else(|| panic!("unterminated href: {html:?}"));
        let value = &target[..end];
        assert!(!value.contains(['<', '>']), "href {value:?} is not escaped: {html:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Seeds and dictionaries

/// Valid (and near-valid) inputs for a target: the seed corpus of `fuzz/` and the
/// starting points of the mutations in `tests/fuzz_smoke.rs`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let with = |selector: u8, body: &str| [&[selector][..], body.as_bytes()].concat();
    match target {
        "request_body" => {
            let multipart = format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nhello @bob #fuzz\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"media_ids[]\"\r\n\r\n1\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"sensitive\"\r\n\r\ntrue\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\
                 Content-Type: image/png\r\n\r\n\u{89}PNG\r\n--{b}--\r\n",
                b = MULTIPART_BOUNDARY
            );
            vec![
                with(0, r#"{"status":"hello @alice #fuzz https://a.example","visibility":"public","sensitive":"true","media_ids":["1","2"],"in_reply_to_id":123}"#),
                with(0, r#"{"username":"alice_1","email":"a@b.co","password":"correct horse","agreement":"1","locale":"en"}"#),
                with(0, r#"{"display_name":"Al","note":"bio\n\nmore","locked":"off","bot":1,"discoverable":null}"#),
                with(0, r#"{"client_name":"app","redirect_uris":"urn:ietf:wg:oauth:2.0:oob\nhttps://x.example/cb","scopes":"read write follow"}"#),
                with(0, r#"{"grant_type":"password","username":"alice","password":"x","scope":"read+write","client_id":7}"#),
                with(0, r#"{"id":["1","2"],"types":["mention","follow"],"max_id":"9","limit":"5","exclude_replies":"true"}"#),
                with(0, "[1,2,3]"),
                with(1, "status=hi+%40bob&visibility=unlisted&media_ids[]=1&media_ids[]=2&sensitive=on"),
                with(1, "fields_attributes[0][name]=a&fields_attributes[0][value]=b&fields_attributes[1][name]=c&id[]=1&id[]=2"),
                with(1, "source[privacy]=public&k[1]=b&k[0]=a&x[][y]=1&[z]=2&a[b][c][d]=e&types[]=mention"),
                with(2, &multipart),
                with(3, "username=bob&agreement=true&password=12345678"),
                with(4, r#"{"status":"federated","sensitive":false}"#),
                with(5, "application/json; charset=utf-8\n{\"status\":\"x\"}"),
                with(5, "application/x-www-form-urlencoded; charset=utf-8\nstatus=x"),
                with(5, "multipart/form-data\n--x--"),
                with(6, &format!("XfuzzX\n{multipart}")),
                with(6, "ab\n\n--\n--ab\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--ab--\r\n"),
                with(2, "preamble\r\n--XfuzzX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n"),
                with(7, "status=plain"),
                with(0x08 | 1, "limit=3&max_id=5&id[]=9\nstatus=body+wins&limit=4"),
                with(0x08, "since_id=1\n{\"min_id\":\"2\"}"),
                with(0x10 | 1, &"status=".repeat(20)),
            ]
        }
        "pagination" => [
            "",
            "limit=5",
            "max_id=100&limit=2",
            "since_id=3&limit=40",
            "min_id=2&limit=3",
            "min_id=5&since_id=1&max_id=1000",
            "max_id=18446744073709551615&since_id=0",
            "limit=-1",
            "limit=0",
            "limit=99999999999999999999999",
            "max_id=abc",
            "max_id=%20&since_id=+",
            "max_id[]=1&max_id[]=2",
            "limit[a]=1",
            "tag=Fuzz&limit=2&max_id=18446744073709551615",
            "tag=%23fuzz&min_id=0",
            "local=true&only_media=false&max_id=1099511627776",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "token" => {
            let mut out: Vec<Vec<u8>> = (0..FIXTURE_TOKENS.len() as u8).map(|i| vec![1, i]).collect();
            out.push([&[1u8, 0, 3, 0, 10][..], b"X"].concat());
            out.push(vec![1, 0, 0, 0, 0, b'e', 2, 0, 40, 0]);
            out.push(vec![1, 7, 3, 0, 50, 0]);
            out.push(with(0, "not-a-jwt"));
            out.push(with(0, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."));
            out.push(with(0, "a.b.c.d"));
            out.push(with(2, "\u{0}\u{0}{\"alg\":\"none\",\"typ\":\"JWT\"}"));
            out.push(with(2, "\u{0}\u{0}{\"alg\":\"HS256\",\"kid\":\"$KID\"}"));
            out.push(with(2, "\u{0}\u{1}{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"$SUB\",\"sid\":\"$SID\",\"exp\":$EXP}"));
            let claims = [
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$SUB","sid":"$SID","scope":"read","iat":$NOW,"exp":$EXP,"jti":"x"}"#,
                r#"{"iss":"$ISS","aud":["$AUD","x"],"sub":"$BOB","sid":"$BOB_SID","scope":"","iat":0,"exp":$EXP,"jti":""}"#,
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$SUB","sid":"+$SID","scope":"read","iat":$NOW,"exp":$EXP,"jti":"x","nbf":$EXP}"#,
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$BOB","sid":"$SID","scope":"read","iat":$NOW,"exp":$EXP,"jti":"x"}"#,
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$SUB","sid":"$SID","scope":"read","iat":$EXP,"exp":$EXP,"jti":"x"}"#,
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$SUB","sid":"$SID","scope":"read","iat":$NOW,"exp":1e300,"jti":"x"}"#,
                r#"{"iss":"$ISS","aud":"$AUD","sub":"$SUB","sid":"$SID","iat":-9223372036854775808,"exp":9223372036854775807}"#,
            ];
            out.extend(claims.iter().map(|c| with(3, c)));
            for header in [
                r#"{"alg":"EdDSA","typ":"JWT","kid":"$KID"}"#,
                r#"{"alg":"EdDSA","kid":"$KID","crit":["exp"],"jku":"https://evil.example"}"#,
                r#"{"alg":"EdDSA"}"#,
                r#"{"alg":"HS256","kid":"$KID"}"#,
                r#"{"alg":"EdDSA","ty_p":"\ud800x","kid":"$KID"}"#,
            ] {
                out.push(with(4, header));
            }
            out
        }
        "record_decode" => {
            let mut out = sample_records();
            out.extend([vec![], vec![1], vec![2, 0], vec![1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]);
            out
        }
        "ws_message" => [
            r#"{"type":"subscribe","stream":"user"}"#,
            r#"{"type":"subscribe","stream":"user","since":"3"}"#,
            r#"{"type":"subscribe","stream":"user:notification","since":1}"#,
            r#"{"type":"subscribe","stream":"direct","since":"0"}"#,
            r#"{"type":"subscribe","stream":"public","since":"1"}"#,
            r#"{"type":"subscribe","stream":"public:local:media"}"#,
            r##"{"type":"subscribe","stream":"hashtag","tag":"#Fuzz","since":"0"}"##,
            r#"{"type":"subscribe","stream":"hashtag:local","tag":"fuzz"}"#,
            r#"{"type":"subscribe","stream":"thread","id":"1","since":"0"}"#,
            r#"{"type":"unsubscribe","stream":"hashtag","tag":"FUZZ"}"#,
            r#"{"type":"subscribe","stream":"list","list":"1"}"#,
            r#"{"type":"subscribe","stream":"user","since":"18446744073709551615"}"#,
            r#"{"type":"subscribe","stream":"public","since":"99999999999999999999"}"#,
            "{\"type\":\"subscribe\",\"stream\":\"user\"}\n{\"type\":\"unsubscribe\",\"stream\":\"user\"}\n{\"type\":\"subscribe\",\"stream\":\"user\",\"since\":\"2\"}",
            "{\"type\":\"subscribe\",\"stream\":\"public\"}\n{\"type\":\"subscribe\",\"stream\":\"public:local\",\"since\":\"5\"}\n{\"type\":\"unsubscribe\",\"stream\":\"public\"}",
            r#"{"type":"ping"}"#,
            "not json",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "status_text" => [
            "hello @alice #Fuzz https://a.example/path?q=1&r=<2>, more.",
            "@bob@fuzz.example @carol@remote.example:8443 e@mail.example #1 #a1 ##x #_",
            "line one\r\nline two\n\n\nparagraph <b>bold</b> & \"quotes\" 'single'",
            "https://x.example/\"onmouseover=alert(1)\" http://y.example/a'b",
            "👩‍👩‍👧 e\u{301} #ünïcode #日本語 @@a #@b @#c",
            "javascript:alert(1) data:text/html,<script> https://ok.example/)",
            "hel\u{301}lo @lhttp://href=\"tps://az\0.\u{ff}/x.exa @<a href=\"x\">",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        _ => Vec::new(),
    }
}

/// Tokens worth splicing into a target's inputs (a libFuzzer dictionary).
pub fn dictionary(target: &str) -> Vec<&'static str> {
    let json = ["{", "}", "[", "]", "\"", ":", ",", "null", "true", "false", "-0", "1e999", "\\u0000", "\\ud800"];
    let numbers = ["0", "-1", "18446744073709551615", "18446744073709551616", "9223372036854775807"];
    let mut out: Vec<&'static str> = Vec::new();
    match target {
        "request_body" => {
            out.extend(json);
            out.extend(numbers);
            out.extend(["[]", "[0]", "][", "=", "&", "%", "%ff", "%00", "+", "\r\n", "--XfuzzX", "--XfuzzX--"]);
            out.extend(["Content-Disposition: form-data; name=\"", "filename=\"", "status", "media_ids", "id[]"]);
        }
        "pagination" => {
            out.extend(numbers);
            out.extend(["max_id=", "since_id=", "min_id=", "limit=", "tag=", "&", "[]", "%20", "+"]);
        }
        "token" => {
            out.extend(json);
            out.extend(["$SID", "$BOB_SID", "$SUB", "$BOB", "$APP_SUB", "$ISS", "$AUD", "$KID", "$NOW", "$EXP"]);
            out.extend([
                "\"alg\"",
                "\"EdDSA\"",
                "\"none\"",
                "\"kid\"",
                "\"exp\"",
                "\"nbf\"",
                "\"sid\"",
                "\"sub\"",
                ".",
            ]);
        }
        "record_decode" => out.extend(["\u{1}", "\u{0}", "\u{fb}", "\u{fc}", "\u{fd}"]),
        "ws_message" => {
            out.extend(json);
            out.extend(numbers);
            out.extend([
                "\"type\"",
                "\"subscribe\"",
                "\"unsubscribe\"",
                "\"stream\"",
                "\"tag\"",
                "\"id\"",
                "\"since\"",
            ]);
            out.extend([
                "\"user\"",
                "\"user:notification\"",
                "\"public\"",
                "\"hashtag\"",
                "\"thread\"",
                "\"direct\"",
                "\n",
            ]);
        }
        "status_text" => out.extend(["@", "#", "https://", "http://", "\n\n", "\r\n", "<", "&", "\"", "'", "\u{301}"]),
        _ => {}
    }
    out
}
