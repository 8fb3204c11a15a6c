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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::StorageError;

type Waiter = oneshot::Sender<Result<(), StorageError>>;

#[derive(Debug)]
pub struct Flusher {
    tx: mpsc::Sender<Waiter>,
    failed: Arc<AtomicBool>,
}

impl Flusher {
    /// Starts the flusher thread for `db`, whose files live in `dir`.
    pub fn start(db: sled::Db, dir: &Path) -> Result<Self, StorageError> {
        // sled 0.34 keeps its log in `<dir>/db`; fdatasync acts on the file, whichever
        // descriptor calls it, so a read-only handle opened once is enough.
        let log = File::open(dir.join("db")).map_err(StorageError::from)?;
        let (tx, rx) = mpsc::channel::<Waiter>();
        let failed = Arc::new(AtomicBool::new(false));
        let poisoned = failed.clone();
        std::thread::Builder::new()
            .name("sled-flusher".into())
            .spawn(move || run(db, log, rx, poisoned))
            .map_err(StorageError::from)?;
        Ok(Self { tx, failed })
    }

    /// Resolves once a flush that began after this call has completed.
    pub async fn durable(&self) -> Result<(), StorageError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable);
        }
        let (tx, rx) = oneshot::channel();
        self.tx.send(tx).map_err(|_| StorageError::Unavailable)?;
        rx.await.map_err(|_| StorageError::Unavailable)?
    }

    pub fn is_healthy(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }
}

fn run(db: sled::Db, log: File, rx: mpsc::Receiver<Waiter>, failed: Arc<AtomicBool>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let result = if failed.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable)
        } else {
            match db.flush().map_err(StorageError::from).and_then(|_| log.sync_data().map_err(StorageError::from)) {
                Ok(()) => Ok(()),
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
