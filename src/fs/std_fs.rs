//! [`StdFs`]: the [`Fs`] seam over the real file system.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Fs, ReadableFile, WritableFile};
use crate::error::{Error, Result};

/// The real file system, through `std::fs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

#[derive(Debug)]
struct StdWritable {
    file: File,
    path: PathBuf,
    len: u64,
}

#[derive(Debug)]
struct StdReadable {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Fs for StdFs {
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        Ok(Box::new(StdWritable {
            file,
            path: path.to_path_buf(),
            len: 0,
        }))
    }

    fn open(&self, path: &Path) -> Result<Box<dyn ReadableFile>> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("open", path, e))?
            .len();
        Ok(Box::new(StdReadable {
            file,
            path: path.to_path_buf(),
            len,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| Error::io("rename", from, e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        fs::remove_file(path).map_err(|e| Error::io("remove", path, e))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
            let entry = entry.map_err(|e| Error::io("list", dir, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| Error::io("create_dir_all", dir, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        // On Unix a directory is synced by opening it and calling fsync on
        // it. Windows has no such call (and does not need one for NTFS
        // metadata), so there this is a no-op.
        #[cfg(unix)]
        {
            let handle = File::open(dir).map_err(|e| Error::io("sync_dir", dir, e))?;
            handle
                .sync_all()
                .map_err(|e| Error::io("sync_dir", dir, e))?;
        }
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists().map_err(|e| Error::io("exists", path, e))
    }
}

impl WritableFile for StdWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        // `write_all` on an unbuffered `File` hands every byte to the kernel
        // before returning: nothing is parked in user space (promise P1, book: the toolbox).
        self.file
            .write_all(data)
            .map_err(|e| Error::io("append", &self.path, e))?;
        self.len += data.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        // `sync_data` (fdatasync) also persists the file size, which is all
        // the metadata an append-only file needs.
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.path, e))
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl ReadableFile for StdReadable {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_at(&self.file, buf, offset).map_err(|e| Error::io("read", &self.path, e))
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let fs = StdFs;
        let mut file = fs.create(&path).unwrap();
        file.append(b"hello ").unwrap();
        file.append(b"world").unwrap();
        file.sync().unwrap();
        assert_eq!(file.len(), 11);
        fs.sync_dir(dir.path()).unwrap();
        assert!(fs.create(&path).is_err(), "create must be exclusive");

        let reader = fs.open(&path).unwrap();
        let mut buf = [0; 5];
        reader.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"world");
        let past_end = reader.read_exact_at(&mut buf, 8).unwrap_err();
        assert_eq!(past_end.io_kind(), Some(std::io::ErrorKind::UnexpectedEof));

        fs.rename(&path, &dir.path().join("b.log")).unwrap();
        assert_eq!(fs.list(dir.path()).unwrap(), vec!["b.log".to_string()]);
        fs.remove(&dir.path().join("b.log")).unwrap();
        assert!(fs.list(dir.path()).unwrap().is_empty());
    }
}
