//! The namespace journal: which directory changes are not yet durable, and how to undo them.
//!
//! Namespace operations (create, mkdir, mknod, symlink, link, unlink, rmdir, rename) are
//! applied to the backing directory at once, so lookups see them, and logged here with the
//! directory or directories they changed. `fsyncdir` of a directory marks that directory
//! synced in every logged operation that changed it; an operation whose directories have all
//! been synced is durable, leaves the log, and its trash entries are deleted.
//!
//! At power loss the operations still in the log are undone newest first: created entries
//! are removed (a directory with its contents), removed entries come back from the trash,
//! renames are moved back and whatever they replaced comes back from the trash.
//!
//! Directories are held as `O_PATH` descriptors, so an undo works even if a parent directory
//! was renamed durably in between.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use crate::sys;

/// Identity of a directory on the backing filesystem: (st_dev, st_ino).
pub type DirKey = (u64, u64);

/// A directory as the journal holds it.
#[derive(Clone, Debug)]
pub struct Dir {
    /// Its identity, matched against the directory being fsynced.
    pub key: DirKey,
    /// An `O_PATH` descriptor of it, kept open so the inode number stays unique.
    pub fd: Arc<OwnedFd>,
}

/// The trash directory: removed and replaced entries wait here until the removal is durable.
#[derive(Debug)]
pub struct Trash {
    fd: OwnedFd,
    next: u64,
}

impl Trash {
    /// Wraps an `O_PATH` descriptor of an empty trash directory.
    pub fn new(fd: OwnedFd) -> Self {
        Trash { fd, next: 0 }
    }

    /// The trash directory's descriptor.
    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Moves `dir/name` into the trash and returns its trash name.
    pub fn take(&mut self, dir: i32, name: &OsStr) -> sys::SysResult<OsString> {
        self.next += 1;
        let slot = OsString::from(format!("{}", self.next));
        sys::rename_at(dir, name, self.raw(), &slot, libc::RENAME_NOREPLACE)?;
        Ok(slot)
    }

    /// Moves a trash entry back to `dir/name`.
    pub fn restore(&self, slot: &OsStr, dir: i32, name: &OsStr) -> sys::SysResult<()> {
        sys::rename_at(self.raw(), slot, dir, name, libc::RENAME_NOREPLACE)
    }

    /// Deletes a trash entry for good.
    pub fn purge(&self, slot: &OsStr) -> sys::SysResult<()> {
        sys::remove_all_at(self.raw(), slot)
    }

    /// Deletes everything in the trash.
    pub fn purge_all(&self) -> sys::SysResult<()> {
        for (name, _, _) in sys::list_dir(self.raw())? {
            sys::remove_all_at(self.raw(), &name)?;
        }
        Ok(())
    }
}

/// One namespace change, with what is needed to undo it.
#[derive(Debug)]
pub enum Action {
    /// `dir/name` was created (file, node, symlink, hard link or directory).
    Created { dir: Dir, name: OsString, is_dir: bool },
    /// `dir/name` was removed (unlink or rmdir); it sits in the trash as `slot`.
    Removed { dir: Dir, name: OsString, slot: OsString },
    /// `from/from_name` was renamed to `to/to_name`; what it replaced sits in the trash.
    Renamed { from: Dir, from_name: OsString, to: Dir, to_name: OsString, replaced: Option<OsString> },
}

impl Action {
    /// Directories this change touched.
    fn dirs(&self) -> Vec<DirKey> {
        match self {
            Action::Created { dir, .. } | Action::Removed { dir, .. } => vec![dir.key],
            Action::Renamed { from, to, .. } if from.key == to.key => vec![from.key],
            Action::Renamed { from, to, .. } => vec![from.key, to.key],
        }
    }

    /// Short description for error messages.
    fn describe(&self) -> String {
        match self {
            Action::Created { name, is_dir, .. } => {
                format!("{} {:?}", if *is_dir { "mkdir" } else { "create" }, name)
            }
            Action::Removed { name, .. } => format!("remove {name:?}"),
            Action::Renamed { from_name, to_name, .. } => format!("rename {from_name:?} -> {to_name:?}"),
        }
    }

