//! The FUSE filesystem: a passthrough over `<backing-dir>/root` with delayed durability.
//!
//! All state sits behind one mutex ([`State`]), shared with the signal thread that performs
//! power loss and orderly shutdown. Inodes are `O_PATH` descriptors of backing files; FUSE
//! inode numbers are allocated from a counter and never reused within a daemon's life.
//!
//! File data goes to each inode's [`Overlay`] until the file is fsynced; namespace changes go
//! to the backing directory at once and to the [`Journal`] until their directory is fsynced.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BsdFileFlags, Errno as FuseErrno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::cache::Overlay;
use crate::state::{Action, Dir, DirKey, Journal, Trash};
use crate::sys::{self, SysResult};

/// Attribute and entry cache lifetime handed to the kernel.
const TTL: Duration = Duration::from_secs(1);
/// The FUSE root inode number.
const ROOT: u64 = 1;

/// Behaviour switches.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Acknowledge fsync/fdatasync/fsyncdir (and O_SYNC writes) without persisting anything.
    pub lying_disk: bool,
    /// A file fsync also makes every pending namespace change durable (like a journaling
    /// filesystem that commits its whole journal on fsync). Off by default (strict).
    pub sync_commits_namespace: bool,
}

/// One inode the kernel knows about (or that still has unsynced data).
#[derive(Debug)]
struct Inode {
    key: DirKey,
    fd: Arc<OwnedFd>,
    kind: FileType,
    nlookup: u64,
    overlay: Overlay,
    /// Read-write (or read-only) descriptor of the backing file, opened on first I/O.
    io: Option<File>,
    /// Cached size of the backing file (only this daemon changes it).
    backing_size: Option<u64>,
}

impl Inode {
    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Opens the backing file for I/O on first use.
    fn open_io(&mut self) -> SysResult<()> {
        if self.io.is_none() {
            self.io = Some(sys::reopen_file(self.raw())?);
        }
        Ok(())
    }

    fn backing_size(&mut self) -> SysResult<u64> {
        if let Some(s) = self.backing_size {
            return Ok(s);
        }
        let s = sys::stat_fd(self.raw())?.st_size as u64;
        self.backing_size = Some(s);
        Ok(s)
    }

    /// Writes the overlay to the backing file. Returns bytes written.
    fn persist(&mut self) -> SysResult<u64> {
        if self.overlay.is_clean() {
            return Ok(0);
        }
        self.backing_size = None;
        self.open_io()?;
        let io = self.io.as_ref().ok_or(libc::EIO)?;
        self.overlay.persist(io).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }
}

/// An open file or directory handle.
#[derive(Debug)]
enum Handle {
    File { flags: i32 },
    Dir { ino: u64, entries: Vec<(OsString, FileType, u64)> },
}

/// Counters of an orderly shutdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct WritebackReport {
    /// Bytes of unsynced data written to the backing files.
    pub bytes: u64,
    /// Files that had unsynced data or size changes.
    pub files: u64,
    /// Namespace changes made durable.
    pub ops: u64,
    /// Files whose write-back failed.
    pub failures: u64,
}

/// What a power loss dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct PowerLossReport {
    /// Bytes of written data that had not been synced.
    pub dropped_bytes: u64,
    /// Files with unsynced data (or size changes).
    pub dropped_files: u64,
    /// Namespace changes reverted.
    pub undone_ops: u64,
    /// Reverts that failed.
    pub undo_failures: u64,
}

/// The changes of one setattr request.
#[derive(Debug)]
struct AttrChanges {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
}

/// Everything behind the lock.
#[derive(Debug)]
pub struct State {
    opts: Options,
    inodes: HashMap<u64, Inode>,
    by_key: HashMap<DirKey, u64>,
    next_ino: u64,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    journal: Journal,
    trash: Trash,
    /// Accumulated write-back counters (orderly shutdown may run more than once).
    pub writeback: WritebackReport,
}

fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn kind_of_dtype(t: u8) -> FileType {
    match t {
        libc::DT_DIR => FileType::Directory,
        libc::DT_LNK => FileType::Symlink,
        libc::DT_FIFO => FileType::NamedPipe,
        libc::DT_SOCK => FileType::Socket,
        libc::DT_CHR => FileType::CharDevice,
        libc::DT_BLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let nsec = nsec.clamp(0, 999_999_999) as u32;
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec)
    } else {
        UNIX_EPOCH - Duration::new(sec.unsigned_abs(), 0) + Duration::new(0, nsec)
    }
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(TimeOrNow::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long },
            Err(e) => {
                let d = e.duration();
                libc::timespec { tv_sec: -(d.as_secs() as libc::time_t), tv_nsec: 0 }
            }
        },
    }
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

