//! Thin wrappers over the `*at` system calls the filesystem uses.
//!
//! Every inode is held as an `O_PATH` descriptor, and directory entries are addressed as
//! (directory descriptor, name), so renames of parent directories never invalidate anything.
//! Errors come back as raw errno values, ready to hand to the kernel.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// A raw errno value.
pub type Errno = i32;
/// Result of a system call wrapper.
pub type SysResult<T> = Result<T, Errno>;

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn cstr(name: &OsStr) -> SysResult<CString> {
    CString::new(name.as_bytes()).map_err(|_| libc::EINVAL)
}

fn check(ret: libc::c_int) -> SysResult<()> {
    if ret < 0 { Err(errno()) } else { Ok(()) }
}

/// The `/proc/self/fd/N` path of a descriptor, to reopen an `O_PATH` descriptor for I/O.
pub fn proc_path(fd: RawFd) -> CString {
    CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default()
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub fn stat_at(dir: RawFd, name: &OsStr) -> SysResult<libc::stat> {
    let name = cstr(name)?;
    // SAFETY: zeroed stat is a valid out-parameter; pointers are valid for the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// `fstat` of a descriptor (works on `O_PATH` descriptors).
pub fn stat_fd(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: as above; the empty path with AT_EMPTY_PATH stats `fd` itself.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(fd, c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// `openat(dir, name, O_PATH | O_NOFOLLOW)`.
pub fn open_path_at(dir: RawFd, name: &OsStr) -> SysResult<OwnedFd> {
    let name = cstr(name)?;
    // SAFETY: valid C string; the returned descriptor is owned by us.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if fd < 0 { Err(errno()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
}

/// `open(path, flags)` for an absolute path.
pub fn open_abs(path: &OsStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    let path = cstr(path)?;
    // SAFETY: valid C string; the returned descriptor is owned by us.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 { Err(errno()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
}

/// Reopens an `O_PATH` descriptor of a regular file for I/O: read-write, else read-only.
pub fn reopen_file(fd: RawFd) -> SysResult<File> {
    let path = proc_path(fd);
    for flags in [libc::O_RDWR, libc::O_RDONLY] {
        // SAFETY: valid C string; the returned descriptor is owned by the File.
        let new = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if new >= 0 {
            return Ok(unsafe { File::from_raw_fd(new) });
        }
    }
    Err(errno())
}

/// Opens a directory (given as an `O_PATH` descriptor) for reading its entries.
pub fn open_dir(fd: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: "." relative to the directory descriptor.
    let new = unsafe { libc::openat(fd, c".".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if new < 0 { Err(errno()) } else { Ok(unsafe { OwnedFd::from_raw_fd(new) }) }
}

/// `mkdirat`.
pub fn mkdir_at(dir: RawFd, name: &OsStr, mode: u32) -> SysResult<()> {
    let name = cstr(name)?;
    // SAFETY: valid C string.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode as libc::mode_t) })
}

/// `mknodat`.
pub fn mknod_at(dir: RawFd, name: &OsStr, mode: u32, rdev: u32) -> SysResult<()> {
    let name = cstr(name)?;
    // SAFETY: valid C string.
    check(unsafe { libc::mknodat(dir, name.as_ptr(), mode as libc::mode_t, libc::dev_t::from(rdev)) })
}

/// `openat(dir, name, O_CREAT | O_EXCL | O_WRONLY, mode)`, closing the result.
pub fn create_excl_at(dir: RawFd, name: &OsStr, mode: u32) -> SysResult<()> {
    let name = cstr(name)?;
    // SAFETY: valid C string; the descriptor is closed right away.
    let fd = unsafe {
        libc::openat(dir, name.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, mode)
    };
    if fd < 0 {
        return Err(errno());
    }
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// `symlinkat`.
pub fn symlink_at(target: &OsStr, dir: RawFd, name: &OsStr) -> SysResult<()> {
    let target = cstr(target)?;
    let name = cstr(name)?;
    // SAFETY: valid C strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) })
}

/// Hard-links the inode behind an `O_PATH` descriptor as `dir/name`.
pub fn link_fd_at(fd: RawFd, dir: RawFd, name: &OsStr) -> SysResult<()> {
    let name = cstr(name)?;
    // SAFETY: valid C strings. AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; fall back to the
    // /proc magic link otherwise.
    let ret = unsafe { libc::linkat(fd, c"".as_ptr(), dir, name.as_ptr(), libc::AT_EMPTY_PATH) };
    if ret == 0 {
        return Ok(());
    }
    let path = proc_path(fd);
    check(unsafe { libc::linkat(libc::AT_FDCWD, path.as_ptr(), dir, name.as_ptr(), libc::AT_SYMLINK_FOLLOW) })
}

/// `renameat2(old_dir, old, new_dir, new, flags)`.
pub fn rename_at(old_dir: RawFd, old: &OsStr, new_dir: RawFd, new: &OsStr, flags: u32) -> SysResult<()> {
    let old = cstr(old)?;
    let new = cstr(new)?;
    // SAFETY: valid C strings.
    check(unsafe { libc::renameat2(old_dir, old.as_ptr(), new_dir, new.as_ptr(), flags) })
}

/// `unlinkat(dir, name, 0 or AT_REMOVEDIR)`.
pub fn unlink_at(dir: RawFd, name: &OsStr, is_dir: bool) -> SysResult<()> {
    let name = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid C string.
    check(unsafe { libc::unlinkat(dir, name.as_ptr(), flags) })
}

/// Removes `dir/name`, recursively if it is a directory.
pub fn remove_all_at(dir: RawFd, name: &OsStr) -> SysResult<()> {
    let st = stat_at(dir, name)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unlink_at(dir, name, false);
    }
    let sub = open_path_at(dir, name)?;
    for child in list_dir(sub.as_raw_fd())? {
        remove_all_at(sub.as_raw_fd(), &child.0)?;
    }
    unlink_at(dir, name, true)
}

/// `readlinkat(fd, "")` of an `O_PATH` symlink descriptor.
pub fn read_link(fd: RawFd) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the buffer is valid for its length.
    let n = unsafe { libc::readlinkat(fd, c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Entries of a directory (given as any descriptor of it), without "." and "..":
/// (name, d_type, d_ino).
pub fn list_dir(fd: RawFd) -> SysResult<Vec<(std::ffi::OsString, u8, u64)>> {
    let dfd = open_dir(fd)?;
    // SAFETY: fdopendir takes ownership of the descriptor; closedir releases it.
    let dirp = unsafe { libc::fdopendir(dfd.into_raw_fd()) };
    if dirp.is_null() {
        return Err(errno());
    }
    let mut out = Vec::new();
    loop {
        // SAFETY: dirp is a valid DIR*; the returned entry is valid until the next call.
        let ent = unsafe { libc::readdir64(dirp) };
        if ent.is_null() {
            break;
        }
        let ent = unsafe { &*ent };
        let name = unsafe { std::ffi::CStr::from_ptr(ent.d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        out.push((OsStr::from_bytes(bytes).to_os_string(), ent.d_type, ent.d_ino));
    }
    // SAFETY: dirp came from fdopendir.
    unsafe { libc::closedir(dirp) };
    Ok(out)
}

/// `fchmodat` through the /proc magic link (O_PATH descriptors cannot be fchmod'ed).
pub fn chmod_fd(fd: RawFd, mode: u32) -> SysResult<()> {
    let path = proc_path(fd);
    // SAFETY: valid C string.
    check(unsafe { libc::chmod(path.as_ptr(), (mode & 0o7777) as libc::mode_t) })
}

/// `fchownat(fd, "", AT_EMPTY_PATH)`; `u32::MAX` leaves an id unchanged.
pub fn chown_fd(fd: RawFd, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: empty path with AT_EMPTY_PATH.
    check(unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) })
}

/// `utimensat` through the /proc magic link.
pub fn utimens_fd(fd: RawFd, times: &[libc::timespec; 2]) -> SysResult<()> {
    let path = proc_path(fd);
    // SAFETY: valid C string and a two-element array.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) })
}

/// `faccessat` through the /proc magic link.
pub fn access_fd(fd: RawFd, mask: i32) -> SysResult<()> {
    let path = proc_path(fd);
    // SAFETY: valid C string.
    check(unsafe { libc::access(path.as_ptr(), mask) })
}

/// `fstatvfs` of a descriptor.
pub fn statvfs_fd(fd: RawFd) -> SysResult<libc::statvfs> {
    // SAFETY: zeroed statvfs is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatvfs(fd, &mut st) })?;
    Ok(st)
}

/// Sets the calling thread's signal mask to block `signals`.
pub fn block_signals(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits for one of the signals in `set` (which must be blocked).
pub fn wait_signal(set: &libc::sigset_t) -> libc::c_int {
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is a valid signal set.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

/// Lazily detaches a mount (`umount2(MNT_DETACH)`).
pub fn detach_mount(path: &OsStr) -> SysResult<()> {
    let path = cstr(path)?;
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) })
}
