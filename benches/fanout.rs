//! Cost of fanning one new status out to its author's followers, next to a bare sled
//! batch insert of the same number of keys, measured in the same run.
//!
//! Setup, once per size N (10, 1,000, 10,000): a `Store` on a temporary directory, an
//! author with N followers made through `Store::follow` (no account records: the follow
//! rows are what fan-out reads, and `bump_account` skips missing accounts), and a plain
//! sled database (`bare/`) beside the store in the same directory.
//!
//! Group `fanout`, for each N:
//! - `bare_batch/N`: one `sled::Batch` of N + 1 16-byte keys (`user ++ status`, the
//!   author and every follower, the same keys fan-out writes) applied to a tree of the
//!   plain database.
//! - `offline/N`: `audience(&store, &status)` + `store.add_to_timelines(status.id,
//!   &audience)`: the router's `publish` with nobody active (no actor to tell).
//! - `active10/N`: the same with 10% of the followers active (their `TimelineActor`s
//!   started in a `TimelineRegistry` inside an actix system on another thread), plus
//!   `registry.notify(user, EntryAdded(id))` for every audience member: the router's
//!   `publish` in full. Only the publishing thread is timed; the actors handle the
//!   messages on the actix thread (the other core), as in the server.
//!
//! Every iteration uses a fresh status id (`store.next_id()`), so every key is new.
//! No durable flush in either side (the router's flush happens after `publish`).
//!
//! After the group, a printed (not criterion) check of what a 10,000-follower fan-out
//! does to concurrent reads of the store: see `reads_during_fanout`.
//!
//! Run `cargo bench --bench fanout`, then `scripts/bench-social --summary` for the
//! ratios.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion};
use futures_util::{StreamExt, TryStreamExt};
use starling::actors::fanout_router::audience;
use starling::actors::timeline::{EntryAdded, FetchHotPage, TimelineRegistry};
use starling::domain::{Id, Status, Visibility};
use starling::storage::Store;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn status_by(author: Id, id: Id) -> Status {
    Status::new(id, author, "a status fanned out by the benchmark".into(), Visibility::Public)
}

/// One author and their followers.
struct Audience {
    author: Id,
    followers: Vec<Id>,
}

/// Makes `n` followers of a new author through `Store::follow`, many at a time so the
/// durable flushes are shared.
fn make_audience(rt: &tokio::runtime::Runtime, store: &Store, n: usize) -> Audience {
    let author = store.next_id();
    let followers: Vec<Id> = (0..n).map(|_| store.next_id()).collect();
    rt.block_on(async {
        futures_util::stream::iter(followers.iter().copied())
            .map(|f| store.follow(f, author))
            .buffer_unordered(256)
            .try_for_each(|created| async move {
                assert!(created);
                Ok(())
            })
            .await
            .unwrap();
    });
    assert_eq!(store.follower_ids(author).unwrap().len(), n);
    Audience { author, followers }
}

/// The active users' actors, in their own actix system on another thread.
struct Actors {
    registry: Arc<TimelineRegistry>,
    system: actix::System,
    thread: std::thread::JoinHandle<()>,
}

impl Actors {
    fn start(store: Store, active: Vec<Id>) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runner = actix::System::new();
            runner.block_on(async move {
                let registry = TimelineRegistry::new(store, Duration::from_secs(600));
                for user in &active {
                    // Started and loaded before the bench begins.
                    registry.get_or_start(*user).send(FetchHotPage).await.unwrap().unwrap();
                }
                tx.send((registry, actix::System::current())).unwrap();
            });
            runner.run().unwrap();
        });
        let (registry, system) = rx.recv_timeout(Duration::from_secs(120)).expect("actors did not start");
        Self { registry, system, thread }
    }

    fn stop(self) {
        self.system.stop();
        self.thread.join().unwrap();
    }
}

/// The router's `publish` for a non-celebrity, non-direct status.
fn publish(store: &Store, registry: Option<&TimelineRegistry>, status: &Status) -> usize {
    let users = audience(store, status).unwrap();
    store.add_to_timelines(status.id, &users).unwrap();
    if let Some(registry) = registry {
        for &user in &users {
            registry.notify(user, EntryAdded(status.id));
        }
    }
    users.len()
}

