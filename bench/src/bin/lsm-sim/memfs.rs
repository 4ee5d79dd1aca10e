//! A file system in memory for the simulator: every file a `Vec<u8>`
//! behind a lock, freed when removed, no trace and no crash images (the
//! workbook's `SimFs` keeps both, which a long simulation does not need).
//! Durability is not simulated: `sync` does nothing.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use lsm_workbook::error::{Error, Result};
use lsm_workbook::fs::{Fs, ReadableFile, WritableFile};

type Contents = Arc<RwLock<Vec<u8>>>;

/// The files, by path; directories are the set of paths created.
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: Arc<Mutex<BTreeMap<PathBuf, Contents>>>,
    dirs: Arc<Mutex<Vec<PathBuf>>>,
}

impl MemFs {
    fn files(&self) -> MutexGuard<'_, BTreeMap<PathBuf, Contents>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every file under `dir` with its length, sorted by name.
    pub fn sizes(&self, dir: &Path) -> Vec<(String, u64)> {
        self.files()
            .iter()
            .filter(|(path, _)| path.parent() == Some(dir))
            .map(|(path, contents)| {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                (name.into_owned(), read(contents).len() as u64)
            })
            .collect()
    }

    /// A copy of the file at `path`.
    pub fn bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.files()
            .get(path)
            .map(|contents| read(contents).clone())
    }
}

fn read(contents: &Contents) -> std::sync::RwLockReadGuard<'_, Vec<u8>> {
    contents.read().unwrap_or_else(|p| p.into_inner())
}

fn error(op: &'static str, path: &Path, kind: io::ErrorKind, what: String) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source: io::Error::new(kind, what),
    }
}

fn not_found(op: &'static str, path: &Path) -> Error {
    error(op, path, io::ErrorKind::NotFound, "no such file".into())
}

impl Fs for MemFs {
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let mut files = self.files();
        if files.contains_key(path) {
            let what = "the file exists".into();
            return Err(error("create", path, io::ErrorKind::AlreadyExists, what));
        }
        let contents = Contents::default();
        files.insert(path.to_path_buf(), Arc::clone(&contents));
        Ok(Box::new(MemWritable {
            path: path.to_path_buf(),
            contents,
            len: 0,
        }))
    }

    fn open(&self, path: &Path) -> Result<Box<dyn ReadableFile>> {
        let contents = self.files().get(path).cloned();
        let contents = contents.ok_or_else(|| not_found("open", path))?;
        // A reader sees the file as it is when opened: tables and manifests
        // are complete then; a log is only read back at open.
        let bytes = read(&contents).clone();
        Ok(Box::new(MemReadable {
            path: path.to_path_buf(),
            bytes,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut files = self.files();
        let contents = files
            .remove(from)
            .ok_or_else(|| not_found("rename", from))?;
        files.insert(to.to_path_buf(), contents);
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        self.files()
            .remove(path)
            .map(drop)
            .ok_or_else(|| not_found("remove", path))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        Ok(self.sizes(dir).into_iter().map(|(name, _)| name).collect())
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        if !dirs.iter().any(|known| known == dir) {
            dirs.push(dir.to_path_buf());
        }
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.files().contains_key(path) || dirs.iter().any(|dir| dir == path))
    }
}

#[derive(Debug)]
struct MemWritable {
    path: PathBuf,
    contents: Contents,
    len: u64,
}

impl WritableFile for MemWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let mut bytes = self.contents.write().unwrap_or_else(|p| p.into_inner());
        bytes.extend_from_slice(data);
        self.len = bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug)]
struct MemReadable {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl ReadableFile for MemReadable {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(buf.len());
        match self.bytes.get(start..end) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(error(
                "read_exact_at",
                &self.path,
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} bytes at {offset} are past the end ({} bytes)",
                    buf.len(),
                    self.bytes.len()
                ),
            )),
        }
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn path(&self) -> &Path {
        &self.path
    }
}
