//! Shared by the load benches (`post_load`, `home_load`, `ws_fanout`): the real server in
//! its own thread and actix system (on a fresh temporary directory, or on one prepared
//! through the library), users registered through the public API, and latency
//! statistics. Included with `mod common;`; not a bench target itself. (`bare_ws.rs`
//! beside it, the bare WebSocket broadcast server, is included by `ws_fanout` alone.)

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use starling::config::Settings;
use starling::startup::Application;

/// The real server (`Application::build` with the shipped `local` settings, an empty
/// temporary data directory, port 0, log filter `warn`), in its own thread and actix
/// system.
pub struct Server {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
    /// The temporary data directory `start` made (none for `start_in`).
    storage: Option<tempfile::TempDir>,
}

/// The shipped `local` settings with `storage.path = dir`, port 0 and log filter `warn`:
/// what `Server` runs with, and what a bench that prepares a data directory through the
/// library (same signing key path, same issuer) should use.
pub fn settings_for(dir: &Path) -> Settings {
    let mut settings =
        Settings::load_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config"), "local", false).unwrap();
    settings.storage.path = dir.to_path_buf();
    settings.server.port = 0;
    settings.log.filter = "warn".into();
    // The load generator is one address sending far more than a person would.
    settings.rate_limits.enabled = false;
    settings
}

impl Server {
    pub fn start() -> Self {
        let storage = tempfile::tempdir().unwrap();
        let settings = settings_for(storage.path());
        Self::launch(settings, Some(storage))
    }

    /// The real server on a data directory prepared beforehand (accounts, follows,
    /// sessions written through the library), with `configure` applied to the settings
    /// of [`settings_for`]. The directory is left in place.
    pub fn start_in(dir: &Path, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = settings_for(dir);
        configure(&mut settings);
        Self::launch(settings, None)
    }