impl State {
    /// Sets up the state for a root directory and an (emptied) trash directory.
    pub fn new(opts: Options, root: OwnedFd, trash: OwnedFd) -> SysResult<Self> {
        let st = sys::stat_fd(root.as_raw_fd())?;
        let key = (st.st_dev, st.st_ino);
        let trash = Trash::new(trash);
        trash.purge_all()?;
        let mut state = State {
            opts,
            inodes: HashMap::new(),
            by_key: HashMap::new(),
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            next_fh: 1,
            journal: Journal::default(),
            trash,
            writeback: WritebackReport::default(),
        };
        state.inodes.insert(
            ROOT,
            Inode {
                key,
                fd: Arc::new(root),
                kind: FileType::Directory,
                nlookup: 1,
                overlay: Overlay::default(),
                io: None,
                backing_size: None,
            },
        );
        state.by_key.insert(key, ROOT);
        Ok(state)
    }

    fn node(&mut self, ino: u64) -> SysResult<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn dir(&self, ino: u64) -> SysResult<Dir> {
        let n = self.inodes.get(&ino).ok_or(libc::ENOENT)?;
        if n.kind != FileType::Directory {
            return Err(libc::ENOTDIR);
        }
        Ok(Dir { key: n.key, fd: n.fd.clone() })
    }

