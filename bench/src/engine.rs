//! The one interface the harness drives, and the workbook's engine behind
//! it. The peers (`peers.rs`) implement the same trait, so every engine
//! runs the very same loop over the very same bytes.

use std::path::Path;
use std::sync::Arc;

use lsm_workbook::ch06_manifest::Version;
use lsm_workbook::ch07_engine::{Compaction, Db, Options, WriteOptions};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, pick};
use lsm_workbook::types::WriteBatch;

/// Errors of any engine, as text with their source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The result of an engine call.
pub type Result<T> = std::result::Result<T, BoxError>;

/// One operation of a write call.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    /// Set a key.
    Put(&'a [u8], &'a [u8]),
    /// Delete a key.
    Delete(&'a [u8]),
}

/// What the harness needs of a storage engine.
pub trait Engine {
    /// Applies `ops` as one write call (one batch if more than one), made
    /// durable before returning if `sync`.
    fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()>;
    /// The length of `key`'s value, `None` if absent.
    fn get(&mut self, key: &[u8]) -> Result<Option<usize>>;
    /// The first pair at or after `key`: its key and the value's length.
    fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>>;
    /// Visits every live pair in key order; returns `(rows, bytes)`.
    fn scan_all(&mut self) -> Result<(u64, u64)>;
    /// Moves everything written so far out of memory into the engine's
    /// files (our `flush`; a peer's nearest equivalent), durably.
    fn flush(&mut self) -> Result<()>;
    /// Bytes the engine says it wrote (logs, tables, compaction) and the
    /// user bytes it counted, since it was opened; `None` if it keeps no
    /// such counters.
    fn counters(&self) -> Option<(u64, u64)>;
    /// The engine's table files now, if it says (reads cost more with
    /// more tables).
    fn table_count(&self) -> Option<u64> {
        None
    }
    /// Closes the engine cleanly.
    fn close(self: Box<Self>) -> Result<()>;
}

/// How an engine is named and opened, and what its writes promise.
#[derive(Clone, Copy, Debug)]
pub struct EngineKind {
    /// The name on the command line and in the report.
    pub name: &'static str,
    /// How durable a plain write is when it returns.
    pub durability: &'static str,
    /// How durable a write with `sync` is when it returns.
    pub durability_sync: &'static str,
    /// How it is configured, and what differs from ours.
    pub notes: &'static str,
    /// Opens (or creates) the engine's database in `dir`.
    pub open: fn(&Path) -> Result<Box<dyn Engine>>,
}

/// Every engine compiled into this binary.
pub fn kinds() -> Vec<EngineKind> {
    let mut kinds = vec![EngineKind {
        name: "workbook",
        durability: "OS buffer (WAL written, not synced)",
        durability_sync: "fsync per write",
        notes: "Options::default(): 4 MiB memtable, 4 KiB blocks, bloom filter, \
                index; flush and leveled compaction (chapter 8, LevelDB's shape) inline \
                in the write path; no compaction if chapter 8 is not done yet",
        open: Workbook::open,
    }];
    kinds.extend(crate::peers::kinds());
    kinds
}

/// Chapter 8's leveled compaction, if that chapter is done: a `pick` that
/// panics (a `todo!()`) means it is not, and the engine runs without
/// compaction, as chapter 7 left it.
pub fn compaction() -> Option<Arc<dyn Compaction>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| pick(&Version::default(), &LeveledOptions::default()));
    std::panic::set_hook(hook);
    probe
        .ok()
        .map(|_| Arc::new(Leveled::default()) as Arc<dyn Compaction>)
}

/// The workbook's `Db`: your chapters, or the reference with the
/// `reference` feature.
struct Workbook {
    db: Db,
}

impl Workbook {
    fn open(dir: &Path) -> Result<Box<dyn Engine>> {
        let options = Options {
            compaction: compaction(),
            ..Options::default()
        };
        let db = Db::open(dir, options)?;
        Ok(Box::new(Workbook { db }))
    }
}

impl Engine for Workbook {
    fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()> {
        // The batch's sequence number is ignored: the engine numbers it.
        let mut batch = WriteBatch::default();
        for op in ops {
            batch = match *op {
                Op::Put(key, value) => batch.put(key.to_vec(), value.to_vec()),
                Op::Delete(key) => batch.delete(key.to_vec()),
            };
        }
        self.db.write(batch, WriteOptions { sync })?;
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|value| value.len()))
    }

    fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
        match self.db.scan(key..).next() {
            Some(pair) => {
                let (key, value) = pair?;
                Ok(Some((key.to_vec(), value.len())))
            }
            None => Ok(None),
        }
    }

    fn scan_all(&mut self) -> Result<(u64, u64)> {
        let (mut rows, mut bytes) = (0, 0);
        for pair in self.db.scan(..) {
            let (key, value) = pair?;
            rows += 1;
            bytes += (key.len() + value.len()) as u64;
        }
        Ok((rows, bytes))
    }

    fn flush(&mut self) -> Result<()> {
        self.db.flush()?;
        self.db.sync()?;
        Ok(())
    }

    fn counters(&self) -> Option<(u64, u64)> {
        let stats = self.db.stats();
        let written = stats.wal_bytes + stats.flush_bytes + stats.compaction_bytes;
        Some((written, stats.user_bytes))
    }

    fn table_count(&self) -> Option<u64> {
        let levels = self.db.stats().levels;
        Some(levels.iter().map(|&(tables, _)| tables as u64).sum())
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close()?;
        Ok(())
    }
}
