//! The one interface the harness drives, and the workbook's engine behind
//! it. The peers (`peers.rs`) implement the same trait, so every engine
//! runs the very same loop over the very same bytes.

use std::panic::UnwindSafe;
use std::path::Path;
use std::sync::Arc;

use lsm_workbook::ch03_sstable::{Block, BlockCache, BlockKey};
use lsm_workbook::ch06_manifest::Version;
use lsm_workbook::ch07_engine::{Compaction, Db, Options, StallOptions, WriteOptions};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, pick};
use lsm_workbook::ch10_background::{Cache, pressure};
use lsm_workbook::types::WriteBatch;

/// The block cache our engine gets unless `--cache-bytes` says otherwise:
/// fjall 3's default (`Config::cache`, 32 MiB in fjall 3.1.13's
/// `src/db_config.rs`), so that the LSM peer and ours cache as much.
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;
/// Background threads our engine gets unless `--no-background`: one for
/// flushes and one for compactions, the most it uses.
pub const DEFAULT_BACKGROUND_THREADS: usize = 2;

/// How our engine is opened (the peers ignore it: they run their own
/// defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `Options::background_threads` (0: flush and compaction inline).
    pub background_threads: usize,
    /// The block cache's capacity (0: no cache).
    pub cache_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            background_threads: DEFAULT_BACKGROUND_THREADS,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Counters that explain a workload's latencies, where the engine keeps
/// them (ours does; the peers do not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// Writes delayed once (level 0 past its slowdown trigger).
    pub slowed_writes: u64,
    /// Writes that waited for background work (a stop trigger).
    pub stopped_writes: u64,
    /// Time writes spent slowed or stopped.
    pub stall_micros: u64,
    /// Block cache lookups that hit, and missed (0 and 0 without a cache).
    pub cache_hits: u64,
    /// See `cache_hits`.
    pub cache_misses: u64,
}

impl Probe {
    /// What changed from `before` to `self`.
    pub fn since(&self, before: &Probe) -> Probe {
        Probe {
            slowed_writes: self.slowed_writes.saturating_sub(before.slowed_writes),
            stopped_writes: self.stopped_writes.saturating_sub(before.stopped_writes),
            stall_micros: self.stall_micros.saturating_sub(before.stall_micros),
            cache_hits: self.cache_hits.saturating_sub(before.cache_hits),
            cache_misses: self.cache_misses.saturating_sub(before.cache_misses),
        }
    }
}

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
    /// Visits every live pair in key order, calling `row` after each;
    /// returns `(rows, bytes)`.
    fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)>;
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
    /// Stall and cache counters since the engine was opened, if it keeps
    /// them.
    fn probe(&self) -> Option<Probe> {
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
    /// How it is configured, and what differs from ours (ours: see
    /// [`notes`], which adds the settings).
    pub notes: &'static str,
    /// Opens (or creates) the engine's database in `dir` (only ours looks
    /// at the settings).
    pub open: fn(&Path, &Settings) -> Result<Box<dyn Engine>>,
}

/// How `kind` runs with `settings`: its notes, and for ours the threads
/// and the cache it really gets (a chapter not done yet falls back).
pub fn notes(kind: &EngineKind, settings: &Settings) -> String {
    if kind.name != WORKBOOK {
        return kind.notes.to_string();
    }
    let threads = match (settings.background_threads, background_available()) {
        (0, _) => {
            "flush and compaction inline in the write path (background_threads 0)".to_string()
        }
        (n, true) => format!(
            "flush and compaction on {n} background thread{} (background_threads {n}), \
             writes slowed from 8 level-0 tables, stopped at 12 or at 4 frozen memtables",
            if n == 1 { "" } else { "s" }
        ),
        (n, false) => format!(
            "flush and compaction inline: background_threads {n} asked, but chapter 10's \
             pressure is a todo!() (the stall rule every background write asks)"
        ),
    };
    let cache = match (settings.cache_bytes, cache_available()) {
        (0, _) => "no block cache".to_string(),
        (bytes, true) => format!(
            "a {} block cache (chapter 10's Cache{})",
            size(bytes),
            if bytes == DEFAULT_CACHE_BYTES {
                "; fjall 3's default size"
            } else {
                ""
            }
        ),
        (bytes, false) => format!(
            "no block cache: {} asked, but chapter 10's Cache is a todo!()",
            size(bytes)
        ),
    };
    let compaction = if compaction().is_some() {
        "leveled compaction (chapter 8, LevelDB's shape)"
    } else {
        "no compaction (chapter 8 not done yet)"
    };
    format!(
        "{}; {compaction}; {threads}; {cache}",
        kind.notes.trim_end_matches('.')
    )
}

