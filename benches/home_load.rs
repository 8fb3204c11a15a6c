//! The home timeline over HTTP under a fixed arrival rate (open loop), next to
//! `GET /health` at the same rates on the same server in the same run.
//!
//! Setup through the public API: a reader and 50 authors register, each author posts 20
//! public statuses, then the reader follows all 50 (the follow merges their statuses),
//! so the reader's home timeline holds 1,000 entries. The first page is checked to be
//! the 20 newest statuses before anything is measured.
//!
//! For each rate in `HOME_LOAD_RATES` (requests per second, default
//! `1000,2000,5000`), `GET /api/v1/timelines/home?limit=20` (the reader's token)
//! and then `GET /health` are each offered at that rate for `HOME_LOAD_SECS` seconds
//! (default 10): request i is started at `start + i / rate` whether or not earlier ones
//! have been answered, and its latency runs from that scheduled time to the end of its
//! body, so time spent queueing (in the server, or waiting for one of the client's
//! `HOME_LOAD_CONNECTIONS` connections, default 256) counts. Achieved throughput is the
//! successful answers divided by the time from the first scheduled start to the last
//! answer. Each rate gets a one-second warm-up at that rate first, not counted.
//!
//! Then, to put the rates in proportion, each endpoint's capacity: 64 clients in a
//! closed loop for 5 s (not the measurement).
//!
//! The load generator runs in this process on a 2-thread tokio runtime and shares the
//! machine's CPUs with the server.
//!
//! Run `cargo bench --bench home_load`. Lines starting `SUMMARY` are the results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Cpu, Report, Server, User, app_token, closed_loop, env_secs, register, register_many, thousands};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Semaphore;

const AUTHORS: usize = 50;
const STATUSES_PER_AUTHOR: usize = 20;

/// Offers `GET url` at `rate` per second for `duration`, open loop.
async fn open_loop(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    rate: f64,
    duration: Duration,
    connections: &Arc<Semaphore>,
) -> Report {
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let start = Instant::now() + Duration::from_millis(5);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let connections = connections.clone();
        tasks.push(tokio::spawn(async move {
            let _connection = connections.acquire_owned().await.unwrap();
            let ok = common::answered(request.send().await).await;
            (ok, at.elapsed(), Instant::now())
        }));
    }
    let (mut ok, mut errors, mut latencies, mut last) = (0, 0, Vec::with_capacity(total), start);
    for task in tasks {
        let (success, latency, finished) = task.await.unwrap();
        if success {
            ok += 1;
            latencies.push(latency);
        } else {
            errors += 1;
        }
        last = last.max(finished);
    }
    Report::new(ok, errors, last.saturating_duration_since(start), latencies)
}

async fn post(client: &reqwest::Client, base: &str, user: &User, text: String) -> u64 {
    let status: Value = client
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth(&user.token)
        .form(&[("status", text)])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    status["id"].as_str().unwrap().parse().unwrap()
}

