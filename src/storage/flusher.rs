//! Group commit. Writers insert into sled, then wait on [`Flusher::durable`]; one
//! background thread takes every waiter that has queued, runs one `flush` plus an
//! `fdatasync` of sled's log file (sled's flush alone does not fsync on Linux), and wakes
//! them all. Concurrent writers therefore share flushes, and a waiter is only woken by a
//! flush that started after it queued, so its write is covered.
//!
//! After a failed flush the flusher is poisoned: every later `durable` call fails, no
//! write is acknowledged again, and `/ready` reports the store unready.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::StorageError;

type Waiter = oneshot::Sender<Result<(), StorageError>>;

#[derive(Debug)]
pub struct Flusher {
    tx: mpsc::Sender<Waiter>,
    failed: Arc<AtomicBool>,
    /// Completed flushes, for metrics and for tests that check writers share them.
    flushes: Arc<AtomicU64>,
}

impl Flusher {
    /// Starts the flusher thread for `db`, whose files live in `dir`.
    pub fn start(db: sled::Db, dir: &Path) -> Result<Self, StorageError> {
        // sled 0.34 keeps its log in `<dir>/db`; fdatasync acts on the file, whichever
        // descriptor calls it, so a read-only handle opened once is enough.
        let log = File::open(dir.join("db")).map_err(StorageError::from)?;
        let (tx, rx) = mpsc::channel::<Waiter>();
        let failed = Arc::new(AtomicBool::new(false));
        let flushes = Arc::new(AtomicU64::new(0));
        let (poisoned, counter) = (failed.clone(), flushes.clone());
        std::thread::Builder::new()
            .name("sled-flusher".into())
            .spawn(move || run(db, log, rx, poisoned, counter))
            .map_err(StorageError::from)?;
        Ok(Self { tx, failed, flushes })
    }

    /// Resolves once a flush that began after this call has completed.
    pub async fn durable(&self) -> Result<(), StorageError> {
        self.durable_from_now().await
    }

    /// Like [`Flusher::durable`], but the wait starts at this call, not at the first poll:
    /// the future resolves once every write made before this call is on disk, and later
    /// writes need not wait for it to be polled.
    pub fn durable_from_now(&self) -> impl Future<Output = Result<(), StorageError>> + Send + 'static {
        let waiting = if self.failed.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable)
        } else {
            let (tx, rx) = oneshot::channel();
            self.tx.send(tx).map(|_| rx).map_err(|_| StorageError::Unavailable)
        };
        async move { waiting?.await.map_err(|_| StorageError::Unavailable)? }
    }

    pub fn is_healthy(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }

    pub fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

fn run(db: sled::Db, log: File, rx: mpsc::Receiver<Waiter>, failed: Arc<AtomicBool>, flushes: Arc<AtomicU64>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let result = if failed.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable)
        } else {
            let started = std::time::Instant::now();
            match db.flush().map_err(StorageError::from).and_then(|_| log.sync_data().map_err(StorageError::from)) {
                Ok(()) => {
                    flushes.fetch_add(1, Ordering::Relaxed);
                    metrics::histogram!("starling_storage_flush_seconds").record(started.elapsed().as_secs_f64());
                    metrics::histogram!("starling_storage_flush_waiters").record(waiters.len() as f64);
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(error = %e, "storage flush failed; refusing further writes");
                    failed.store(true, Ordering::SeqCst);
                    Err(StorageError::Unavailable)
                }
            }
        };
        for waiter in waiters {
            // A waiter that gave up (request cancelled) is no concern of ours.
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes_and_all_are_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let before = store.flush_count();
        let writers: Vec<_> = (0..64u32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.trees.userid_account.insert(i.to_be_bytes(), &b"x"[..]).unwrap();
                    store.durable().await
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap().unwrap();
        }
        let flushes = store.flush_count() - before;
        assert!(flushes >= 1, "no flush ran");
        assert!(flushes < 64, "{flushes} flushes for 64 writers: nothing was shared");
        // Everything acknowledged is in the reopened database.
        drop(store);
        let reopened = loop {
            match Store::open(dir.path(), 0) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        };
        assert_eq!(reopened.trees.userid_account.len(), 64);
    }
}
