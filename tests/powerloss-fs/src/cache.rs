//! In-memory overlay of a file's unsynced data.
//!
//! Every `write` and every size change (truncate, fallocate) of a regular file lands here
//! instead of in the backing file. Reads merge the overlay over the backing file's contents.
//! `fsync`/`fdatasync` of the file applies the overlay to the backing file and clears it; a
//! power loss simply drops it.
//!
//! The overlay is an extent map: non-overlapping, non-adjacent byte ranges keyed by their
//! start offset. Sequential appends grow the last extent in place, so a long run of small
//! appends costs amortised O(1) per write.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

/// Unsynced state of one regular file.
#[derive(Debug, Default)]
pub struct Overlay {
    /// Written data not yet synced: start offset → bytes. Extents never overlap or touch.
    extents: BTreeMap<u64, Vec<u8>>,
    /// Pending file size, if it differs (or may differ) from the backing file's size.
    size: Option<u64>,
    /// Backing bytes at or past this offset are hidden (read as zeros): set by a pending
    /// truncate, so that shrinking then growing a file does not resurrect old bytes.
    base_len: Option<u64>,
    /// Modification time of the last pending change, reported by getattr.
    mtime: Option<SystemTime>,
}

impl Overlay {
    /// True when nothing is pending.
    pub fn is_clean(&self) -> bool {
        self.extents.is_empty() && self.size.is_none() && self.base_len.is_none()
    }

    /// Bytes of written data that are not synced.
    pub fn dirty_bytes(&self) -> u64 {
        self.extents.values().map(|v| v.len() as u64).sum()
    }

    /// The size the file has with the overlay applied, given the backing file's size.
    pub fn size(&self, backing_size: u64) -> u64 {
        self.size.unwrap_or(backing_size)
    }

    /// The pending modification time, if any.
    pub fn mtime(&self) -> Option<SystemTime> {
        self.mtime
    }

    /// Overrides the pending modification time (an explicit utimens while data is pending).
    pub fn set_mtime(&mut self, mtime: Option<SystemTime>) {
        if !self.is_clean() {
            self.mtime = mtime;
        }
    }

    /// Records a write of `data` at `off`. `backing_size` is the backing file's current size.
    pub fn write(&mut self, off: u64, data: &[u8], backing_size: u64) {
        if data.is_empty() {
            return;
        }
        let end = off + data.len() as u64;
        let cur_size = self.size(backing_size);
        self.size = Some(cur_size.max(end));
        self.mtime = Some(SystemTime::now());

        // Start from the extent that begins at or before `off` if it reaches `off`.
        let prev = self.extents.range(..=off).next_back().map(|(s, v)| (*s, v.len() as u64));
        let (start, mut buf) = match prev {
            Some((s, len)) if s + len >= off => (s, self.extents.remove(&s).unwrap_or_default()),
            _ => (off, Vec::new()),
        };
        let rel = (off - start) as usize;
        let rel_end = rel + data.len();
        if buf.len() < rel_end {
            buf.resize(rel_end, 0);
        }
        buf[rel..rel_end].copy_from_slice(data);

        // Absorb every later extent that overlaps or touches [off, end].
        let later: Vec<u64> = self.extents.range(off..=end).map(|(s, _)| *s).collect();
        for s in later {
            if let Some(v) = self.extents.remove(&s) {
                let buf_end = start + buf.len() as u64;
                let v_end = s + v.len() as u64;
                if v_end > buf_end {
                    let skip = (buf_end - s) as usize;
                    buf.extend_from_slice(&v[skip..]);
                }
            }
        }
        self.extents.insert(start, buf);
    }

    /// Records a size change (truncate or extension).
    pub fn set_size(&mut self, new_size: u64, backing_size: u64) {
        let cur_size = self.size(backing_size);
        if new_size < cur_size {
            // Drop or trim extents past the new end.
            let beyond: Vec<u64> = self.extents.range(new_size..).map(|(s, _)| *s).collect();
            for s in beyond {
                self.extents.remove(&s);
            }
            if let Some((s, v)) = self.extents.range_mut(..new_size).next_back() {
                let keep = (new_size - *s) as usize;
                if v.len() > keep {
                    v.truncate(keep);
                }
            }
            let base = self.base_len.unwrap_or(backing_size).min(new_size);
            if base < backing_size {
                self.base_len = Some(base);
            }
        }
        self.size = Some(new_size);
        self.mtime = Some(SystemTime::now());
    }