/// `33554432` → `32 MiB`.
fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// Our engine's name on the command line.
pub const WORKBOOK: &str = "workbook";

/// Every engine compiled into this binary.
pub fn kinds() -> Vec<EngineKind> {
    let mut kinds = vec![EngineKind {
        name: WORKBOOK,
        durability: "OS buffer (WAL written, not synced)",
        durability_sync: "fsync per write",
        notes: "Options::default() (4 MiB memtable, 4 KiB blocks, bloom filter, index)",
        open: Workbook::open,
    }];
    kinds.extend(crate::peers::kinds());
    kinds
}

/// `f()`, or `None` if it panics (a `todo!()` of a chapter not done yet),
/// without printing the panic.
fn silently<T>(f: impl FnOnce() -> T + UnwindSafe) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    probe.ok()
}

/// Chapter 8's leveled compaction, if that chapter is done: a `pick` that
/// panics (a `todo!()`) means it is not, and the engine runs without
/// compaction, as chapter 7 left it.
pub fn compaction() -> Option<Arc<dyn Compaction>> {
    silently(|| pick(&Version::default(), &LeveledOptions::default()))
        .map(|_| Arc::new(Leveled::default()) as Arc<dyn Compaction>)
}

/// Whether background threads can run: every write with them asks chapter
/// 10's `pressure` whether to stall, so without it the engine stays inline
/// (a `todo!()` there would stop every write).
fn background_available() -> bool {
    silently(|| pressure(0, 0, &StallOptions::default())).is_some()
}

/// Whether chapter 10's `Cache` is done: its `new`, `insert`, `get` and
/// `stats` all answer.
fn cache_available() -> bool {
    silently(|| {
        let probe = Cache::new(1 << 16);
        let key = BlockKey {
            table: u64::MAX,
            offset: 0,
        };
        probe.insert(key, Block::default(), 64);
        let _ = probe.get(key);
        probe.stats()
    })
    .is_some()
}

/// Chapter 10's `Cache` of `capacity_bytes`, if that task is done and the
/// capacity is not 0.
fn block_cache(capacity_bytes: usize) -> Option<Arc<dyn BlockCache>> {
    (capacity_bytes > 0 && cache_available())
        .then(|| Arc::new(Cache::new(capacity_bytes)) as Arc<dyn BlockCache>)
}

/// The workbook's `Db`: your chapters, or the reference with the
/// `reference` feature.
struct Workbook {
    db: Db,
}

impl Workbook {
    fn open(dir: &Path, settings: &Settings) -> Result<Box<dyn Engine>> {
        let background_threads = match background_available() {
            true => settings.background_threads,
            false => 0,
        };
        let options = Options {
            compaction: compaction(),
            background_threads,
            stall_rule: Some(lsm_workbook::ch10_background::pressure),
            block_cache: block_cache(settings.cache_bytes),
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

    fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)> {
        let (mut rows, mut bytes) = (0, 0);
        for pair in self.db.scan(..) {
            let (key, value) = pair?;
            rows += 1;
            bytes += (key.len() + value.len()) as u64;
            row();
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

    fn probe(&self) -> Option<Probe> {
        let stats = self.db.stats();
        let cache = stats.cache.unwrap_or_default();
        Some(Probe {
            slowed_writes: stats.slowed_writes,
            stopped_writes: stats.stopped_writes,
            stall_micros: stats.stall_micros,
            cache_hits: cache.hits,
            cache_misses: cache.misses,
        })
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close()?;
        Ok(())
    }
}