/// A reader following 50 authors with 20 statuses each; returns the reader.
async fn populate(client: &reqwest::Client, base: &str) -> User {
    let app = app_token(client, base).await;
    let reader = register(client, base, &app, "reader").await;
    let authors = register_many(client, base, &app, "author", AUTHORS).await;
    let posts: Vec<(usize, usize)> = (0..STATUSES_PER_AUTHOR).flat_map(|n| (0..AUTHORS).map(move |a| (a, n))).collect();
    let mut ids: Vec<u64> = futures_util::stream::iter(posts)
        .map(|(a, n)| post(client, base, &authors[a], format!("status {n} of author {a}, a few words long")))
        .buffer_unordered(64)
        .collect()
        .await;
    for author in &authors {
        client
            .post(format!("{base}/api/v1/accounts/{}/follow", author.id))
            .bearer_auth(&reader.token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    // The first page is the 20 newest of the 1,000 statuses.
    let page: Vec<Value> = client
        .get(format!("{base}/api/v1/timelines/home?limit=20"))
        .bearer_auth(&reader.token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<u64> = page.iter().map(|s| s["id"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(got, ids[..20], "the home page is not the 20 newest statuses");
    reader
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let duration = env_secs("HOME_LOAD_SECS", 10.0);
    let rates: Vec<f64> = std::env::var("HOME_LOAD_RATES")
        .unwrap_or_else(|_| "1000,2000,5000".into())
        .split(',')
        .map(|r| r.trim().parse().unwrap())
        .collect();
    let connections: usize = std::env::var("HOME_LOAD_CONNECTIONS").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    let server = Server::start();
    let base = server.base.clone();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let reader = populate(&client, &base).await;
        eprintln!(
            "home_load: reader following {AUTHORS} authors, {} home entries, set up in {:.1} s",
            AUTHORS * STATUSES_PER_AUTHOR,
            started.elapsed().as_secs_f64()
        );

        let home = format!("{base}/api/v1/timelines/home?limit=20");
        let health = format!("{base}/health");
        let semaphore = Arc::new(Semaphore::new(connections));
        // Idle connections retire before actix's 5 s keep-alive closes them.
        let load = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(2)).build().unwrap();
        let mut rows = Vec::new();
        for &rate in &rates {
            let mut row = Vec::new();
            for (url, token) in [(&home, Some(reader.token.as_str())), (&health, None)] {
                open_loop(&load, url, token, rate, Duration::from_secs(1), &semaphore).await;
                let cpu = Cpu::now();
                let report = open_loop(&load, url, token, rate, duration, &semaphore).await;
                let used = Cpu::since(&cpu, report.ok, report.elapsed);
                row.push((report, used));
            }
            rows.push((rate, row));
        }

        // Capacity: the most each serves with 64 clients in a closed loop (not the
        // issue's measurement, which is the open loop above; this puts the rates in
        // proportion).
        let capacity = Duration::from_secs(5);
        let token = reader.token.clone();
        let (home_url, health_url) = (home.clone(), health.clone());
        let home_capacity =
            closed_loop(64, capacity, move |c: &reqwest::Client, _, _| c.get(&home_url).bearer_auth(&token)).await;
        let health_capacity = closed_loop(64, capacity, move |c: &reqwest::Client, _, _| c.get(&health_url)).await;

        println!(
            "SUMMARY home_load: open loop (fixed arrival rate), {:.0} s per rate, up to {connections} connections",
            duration.as_secs_f64()
        );
        for (rate, row) in &rows {
            let (home, health) = (&row[0].0, &row[1].0);
            println!(
                "SUMMARY   offered {:>6}/s  GET /api/v1/timelines/home?limit=20 {}",
                thousands(*rate),
                home.line()
            );
            println!(
                "SUMMARY   offered {:>6}/s  GET /health                          {}",
                thousands(*rate),
                health.line()
            );
            for (name, (_, used)) in ["home", "health"].iter().zip(row) {
                for line in used {
                    println!("    {name:<6} {line}");
                }
            }
            println!(
                "SUMMARY   offered {:>6}/s  home/health throughput = {:.3} (target >= 0.5: {}); home p99 {}{}",
                thousands(*rate),
                home.throughput() / health.throughput(),
                if home.throughput() / health.throughput() >= 0.5 { "met" } else { "missed" },
                common::ms(home.quantile(0.99)),
                if *rate == 5_000.0 {
                    format!(
                        " (target <= 10 ms at 5,000/s: {})",
                        if home.quantile(0.99) <= Duration::from_millis(10) { "met" } else { "missed" }
                    )
                } else {
                    String::new()
                }
            );
        }
        println!("SUMMARY   capacity, closed loop, 64 clients, {:.0} s each:", capacity.as_secs_f64());
        println!("SUMMARY     GET /api/v1/timelines/home?limit=20 {}", home_capacity.line());
        println!("SUMMARY     GET /health                          {}", health_capacity.line());
        println!("SUMMARY     home/health capacity = {:.3}", home_capacity.throughput() / health_capacity.throughput());
        server.stop().await;
    });
}
