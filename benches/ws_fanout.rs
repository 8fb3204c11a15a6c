//! WebSocket delivery: one author posts at a fixed rate to N followers, each holding a
//! WebSocket on the `user` stream; how long after the post is acknowledged each follower
//! has the `update` frame, next to a bare broadcast WebSocket server delivering the same
//! frames to the same clients in the same run; and the server's memory per idle
//! connection.
//!
//! For each N in `WS_FANOUT_N` (default `1000,10000`):
//!
//! 1. **Data** (a child process: this program with `--prepare`, so nothing of it stays in
//!    the server's memory): a `Store` and an `AuthService` on a temporary directory with
//!    the settings the server will use; the author and N followers written with
//!    `Store::create_account` (one precomputed Argon2 hash for all instead of N hashings),
//!    each follower following the author through `Store::follow` (the library's follow:
//!    both follow indexes and both counts in one transaction), and one OAuth session per
//!    user from `AuthService::start_session` (scopes `read write follow push`, no
//!    password check). The store is flushed and the process exits.
//! 2. **starling**: the real server in this process (`common::Server::start_in` on that
//!    directory: shipped `local` settings, one HTTP worker per CPU, log filter `warn`),
//!    with `streaming.max_connections_per_ip` = N + 100 and `fanout.celebrity_followers`
//!    = 1,000,000 so every post is fanned out on write. The author's `followers_count`
//!    is checked to be N, and one warm-up post is made before any client connects (it
//!    reaches no stream), followed by `WS_FANOUT_SETTLE_SECS` (default 2) for its fan-out.
//! 3. **Clients** (a second child process: this program with `--clients`, so the
//!    server's RSS is its own): N tokio-tungstenite clients (4 KiB read buffer,
//!    `TCP_NODELAY`, a 2-thread tokio runtime), `WS_FANOUT_CONNECT_CONCURRENCY` (default
//!    200) connecting at a time, each to `/api/v1/streaming?stream=user` with
//!    `Authorization: Bearer <its follower's token>`. Every client reads all the time;
//!    for every text frame it takes the receive time (`CLOCK_MONOTONIC`, the clock both
//!    processes share) before parsing, then keeps (status id, time) for `update` frames
//!    (the id is read from the payload, a JSON string inside the frame).
//! 4. **RSS**: VmRSS of this (server) process just before the clients connect (after
//!    `malloc_trim(0)`, so memory freed by an earlier run in this process is not silently
//!    reused) and again `WS_FANOUT_SETTLE_SECS` after all N are connected and idle; per
//!    connection = the difference / N. (The clients process's own growth per connection
//!    is printed too, for scale; it is not the server's.)
//! 5. **Posting**: the author posts `POST /api/v1/statuses` (public, ~100 characters of
//!    text) at `WS_FANOUT_RATE` posts/s, `WS_FANOUT_POSTS` posts (defaults: 2/s × 20 for
//!    N ≤ 1,000, 1/s × 10 above), post k started at `start + k / rate` whatever earlier
//!    ones do. The acknowledgement time is when the `200` arrived (response head,
//!    `CLOCK_MONOTONIC`); the status id is read from its body.
//! 6. **Delivery**: latency of a frame = received − acknowledged, over every (follower,
//!    post) frame; a frame that overtakes its acknowledgement counts 0 and is reported
//!    as "before ack". The clients wait until every follower has as many distinct
//!    statuses as were posted and nothing has arrived for 250 ms, or at most
//!    `WS_FANOUT_DRAIN_SECS` (default 10) after the last acknowledgement. Reported:
//!    p50 / p99 / max latency (nearest rank), the time until the *last* follower had
//!    each post (median and max over posts), frames missing (must be 0), duplicated
//!    (the same status twice on one socket), unexpected (a status that was not posted
//!    in the run), and the server process's CPU time (all threads, the posting client
//!    included, which is small) per delivered frame, from the first post until the
//!    clients had everything, with the clients process's CPU beside it. Also the same
//!    latencies measured from the start of each POST instead of its acknowledgement
//!    (the acknowledgement is written by the same workers that push the frames, so
//!    under load it can come late, and frames before it). The server is then stopped.
//! 7. **Bare server** (`benches/common/bare_ws.rs`): a tokio-tungstenite broadcast server
//!    in this process on its own runtime of `WS_FANOUT_BARE_THREADS` workers (default 2,
//!    as many as starling's HTTP workers here), one bounded channel (1,000 frames, as
//!    starling's `streaming.queue_frames`) and writer task per connection, 4 KiB read
//!    buffer. The same client process and N clients connect (no token), RSS is taken the
//!    same way, and it broadcasts the same number of frames at the same rate: frame k is
//!    exactly the text of starling's k-th `update` frame as client 0 received it, with
//!    the status id replaced by a fresh id of the same length (same bytes, same size; a
//!    2,000-byte stand-in if starling delivered nothing). Its timestamp is taken just
//!    before the frame is handed to the channels (`try_send` to each), the bare
//!    equivalent of the acknowledgement. Same statistics.
//!
//! Then starling's p99 / the bare p99, against the targets: p99 ≤ 50 ms at 1,000
//! followers and ≤ 250 ms at 10,000; ≤ 2× the bare server's p99; ≤ 16 KiB RSS per idle
//! connection; 0 frames missing. Everything shares the machine's CPUs (two here):
//! server, clients and poster.
//!
//! The open-file limit of both processes is raised towards 2N + 100 (to the hard limit).
//!
//! Run `cargo bench --bench ws_fanout` (e.g. `WS_FANOUT_N=1000 cargo bench --bench
//! ws_fanout` for one size). Lines starting `SUMMARY` are the results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/bare_ws.rs"]
mod bare_ws;
mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bare_ws::BareServer;
use common::{Cpu, Report, Server, ms, thousands};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use starling::auth::{AuthService, NewSession};
use starling::domain::{Account, Id, Scopes};
use starling::storage::{SessionKind, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Frames a starling connection may have waiting (`streaming.queue_frames`); the bare
/// server's channels get the same.
const QUEUE_FRAMES: usize = 1000;

// ---------------------------------------------------------------- small helpers

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// A comma-separated list from `name`, one value per N or one for all; `None` if unset.
fn env_list(name: &str) -> Option<Vec<f64>> {
    let raw = std::env::var(name).ok()?;
    Some(raw.split(',').map(|v| v.trim().replace('_', "").parse().unwrap()).collect())
}

fn pick(list: &Option<Vec<f64>>, i: usize, default: f64) -> f64 {
    match list {
        Some(values) if values.len() == 1 => values[0],
        Some(values) => *values.get(i).unwrap_or_else(|| panic!("give one value, or one per N")),
        None => default,
    }
}

/// `CLOCK_MONOTONIC` in ns: the same clock in every process on the machine.
fn mono_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// VmRSS in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// CPU time (user + system) of this whole process, in seconds.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// Raises the open-file limit towards 2 × `connections` + 100 (at most the hard limit,
/// unless the process may raise that too).
fn raise_nofile(connections: usize) {
    let want = (2 * connections + 100) as libc::rlim_t;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        if limit.rlim_cur >= want {
            return;
        }
        let raised = libc::rlimit { rlim_cur: want, rlim_max: limit.rlim_max.max(want) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            limit.rlim_cur = limit.rlim_max.min(want);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    if (limit.rlim_cur as usize) < connections + 200 {
        eprintln!("ws_fanout: open-file limit {} is too low for {connections} connections", limit.rlim_cur);
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

fn mib(bytes: f64) -> String {
    format!("{:+.1} MiB", bytes / (1024.0 * 1024.0))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The status id of an `update` frame: `{"event":"update","payload":"{\"id\":\"…\",…}"}`.
fn update_id(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Frame {
        event: Option<String>,
        payload: Option<String>,
    }
    #[derive(Deserialize)]
    struct Payload {
        id: String,
    }
    let frame: Frame = serde_json::from_str(text).ok()?;
    if frame.event.as_deref() != Some("update") {
        return None;
    }
    serde_json::from_str::<Payload>(frame.payload.as_deref()?).ok()?.id.parse().ok()
}

// ---------------------------------------------------------------- 1. the data (child)

fn account(id: Id, username: String, password_hash: &str) -> Account {
    let email = format!("{username}@example.com");
    Account { display_name: username.clone(), ..Account::new(id, username, email, password_hash.to_owned()) }
}

/// Where `prepare` leaves things, under one temporary directory.
struct Prepared {
    store: PathBuf,
    /// `<author id> <author token>`.
    author: PathBuf,
    /// One follower token per line.
    followers: PathBuf,
}

impl Prepared {
    fn in_dir(dir: &Path) -> Self {
        Self { store: dir.join("store"), author: dir.join("author"), followers: dir.join("followers") }
    }
}

/// `--prepare <dir> <n>`: the author, N followers following it, a token for each.
fn prepare(dir: &Path, n: usize) {
    let paths = Prepared::in_dir(dir);
    let settings = common::settings_for(&paths.store);
    runtime().block_on(async {
        let started = Instant::now();
        let store = Store::open(&paths.store, settings.storage.node_id).unwrap();
        let auth = AuthService::new(&settings, store.clone()).unwrap();
        let password_hash = starling::auth::password::hash("correct horse battery staple").unwrap();
        let ids: Vec<Id> = (0..=n).map(|_| store.next_id()).collect();
        let author = ids[0];
        futures_util::stream::iter(ids.iter().enumerate())
            .map(|(i, id)| {
                let name = if i == 0 { "author".to_owned() } else { format!("follower{i}") };
                let (store, account) = (&store, account(*id, name, &password_hash));
                async move { store.create_account(&account).await }
            })
            .buffer_unordered(256)
            .try_for_each(|()| async { Ok(()) })
            .await
            .unwrap();
        let followed: Vec<bool> = futures_util::stream::iter(&ids[1..])
            .map(|follower| store.follow(*follower, author))
            .buffer_unordered(256)
            .try_collect()
            .await
            .unwrap();
        assert!(followed.iter().all(|f| *f));
        let tokens: Vec<String> = futures_util::stream::iter(&ids)
            .map(|id| {
                auth.start_session(NewSession {
                    user_id: Some(*id),
                    app_id: None,
                    client_name: "ws_fanout".into(),
                    kind: SessionKind::OAuth,
                    scopes: Scopes::all_user(),
                    user_agent: "ws_fanout".into(),
                    ip: "127.0.0.1".into(),
                    with_refresh: false,
                })
            })
            .buffered(256)
            .map_ok(|issued| issued.access_token)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(store.follower_ids(author).unwrap().len(), n);
        assert_eq!(store.account(author).unwrap().unwrap().followers_count, n as u64);
        store.flush_blocking().unwrap();
        std::fs::write(&paths.author, format!("{author} {}\n", tokens[0])).unwrap();
        std::fs::write(&paths.followers, tokens[1..].join("\n") + "\n").unwrap();
        eprintln!(
            "ws_fanout: prepared 1 author, {n} followers, {} sessions in {:.1} s",
            tokens.len(),
            started.elapsed().as_secs_f64()
        );
    });
}

// ---------------------------------------------------------------- 3. the clients (child)

/// What the clients process reports once every client is connected.
#[derive(Serialize, Deserialize)]
struct Ready {
    connected: usize,
    failed: usize,
    first_error: Option<String>,
    connect_secs: f64,
    rss_before: u64,
    rss_after: u64,
}

/// What the clients process reports at the end.
#[derive(Serialize, Deserialize)]
struct Delivery {
    posts: usize,
    expected: usize,
    /// (follower, post) pairs delivered at least once.
    delivered: usize,
    missing: usize,
    duplicates: usize,
    /// `update` frames whose status was not one of the posts.
    unexpected: usize,
    /// Frames received before their post's acknowledgement (counted as 0 ms).
    early: usize,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
    /// The same from when the post's request was started (the bare server: the same
    /// times): includes the time the acknowledgement itself took.
    from_start_p50_ns: u64,
    from_start_p99_ns: u64,
    from_start_max_ns: u64,
    /// Per post: when its last follower had it (ns after the acknowledgement), and by
    /// how many followers.
    last_per_post: Vec<(u64, usize)>,
    frame_bytes_avg: f64,
    other_frames: usize,
    first_other: Option<String>,
    ended_early: usize,
    first_end: Option<String>,
}

#[derive(Default)]
struct ClientLog {
    updates: Vec<(u64, i64)>,
    bytes: usize,
    other: usize,
    first_other: Option<String>,
    ended: Option<String>,
    /// Client 0 keeps its `update` frames' text (the bare server replays them).
    frames: Vec<String>,
}

async fn connect(url: &str, token: Option<String>) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(token) = token {
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(Duration::from_secs(30), connecting).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => Err(format!(
            "HTTP {}: {}",
            response.status(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out after 30 s".into()),
    }
}

/// Reads until told to stop. `received` counts each status id once per client.
async fn read_frames(
    mut ws: Ws,
    keep: bool,
    received: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> ClientLog {
    let mut log = ClientLog::default();
    let mut seen = HashSet::new();
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let at = mono_ns();
                    match update_id(&text) {
                        Some(id) => {
                            log.updates.push((id, at));
                            log.bytes += text.len();
                            if seen.insert(id) {
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                            if keep {
                                log.frames.push(text.to_string());
                            }
                        }
                        None => {
                            log.other += 1;
                            log.first_other.get_or_insert_with(|| text.chars().take(300).collect());
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    log.ended = Some(format!("closed by the server: {frame:?}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    log.ended = Some(format!("error: {e}"));
                    break;
                }
                None => {
                    log.ended = Some("stream ended".into());
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
    log
}

/// `--clients <url> <token file or -> <n>`: connects, says `READY <json>`, then reads
/// `SENT <status id> <ack ns> <start ns>` lines and `DONE <drain ms>` from stdin, waits
/// until each client has as many distinct statuses as were sent and nothing arrived for
/// 250 ms (or the drain time passed), says `DRAINED <frames> <own CPU seconds since
/// READY>`, `RESULT <json>`, `FRAME <json string>` (client 0's update frames) and `END`.
fn clients(url: &str, tokens: Option<&Path>, n: usize) {
    raise_nofile(n);
    runtime().block_on(async {
        let tokens: Vec<Option<String>> = match tokens {
            Some(path) => std::fs::read_to_string(path).unwrap().lines().take(n).map(|t| Some(t.to_owned())).collect(),
            None => vec![None; n],
        };
        assert_eq!(tokens.len(), n, "not enough tokens");
        let rss_before = rss();
        let received = Arc::new(AtomicUsize::new(0));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let concurrency = env_usize("WS_FANOUT_CONNECT_CONCURRENCY", 200);
        let connected: Vec<Result<tokio::task::JoinHandle<ClientLog>, String>> =
            futures_util::stream::iter(tokens.into_iter().enumerate())
                .map(|(i, token)| {
                    let (received, stop) = (received.clone(), stop_rx.clone());
                    async move {
                        let ws = connect(url, token).await?;
                        Ok(tokio::spawn(read_frames(ws, i == 0, received, stop)))
                    }
                })
                .buffered(concurrency)
                .collect()
                .await;
        let connect_secs = started.elapsed().as_secs_f64();
        let (mut handles, mut failed, mut first_error) = (Vec::new(), 0, None);
        for c in connected {
            match c {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        let ready = Ready { connected: handles.len(), failed, first_error, connect_secs, rss_before, rss_after: rss() };
        println!("READY {}", serde_json::to_string(&ready).unwrap());
        let cpu_at_ready = process_cpu_secs();

        let mut sent: HashMap<u64, (i64, i64)> = HashMap::new();
        let mut drain = Duration::from_secs(10);
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts[..] {
                ["SENT", id, acked, started] => {
                    sent.insert(id.parse().unwrap(), (acked.parse().unwrap(), started.parse().unwrap()));
                }
                ["DONE", drain_ms] => {
                    drain = Duration::from_millis(drain_ms.parse().unwrap());
                    break;
                }
                _ => panic!("unexpected instruction {line:?}"),
            }
        }
        let expected = handles.len() * sent.len();
        let deadline = Instant::now() + drain;
        let (mut count, mut changed) = (received.load(Ordering::Relaxed), Instant::now());
        while (count < expected || changed.elapsed() < Duration::from_millis(250)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let now = received.load(Ordering::Relaxed);
            if now != count {
                (count, changed) = (now, Instant::now());
            }
        }
        println!("DRAINED {count} {}", process_cpu_secs() - cpu_at_ready);
        stop_tx.send(true).unwrap();
        let mut logs = Vec::with_capacity(handles.len());
        for handle in handles {
            logs.push(handle.await.unwrap());
        }
        let delivery = tally(&logs, &sent, started);
        println!("RESULT {}", serde_json::to_string(&delivery).unwrap());
        if let Some(first) = logs.first() {
            for frame in &first.frames {
                println!("FRAME {}", serde_json::to_string(frame).unwrap());
            }
        }
        println!("END");
    });
    // Leave without tearing 10,000 sockets down one by one.
    std::process::exit(0);
}

fn tally(logs: &[ClientLog], sent: &HashMap<u64, (i64, i64)>, started: Instant) -> Delivery {
    let mut latencies = Vec::with_capacity(logs.len() * sent.len());
    let mut from_start = Vec::with_capacity(logs.len() * sent.len());
    let mut last: HashMap<u64, (u64, usize)> = HashMap::new();
    let (mut duplicates, mut unexpected, mut early, mut bytes, mut frames) = (0, 0, 0, 0, 0);
    for log in logs {
        let mut seen = HashSet::new();
        bytes += log.bytes;
        frames += log.updates.len();
        for (id, at) in &log.updates {
            let Some((acked, request_started)) = sent.get(id) else {
                unexpected += 1;
                continue;
            };
            if !seen.insert(*id) {
                duplicates += 1;
                continue;
            }
            let latency = at - acked;
            if latency < 0 {
                early += 1;
            }
            let latency = latency.max(0) as u64;
            latencies.push(Duration::from_nanos(latency));
            from_start.push(Duration::from_nanos((at - request_started).max(0) as u64));
            let entry = last.entry(*id).or_default();
            entry.0 = entry.0.max(latency);
            entry.1 += 1;
        }
    }
    let expected = logs.len() * sent.len();
    let delivered = latencies.len();
    let report = Report::new(delivered, expected - delivered, started.elapsed(), latencies);
    let from_start = Report::new(delivered, expected - delivered, started.elapsed(), from_start);
    let mut posts: Vec<(&u64, &(i64, i64))> = sent.iter().collect();
    posts.sort_by_key(|(_, (acked, _))| *acked);
    let (ended_early, first_end) = {
        let ended: Vec<&String> = logs.iter().filter_map(|l| l.ended.as_ref()).collect();
        (ended.len(), ended.first().map(|s| (*s).clone()))
    };
    Delivery {
        posts: sent.len(),
        expected,
        delivered,
        missing: expected - delivered,
        duplicates,
        unexpected,
        early,
        p50_ns: report.quantile(0.50).as_nanos() as u64,
        p99_ns: report.quantile(0.99).as_nanos() as u64,
        max_ns: report.max().as_nanos() as u64,
        from_start_p50_ns: from_start.quantile(0.50).as_nanos() as u64,
        from_start_p99_ns: from_start.quantile(0.99).as_nanos() as u64,
        from_start_max_ns: from_start.max().as_nanos() as u64,
        last_per_post: posts.iter().map(|(id, _)| last.get(id).copied().unwrap_or((0, 0))).collect(),
        frame_bytes_avg: bytes as f64 / frames.max(1) as f64,
        other_frames: logs.iter().map(|l| l.other).sum(),
        first_other: logs.iter().find_map(|l| l.first_other.clone()),
        ended_early,
        first_end,
    }
}

// ---------------------------------------------------------------- 2, 4–7. the runs

/// One server's run, as this (server) process saw it.
struct Run {
    ready: Ready,
    delivery: Delivery,
    frames: Vec<String>,
    /// VmRSS before the clients connected and once they were idle.
    rss_before: u64,
    rss_idle: u64,
    /// Process CPU seconds from the first send until the clients had everything, and
    /// the frames they had received by then.
    cpu_secs: f64,
    received: usize,
    cpu_lines: Vec<String>,
    /// The clients process's CPU seconds over the same time, and the time.
    clients_cpu_secs: f64,
    wall: Duration,
}

impl Run {
    fn rss_per_connection(&self) -> f64 {
        (self.rss_idle as f64 - self.rss_before as f64) / self.ready.connected.max(1) as f64
    }

    fn cpu_us_per_frame(&self) -> f64 {
        self.cpu_secs * 1e6 / self.received.max(1) as f64
    }

    fn p99(&self) -> Duration {
        Duration::from_nanos(self.delivery.p99_ns)
    }

    /// Median and max over posts of the time until the last follower had it.
    fn last_follower(&self) -> (Duration, Duration) {
        let mut last: Vec<u64> = self.delivery.last_per_post.iter().map(|(ns, _)| *ns).collect();
        last.sort_unstable();
        let median = last.get(last.len().saturating_sub(1) / 2).copied().unwrap_or(0);
        (Duration::from_nanos(median), Duration::from_nanos(last.last().copied().unwrap_or(0)))
    }
}

/// Runs the clients process against `url`, and `send` (which returns (status id,
/// acknowledgement time, request start time) per frame) once they are connected and idle.
async fn drive(url: &str, tokens: Option<&Path>, n: usize, send: impl AsyncFnOnce() -> Vec<(u64, i64, i64)>) -> Run {
    let settle = common::env_secs("WS_FANOUT_SETTLE_SECS", 2.0);
    let drain = common::env_secs("WS_FANOUT_DRAIN_SECS", 10.0);
    // Give back what earlier runs in this process freed, so the connections' memory shows
    // in VmRSS instead of reusing pages that are already resident.
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe { libc::malloc_trim(0) };
    let rss_before = rss();
    let tokens = tokens.map_or_else(|| "-".to_owned(), |p| p.display().to_string());
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--clients", url, &tokens, &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || lines.next_line().await.unwrap().expect("the clients process ended early");

    let line = next().await;
    let ready: Ready = serde_json::from_str(line.strip_prefix("READY ").unwrap()).unwrap();
    if let Some(e) = &ready.first_error {
        eprintln!("ws_fanout: {} of {n} clients failed to connect; first: {e}", ready.failed);
    }
    tokio::time::sleep(settle).await;
    let rss_idle = rss();

    let cpu = Cpu::now();
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let sent = send().await;
    let mut instructions = String::new();
    for (id, acked, started) in &sent {
        instructions.push_str(&format!("SENT {id} {acked} {started}\n"));
    }
    instructions.push_str(&format!("DONE {}\n", drain.as_millis()));
    stdin.write_all(instructions.as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();

    let line = next().await;
    let cpu_secs = process_cpu_secs() - cpu_before;
    let drained: Vec<&str> = line.strip_prefix("DRAINED ").unwrap().split(' ').collect();
    let (received, clients_cpu_secs): (usize, f64) = (drained[0].parse().unwrap(), drained[1].parse().unwrap());
    let wall = started.elapsed();
    let cpu_lines = Cpu::since(&cpu, received, wall).into_iter().map(|l| l.replace("request", "frame")).collect();

    let line = next().await;
    let delivery: Delivery = serde_json::from_str(line.strip_prefix("RESULT ").unwrap()).unwrap();
    let mut frames = Vec::new();
    loop {
        let line = next().await;
        match line.strip_prefix("FRAME ") {
            Some(frame) => frames.push(serde_json::from_str(frame).unwrap()),
            None if line == "END" => break,
            None => panic!("unexpected line from the clients: {line}"),
        }
    }
    drop(stdin);
    let status = child.wait().await.unwrap();
    assert!(status.success(), "the clients process failed: {status}");
    Run { ready, delivery, frames, rss_before, rss_idle, cpu_secs, received, cpu_lines, clients_cpu_secs, wall }
}

fn status_text(k: usize) -> String {
    format!("Post {k} of the WebSocket fan-out benchmark: a short status, about as long as people usually write.")
}

/// One post: (status id, acknowledgement time, request start time, round trip).
async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    text: String,
) -> Result<(u64, i64, i64, Duration), String> {
    let (sent, started) = (Instant::now(), mono_ns());
    let response = client
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth(token)
        .form(&[("status", text)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let acked = mono_ns();
    let round_trip = sent.elapsed();
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {body}"));
    }
    let id = serde_json::from_str::<Value>(&body).map_err(|e| e.to_string())?["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("no status id in {body}"))?;
    Ok((id, acked, started, round_trip))
}

/// Posts `posts` statuses at `rate` per second (open loop). Returns (id, ack time,
/// start time) per acknowledged post and the round trips.
async fn post_at_rate(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    posts: usize,
    rate: f64,
) -> (Vec<(u64, i64, i64)>, Vec<Duration>) {
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(posts);
    for k in 0..posts {
        tokio::time::sleep_until((start + Duration::from_secs_f64(k as f64 / rate)).into()).await;
        let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move { post(&client, &base, &token, status_text(k)).await }));
    }
    let (mut acked, mut round_trips) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok((id, at, started, round_trip)) => {
                acked.push((id, at, started));
                round_trips.push(round_trip);
            }
            Err(e) => eprintln!("ws_fanout: a post failed: {e}"),
        }
    }
    (acked, round_trips)
}

/// The frames the bare server sends: starling's, each with its status id replaced by a
/// fresh one of the same length (a 2,000-byte stand-in if there are none).
fn bare_frames(starling: &[String], posts: usize) -> Vec<(u64, Utf8Bytes)> {
    let templates: Vec<(u64, &String)> = starling.iter().filter_map(|f| update_id(f).map(|id| (id, f))).collect();
    let base = templates.iter().map(|(id, _)| *id).max().unwrap_or(113_000_000_000_000_000) + 1;
    (0..posts)
        .map(|k| {
            let id = base + k as u64;
            let frame = match templates.get(k).or(templates.first()) {
                Some((old, text)) if old.to_string().len() == id.to_string().len() => {
                    text.replace(&old.to_string(), &id.to_string())
                }
                _ => {
                    let head =
                        format!(r#"{{"stream":["user"],"event":"update","payload":"{{\"id\":\"{id}\",\"content\":\""#);
                    let tail = r#"\"}"}"#;
                    format!("{head}{}{tail}", "x".repeat(2000 - head.len() - tail.len()))
                }
            };
            assert_eq!(update_id(&frame), Some(id));
            (id, Utf8Bytes::from(frame))
        })
        .collect()
}

fn print_run(n: usize, name: &str, run: &Run) {
    let d = &run.delivery;
    let (median_last, max_last) = run.last_follower();
    println!(
        "SUMMARY   N={:<6} {name:<8} p50 {:>9}  p99 {:>9}  max {:>9}  last follower per post: median {}, max {}",
        thousands(n as f64),
        ms(Duration::from_nanos(d.p50_ns)),
        ms(run.p99()),
        ms(Duration::from_nanos(d.max_ns)),
        ms(median_last),
        ms(max_last)
    );
    println!(
        "SUMMARY   N={:<6} {name:<8} {} posts, {}/{} frames delivered ({} missing, {} duplicated, {} unexpected, {} before the ack), {:.0} bytes per frame; {}/{} clients connected in {:.1} s{}",
        thousands(n as f64),
        d.posts,
        thousands(d.delivered as f64),
        thousands(d.expected as f64),
        d.missing,
        d.duplicates,
        d.unexpected,
        d.early,
        d.frame_bytes_avg,
        thousands(run.ready.connected as f64),
        thousands(n as f64),
        run.ready.connect_secs,
        if d.ended_early > 0 { format!(", {} connections ended early", d.ended_early) } else { String::new() }
    );
    println!(
        "SUMMARY   N={:<6} {name:<8} RSS per idle connection {} ({} for {}); server-process CPU {:.1} µs per delivered frame",
        thousands(n as f64),
        kib(run.rss_per_connection()),
        mib(run.rss_idle as f64 - run.rss_before as f64),
        thousands(run.ready.connected as f64),
        run.cpu_us_per_frame()
    );
    for line in &run.cpu_lines {
        println!("    {name:<8} {line}");
    }
    println!(
        "    {name:<8} the clients process (among the other processes): {:.2} CPUs over the {:.1} s",
        run.clients_cpu_secs / run.wall.as_secs_f64(),
        run.wall.as_secs_f64()
    );
    println!(
        "    {name:<8} clients process: {} per connection (client side, not the server's)",
        kib((run.ready.rss_after as f64 - run.ready.rss_before as f64) / run.ready.connected.max(1) as f64)
    );
    if let Some(end) = &d.first_end {
        println!("    {name:<8} first connection that ended before the run did: {end}");
    }
    if d.other_frames > 0 {
        println!(
            "    {name:<8} {} frames other than update; first: {}",
            d.other_frames,
            d.first_other.as_deref().unwrap_or("")
        );
    }
}

fn run_size(rt: &tokio::runtime::Runtime, n: usize, posts: usize, rate: f64) {
    // 1. The data, in a child process.
    let dir = tempfile::tempdir().unwrap();
    let paths = Prepared::in_dir(dir.path());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--prepare")
        .arg(dir.path())
        .arg(n.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "preparing the data failed: {status}");
    let author = std::fs::read_to_string(&paths.author).unwrap();
    let (author_id, author_token) = author.trim().split_once(' ').unwrap();
    let (author_id, author_token) = (author_id.to_owned(), author_token.to_owned());

    // 2. starling.
    let server = Server::start_in(&paths.store, |s| {
        s.streaming.max_connections_per_ip = n + 100;
        s.fanout.celebrity_followers = 1_000_000;
    });
    let base = server.base.clone();
    let (starling, round_trips) = rt.block_on(async {
        let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(600)).build().unwrap();
        let author: Value = client
            .get(format!("{base}/api/v1/accounts/{author_id}"))
            .bearer_auth(&author_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(author["followers_count"].as_u64(), Some(n as u64), "{author}");
        post(&client, &base, &author_token, "warm-up, before any follower is connected".into()).await.unwrap();
        // Let its fan-out finish before anyone subscribes.
        tokio::time::sleep(common::env_secs("WS_FANOUT_SETTLE_SECS", 2.0)).await;

        let url = format!("{}/api/v1/streaming?stream=user", base.replacen("http://", "ws://", 1));
        let mut round_trips = Vec::new();
        let run = drive(&url, Some(&paths.followers), n, async || {
            let (acked, rtts) = post_at_rate(&client, &base, &author_token, posts, rate).await;
            round_trips = rtts;
            acked
        })
        .await;
        server.stop().await;
        (run, round_trips)
    });
    drop(dir);

    // 7. The bare server, same clients, same frames, same rate.
    let frames = bare_frames(&starling.frames, posts);
    let bare = BareServer::start(env_usize("WS_FANOUT_BARE_THREADS", 2), QUEUE_FRAMES);
    let url = format!("ws://127.0.0.1:{}/", bare.port);
    let mut refused = 0;
    let bare_run = rt.block_on(drive(&url, None, n, async || {
        assert_eq!(bare.connections(), n, "not every client reached the bare server");
        let start = Instant::now() + Duration::from_millis(20);
        let mut sent = Vec::with_capacity(posts);
        for (k, (id, frame)) in frames.iter().enumerate() {
            tokio::time::sleep_until((start + Duration::from_secs_f64(k as f64 / rate)).into()).await;
            let at = mono_ns();
            refused += bare.broadcast(frame).1;
            sent.push((*id, at, at));
        }
        sent
    }));
    bare.stop();

    // Report.
    let posts_report = Report::new(round_trips.len(), posts - round_trips.len(), Duration::from_secs(1), round_trips);
    println!(
        "SUMMARY ws_fanout N={}: {posts} posts at {rate}/s; latency = frame received − POST acknowledged (starling), − frame handed to the channels (bare)",
        thousands(n as f64)
    );
    print_run(n, "starling", &starling);
    let d = &starling.delivery;
    println!(
        "SUMMARY   N={:<6} starling from the POST's start instead of its ack: p50 {}  p99 {}  max {}; POST round trip p50 {}, max {} ({} acknowledged, {} failed)",
        thousands(n as f64),
        ms(Duration::from_nanos(d.from_start_p50_ns)),
        ms(Duration::from_nanos(d.from_start_p99_ns)),
        ms(Duration::from_nanos(d.from_start_max_ns)),
        ms(posts_report.quantile(0.5)),
        ms(posts_report.max()),
        posts_report.ok,
        posts_report.errors
    );
    print_run(n, "bare", &bare_run);
    if refused > 0 {
        println!("    bare     {refused} frames refused by full or closed channels");
    }
    let ratio = starling.p99().as_secs_f64() / bare_run.p99().as_secs_f64().max(1e-9);
    let target = match n {
        1_000 => Some(Duration::from_millis(50)),
        10_000 => Some(Duration::from_millis(250)),
        _ => None,
    };
    println!(
        "SUMMARY   N={:<6} starling p99 / bare p99 = {ratio:.2} (target <= 1.5: {}){}; frames missing {} (target 0: {})",
        thousands(n as f64),
        verdict(ratio <= 1.5),
        target.map_or(String::new(), |t| format!(
            "; starling p99 {} (target <= {}: {})",
            ms(starling.p99()),
            ms(t),
            verdict(starling.p99() <= t)
        )),
        starling.delivery.missing,
        verdict(starling.delivery.missing == 0 && starling.ready.connected == n)
    );
    let cpu_ratio = starling.cpu_us_per_frame() / bare_run.cpu_us_per_frame().max(1e-9);
    println!(
        "SUMMARY   N={:<6} server CPU per delivered frame: starling {:.1} µs, bare {:.1} µs, ratio {cpu_ratio:.2} (target <= 2: {})",
        thousands(n as f64),
        starling.cpu_us_per_frame(),
        bare_run.cpu_us_per_frame(),
        verdict(cpu_ratio <= 2.0)
    );
    let per_conn = starling.rss_per_connection();
    println!(
        "SUMMARY   N={:<6} RSS per idle connection: starling {}, bare {}, difference {} (target starling <= 16 KiB: {})",
        thousands(n as f64),
        kib(per_conn),
        kib(bare_run.rss_per_connection()),
        kib(per_conn - bare_run.rss_per_connection()),
        verdict(per_conn <= 16.0 * 1024.0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--prepare") {
        prepare(Path::new(&args[at + 1]), args[at + 2].parse().unwrap());
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--clients") {
        let tokens = (args[at + 2] != "-").then(|| Path::new(&args[at + 2]));
        clients(&args[at + 1], tokens, args[at + 3].parse().unwrap());
        return;
    }
    let sizes: Vec<usize> = std::env::var("WS_FANOUT_N")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .map(|n| n.trim().replace('_', "").parse().unwrap())
        .collect();
    let (rates, posts) = (env_list("WS_FANOUT_RATE"), env_list("WS_FANOUT_POSTS"));
    raise_nofile(sizes.iter().copied().max().unwrap_or(0));
    let rt = runtime();
    let started = Instant::now();
    for (i, &n) in sizes.iter().enumerate() {
        let rate = pick(&rates, i, if n <= 1000 { 2.0 } else { 1.0 });
        let posts = pick(&posts, i, if n <= 1000 { 20.0 } else { 10.0 }) as usize;
        run_size(&rt, n, posts, rate);
    }
    eprintln!("ws_fanout: done in {:.0} s", started.elapsed().as_secs_f64());
}
