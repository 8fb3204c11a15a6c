//! Posting with durable flush at concurrency 64, against the real server, next to
//! `GET /health` at the same concurrency in the same run.
//!
//! Starts the server (release build, shipped `local` settings: one HTTP worker per CPU,
//! log filter `warn`), registers 64 users through the API, then runs 64 async clients
//! (one reqwest client and keep-alive connection each) in a closed loop for
//! `POST_LOAD_SECS` (default 10) seconds: each sends `POST /api/v1/statuses` (a public
//! status, unique text, no Idempotency-Key), waits for the whole answer, and sends the
//! next. A post is answered only after the durable flush that covers it (group commit).
//! Then the same 64 clients do the same with `GET /health`. One second of each is run
//! first as a warm-up and not counted. Latency is per request, from send to the end of
//! the body. The users have no followers, so each post's fan-out (after the answer)
//! writes only the author's own home entry.
//!
//! Afterwards the users' `statuses_count`s are summed and checked against the posts
//! acknowledged, so every counted post really was stored.
//!
//! The floor, in the same run: the same 64 writers without HTTP, JSON, tokens or the
//! server, on a bare sled database in a scratch directory with starling's own group
//! commit (`storage::flusher::Flusher`: one flush plus `fdatasync` shared by every
//! waiter). Each writer runs one sled transaction per post over the keys a post writes
//! (the encoded status, the author's status index, the public index, the fan-out job,
//! the author's account record read and rewritten), waits for the durable flush, then
//! does what the fan-out does after the answer (the author's home entry in, the job
//! out), on a 2-thread runtime like the server's 2 HTTP workers. `POST /statuses /
//! floor` is the share of the bare storage cost the server reaches.
//!
//! The load generator runs in this process on a 2-thread tokio runtime and shares the
//! machine's CPUs with the server.
//!
//! The two halves run one after the other, and this machine's disk (`fdatasync` on a
//! shared virtio device) changes speed over such spans, so the ratio also comes from an
//! interleaved run: `POST_LOAD_SLICES` (default 5) pairs of a `POST_LOAD_SLICE_SECS`
//! (default 2) slice of posting and a slice of the floor, alternating, both summed.
//!
//! Run `cargo bench --bench post_load`. Lines starting `SUMMARY` are the results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cpu, Server, User, app_token, closed_loop, env_secs, register_many, thousands};
use serde_json::Value;
use sled::Transactional;
use starling::domain::{Id, Status, Visibility};
use starling::storage::{codec, flusher::Flusher, keys};

const CONCURRENCY: usize = 64;

