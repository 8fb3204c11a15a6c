//! `powerloss-fs`: a FUSE filesystem that simulates power loss, in the manner of LazyFS.
//!
//! Usage: `powerloss-fs [--lying-disk] [--sync-commits-namespace] <backing-dir> <mountpoint>`
//!
//! Exports `<backing-dir>/root` at `<mountpoint>`, keeping unsynced file data in memory and
//! logging namespace changes until their directory is fsynced. Prints `mounted <mountpoint>`
//! once the mount is ready. Signals, handled on a dedicated thread with `sigwait`:
//!
//! * `SIGUSR1`: power loss. Drops unsynced data, undoes non-durable namespace changes, prints
//!   one JSON line and exits 0 without unmounting (the caller runs `fusermount3 -uz`).
//! * `SIGTERM`/`SIGINT`: orderly shutdown. Writes everything back, unmounts, exits 0.
//!
//! Unmounting from outside (`fusermount3 -u`) is treated like `SIGTERM`.

mod cache;
mod fs;
mod state;
mod sys;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuser::{Config, MountOption, Session, SessionUnmounter};

use crate::fs::{Options, PowerFs, State, WritebackReport, lock};

const USAGE: &str = "usage: powerloss-fs [--lying-disk] [--sync-commits-namespace] <backing-dir> <mountpoint>";

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn shutdown_json(r: &WritebackReport) -> String {
    format!(
        "{{\"event\":\"shutdown\",\"written_back_bytes\":{},\"written_back_files\":{},\"committed_ops\":{},\"writeback_failures\":{}}}",
        r.bytes, r.files, r.ops, r.failures
    )
}

/// The signal thread: power loss on SIGUSR1, orderly shutdown on SIGTERM/SIGINT.
fn signal_loop(
    set: libc::sigset_t,
    state: Arc<Mutex<State>>,
    mut unmounter: SessionUnmounter,
    mountpoint: PathBuf,
    lying_disk: bool,
) {
    loop {
        match sys::wait_signal(&set) {
            libc::SIGUSR1 => {
                // Keep the lock until exit: no request is served after the power cut.
                let mut st = lock(&state);
                let r = st.power_loss();
                print_line(&format!(
                    "{{\"event\":\"power_loss\",\"lying_disk\":{},\"dropped_bytes\":{},\"dropped_files\":{},\"undone_ops\":{},\"undo_failures\":{}}}",
                    lying_disk, r.dropped_bytes, r.dropped_files, r.undone_ops, r.undo_failures
                ));
                let _ = std::io::stderr().flush();
                std::process::exit(0);
            }
            libc::SIGTERM | libc::SIGINT => {
                lock(&state).write_back_all();
                if let Err(e) = unmounter.unmount() {
                    eprintln!("powerloss-fs: unmount failed ({e}); detaching lazily");
                    if let Err(e) = sys::detach_mount(mountpoint.as_os_str()) {
                        eprintln!("powerloss-fs: lazy unmount failed: errno {e}");
                    }
                }
                // The session loop normally ends now and main exits. If the mount stays busy
                // (lazily detached while in use), give up after a while.
                std::thread::sleep(Duration::from_secs(10));
                let mut st = lock(&state);
                st.write_back_all();
                print_line(&shutdown_json(&st.writeback));
                std::process::exit(0);
            }
            _ => {}
        }
    }
}

fn parse_args() -> Result<(Options, PathBuf, PathBuf), String> {
    let mut opts = Options::default();
    let mut paths: Vec<OsString> = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.as_bytes() {
            b"--lying-disk" => opts.lying_disk = true,
            b"--sync-commits-namespace" => opts.sync_commits_namespace = true,
            b"-h" | b"--help" => return Err(USAGE.to_string()),
            a if a.starts_with(b"-") => return Err(format!("unknown option {arg:?}\n{USAGE}")),
            _ => paths.push(arg),
        }
    }
    let [backing, mountpoint]: [OsString; 2] = paths.try_into().map_err(|_| USAGE.to_string())?;
    Ok((opts, PathBuf::from(backing), PathBuf::from(mountpoint)))
}

fn open_dir_path(path: &Path) -> Result<std::os::fd::OwnedFd, String> {
    sys::open_abs(path.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| format!("cannot open {}: {}", path.display(), std::io::Error::from_raw_os_error(e)))
}

fn run() -> Result<(), String> {
    let (opts, backing, mountpoint) = parse_args()?;
    let backing = backing.canonicalize().map_err(|e| format!("backing dir {}: {e}", backing.display()))?;
    let root = backing.join("root");
    let trash = backing.join("trash");
    for d in [&root, &trash] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    // Modes arrive already masked by the kernel; do not mask them again.
    // SAFETY: umask only changes this process's file creation mask.
    unsafe { libc::umask(0) };

    let state = State::new(opts, open_dir_path(&root)?, open_dir_path(&trash)?)
        .map_err(|e| format!("cannot set up state: {}", std::io::Error::from_raw_os_error(e)))?;
    let state = Arc::new(Mutex::new(state));

    // Block the signals before any thread starts, so only the signal thread receives them.
    let set = sys::block_signals(&[libc::SIGUSR1, libc::SIGTERM, libc::SIGINT]);

    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("powerloss-fs".to_string()),
        MountOption::Subtype("powerloss".to_string()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
    ];
    config.n_threads = Some(1);
    let mut session = Session::new(PowerFs::new(state.clone()), &mountpoint, &config)
        .map_err(|e| format!("mount on {} failed: {e}", mountpoint.display()))?;
    let unmounter = session.unmount_callable();
    {
        let state = state.clone();
        let mountpoint = mountpoint.clone();
        let lying = opts.lying_disk;
        std::thread::Builder::new()
            .name("signals".to_string())
            .spawn(move || signal_loop(set, state, unmounter, mountpoint, lying))
            .map_err(|e| format!("cannot start signal thread: {e}"))?;
    }
    print_line(&format!("mounted {}", mountpoint.display()));

    let res = session.run();
    // The session ended (unmounted): write back everything, as after SIGTERM.
    let mut st = lock(&state);
    st.write_back_all();
    print_line(&shutdown_json(&st.writeback));
    res.map_err(|e| format!("session ended with error: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("powerloss-fs: {msg}");
            ExitCode::FAILURE
        }
    }
}