    fn attr(&mut self, ino: u64) -> SysResult<FileAttr> {
        let node = self.node(ino)?;
        let st = sys::stat_fd(node.raw())?;
        let mut size = st.st_size as u64;
        let mut mtime = time(st.st_mtime, st.st_mtime_nsec);
        if node.kind == FileType::RegularFile && !node.overlay.is_clean() {
            size = node.overlay.size(size);
            if let Some(t) = node.overlay.mtime() {
                mtime = t;
            }
        }
        let blocks = (st.st_blocks as u64).max(size.div_ceil(512));
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks,
            atime: time(st.st_atime, st.st_atime_nsec),
            mtime,
            ctime: time(st.st_ctime, st.st_ctime_nsec),
            crtime: time(st.st_ctime, st.st_ctime_nsec),
            kind: kind_of(st.st_mode),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: st.st_nlink as u32,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            flags: 0,
        })
    }

    /// Looks `name` up in `parent`, counting one kernel reference on success.
    fn lookup(&mut self, parent: u64, name: &OsStr) -> SysResult<FileAttr> {
        if name == "." || name == ".." {
            return Err(libc::ENOENT);
        }
        let pfd = self.dir(parent)?.fd;
        let st = sys::stat_at(pfd.as_raw_fd(), name)?;
        let key = (st.st_dev, st.st_ino);
        if let Some(&ino) = self.by_key.get(&key) {
            let live = match self.inodes.get(&ino) {
                // A deleted file whose inode number the backing filesystem reused is stale.
                Some(n) => sys::stat_fd(n.raw()).map(|s| s.st_nlink > 0).unwrap_or(false),
                None => false,
            };
            if live {
                if let Some(n) = self.inodes.get_mut(&ino) {
                    n.nlookup += 1;
                }
                return self.attr(ino);
            }
            self.by_key.remove(&key);
        }
        let fd = sys::open_path_at(pfd.as_raw_fd(), name)?;
        let st = sys::stat_fd(fd.as_raw_fd())?;
        let key = (st.st_dev, st.st_ino);
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                key,
                fd: Arc::new(fd),
                kind: kind_of(st.st_mode),
                nlookup: 1,
                overlay: Overlay::default(),
                io: None,
                backing_size: None,
            },
        );
        self.by_key.insert(key, ino);
        self.attr(ino)
    }

    /// Drops an inode nobody references and that has nothing pending.
    fn maybe_drop(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        let Some(n) = self.inodes.get(&ino) else { return };
        if n.nlookup == 0 && n.overlay.is_clean() {
            let key = n.key;
            self.inodes.remove(&ino);
            if self.by_key.get(&key) == Some(&ino) {
                self.by_key.remove(&key);
            }
        }
    }

    fn forget(&mut self, ino: u64, n: u64) {
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.nlookup = node.nlookup.saturating_sub(n);
        }
        self.maybe_drop(ino);
    }

    fn new_fh(&mut self, h: Handle) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, h);
        fh
    }

    /// Gives a created entry to the caller's uid/gid when they differ from ours.
    fn chown_new(dir: RawFd, name: &OsStr, req: &Request) {
        // SAFETY: plain getters.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if (req.uid(), req.gid()) != (uid, gid)
            && let Ok(fd) = sys::open_path_at(dir, name)
        {
            let _ = sys::chown_fd(fd.as_raw_fd(), req.uid(), req.gid());
        }
    }

    /// fsync/fdatasync of a file.
    fn sync_file(&mut self, ino: u64) -> SysResult<()> {
        if self.opts.lying_disk {
            return Ok(());
        }
        self.node(ino)?.persist()?;
        if self.opts.sync_commits_namespace {
            self.journal.sync_all(&self.trash);
        }
        self.maybe_drop(ino);
        Ok(())
    }

    /// Power loss: drops all unsynced data and undoes all non-durable namespace changes.
    pub fn power_loss(&mut self) -> PowerLossReport {
        let mut r = PowerLossReport::default();
        for n in self.inodes.values_mut() {
            if !n.overlay.is_clean() {
                r.dropped_bytes += n.overlay.dirty_bytes();
                r.dropped_files += 1;
                n.overlay = Overlay::default();
            }
        }
        let undo = self.journal.undo_all(&self.trash);
        r.undone_ops = undo.undone;
        r.undo_failures = undo.failures;
        r
    }

    /// Orderly shutdown: writes back all data, makes all namespace changes durable, and
    /// empties the trash.
    pub fn write_back_all(&mut self) -> WritebackReport {
        let mut r = WritebackReport::default();
        let inos: Vec<u64> = self.inodes.iter().filter(|(_, n)| !n.overlay.is_clean()).map(|(i, _)| *i).collect();
        for ino in inos {
            if let Some(n) = self.inodes.get_mut(&ino) {
                r.files += 1;
                match n.persist() {
                    Ok(b) => r.bytes += b,
                    Err(e) => {
                        r.failures += 1;
                        eprintln!("powerloss-fs: write-back of inode {ino} failed: errno {e}");
                    }
                }
            }
        }
        r.ops = self.journal.len() as u64;
        self.journal.sync_all(&self.trash);
        if let Err(e) = self.trash.purge_all() {
            eprintln!("powerloss-fs: could not empty the trash: errno {e}");
        }
        self.writeback.bytes += r.bytes;
        self.writeback.files += r.files;
        self.writeback.ops += r.ops;
        self.writeback.failures += r.failures;
        r
    }

    // ---- operations, each returning a raw errno on failure ----

    fn setattr(&mut self, ino: u64, ch: AttrChanges) -> SysResult<FileAttr> {
        let AttrChanges { mode, uid, gid, size, atime, mtime } = ch;
        let node = self.node(ino)?;
        let fd = node.raw();
        if let Some(mode) = mode
            && node.kind != FileType::Symlink
        {
            sys::chmod_fd(fd, mode)?;
        }
        if uid.is_some() || gid.is_some() {
            sys::chown_fd(fd, uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX))?;
        }
        if let Some(size) = size {
            match node.kind {
                FileType::RegularFile => {
                    let b = node.backing_size()?;
                    node.overlay.set_size(size, b);
                }
                FileType::Directory => return Err(libc::EISDIR),
                _ => return Err(libc::EINVAL),
            }
        }
        if (atime.is_some() || mtime.is_some()) && node.kind != FileType::Symlink {
            let explicit_mtime = match mtime {
                Some(TimeOrNow::SpecificTime(t)) => Some(t),
                Some(TimeOrNow::Now) => Some(SystemTime::now()),
                None => node.overlay.mtime(),
            };
            sys::utimens_fd(fd, &[timespec(atime), timespec(mtime)])?;
            node.overlay.set_mtime(explicit_mtime);
        }
        self.attr(ino)
    }

    fn mknod(&mut self, req: &Request, parent: u64, name: &OsStr, mode: u32, rdev: u32) -> SysResult<FileAttr> {
        let dir = self.dir(parent)?;
        sys::mknod_at(dir.fd.as_raw_fd(), name, mode, rdev)?;
        Self::chown_new(dir.fd.as_raw_fd(), name, req);
        self.journal.log(Action::Created { dir, name: name.to_os_string(), is_dir: false });
        self.lookup(parent, name)
    }

    fn mkdir(&mut self, req: &Request, parent: u64, name: &OsStr, mode: u32) -> SysResult<FileAttr> {
        let dir = self.dir(parent)?;
        sys::mkdir_at(dir.fd.as_raw_fd(), name, mode)?;
        Self::chown_new(dir.fd.as_raw_fd(), name, req);
        self.journal.log(Action::Created { dir, name: name.to_os_string(), is_dir: true });
        self.lookup(parent, name)
    }

    fn symlink(&mut self, req: &Request, parent: u64, name: &OsStr, target: &Path) -> SysResult<FileAttr> {
        let dir = self.dir(parent)?;
        sys::symlink_at(target.as_os_str(), dir.fd.as_raw_fd(), name)?;
        Self::chown_new(dir.fd.as_raw_fd(), name, req);
        self.journal.log(Action::Created { dir, name: name.to_os_string(), is_dir: false });
        self.lookup(parent, name)
    }

    fn link(&mut self, ino: u64, newparent: u64, newname: &OsStr) -> SysResult<FileAttr> {
        let dir = self.dir(newparent)?;
        let node = self.node(ino)?;
        if node.kind == FileType::Directory {
            return Err(libc::EPERM);
        }
        sys::link_fd_at(node.raw(), dir.fd.as_raw_fd(), newname)?;
        self.journal.log(Action::Created { dir, name: newname.to_os_string(), is_dir: false });
        self.lookup(newparent, newname)
    }

    fn remove(&mut self, parent: u64, name: &OsStr, want_dir: bool) -> SysResult<()> {
        if name == "." || name == ".." {
            return Err(libc::EINVAL);
        }
        let dir = self.dir(parent)?;
        let pfd = dir.fd.as_raw_fd();
        let st = sys::stat_at(pfd, name)?;
        if want_dir {
            if !is_dir(&st) {
                return Err(libc::ENOTDIR);
            }
            let sub = sys::open_path_at(pfd, name)?;
            if !sys::list_dir(sub.as_raw_fd())?.is_empty() {
                return Err(libc::ENOTEMPTY);
            }
        } else if is_dir(&st) {
            return Err(libc::EISDIR);
        }
        let slot = self.trash.take(pfd, name)?;
        self.journal.log(Action::Removed { dir, name: name.to_os_string(), slot });
        Ok(())
    }

    fn rename(&mut self, parent: u64, name: &OsStr, newparent: u64, newname: &OsStr, flags: u32) -> SysResult<()> {
        let noreplace = libc::RENAME_NOREPLACE;
        if flags & !noreplace != 0 {
            return Err(libc::EINVAL);
        }
        if name == "." || name == ".." || newname == "." || newname == ".." {
            return Err(libc::EINVAL);
        }
        let from = self.dir(parent)?;
        let to = self.dir(newparent)?;
        let (ffd, tfd) = (from.fd.as_raw_fd(), to.fd.as_raw_fd());
        let src = sys::stat_at(ffd, name)?;
        let dst = match sys::stat_at(tfd, newname) {
            Ok(st) => Some(st),
            Err(libc::ENOENT) => None,
            Err(e) => return Err(e),
        };
        let mut replaced = None;
        if let Some(dst) = dst {
            if flags & noreplace != 0 {
                return Err(libc::EEXIST);
            }
            if (src.st_dev, src.st_ino) == (dst.st_dev, dst.st_ino) {
                return Ok(()); // same file: rename does nothing
            }
            match (is_dir(&src), is_dir(&dst)) {
                (true, false) => return Err(libc::ENOTDIR),
                (false, true) => return Err(libc::EISDIR),
                (true, true) => {
                    let sub = sys::open_path_at(tfd, newname)?;
                    if !sys::list_dir(sub.as_raw_fd())?.is_empty() {
                        return Err(libc::ENOTEMPTY);
                    }
                }
                (false, false) => {}
            }
            replaced = Some(self.trash.take(tfd, newname)?);
        }
        if let Err(e) = sys::rename_at(ffd, name, tfd, newname, noreplace) {
            if let Some(slot) = &replaced
                && let Err(e2) = self.trash.restore(slot, tfd, newname)
            {
                eprintln!("powerloss-fs: failed rename could not restore {newname:?}: errno {e2}");
            }
            return Err(e);
        }
        self.journal.log(Action::Renamed {
            from,
            from_name: name.to_os_string(),
            to,
            to_name: newname.to_os_string(),
            replaced,
        });
        Ok(())
    }

    fn open(&mut self, ino: u64, flags: i32) -> SysResult<u64> {
        match self.node(ino)?.kind {
            FileType::Directory => return Err(libc::EISDIR),
            FileType::Symlink => return Err(libc::ELOOP),
            _ => {}
        }
        Ok(self.new_fh(Handle::File { flags }))
    }

    fn create(
        &mut self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> SysResult<(FileAttr, u64)> {
        let dir = self.dir(parent)?;
        let created = match sys::create_excl_at(dir.fd.as_raw_fd(), name, mode & 0o7777) {
            Ok(()) => true,
            Err(libc::EEXIST) if flags & libc::O_EXCL == 0 => false,
            Err(e) => return Err(e),
        };
        if created {
            Self::chown_new(dir.fd.as_raw_fd(), name, req);
            self.journal.log(Action::Created { dir, name: name.to_os_string(), is_dir: false });
        }
        let attr = self.lookup(parent, name)?;
        let ino = attr.ino.0;
        if !created {
            let node = self.node(ino)?;
            if node.kind == FileType::Directory {
                self.forget(ino, 1);
                return Err(libc::EISDIR);
            }
            if flags & libc::O_TRUNC != 0 && node.kind == FileType::RegularFile {
                let b = node.backing_size()?;
                node.overlay.set_size(0, b);
            }
        }
        let attr = self.attr(ino)?;
        let fh = self.new_fh(Handle::File { flags });
        Ok((attr, fh))
    }

    fn read(&mut self, ino: u64, off: u64, size: u32) -> SysResult<Vec<u8>> {
        let node = self.node(ino)?;
        if node.kind != FileType::RegularFile {
            return Err(libc::EISDIR);
        }
        let b = node.backing_size()?;
        node.open_io()?;
        let io = node.io.as_ref().ok_or(libc::EIO)?;
        node.overlay.read(io, b, off, size).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    fn write(&mut self, ino: u64, fh: u64, off: u64, data: &[u8], flags: i32) -> SysResult<u32> {
        let fh_flags = match self.handles.get(&fh) {
            Some(Handle::File { flags }) => *flags,
            _ => 0,
        };
        let node = self.node(ino)?;
        if node.kind != FileType::RegularFile {
            return Err(libc::EISDIR);
        }
        if off.checked_add(data.len() as u64).is_none_or(|e| e > i64::MAX as u64) {
            return Err(libc::EFBIG);
        }
        let b = node.backing_size()?;
        node.overlay.write(off, data, b);
        if (fh_flags | flags) & libc::O_DSYNC != 0 {
            self.sync_file(ino)?;
        }
        Ok(data.len() as u32)
    }

    fn readdir_entries(&mut self, ino: u64) -> SysResult<Vec<(OsString, FileType, u64)>> {
        let node = self.node(ino)?;
        if node.kind != FileType::Directory {
            return Err(libc::ENOTDIR);
        }
        let dev = node.key.0;
        let raw = node.raw();
        let mut out =
            vec![(OsString::from("."), FileType::Directory, ino), (OsString::from(".."), FileType::Directory, ino)];
        for (name, dtype, dino) in sys::list_dir(raw)? {
            let mapped = self.by_key.get(&(dev, dino)).copied().unwrap_or(dino);
            out.push((name, kind_of_dtype(dtype), mapped));
        }
        Ok(out)
    }

    fn fallocate(&mut self, ino: u64, off: u64, len: u64, mode: i32) -> SysResult<()> {
        let node = self.node(ino)?;
        if node.kind != FileType::RegularFile {
            return Err(libc::ENODEV);
        }
        let end = off.checked_add(len).filter(|e| *e <= i64::MAX as u64).ok_or(libc::EFBIG)?;
        match mode {
            0 => {
                let b = node.backing_size()?;
                if end > node.overlay.size(b) {
                    node.overlay.set_size(end, b);
                }
                Ok(())
            }
            libc::FALLOC_FL_KEEP_SIZE => Ok(()),
            _ => Err(libc::EOPNOTSUPP),
        }
    }

    fn lseek(&mut self, ino: u64, off: i64, whence: i32) -> SysResult<i64> {
        let node = self.node(ino)?;
        let b = node.backing_size()?;
        let size = node.overlay.size(b) as i64;
        match whence {
            libc::SEEK_DATA if off >= 0 && off < size => Ok(off),
            libc::SEEK_HOLE if off >= 0 && off < size => Ok(size),
            libc::SEEK_DATA | libc::SEEK_HOLE => Err(libc::ENXIO),
            _ => Err(libc::EINVAL),
        }
    }
}

/// The filesystem handed to fuser: a handle on the shared state.
#[derive(Debug)]
pub struct PowerFs {
    state: Arc<Mutex<State>>,
}

impl PowerFs {
    /// Wraps the shared state.
    pub fn new(state: Arc<Mutex<State>>) -> Self {
        PowerFs { state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks the state, ignoring poisoning (nothing panics while holding it on purpose).
pub fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn err(e: i32) -> FuseErrno {
    FuseErrno::from_i32(e)
}

impl Filesystem for PowerFs {
    fn init(&mut self, _req: &Request, _config: &mut KernelConfig) -> std::io::Result<()> {
        Ok(())
    }

    fn destroy(&mut self) {
        self.lock().write_back_all();
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lock().lookup(parent.0, name) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.lock().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.lock().attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(err(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.lock().setattr(ino.0, AttrChanges { mode, uid, gid, size, atime, mtime }) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(err(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let mut st = self.lock();
        let res = st
            .node(ino.0)
            .and_then(|n| if n.kind == FileType::Symlink { sys::read_link(n.raw()) } else { Err(libc::EINVAL) });
        match res {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(err(e)),
        }
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        match self.lock().mknod(req, parent.0, name, mode & !umask, rdev) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        match self.lock().mkdir(req, parent.0, name, mode & !umask & 0o7777) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.lock().remove(parent.0, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.lock().remove(parent.0, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        match self.lock().symlink(req, parent.0, link_name, target) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.lock().rename(parent.0, name, newparent.0, newname, flags.bits()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        match self.lock().link(ino.0, newparent.0, newname) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().open(ino.0, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(err(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.lock().read(ino.0, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(err(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(ino.0, fh.0, offset, data, flags.0) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(err(e)),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.lock().sync_file(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.lock();
        match st.node(ino.0).map(|n| n.kind) {
            Ok(FileType::Directory) => {
                let fh = st.new_fh(Handle::Dir { ino: ino.0, entries: Vec::new() });
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Ok(_) => reply.error(FuseErrno::ENOTDIR),
            Err(e) => reply.error(err(e)),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let mut st = self.lock();
        if offset == 0 {
            // (Re)read the directory at the start of a listing.
            let entries = match st.readdir_entries(ino.0) {
                Ok(e) => e,
                Err(e) => return reply.error(err(e)),
            };
            st.handles.insert(fh.0, Handle::Dir { ino: ino.0, entries });
        }
        let Some(Handle::Dir { ino: dino, entries }) = st.handles.get(&fh.0) else {
            return reply.error(FuseErrno::EBADF);
        };
        if *dino != ino.0 {
            return reply.error(FuseErrno::EBADF);
        }
        for (i, (name, kind, eino)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*eino), (i + 1) as u64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let mut guard = self.lock();
        let st = &mut *guard;
        match st.inodes.get(&ino.0) {
            Some(n) if n.kind == FileType::Directory => {
                if !st.opts.lying_disk {
                    st.journal.sync_dir(n.key, &st.trash);
                }
                reply.ok();
            }
            Some(_) => reply.error(FuseErrno::ENOTDIR),
            None => reply.error(FuseErrno::ENOENT),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let mut st = self.lock();
        let res = st.node(ROOT).and_then(|n| sys::statvfs_fd(n.raw()));
        match res {
            Ok(v) => reply.statfs(
                v.f_blocks,
                v.f_bfree,
                v.f_bavail,
                v.f_files,
                v.f_ffree,
                v.f_bsize as u32,
                v.f_namemax as u32,
                v.f_frsize as u32,
            ),
            Err(e) => reply.error(err(e)),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let mut st = self.lock();
        match st.node(ino.0).and_then(|n| sys::access_fd(n.raw(), mask.bits())) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.lock().create(req, parent.0, name, mode & !umask, flags) {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(err(e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match self.lock().fallocate(ino.0, offset, length, mode) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn lseek(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        match self.lock().lseek(ino.0, offset, whence) {
            Ok(o) => reply.offset(o),
            Err(e) => reply.error(err(e)),
        }
    }
}