async fn statuses_count(client: &reqwest::Client, base: &str, user: &User) -> usize {
    let me: Value = client
        .get(format!("{base}/api/v1/accounts/verify_credentials"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["statuses_count"].as_u64().unwrap() as usize
}

/// Posts per second of the bare floor: `CONCURRENCY` writers for `duration`.
fn floor(duration: Duration) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let flusher = std::sync::Arc::new(Flusher::start(db.clone(), dir.path()).unwrap());
    let tree = |name: &str| db.open_tree(name).unwrap();
    let trees = std::sync::Arc::new([
        tree("statusid_status"),
        tree("userid_statusids"),
        tree("public_statusids"),
        tree("fanout_jobs"),
        tree("userid_account"),
        tree("userid_timeline"),
    ]);
    let account = vec![7u8; 240];
    for author in 0..CONCURRENCY as u64 {
        trees[4].insert(keys::id_key(Id(author + 1)), account.clone()).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1 << 40));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let posted: usize = rt.block_on(async {
        let tasks: Vec<_> = (0..CONCURRENCY as u64)
            .map(|i| {
                let (trees, flusher, next) = (trees.clone(), flusher.clone(), next.clone());
                tokio::spawn(async move {
                    let author = Id(i + 1);
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let id = Id(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                        let status =
                            Status::new(id, author, format!("load test post {n} from client {i}"), Visibility::Public);
                        let value = codec::encode(&status).unwrap();
                        let sid = keys::id_key(id);
                        trees[..5]
                            .transaction(|tx| {
                                tx[0].insert(&sid, value.clone())?;
                                tx[1].insert(&keys::pair_key(author, id), &[])?;
                                tx[2].insert(&sid, &[])?;
                                tx[3].insert(&sid, value.clone())?;
                                let account = tx[4].get(keys::id_key(author))?.unwrap_or_default();
                                tx[4].insert(&keys::id_key(author), account)?;
                                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                            })
                            .unwrap();
                        flusher.durable().await.unwrap();
                        trees[5].insert(keys::pair_key(author, id), &[]).unwrap();
                        trees[3].remove(sid).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    (posted as f64 / started.elapsed().as_secs_f64(), posted)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let duration = env_secs("POST_LOAD_SECS", 10.0);
    let server = Server::start();
    let base = server.base.clone();
    let http_rate = rt.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let app = app_token(&client, &base).await;
        let users = register_many(&client, &base, &app, "poster", CONCURRENCY).await;
        eprintln!("post_load: {} users registered in {:.1} s", users.len(), started.elapsed().as_secs_f64());

        let tokens: Vec<String> = users.iter().map(|u| u.token.clone()).collect();
        let post = move |base: String| {
            let tokens = tokens.clone();
            move |client: &reqwest::Client, i: usize, n: u64| {
                client
                    .post(format!("{base}/api/v1/statuses"))
                    .bearer_auth(&tokens[i])
                    .form(&[("status", format!("load test post {n} from client {i}"))])
            }
        };
        let health =
            |base: String| move |client: &reqwest::Client, _: usize, _: u64| client.get(format!("{base}/health"));
        let warm = Duration::from_secs(1);

        let warm_posts = closed_loop(CONCURRENCY, warm, post(base.clone())).await;
        let cpu = Cpu::now();
        let posts = closed_loop(CONCURRENCY, duration, post(base.clone())).await;
        let posts_cpu = Cpu::since(&cpu, posts.ok, posts.elapsed);
        closed_loop(CONCURRENCY, warm, health(base.clone())).await;
        let cpu = Cpu::now();
        let health = closed_loop(CONCURRENCY, duration, health(base.clone())).await;
        let health_cpu = Cpu::since(&cpu, health.ok, health.elapsed);
        let posted = warm_posts.ok + posts.ok;

        let mut stored = 0;
        for user in &users {
            stored += statuses_count(&client, &base, user).await;
        }
        assert_eq!(stored, posted, "acknowledged posts missing from storage");

        println!("SUMMARY post_load: closed loop, {CONCURRENCY} clients, {:.0} s each", duration.as_secs_f64());
        println!("SUMMARY   POST /api/v1/statuses (durable) {}", posts.line());
        println!("SUMMARY   GET /health                     {}", health.line());
        for (name, lines) in [("POST", &posts_cpu), ("health", &health_cpu)] {
            for line in lines {
                println!("  {name:<6} {line}");
            }
        }
        println!(
            "SUMMARY   posts/s / health req/s = {:.3}   (posts/s {})",
            posts.throughput() / health.throughput(),
            thousands(posts.throughput()),
        );
        println!("SUMMARY   {stored} acknowledged posts (warm-up included) all found in statuses_count");

        // Interleaved: posting and the floor in alternating short slices, so both see the
        // same disk.
        let slices = (env_secs("POST_LOAD_SLICES", 5.0).as_secs_f64() as usize).max(1);
        let slice = env_secs("POST_LOAD_SLICE_SECS", 2.0).max(Duration::from_millis(500));
        let (mut http_ok, mut http_secs, mut floor_ok, mut floor_secs) = (0usize, 0.0, 0usize, 0.0);
        for _ in 0..slices {
            let part = closed_loop(CONCURRENCY, slice, post(base.clone())).await;
            http_ok += part.ok;
            http_secs += part.elapsed.as_secs_f64();
            // The floor makes its own runtime: on a thread of its own, outside this one.
            let (rate, n) = tokio::task::block_in_place(|| std::thread::spawn(move || floor(slice)).join().unwrap());
            floor_ok += n;
            floor_secs += n as f64 / rate;
        }
        let (http_rate, floor_rate) = (http_ok as f64 / http_secs, floor_ok as f64 / floor_secs);
        println!(
            "SUMMARY   interleaved, {slices} x {:.0} s slices each: POST {} posts/s, floor {} posts/s, POST / floor = {:.3}   (target >= 0.7: {})",
            slice.as_secs_f64(),
            thousands(http_rate),
            thousands(floor_rate),
            http_rate / floor_rate,
            if http_rate / floor_rate >= 0.7 { "met" } else { "missed" }
        );
        let mut stored = 0;
        for user in &users {
            stored += statuses_count(&client, &base, user).await;
        }
        assert_eq!(stored, posted + http_ok, "acknowledged posts (interleaved run) missing from storage");
        server.stop().await;
        posts.throughput()
    });
    let (floor_rate, floor_posts) = floor(duration);
    println!(
        "SUMMARY   floor (bare sled transaction per post, same group commit, {CONCURRENCY} writers) {} posts/s ({floor_posts} posts)",
        thousands(floor_rate)
    );
    println!(
        "SUMMARY   POST /statuses / floor = {:.3}   (target >= 0.7: {}; posts/s {} vs target >= 4,000: {})",
        http_rate / floor_rate,
        if http_rate / floor_rate >= 0.7 { "met" } else { "missed" },
        thousands(http_rate),
        if http_rate >= 4_000.0 { "met" } else { "missed" }
    );
}