fn bare_batch(tree: &sled::Tree, users: &[Id], status: Id) {
    let mut batch = sled::Batch::default();
    for user in users {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&user.to_be_bytes());
        key[8..].copy_from_slice(&status.to_be_bytes());
        batch.insert(&key, &[]);
    }
    tree.apply_batch(batch).unwrap();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), 0).unwrap();
    let bare_db = sled::Config::new().path(dir.path().join("bare")).open().unwrap();
    let bare = bare_db.open_tree("userid_timeline").unwrap();

    let started = std::time::Instant::now();
    let audiences: Vec<Audience> = SIZES.iter().map(|&n| make_audience(&rt, &store, n)).collect();
    eprintln!(
        "fanout: {} follows made through Store::follow in {:.1} s",
        SIZES.iter().sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    // 10% of every audience active (at least one), all in one registry.
    let active: Vec<Id> =
        audiences.iter().flat_map(|a| a.followers.iter().step_by(10).copied().collect::<Vec<_>>()).collect();
    let started = std::time::Instant::now();
    let actors = Actors::start(store.clone(), active.clone());
    eprintln!("fanout: {} timeline actors started in {:.1} s", active.len(), started.elapsed().as_secs_f64());

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
        .configure_from_args();
    let mut group = criterion.benchmark_group("fanout");
    for (n, a) in SIZES.iter().zip(&audiences) {
        // A 10,000-key iteration takes a good part of a second: criterion's minimum.
        group.sample_size(if *n >= 10_000 { 10 } else { 30 });
        // The exact keys fan-out writes: the author and every follower, sorted.
        let users = audience(&store, &status_by(a.author, store.next_id())).unwrap();
        assert_eq!(users.len(), n + 1);
        assert_eq!(actors.registry.active_count(), active.len());
        group.bench_with_input(BenchmarkId::new("bare_batch", n), &users, |b, users| {
            b.iter(|| bare_batch(&bare, black_box(users), store.next_id()));
        });
        group.bench_function(BenchmarkId::new("offline", n), |b| {
            b.iter_batched(
                || status_by(a.author, store.next_id()),
                |status| publish(&store, None, black_box(&status)),
                BatchSize::SmallInput,
            );
        });
        group.bench_function(BenchmarkId::new("active10", n), |b| {
            b.iter_batched(
                || status_by(a.author, store.next_id()),
                |status| publish(&store, Some(&actors.registry), black_box(&status)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    criterion.final_summary();
    actors.stop();
    let largest = audiences.last().unwrap();
    reads_during_fanout(&store, largest.author, largest.followers[0]);
}

/// What a large fan-out does to everything else: another thread reads from the store
/// (`Store::follows`, one sled get, every 200 µs) while this one publishes ten statuses
/// to 10,000 followers, 100 ms apart. `apply_batch` holds sled's global
/// concurrency-control lock for the whole batch, and every sled read takes that lock
/// shared. Printed, not a criterion bench: what matters is the tail.
fn reads_during_fanout(store: &Store, author: Id, follower: Id) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                assert!(store.follows(follower, author).unwrap());
                latencies.push(started.elapsed());
                std::thread::sleep(Duration::from_micros(200));
            }
            latencies
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let mut fanouts = Vec::new();
    for _ in 0..10 {
        let status = status_by(author, store.next_id());
        let started = std::time::Instant::now();
        publish(store, None, &status);
        fanouts.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = reader.join().unwrap();
    reads.sort_unstable();
    fanouts.sort_unstable();
    let at = |q: f64| reads[((q * reads.len() as f64) as usize).min(reads.len() - 1)];
    let slow = reads.iter().filter(|d| **d >= Duration::from_millis(10)).count();
    println!(
        "SUMMARY fanout: reads during 10 fan-outs to 10,000 followers (fan-out median {:.0} ms, max {:.0} ms): {} reads, p50 {:.1} µs, p99 {:.2} ms, max {:.1} ms (target <= 20 ms: {}), {slow} took >= 10 ms",
        fanouts[fanouts.len() / 2].as_secs_f64() * 1e3,
        fanouts[fanouts.len() - 1].as_secs_f64() * 1e3,
        reads.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e3,
        reads[reads.len() - 1].as_secs_f64() * 1e3,
        if reads[reads.len() - 1] <= Duration::from_millis(20) { "met" } else { "missed" },
    );
}