    /// Reads `len` bytes at `off` as the file looks with the overlay applied.
    pub fn read(&self, backing: &File, backing_size: u64, off: u64, len: u32) -> io::Result<Vec<u8>> {
        let size = self.size(backing_size);
        if off >= size {
            return Ok(Vec::new());
        }
        let end = size.min(off + u64::from(len));
        let mut out = vec![0u8; (end - off) as usize];
        // Backing bytes that are still visible.
        let visible = self.base_len.unwrap_or(backing_size).min(backing_size);
        if off < visible {
            let want = (visible.min(end) - off) as usize;
            let mut done = 0;
            while done < want {
                let n = backing.read_at(&mut out[done..want], off + done as u64)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
        }
        // Overlay extents on top.
        let first = self.extents.range(..=off).next_back().map(|(s, _)| *s).unwrap_or(off);
        for (s, v) in self.extents.range(first..end) {
            let e = s + v.len() as u64;
            let lo = (*s).max(off);
            let hi = e.min(end);
            if lo < hi {
                out[(lo - off) as usize..(hi - off) as usize].copy_from_slice(&v[(lo - s) as usize..(hi - s) as usize]);
            }
        }
        Ok(out)
    }

    /// Applies the overlay to the backing file (opened for writing) and clears it.
    /// Returns the number of data bytes written.
    pub fn persist(&mut self, backing: &File) -> io::Result<u64> {
        if self.is_clean() {
            return Ok(0);
        }
        let backing_size = backing.metadata()?.len();
        if let Some(base) = self.base_len
            && base < backing_size
        {
            backing.set_len(base)?;
        }
        let mut written = 0;
        for (s, v) in &self.extents {
            backing.write_all_at(v, *s)?;
            written += v.len() as u64;
        }
        if let Some(size) = self.size
            && backing.metadata()?.len() != size
        {
            backing.set_len(size)?;
        }
        if let Some(mtime) = self.mtime {
            // Best effort: keep the pending mtime on the backing file.
            let _ = backing.set_modified(mtime);
        }
        *self = Overlay::default();
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Reference model: the full file contents.
    fn apply(model: &mut Vec<u8>, off: usize, data: &[u8]) {
        if model.len() < off + data.len() {
            model.resize(off + data.len(), 0);
        }
        model[off..off + data.len()].copy_from_slice(data);
    }

    fn backing(contents: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!(
            "powerloss-fs-cache-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut f = File::options().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        f.write_all(contents).unwrap();
        (path, f)
    }

    #[test]
    fn writes_truncates_and_persist_match_model() {
        let initial: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let (path, file) = backing(&initial);
        let mut model = initial.clone();
        let mut ov = Overlay::default();
        let mut seed = 12345u64;
        let mut rnd = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for step in 0..3000 {
            let bsize = file.metadata().unwrap().len();
            match rnd(10) {
                0 => {
                    let n = rnd(9000);
                    ov.set_size(n, bsize);
                    model.resize(n as usize, 0);
                }
                _ => {
                    let off = rnd(8000) as usize;
                    let len = 1 + rnd(700) as usize;
                    let data: Vec<u8> = (0..len).map(|_| rnd(256) as u8).collect();
                    ov.write(off as u64, &data, bsize);
                    apply(&mut model, off, &data);
                }
            }
            assert_eq!(ov.size(bsize), model.len() as u64, "size at step {step}");
            let got = ov.read(&file, bsize, 0, 20000).unwrap();
            assert_eq!(got, model, "contents at step {step}");
            let off = rnd(9000);
            let got = ov.read(&file, bsize, off, 333).unwrap();
            let lo = (off as usize).min(model.len());
            let hi = (off as usize + 333).min(model.len());
            assert_eq!(got, &model[lo..hi], "partial read at step {step}");
            if step % 97 == 0 {
                ov.persist(&file).unwrap();
                assert!(ov.is_clean());
                let mut on_disk = Vec::new();
                std::io::Read::read_to_end(&mut File::open(&path).unwrap(), &mut on_disk).unwrap();
                assert_eq!(on_disk, model, "persisted at step {step}");
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}