    fn launch(settings: Settings, storage: Option<tempfile::TempDir>) -> Self {
        starling::telemetry::init(&settings.log);

        let (tx, rx) = mpsc::channel();
        // Named so the CPU accounting can tell it (and the actors it runs) apart.
        let thread = std::thread::Builder::new()
            .name("server-system".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let app = Application::build(settings).await.unwrap();
                    tx.send((app.port(), app.handle())).unwrap();
                    app.run_until_stopped().await.unwrap();
                });
            })
            .unwrap();
        let (port, handle) = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start");
        Self { base: format!("http://127.0.0.1:{port}"), handle, thread, storage }
    }

    /// Stops the server cleanly so sled flushes before the temporary directory goes.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        tokio::task::spawn_blocking(move || {
            self.thread.join().unwrap();
            drop(self.storage);
        })
        .await
        .unwrap();
    }
}

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// An app and its client-credentials token, through the public API.
pub async fn app_token(client: &reqwest::Client, base: &str) -> String {
    let app = json(
        client
            .post(format!("{base}/api/v1/apps"))
            .form(&[
                ("client_name", "social-bench"),
                ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
                ("scopes", "read write follow push"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = json(
        client
            .post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app["client_id"].as_str().unwrap()),
                ("client_secret", app["client_secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    token["access_token"].as_str().unwrap().to_owned()
}

/// A registered user: account id and access token.
#[derive(Clone)]
pub struct User {
    pub id: String,
    pub token: String,
}

/// Registers `username` through `POST /api/v1/accounts`.
pub async fn register(client: &reqwest::Client, base: &str, app_token: &str, username: &str) -> User {
    let registered = json(
        client
            .post(format!("{base}/api/v1/accounts"))
            .bearer_auth(app_token)
            .form(&[
                ("username", username),
                ("email", &format!("{username}@example.com")),
                ("password", "correct horse battery staple"),
                ("agreement", "true"),
                ("locale", "en"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = registered["access_token"].as_str().unwrap().to_owned();
    let me = json(
        client.get(format!("{base}/api/v1/accounts/verify_credentials")).bearer_auth(&token).send().await.unwrap(),
    )
    .await;
    User { id: me["id"].as_str().unwrap().to_owned(), token }
}

/// Registers `prefix0`, `prefix1`, … a few at a time (each costs an Argon2 hash).
pub async fn register_many(client: &reqwest::Client, base: &str, app_token: &str, prefix: &str, n: usize) -> Vec<User> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|i| async move { register(client, base, app_token, &format!("{prefix}{i}")).await })
        .buffered(4)
        .collect()
        .await
}

/// Sorted latencies and what was counted.
pub struct Report {
    pub ok: usize,
    pub errors: usize,
    /// From the first (scheduled) start to the last completion.
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Report {
    pub fn new(ok: usize, errors: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Self { ok, errors, elapsed, latencies }
    }

    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0..=1) by nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// `12,345 req/s  p50 1.23 ms  p99 4.56 ms  max 7.89 ms  (n ok, e errors)`.
    pub fn line(&self) -> String {
        format!(
            "{:>9} req/s  p50 {}  p99 {}  max {}  ({} ok, {} errors, {:.1} s)",
            thousands(self.throughput()),
            ms(self.quantile(0.50)),
            ms(self.quantile(0.99)),
            ms(self.max()),
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64()
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds from the environment variable `name`, or `default`.
pub fn env_secs(name: &str, default: f64) -> Duration {
    Duration::from_secs_f64(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

/// CPU time used so far, by thread of this process, and by the whole machine.
#[derive(Clone, Default)]
pub struct Cpu {
    /// thread id → (group, seconds) for this process's live threads.
    threads: BTreeMap<u64, (&'static str, f64)>,
    /// The whole process, exited threads included.
    process: f64,
    machine_busy: f64,
    machine_total: f64,
}

/// The thread groups, by thread name: the server's HTTP workers, the server's actix
/// system thread (fan-out router, timeline actors, session janitor), the group-commit
/// flusher, sled's own threads, and the load generator's tokio workers.
fn group_of(comm: &str) -> &'static str {
    if comm.starts_with("actix-rt|system") {
        "http workers"
    } else if comm == "server-system" {
        "server actors"
    } else if comm == "sled-flusher" {
        "group commit"
    } else if comm.starts_with("sled") || comm == "log flusher" {
        "sled threads"
    } else if comm.starts_with("tokio-rt") {
        "load generator"
    } else {
        // The main thread (the open-loop scheduler runs there) and anything unnamed.
        "main & other"
    }
}

/// (name, utime + stime in seconds) from a `/proc/…/stat` line.
fn parse_stat(stat: &str) -> Option<(&str, f64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    // Fields after the name start at field 3 (state); utime is field 14, stime 15.
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((&stat[open + 1..close], ticks as f64 / clock_tick()))
}

impl Cpu {
    pub fn now() -> Self {
        let mut threads = BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else { continue };
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
                if let Some((comm, secs)) = parse_stat(&stat) {
                    threads.insert(tid, (group_of(comm), secs));
                }
            }
        }
        let process =
            std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_stat(&s).map(|(_, t)| t)).unwrap_or(0.0);
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<f64> =
            stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: f64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0.0) + cpu.get(4).copied().unwrap_or(0.0);
        let tick = clock_tick();
        Self { threads, process, machine_busy: (total - idle) / tick, machine_total: total / tick }
    }

    /// CPU used between `before` and now, as lines: µs per request by thread group
    /// (threads that exited meanwhile are counted as "exited threads"), and how busy the
    /// whole machine was (this process and everything else). Resolution: one clock tick
    /// (10 ms) per thread.
    pub fn since(before: &Cpu, requests: usize, wall: Duration) -> Vec<String> {
        let after = Cpu::now();
        let per = |s: f64| s * 1e6 / requests.max(1) as f64;
        let mut groups: BTreeMap<&'static str, f64> = BTreeMap::new();
        for (tid, (group, secs)) in &after.threads {
            let earlier = before.threads.get(tid).map_or(0.0, |(_, s)| *s);
            *groups.entry(group).or_insert(0.0) += secs - earlier;
        }
        let own = after.process - before.process;
        let exited = own - groups.values().sum::<f64>();
        if exited > 0.0 {
            groups.insert("exited threads", exited);
        }
        let parts: Vec<String> =
            groups.iter().filter(|(_, s)| **s > 0.0).map(|(g, s)| format!("{g} {:.0}", per(*s))).collect();
        let busy = after.machine_busy - before.machine_busy;
        let cpus = (after.machine_total - before.machine_total) / wall.as_secs_f64();
        vec![
            format!("CPU µs per request: {:.0} in this process ({})", per(own), parts.join(", ")),
            format!(
                "machine: {:.2} of {:.0} CPUs busy: {:.2} this process, {:.2} other processes",
                busy / wall.as_secs_f64(),
                cpus,
                own / wall.as_secs_f64(),
                (busy - own).max(0.0) / wall.as_secs_f64()
            ),
        ]
    }
}

fn clock_tick() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// `clients` async clients (one reqwest client and keep-alive connection each) in a
/// closed loop for `duration`: each sends the request `make(client, i, n)` builds (`i`
/// the client's number, `n` its request count), waits for the whole answer, and sends
/// the next. Latency is from send to the end of the body.
pub async fn closed_loop<F>(clients: usize, duration: Duration, make: F) -> Report
where
    F: Fn(&reqwest::Client, usize, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = std::sync::Arc::new(make);
    let start = std::time::Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            // Idle connections retire before actix's 5 s keep-alive closes them.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            let make = make.clone();
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0usize, 0usize, Vec::with_capacity(50_000));
                let mut n = 0u64;
                while std::time::Instant::now() < deadline {
                    n += 1;
                    let request = make(&client, i, n);
                    let sent = std::time::Instant::now();
                    if answered(request.send().await).await {
                        latencies.push(sent.elapsed());
                        ok += 1;
                    } else {
                        errors += 1;
                    }
                }
                (ok, errors, latencies, std::time::Instant::now())
            })
        })
        .collect();
    let (mut ok, mut errors, mut latencies, mut last) = (0, 0, Vec::new(), start);
    for task in tasks {
        let (o, e, l, finished) = task.await.unwrap();
        ok += o;
        errors += e;
        latencies.extend(l);
        last = last.max(finished);
    }
    Report::new(ok, errors, last - start, latencies)
}

/// True for a 2xx answer whose body arrived whole. The first failure of each kind is
/// printed, so errors in a report can be told apart.
pub async fn answered(result: reqwest::Result<reqwest::Response>) -> bool {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let failure = match result {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(_) if status.is_success() => return true,
                Ok(body) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)])),
                Err(e) => format!("body: {e}"),
            }
        }
        Err(e) => format!("request: {e}"),
    };
    let kind: String = failure.chars().take(40).collect();
    let mut seen = SEEN.lock().unwrap();
    if !seen.contains(&kind) {
        eprintln!("first failure of its kind: {failure}");
        seen.push(kind);
    }
    false
}
