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
//! The load generator runs in this process on a 2-thread tokio runtime and shares the
//! machine's CPUs with the server.
//!
//! Run `cargo bench --bench post_load`. Lines starting `SUMMARY` are the results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cpu, Server, User, app_token, closed_loop, env_secs, register_many, thousands};
use serde_json::Value;

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

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let duration = env_secs("POST_LOAD_SECS", 10.0);
    let server = Server::start();
    let base = server.base.clone();
    rt.block_on(async {
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
            "SUMMARY   posts/s / health req/s = {:.3}   (posts/s {} vs target >= 2,000: {})",
            posts.throughput() / health.throughput(),
            thousands(posts.throughput()),
            if posts.throughput() >= 2_000.0 { "met" } else { "missed" }
        );
        println!("SUMMARY   {stored} acknowledged posts (warm-up included) all found in statuses_count");
        server.stop().await;
    });
}