    /// Reverts this change on the backing directory.
    fn undo(&self, trash: &Trash) -> sys::SysResult<()> {
        match self {
            Action::Created { dir, name, is_dir } => {
                if *is_dir {
                    sys::remove_all_at(dir.fd.as_raw_fd(), name)
                } else {
                    sys::unlink_at(dir.fd.as_raw_fd(), name, false)
                }
            }
            Action::Removed { dir, name, slot } => trash.restore(slot, dir.fd.as_raw_fd(), name),
            Action::Renamed { from, from_name, to, to_name, replaced } => {
                sys::rename_at(to.fd.as_raw_fd(), to_name, from.fd.as_raw_fd(), from_name, libc::RENAME_NOREPLACE)?;
                if let Some(slot) = replaced {
                    trash.restore(slot, to.fd.as_raw_fd(), to_name)?;
                }
                Ok(())
            }
        }
    }

    /// Called once the change is durable: its trash entries are no longer needed.
    fn finish(&self, trash: &Trash) {
        let slot = match self {
            Action::Removed { slot, .. } => Some(slot),
            Action::Renamed { replaced, .. } => replaced.as_ref(),
            Action::Created { .. } => None,
        };
        if let Some(slot) = slot
            && let Err(e) = trash.purge(slot)
        {
            eprintln!("powerloss-fs: could not purge trash entry {slot:?}: errno {e}");
        }
    }
}

/// A logged change and which of its directories have been synced since.
#[derive(Debug)]
struct Entry {
    action: Action,
    /// (directory, synced since the change).
    dirs: Vec<(DirKey, bool)>,
}

/// The log of non-durable namespace changes, oldest first.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<Entry>,
}

/// What undoing the journal did.
#[derive(Debug, Default)]
pub struct UndoReport {
    /// Changes reverted.
    pub undone: u64,
    /// Changes whose revert failed (each also described on stderr).
    pub failures: u64,
}

impl Journal {
    /// Logs a change that has just been applied to the backing directory.
    pub fn log(&mut self, action: Action) {
        let dirs = action.dirs().into_iter().map(|d| (d, false)).collect();
        self.entries.push(Entry { action, dirs });
    }

    /// Number of non-durable changes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `fsyncdir` of `dir`: every logged change that touched it counts it as synced; the
    /// changes that thereby become durable leave the log and their trash entries are purged.
    pub fn sync_dir(&mut self, dir: DirKey, trash: &Trash) {
        let mut any = false;
        for e in &mut self.entries {
            for (d, synced) in &mut e.dirs {
                if *d == dir {
                    *synced = true;
                    any = true;
                }
            }
        }
        if any {
            self.retire(trash, |e| e.dirs.iter().all(|(_, s)| *s));
        }
    }

    /// Makes every logged change durable (orderly shutdown, or a commit-everything sync).
    pub fn sync_all(&mut self, trash: &Trash) {
        self.retire(trash, |_| true);
    }

    fn retire(&mut self, trash: &Trash, durable: impl Fn(&Entry) -> bool) {
        let mut keep = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            if durable(&e) {
                e.action.finish(trash);
            } else {
                keep.push(e);
            }
        }
        self.entries = keep;
    }

    /// Power loss: undoes every logged change, newest first.
    pub fn undo_all(&mut self, trash: &Trash) -> UndoReport {
        let mut report = UndoReport::default();
        while let Some(e) = self.entries.pop() {
            match e.action.undo(trash) {
                Ok(()) => report.undone += 1,
                Err(errno) => {
                    report.failures += 1;
                    eprintln!(
                        "powerloss-fs: undo of {} failed: {}",
                        e.action.describe(),
                        std::io::Error::from_raw_os_error(errno)
                    );
                }
            }
        }
        report
    }
}
