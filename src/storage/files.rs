//! Files that must survive a power cut, not only a crash: a name is durable only once
//! the directory holding it has been fsynced, and a file's bytes only once the file has.
//! The store's directory and sled's files, and the signing key, are made durable here
//! before the server relies on them (`scripts/crash-test --power-loss` checks it).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// fsyncs a directory, so that the entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `create_dir_all`, with every directory it created, and the one it created them in,
/// fsynced: the whole path exists after a power cut.
pub fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor {
        if path.as_os_str().is_empty() || path.exists() {
            break;
        }
        missing.push(path.to_path_buf());
        cursor = path.parent();
    }
    std::fs::create_dir_all(dir)?;
    for created in &missing {
        sync_dir(created)?;
    }
    if let Some(top) = missing.last() {
        sync_dir(parent_of(top))?;
    }
    Ok(())
}

/// fsyncs every regular file and directory directly in `dir`, then `dir` and its parent:
/// whatever a library (sled) created there at start-up is on disk, names included.
pub fn sync_tree_entries(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_file() || kind.is_dir() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    sync_dir(dir)?;
    sync_dir(parent_of(dir))
}

/// Writes a new file durably with `mode`, never replacing one that exists: the bytes go
/// to a temporary name beside it and are fsynced, the file is linked in under its name
/// (failing with `AlreadyExists` if that name is taken) and the directory is fsynced.
/// Missing parent directories are created durably.
pub fn write_new_durable(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_of(path);
    create_dir_all_durable(dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp_name = name.to_os_string();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::hard_link(&temp, path)
    })();
    let removed = std::fs::remove_file(&temp);
    written?;
    removed?;
    sync_dir(dir)
}

/// The directory a path sits in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_nested_directories_and_new_files_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/c");
        create_dir_all_durable(&dir).unwrap();
        assert!(dir.is_dir());
        create_dir_all_durable(&dir).unwrap();

        let file = dir.join("key.pem");
        write_new_durable(&file, b"first", 0o600).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let again = write_new_durable(&file, b"second", 0o600).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
        // No temporary file is left behind, on success or on failure.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);

        sync_tree_entries(&dir).unwrap();
    }
}
