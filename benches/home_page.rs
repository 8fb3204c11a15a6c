//! A home-timeline page of 20, in process: from a running `TimelineActor`'s hot page and
//! cold from sled, with the filter the home-timeline handler applies.
//!
//! Setup: a `Store` on a temporary directory; 50 authors with 20 public statuses each
//! (`Store::create_status`); a reader who follows all 50 (`Store::follow` then
//! `Store::merge_author_into`, as the follow handler does), so the reader's home
//! timeline holds 1,000 entries. All three paths are checked to give the same page.
//!
//! The reader's `TimelineActor` runs twice: in a `TimelineRegistry` on the benchmarking
//! thread's actix system (as when a request lands on the HTTP worker the actor was
//! started on) and in one on another thread's (a request on the other worker).
//!
//! Group `home_page`:
//! - `hot_fetch_same_thread`, `hot_fetch_other_thread`: `addr.send(FetchHotPage)`: the
//!   message round trip to the actor and the copy of its 80 hot ids (a breakdown).
//! - `hot_page_same_thread`, `hot_page_other_thread`: what the handler does for a first
//!   page with a started actor: `FetchHotPage`, then the home filter on hot ids
//!   until 20 are kept.
//! - `cold_page`: `store.home_page(reader, limit 20, HomeFilter::visible)`: the path for
//!   pages after the first (and the fallback).
//! - `cold_scan`: the same range scan keeping every id (a breakdown: the scan without
//!   the filter).
//!
//! None of these renders statuses to JSON; `benches/home_load.rs` measures the whole
//! request over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::hint::black_box;
use std::sync::mpsc;
use std::time::Duration;

use actix::Addr;
use criterion::Criterion;
use criterion::async_executor::AsyncExecutor;
use futures_util::{StreamExt, TryStreamExt};
use starling::actors::timeline::{FetchHotPage, TimelineActor, TimelineRegistry};
use starling::domain::{Id, Status, Visibility};
use starling::storage::{PageQuery, Store};
use starling::view::HomeFilter;

const AUTHORS: usize = 50;
const STATUSES_PER_AUTHOR: usize = 20;
const PAGE: usize = 20;

fn status(store: &Store, author: Id, n: usize) -> Status {
    let id = store.next_id();
    Status {
        id,
        account_id: author,
        text: format!("status {n} from the author with id {author}, a few words long"),
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

/// 50 authors, 20 statuses each, a reader following them all.
async fn populate(store: &Store) -> Id {
    let reader = store.next_id();
    let authors: Vec<Id> = (0..AUTHORS).map(|_| store.next_id()).collect();
    let statuses: Vec<Status> = (0..STATUSES_PER_AUTHOR)
        .flat_map(|n| authors.iter().map(move |a| (*a, n)))
        .map(|(a, n)| status(store, a, n))
        .collect();
    futures_util::stream::iter(&statuses)
        .map(|s| store.create_status(s, None))
        .buffer_unordered(64)
        .try_for_each(|_| async { Ok(()) })
        .await
        .unwrap();
    for author in &authors {
        assert!(store.follow(reader, *author).await.unwrap());
        store.merge_author_into(reader, *author).unwrap();
    }
    store.durable().await.unwrap();
    reader
}

/// Criterion's async benches on an actix system's runtime, so actors created in it run
/// on the benchmarking thread.
struct Actix<'a>(&'a actix::SystemRunner);

impl AsyncExecutor for Actix<'_> {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.0.block_on(future)
    }
}

/// The handler's first page from a hot page: the home filter on hot ids until 20.
async fn hot_page(addr: &Addr<TimelineActor>, store: &Store, reader: Id) -> Vec<Id> {
    let hot = addr.send(FetchHotPage).await.unwrap().unwrap();
    let mut filter = HomeFilter::new(store, reader).unwrap();
    let mut ids = Vec::with_capacity(PAGE);
    for id in &hot.ids {
        if ids.len() == PAGE {
            break;
        }
        if filter.visible(*id).unwrap() {
            ids.push(*id);
        }
    }
    ids
}

fn main() {
    let runner = actix::System::new();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let reader = runner.block_on(populate(&store));
    let all = PageQuery { limit: usize::MAX, ..PageQuery::default() };
    assert_eq!(store.home_page(reader, &all, |_| Ok(true)).unwrap().len(), AUTHORS * STATUSES_PER_AUTHOR);

    // The reader's actor on this thread's actix system (a request handled by the worker
    // the actor lives on)...
    let registry = TimelineRegistry::new(store.clone(), Duration::from_secs(600));
    let local = runner.block_on(async {
        let addr = registry.get_or_start(reader);
        addr.send(FetchHotPage).await.unwrap().unwrap();
        addr
    });
    // ...and one on another thread's (a request handled by another worker).
    let (tx, rx) = mpsc::channel::<(Addr<TimelineActor>, actix::System)>();
    let actor_store = store.clone();
    let thread = std::thread::spawn(move || {
        let runner = actix::System::new();
        let registry = TimelineRegistry::new(actor_store, Duration::from_secs(600));
        runner.block_on(async {
            let addr = registry.get_or_start(reader);
            addr.send(FetchHotPage).await.unwrap().unwrap();
            tx.send((addr, actix::System::current())).unwrap();
        });
        runner.run().unwrap();
    });
    let (remote, system) = rx.recv_timeout(Duration::from_secs(60)).expect("actor did not start");

    let q = PageQuery { limit: PAGE, ..PageQuery::default() };
    let cold_page = || {
        let mut filter = HomeFilter::new(&store, reader).unwrap();
        store.home_page(reader, &q, |id| filter.visible(id)).unwrap()
    };
    // Every path gives the same page before anything is timed.
    let expected = cold_page();
    assert_eq!(expected.len(), PAGE);
    assert_eq!(runner.block_on(hot_page(&local, &store, reader)), expected);
    assert_eq!(runner.block_on(hot_page(&remote, &store, reader)), expected);

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .without_plots()
        .configure_from_args();
    let mut group = criterion.benchmark_group("home_page");
    for (name, addr) in [("same_thread", &local), ("other_thread", &remote)] {
        group.bench_function(format!("hot_fetch_{name}"), |b| {
            b.to_async(Actix(&runner)).iter(|| async { addr.send(FetchHotPage).await.unwrap().unwrap() });
        });
        group.bench_function(format!("hot_page_{name}"), |b| {
            b.to_async(Actix(&runner)).iter(|| hot_page(addr, &store, reader));
        });
    }
    group.bench_function("cold_page", |b| b.iter(cold_page));
    group.bench_function("cold_scan", |b| b.iter(|| store.home_page(black_box(reader), &q, |_| Ok(true)).unwrap()));
    group.finish();
    criterion.final_summary();
    system.stop();
    thread.join().unwrap();
    drop(registry);
}
