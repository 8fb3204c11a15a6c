//! Memory: resident set size with 100,000 users and their statuses on disk, before
//! and after 10,000 users become active (one `TimelineActor` each).
//!
//! Two processes, so the measurement is not polluted by what building the data left in
//! the allocator and sled's cache:
//!
//! 1. Build (this process): a `Store` on a temporary directory; `MEMORY_USERS` (default
//!    100,000) accounts written with `Store::create_account` (one fixed, precomputed
//!    Argon2id hash for all, instead of 100,000 hashings); `MEMORY_STATUSES` (default
//!    200,000: a million takes longer than this suite can afford, see BENCHMARKS.md)
//!    public statuses through `Store::create_status` (no idempotency key; each waits
//!    for its durable flush, 512 in flight so flushes are shared), status k by user
//!    k mod users; each then fanned out as the router does, with `add_to_timelines` to
//!    its author's home timeline and to enough active users' that every active user has
//!    about 100 entries from others (so the hot page of 80 is full), and its fan-out job
//!    finished. Then a blocking flush and the store is closed.
//! 2. Measure (this program again, `--measure <dir>`): VmRSS from `/proc/self/status`
//!    - at start (baseline),
//!    - after `Store::open` on the data (idle users: data on disk, no user state
//!      loaded; what sled itself keeps in memory for an open database),
//!    - after reading the 80-entry home page of each of the `MEMORY_ACTIVE` (default
//!      10,000) active users straight from sled (what the actors will read; this grows
//!      sled's page cache, not per-user state),
//!    - after `get_or_start` + one `FetchHotPage` for each active user, in an actix
//!      system (the actors and the registry),
//!    - after the actors stopped for idleness (`MEMORY_IDLE_SECS`, default 15), and
//!      again after `malloc_trim(0)` (glibc keeps freed memory unless asked).
//!
//!    Bytes per active actor = (after actors − after the sled reads) / active users.
//!
//! Run `cargo bench --bench memory`. Lines starting `SUMMARY` are the results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use starling::actors::timeline::{FetchHotPage, HOT_ENTRIES, TimelineRegistry};
use starling::domain::{Account, Id, Status, Visibility};
use starling::storage::{FanoutJob, PageQuery, Store};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// VmRSS in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn signed_mib(bytes: i64) -> String {
    format!("{:+.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The users who will be active: every (users / active)-th one.
fn active_users(users: &[Id], active: usize) -> Vec<Id> {
    let step = (users.len() / active).max(1);
    users.iter().step_by(step).take(active).copied().collect()
}

fn account(id: Id, i: usize, password_hash: &str) -> Account {
    Account {
        display_name: format!("User {i}"),
        ..Account::new(id, format!("user{i}"), format!("user{i}@example.com"), password_hash.to_owned())
    }
}

fn status(id: Id, author: Id, k: usize) -> Status {
    Status {
        id,
        account_id: author,
        text: format!("Status number {k}: a short post of the length people usually write, give or take."),
        spoiler_text: String::new(),
        visibility: Visibility::Public,
        sensitive: false,
        language: Some("en".into()),
        in_reply_to_id: None,
        in_reply_to_account_id: None,
        reblog_of: None,
        mentions: vec![],
        tags: vec![],
        created_at_ms: id.millis(),
        edited_at_ms: None,
    }
}

fn build(dir: &Path, users: usize, statuses: usize, active: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = Store::open(dir, 0).unwrap();
    let password_hash = starling::auth::password::hash("correct horse battery staple").unwrap();

    let started = Instant::now();
    let ids: Vec<Id> = (0..users).map(|_| store.next_id()).collect();
    rt.block_on(
        futures_util::stream::iter(ids.iter().enumerate())
            .map(|(i, id)| {
                let (store, account) = (&store, account(*id, i, &password_hash));
                async move { store.create_account(&account).await }
            })
            .buffer_unordered(512)
            .try_for_each(|()| async { Ok(()) }),
    )
    .unwrap();
    let accounts_secs = started.elapsed().as_secs_f64();
    eprintln!("memory: {users} accounts in {accounts_secs:.1} s");

    let active = active_users(&ids, active);
    let in_flight = env_usize("MEMORY_IN_FLIGHT", 512);
    // Enough recipients per status that every active user gets about 100 entries.
    let per_status = (100 * active.len()).div_ceil(statuses).max(1);
    let flushes = store.flush_count();
    let started = Instant::now();
    rt.block_on(
        futures_util::stream::iter(0..statuses)
            .map(|k| {
                let (store, ids, active) = (&store, &ids, &active);
                async move {
                    let author = ids[k % ids.len()];
                    let s = status(store.next_id(), author, k);
                    store.create_status(&s, None).await.unwrap();
                    // The router's work for it: home entries, then the job is done.
                    let mut audience = vec![author];
                    audience.extend((0..per_status).map(|j| active[(k * per_status + j) % active.len()]));
                    store.add_to_timelines(s.id, &audience).unwrap();
                    store.finish_fanout_job(&FanoutJob::Publish(s)).unwrap();
                    if k > 0 && k.is_multiple_of(100_000) {
                        eprintln!("memory: {k} statuses after {:.0} s", started.elapsed().as_secs_f64());
                    }
                }
            })
            .buffer_unordered(in_flight)
            .collect::<()>(),
    );
    let statuses_secs = started.elapsed().as_secs_f64();
    let flushes = store.flush_count() - flushes;
    store.flush_blocking().unwrap();
    println!(
        "SUMMARY   built {users} accounts in {accounts_secs:.0} s; {statuses} statuses in {statuses_secs:.0} s: {:.0} statuses/s through create_status ({in_flight} in flight), {flushes} group-commit flushes ({:.1} ms each, {:.0} statuses per flush); {} on disk",
        statuses as f64 / statuses_secs,
        statuses_secs * 1e3 / flushes.max(1) as f64,
        statuses as f64 / flushes.max(1) as f64,
        mib(store.size_on_disk().unwrap())
    );
    assert_eq!(store.pending_fanout_count(), 0);
    let list: Vec<u8> = active.iter().flat_map(|id| id.to_be_bytes()).collect();
    std::fs::write(active_list(dir), list).unwrap();
}

/// The active users' ids, written beside the store by the build.
fn active_list(store_dir: &Path) -> std::path::PathBuf {
    store_dir.with_file_name("active-users")
}

fn measure(dir: &Path, users: usize, idle: Duration) {
    let runner = actix::System::new();
    runner.block_on(async move {
        let baseline = rss();
        // The building process has exited, but wait for its lock on the files to go.
        let deadline = Instant::now() + Duration::from_secs(60);
        let store = loop {
            match Store::open(dir, 0) {
                Ok(store) => break store,
                Err(e) if Instant::now() > deadline => panic!("could not open the store: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let opened = rss();
        let disk = store.size_on_disk().unwrap();
        assert_eq!(store.account_count(), users);
        let active: Vec<Id> = std::fs::read(active_list(dir))
            .unwrap()
            .chunks_exact(8)
            .map(|c| Id(u64::from_be_bytes(c.try_into().unwrap())))
            .collect();

        // What the actors will read, read once straight from sled.
        let q = PageQuery { limit: HOT_ENTRIES, ..PageQuery::default() };
        for user in &active {
            assert_eq!(store.home_page(*user, &q, |_| Ok(true)).unwrap().len(), HOT_ENTRIES);
        }
        let warm = rss();

        let registry = TimelineRegistry::new(store.clone(), idle);
        let started = Instant::now();
        for user in &active {
            let page = registry.get_or_start(*user).send(FetchHotPage).await.unwrap().unwrap();
            assert_eq!(page.ids.len(), HOT_ENTRIES);
        }
        let start_secs = started.elapsed().as_secs_f64();
        assert_eq!(registry.active_count(), active.len());
        let with_actors = rss();

        // Idle actors stop themselves and leave the registry.
        let deadline = Instant::now() + idle * 3;
        while registry.active_count() > 0 && Instant::now() < deadline {
            actix::clock::sleep(Duration::from_millis(200)).await;
        }
        let left = registry.active_count();
        let after_idle = rss();
        // SAFETY: malloc_trim only returns free heap memory to the system.
        unsafe { libc::malloc_trim(0) };
        let trimmed = rss();

        let per_actor = (with_actors as i64 - warm as i64) as f64 / active.len() as f64;
        let n = active.len();
        let line = |label: String, bytes: u64, earlier: u64| {
            println!("SUMMARY   {label:<60} {:>10}  ({})", mib(bytes), signed_mib(bytes as i64 - earlier as i64));
        };
        println!("SUMMARY   {:<60} {:>10}", "VmRSS at start (baseline)", mib(baseline));
        line(format!("after Store::open, {users} users' data on disk ({})", mib(disk)), opened, baseline);
        line(format!("after reading {n} users' {HOT_ENTRIES}-entry home pages from sled"), warm, opened);
        line(format!("with {n} timeline actors (started in {start_secs:.1} s)"), with_actors, warm);
        println!(
            "SUMMARY   bytes per active actor: {per_actor:.0} (its {HOT_ENTRIES} hot ids are {} of them)",
            HOT_ENTRIES * 8
        );
        line(format!("after the actors stopped for idleness ({left} left)"), after_idle, with_actors);
        line("then after malloc_trim(0) (change: vs before the actors)".into(), trimmed, warm);
        drop(registry);
        store.flush_blocking().unwrap();
    });
}

fn main() {
    let users = env_usize("MEMORY_USERS", 100_000);
    let statuses = env_usize("MEMORY_STATUSES", 200_000);
    let active = env_usize("MEMORY_ACTIVE", 10_000);
    let idle = Duration::from_secs(env_usize("MEMORY_IDLE_SECS", 15) as u64);
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        measure(Path::new(&args[at + 1]), users, idle);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    println!("SUMMARY memory: {users} users, {statuses} statuses, {active} active users");
    build(&store_dir, users, statuses, active);
    // Measure in a fresh process, so nothing of the build stays in memory.
    let status =
        std::process::Command::new(std::env::current_exe().unwrap()).arg("--measure").arg(&store_dir).status().unwrap();
    assert!(status.success(), "measuring failed: {status}");
}
