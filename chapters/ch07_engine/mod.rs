//! Chapter 7 — the engine: chapters 1–6 become a database you can open,
//! write, read, scan, crash and reopen.
//!
//! ```text
//!  write ─► WAL append (+ sync) ─► active memtable ─► publish seq ─► Ok
//!                                        │ full
//!                                        ▼
//!                 freeze: new WAL, memtable becomes read-only
//!                                        │ flush (in `maintain`: inline, or
//!                                        ▼  on chapter 10's background threads)
//!            level-0 table ─► manifest edit (adds it, retires its log) ─► delete the log
//!
//!  get  ─► active ─► frozen, newest first ─► level 0, newest first ─► levels 1…6
//!  scan ─► one merge iterator over all of them, at one sequence number
//! ```
//!
//! You write: [`MergeIterator`](merge::MergeIterator) (`merge.rs`); the
//! write path — `write_locked`, `freeze`, `flush_frozen` (`write_path.rs`);
//! the read path — `Db::get_at`, `Db::scan_at` (`read_path.rs`); recovery
//! — `replay_logs` and `recover` (`recovery.rs`). This file is provided:
//! the options, the `Db` handle and its public methods, which call yours,
//! and the helpers your code calls: `Db::poison_on_error`,
//! `Db::manifest`, `Db::new_table_number`, `Db::update_read_state`,
//! `Db::install_flush`, `Db::maintain`. Book: "7. The engine".
//!
//! Locks, and the order they are taken in: the writer (`Writer`: the log
//! and the next sequence number) before the manifest, and either before
//! the read state (`RwLock`, held only to swap or clone an `Arc`). Flushes
//! hold `flushing` and compactions `compacting` (one of each at a time),
//! neither holds the writer lock: with chapter 10's background threads,
//! writes go on while tables are written.
//!
//! Invariants:
//! - a write is acknowledged only after its WAL record is appended (and
//!   synced, if asked), and becomes visible only when its sequence number
//!   is published, after the memtable insert: a reader sees all of a batch
//!   or none of it;
//! - every version a reader at the published sequence number may need is
//!   in the read state it takes (a memtable is dropped from it only in the
//!   same swap that adds its table);
//! - a log is deleted only after the manifest edit that retires it is
//!   durable; an older log is synced before a newer one is started;
//! - after a failed WAL or manifest write, sync, flush or compaction —
//!   inline or in the background — every later write fails with
//!   [`Error::Poisoned`](crate::Error::Poisoned) until reopen (fail-stop);
//!   reads keep working.
//!
//! Seams for later chapters: [`Options::compaction`] is where chapter 8's
//! compaction plugs in (called from `maintain`, after each flush); every
//! read takes a sequence number ([`Db::get_at`], [`Db::scan_at`]), so a
//! snapshot (chapter 9) only pins one, in [`Db::pins`], and compaction
//! keeps what pinned readers and [`Options::history`]'s retention window
//! need ([`Db::oldest_readable_seq`]); [`Db::write_with`] is the
//! read-modify-write a transaction commits with; `maintain` is the one
//! place background work starts: inline, or handed to chapter 10's
//! threads ([`Options::background_threads`], [`Options::stall`],
//! [`Options::stall_rule`]), and
//! tables read through [`Options::block_cache`]; time comes from
//! [`Options::clock`] and salts from [`Options::salt_seed`].

#![allow(
    dead_code,
    reason = "provided helpers that only the code you write calls"
)]

mod background;
pub mod merge;
mod read_path;
mod recovery;
mod write_path;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Bound, Deref};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;

use crate::ch01_memtable::Memtable;
use crate::ch02_wal::Wal;
use crate::ch03_sstable::{BlockCache, CacheStats, Table, TableOptions, without_filling_cache};
use crate::ch06_manifest::{LEVEL_COUNT, Manifest, TableMeta, Version, VersionEdit};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::filename::FileName;
use crate::fs::{Fs, StdFs};
use crate::types::{SeqNo, WriteBatch};

pub use background::BackgroundPause;
pub use merge::MergeIterator;
pub use read_path::{MemtableCursor, Scan, TableCursor};

/// How a database is opened.
#[derive(Clone)]
pub struct Options {
    /// The file system: the real one by default; tests pass a `SimFs`.
    pub fs: Arc<dyn Fs>,
    /// Create the database if the directory holds none (default: yes).
    pub create_if_missing: bool,
    /// The active memtable is frozen and flushed once it accounts for this
    /// many bytes (default 4 MiB).
    pub memtable_size_bytes: usize,
    /// How tables are built (default: 4 KiB blocks, a bloom filter, an
    /// index).
    pub table: TableOptions,
    /// The manifest is rotated past this size (default 4 MiB).
    pub manifest_rotate_len_bytes: u64,
    /// The seed every log's and manifest's salt is derived from: `None`
    /// (the default) draws a random one at open; tests fix it.
    pub salt_seed: Option<u64>,
    /// Where the engine gets time (chapter 9 reads "as of" a moment).
    pub clock: Arc<dyn Clock>,
    /// Compaction (chapter 8), run after each flush; `None`: never compact.
    pub compaction: Option<Arc<dyn Compaction>>,
    /// A record of when sequence numbers were written, for reads as of a
    /// time (chapter 9's `Timeline`); `None`: no time travel.
    pub history: Option<Arc<dyn History>>,
    /// Threads that flush and compact in the background (chapter 10); 0
    /// (the default): both run inline, on the thread whose write filled
    /// the memtable — deterministic, which is what the crash sweeps use.
    /// At most one flush and one compaction run at a time, so more than 2
    /// threads add nothing; with 1, a flush waits for a running compaction.
    pub background_threads: usize,
    /// When writes slow down and stop while background work catches up
    /// (chapter 10; only with background threads).
    pub stall: StallOptions,
    /// The stall rule (chapter 10's `pressure`), asked before every write
    /// when there are background threads; `None` (the default): writes
    /// never wait, and nothing bounds the frozen memtables.
    pub stall_rule: Option<StallRule>,
    /// The cache data blocks are read through (chapter 10's `Cache`);
    /// `None`: every block is read from its file.
    pub block_cache: Option<Arc<dyn BlockCache>>,
}

/// What a write must do before it goes ahead, as a [`StallRule`] decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pressure {
    /// Background work keeps up: write now.
    Proceed,
    /// Level 0 is filling up: delay this write by
    /// [`StallOptions::slowdown_micros`], once, then write — spreading
    /// the wait over many writes instead of stopping them all later.
    Slow,
    /// Too much is waiting for background work: wait until a job finishes,
    /// then ask again.
    Stop,
}

/// A stall rule (chapter 10's `pressure`): from the frozen memtables and
/// the level-0 tables, what a write must do.
pub type StallRule = fn(usize, usize, &StallOptions) -> Pressure;

/// When a write must wait for background work (LevelDB's slowdown and
/// stop triggers): chapter 10's `pressure` decides from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallOptions {
    /// Writes stop while this many memtables are frozen and not yet
    /// flushed (default 4).
    pub max_frozen_memtables: usize,
    /// Each write is delayed by [`slowdown_micros`](Self::slowdown_micros)
    /// once level 0 holds this many tables (default 8)…
    pub level0_slowdown_tables: usize,
    /// …and writes stop once it holds this many (default 12), until
    /// compaction brings it below.
    pub level0_stop_tables: usize,
    /// How long a slowed write waits (default 1 ms).
    pub slowdown_micros: u64,
}

impl Default for StallOptions {
    fn default() -> Self {
        StallOptions {
            max_frozen_memtables: 4,
            level0_slowdown_tables: 8,
            level0_stop_tables: 12,
            slowdown_micros: 1_000,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fs: Arc::new(StdFs),
            create_if_missing: true,
            memtable_size_bytes: 4 << 20,
            table: TableOptions::default(),
            manifest_rotate_len_bytes: 4 << 20,
            salt_seed: None,
            clock: Arc::new(SystemClock),
            compaction: None,
            history: None,
            background_threads: 0,
            stall: StallOptions::default(),
            stall_rule: None,
            block_cache: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("fs", &self.fs)
            .field("create_if_missing", &self.create_if_missing)
            .field("memtable_size_bytes", &self.memtable_size_bytes)
            .field("table", &self.table)
            .field("manifest_rotate_len_bytes", &self.manifest_rotate_len_bytes)
            .field("salt_seed", &self.salt_seed)
            .field("compaction", &self.compaction.is_some())
            .field("history", &self.history.is_some())
            .field("background_threads", &self.background_threads)
            .field("stall", &self.stall)
            .field("stall_rule", &self.stall_rule.is_some())
            .field("block_cache", &self.block_cache)
            .finish_non_exhaustive()
    }
}

/// How one write is made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Sync the WAL before acknowledging (promise P2); otherwise the write
    /// survives a process crash but not a power loss (P1).
    pub sync: bool,
}

/// Compaction, as chapter 8 provides it: called after every flush (inline,
/// or on a background thread, never two at once) with everything it needs
/// to merge tables and install the result.
pub trait Compaction: Send + Sync + fmt::Debug {
    /// Runs the compactions that are due, installing each with one
    /// manifest edit. The engine refreshes its view of the version and
    /// deletes obsolete files afterwards.
    fn run(&self, context: &mut Maintenance<'_>) -> Result<()>;
}

/// A record of when sequence numbers were written, as chapter 9's
/// `Timeline` keeps it: the engine tells it about every write and asks it
/// how much history to keep; reads as of a time ask it for their sequence
/// number.
pub trait History: Send + Sync + fmt::Debug {
    /// Called for every non-empty batch with the writer lock held, before
    /// the batch is numbered from `first_seq` and logged, at `now_micros`.
    /// What it records must be durable before it returns (a crash must not
    /// keep the write and lose when it happened). An error fails the write
    /// and stops the writer (fail-stop).
    fn record(&self, first_seq: SeqNo, now_micros: u64) -> Result<()>;
    /// Called once at open, after recovery, at `now_micros`: the database
    /// holds every write numbered up to `last_seq`; those above it were
    /// lost (or never made), and their numbers will be used again.
    fn recovered(&self, last_seq: SeqNo, now_micros: u64) -> Result<()>;
    /// Called by [`Db::close`] after the last write: every write up to
    /// `last_seq` was made by `now_micros`.
    fn closed(&self, last_seq: SeqNo, now_micros: u64) -> Result<()>;
    /// The oldest sequence number a read as of a time still inside the
    /// retention window may use; `None` if no such read needs one older
    /// than the newest. Compaction keeps every version a reader at or
    /// above it may see.
    fn oldest_readable(&self, now_micros: u64) -> Option<SeqNo>;
    /// The sequence number that answers a read as of `time_micros`, with
    /// the engine at `last_seq` and `now_micros`; an error for a time it
    /// cannot answer (before the retained history, or in the future).
    fn seq_as_of(&self, time_micros: u64, now_micros: u64, last_seq: SeqNo) -> Result<SeqNo>;
}

/// Sequence numbers pinned by readers — chapter 9's snapshots and reads
/// as of a time. Compaction keeps every version a reader at a pinned
/// number may see: the engine's oldest readable sequence number is at most
/// the oldest pin. A number may be pinned many times; each pin is released
/// once.
///
/// Choosing a number and pinning it happen under one lock
/// ([`Pins::pin`]), and so does the engine's choice of what to keep
/// ([`Pins::oldest_with`]): a reader that picked its number after
/// compaction chose what to keep picked one that compaction keeps, and
/// one that picked it before is pinned by then.
#[derive(Debug, Default)]
pub struct Pins {
    counts: Mutex<BTreeMap<SeqNo, usize>>,
}

impl Pins {
    /// Chooses a number with `choose` and pins it, both under the lock;
    /// returns it.
    pub fn pin(&self, choose: impl FnOnce() -> SeqNo) -> SeqNo {
        let mut counts = self.lock();
        let seq = choose();
        *counts.entry(seq).or_insert(0) += 1;
        seq
    }

    /// [`Pins::pin`] for a choice that may fail: an error pins nothing.
    pub fn try_pin(&self, choose: impl FnOnce() -> Result<SeqNo>) -> Result<SeqNo> {
        let mut counts = self.lock();
        let seq = choose()?;
        *counts.entry(seq).or_insert(0) += 1;
        Ok(seq)
    }

    /// Releases one pin of `seq`; a number not pinned is ignored.
    pub fn unpin(&self, seq: SeqNo) {
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&seq);
            }
        }
    }

    /// The oldest pinned number or `floor()`, whichever is older; `floor`
    /// runs under the lock.
    pub fn oldest_with(&self, floor: impl FnOnce() -> SeqNo) -> SeqNo {
        let counts = self.lock();
        let floor = floor();
        counts
            .keys()
            .next()
            .map_or(floor, |&oldest| oldest.min(floor))
    }

    /// The oldest pinned number, `None` if nothing is pinned.
    pub fn oldest(&self) -> Option<SeqNo> {
        self.lock().keys().next().copied()
    }

    /// How many pins are held, over all numbers.
    pub fn len(&self) -> usize {
        self.lock().values().sum()
    }

    /// `true` if nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<SeqNo, usize>> {
        // The map is whole after any panic (each call changes one entry).
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What compaction may use: the files, the manifest, the tables.
#[derive(Debug)]
pub struct Maintenance<'a> {
    /// The file system.
    pub fs: &'a dyn Fs,
    /// The database directory.
    pub dir: &'a Path,
    /// The manifest: the current version, file numbers and installs.
    pub manifest: ManifestAccess<'a>,
    /// The open tables of the version when compaction started (a table
    /// not among them — flushed since — is opened by whoever needs it).
    pub tables: &'a [Vec<Arc<LiveTable>>],
    /// How new tables are built.
    pub table_options: TableOptions,
    /// No reader can ask for a version older than this one (chapter 9's
    /// snapshots lower it): what compaction may drop is decided by it.
    pub oldest_readable_seq: SeqNo,
    /// The engine's counters (compaction adds its bytes).
    pub stats: &'a Stats,
}

/// The manifest as compaction sees it: each call takes the manifest lock
/// for a moment, so flushes go on while a compaction merges.
pub struct ManifestAccess<'a> {
    db: &'a Db,
}

impl ManifestAccess<'_> {
    /// The current version (flushes may add level-0 tables to it while a
    /// compaction runs; nothing else changes it).
    pub fn version(&self) -> Arc<Version> {
        self.db.manifest().version()
    }

    /// A number for a new table, never used before; the table is not
    /// deleted as obsolete while it is written.
    pub fn new_file_number(&self) -> u64 {
        self.db.new_table_number()
    }

    /// Installs `edit` (one durable manifest record) and makes the read
    /// state show the new version, in one step.
    pub fn install(&self, edit: &VersionEdit) -> Result<()> {
        self.db.install(edit, false)
    }
}

impl fmt::Debug for ManifestAccess<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestAccess").finish_non_exhaustive()
    }
}

/// A table of the current version, open.
#[derive(Debug)]
pub struct LiveTable {
    /// What the manifest says of it.
    pub meta: TableMeta,
    /// The open table.
    pub table: Table,
}

/// What readers work from: one consistent view, swapped as a whole.
#[derive(Debug)]
struct ReadState {
    active: Arc<Memtable>,
    /// The log that holds the active memtable's writes.
    active_log: u64,
    /// Frozen memtables, newest first, each with the log that holds it.
    frozen: Vec<Frozen>,
    /// The tables, open, per level (level 0 newest first).
    levels: Vec<Vec<Arc<LiveTable>>>,
}

#[derive(Clone, Debug)]
struct Frozen {
    memtable: Arc<Memtable>,
    log_number: u64,
}

/// The state only the writer touches, behind one lock.
#[derive(Debug)]
struct Writer {
    wal: Wal,
    /// The sequence number the next write gets.
    next_seq: SeqNo,
}

/// An open database. `Send + Sync`, every method takes `&self`: share one
/// in an `Arc` between threads.
///
/// A `Db` is a handle on the database's shared state ([`Core`]); the
/// background threads of chapter 10 hold handles of their own. Dropping
/// the one [`Db::open`] returned stops them (after the job each is
/// running); [`Db::close`] does too, and syncs.
pub struct Db {
    core: Arc<Core>,
    /// `true` for the handle `open` returned, which owns the threads.
    owner: bool,
}

/// The state of an open database that every handle shares (all private:
/// [`Db`] is the interface).
pub struct Core {
    dir: PathBuf,
    options: Options,
    salt_seed: u64,
    /// The last published sequence number: reads see writes at or below it.
    published_seq: AtomicU64,
    state: RwLock<Arc<ReadState>>,
    writer: Mutex<Writer>,
    manifest: Mutex<Manifest>,
    /// Numbers of tables being written, not installed yet: not obsolete.
    pending: Mutex<Vec<u64>>,
    /// Set by the first failed write, sync, flush, compaction or install,
    /// with the file it names: fail-stop.
    poisoned: OnceLock<PathBuf>,
    /// Held while memtables are flushed: one flush at a time.
    flushing: Mutex<()>,
    /// Held while compaction runs: one at a time.
    compacting: Mutex<()>,
    /// Chapter 10's threads and what they are doing.
    background: background::Background,
    stats: Stats,
    /// Sequence numbers readers hold (chapter 9).
    pins: Pins,
}

impl Deref for Db {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .field("last_seq", &self.last_seq())
            .finish_non_exhaustive()
    }
}

/// Counters the engine keeps (all monotonic).
#[derive(Debug, Default)]
pub struct Stats {
    /// Bytes the user wrote: every key, and the value of every put.
    pub user_bytes: AtomicU64,
    /// Bytes appended to logs.
    pub wal_bytes: AtomicU64,
    /// Bytes of tables written by flushes.
    pub flush_bytes: AtomicU64,
    /// Bytes of tables written by compaction (chapter 8), all levels.
    pub compaction_bytes: AtomicU64,
    /// The same bytes, by the level the tables were written into.
    pub compaction_bytes_by_level: [AtomicU64; LEVEL_COUNT],
    /// Compactions installed that rewrote tables.
    pub compactions: AtomicU64,
    /// Compactions installed as trivial moves: no bytes rewritten.
    pub trivial_moves: AtomicU64,
    /// Level-0 tables written from memtables (by flushes, and by
    /// recovery's flush of the replayed logs).
    pub flushes: AtomicU64,
    /// Point reads served.
    pub gets: AtomicU64,
    /// Tables consulted by point reads: those whose key range holds the
    /// key (each costs a filter probe, and a block read if it admits it).
    pub tables_read_by_gets: AtomicU64,
    /// Time spent flushing, in microseconds.
    pub flush_micros: AtomicU64,
    /// Time spent by compaction tasks (chapter 8's `Leveled` counts each
    /// task when it is installed, trivial moves included).
    pub compaction_micros: AtomicU64,
    /// Writes delayed because level 0 was filling up (chapter 10).
    pub slowed_writes: AtomicU64,
    /// Writes that waited for background work to make room.
    pub stopped_writes: AtomicU64,
    /// Time writes spent delayed or waiting, in microseconds.
    pub stall_micros: AtomicU64,
}

/// A picture of the engine, for `STATS` and the benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Tables and bytes per level.
    pub levels: Vec<(usize, u64)>,
    /// Bytes accounted by the active memtable.
    pub memtable_bytes: usize,
    /// Frozen memtables waiting to be flushed.
    pub frozen_memtables: usize,
    /// The last published sequence number.
    pub last_seq: SeqNo,
    /// The counters, read at the same moment.
    pub user_bytes: u64,
    /// Bytes appended to logs.
    pub wal_bytes: u64,
    /// Bytes written by flushes.
    pub flush_bytes: u64,
    /// Bytes written by compaction.
    pub compaction_bytes: u64,
    /// Bytes written by compaction, by output level (`[0]` stays 0:
    /// nothing compacts into level 0; flushes write it).
    pub compaction_bytes_by_level: Vec<u64>,
    /// Compactions that rewrote tables.
    pub compactions: u64,
    /// Compactions that moved a table down by a manifest edit alone.
    pub trivial_moves: u64,
    /// Memtables flushed.
    pub flushes: u64,
    /// Point reads served.
    pub gets: u64,
    /// Tables consulted by point reads.
    pub tables_read_by_gets: u64,
    /// Entries (every version and tombstone) per level.
    pub level_entries: Vec<u64>,
    /// Time spent flushing, in microseconds.
    pub flush_micros: u64,
    /// Time spent compacting, in microseconds.
    pub compaction_micros: u64,
    /// Writes delayed because level 0 was filling up.
    pub slowed_writes: u64,
    /// Writes that waited for background work to make room.
    pub stopped_writes: u64,
    /// Time writes spent delayed or waiting, in microseconds.
    pub stall_micros: u64,
    /// Background threads running (0: inline).
    pub background_threads: usize,
    /// The block cache's counters, if there is one.
    pub cache: Option<CacheStats>,
}

impl DbStats {
    /// Bytes written to disk (logs, flushes, compactions) per byte the
    /// user wrote; `None` before any write.
    pub fn write_amplification(&self) -> Option<f64> {
        let written = self.wal_bytes + self.flush_bytes + self.compaction_bytes;
        ratio(written, self.user_bytes)
    }

    /// Tables consulted per point read; `None` before any read.
    pub fn read_amplification(&self) -> Option<f64> {
        ratio(self.tables_read_by_gets, self.gets)
    }

    /// An estimate of the bytes stored per live byte: every table's bytes
    /// over the deepest non-empty level's (which holds one version of most
    /// keys once the tree is in shape, RocksDB's estimate). It is low while
    /// the tree is small and upper levels hold most data; chapter 8's
    /// simulator measures the real figure against a model.
    pub fn space_amplification_estimate(&self) -> Option<f64> {
        let total: u64 = self.levels.iter().map(|&(_, bytes)| bytes).sum();
        let deepest = self.levels.iter().rev().find(|&&(tables, _)| tables > 0)?;
        ratio(total, deepest.1)
    }

    /// The block cache's hits per lookup; `None` without a cache or lookup.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        let cache = self.cache?;
        ratio(cache.hits, cache.hits + cache.misses)
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl Db {
    /// Opens (or, with [`Options::create_if_missing`], creates) the
    /// database in `dir` and recovers it: the manifest's version, then
    /// every log it still needs, replayed in order. With
    /// [`Options::background_threads`], starts the threads.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let core = recovery::open(dir.as_ref(), options)?;
        let db = Db {
            core: Arc::new(core),
            owner: true,
        };
        background::start(&db);
        Ok(db)
    }

    /// Writes `batch` atomically: see `write_locked` (`write_path.rs`).
    pub fn write(&self, batch: WriteBatch, options: WriteOptions) -> Result<()> {
        self.write_with(options, |_| Ok((batch, ())))
    }

    /// Builds a batch and writes it with no other write in between: `build`
    /// runs with the writer lock held, reading the database as of
    /// [`last_seq`](Db::last_seq), which no other write can move until the
    /// batch is written — a read-modify-write (chapter 9's commit, chapter
    /// 11's `INCR`). An error from `build` writes nothing and is returned.
    /// `build` must not write through `db` itself (the lock is held: it
    /// would wait forever).
    ///
    /// With background threads, a write first waits while background work
    /// is too far behind (chapter 10's stalls).
    pub fn write_with<T>(
        &self,
        options: WriteOptions,
        build: impl FnOnce(&Db) -> Result<(WriteBatch, T)>,
    ) -> Result<T> {
        let mut writer = self.lock_writer()?;
        self.check_poisoned()?;
        self.make_room()?;
        let (batch, result) = build(self)?;
        self.record_time(&writer, &batch)?;
        self.write_locked(&mut writer, batch, options)?;
        Ok(result)
    }

    /// Tells the history (chapter 9) when the batch about to be numbered
    /// from `writer.next_seq` is written.
    fn record_time(&self, writer: &Writer, batch: &WriteBatch) -> Result<()> {
        if let Some(history) = &self.options.history
            && !batch.ops.is_empty()
        {
            let recorded = history.record(writer.next_seq, self.options.clock.now_micros());
            self.poison_on_error(recorded)?;
        }
        Ok(())
    }

    /// The sequence numbers readers hold (chapter 9's snapshots pin theirs
    /// here).
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The history the database was opened with ([`Options::history`]).
    pub fn history(&self) -> Option<&dyn History> {
        self.options.history.as_deref()
    }

    /// The clock the database was opened with ([`Options::clock`]).
    pub fn clock(&self) -> &dyn Clock {
        self.options.clock.as_ref()
    }

    /// The oldest sequence number a reader may use now: the newest, unless
    /// a pin or the history's retention window holds an older one.
    /// Compaction keeps every version a reader at or above it may see.
    pub fn oldest_readable_seq(&self) -> SeqNo {
        self.pins.oldest_with(|| {
            let last_seq = self.last_seq();
            let kept = self
                .options
                .history
                .as_ref()
                .and_then(|history| history.oldest_readable(self.options.clock.now_micros()));
            kept.map_or(last_seq, |kept| kept.min(last_seq))
        })
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        self.write(
            WriteBatch::default().put(key, value),
            WriteOptions::default(),
        )
    }

    /// Deletes `key`.
    pub fn delete(&self, key: impl Into<Bytes>) -> Result<()> {
        self.write(WriteBatch::default().delete(key), WriteOptions::default())
    }

    /// The newest value of `key`, `None` if it is absent or deleted.
    ///
    /// The read's sequence number is pinned while it runs ([`Pins`]): a
    /// compaction that starts between the choice of the number and the
    /// read would otherwise compute its watermark above it and drop the
    /// versions the read needs — with background threads, a reader slow
    /// to take the read state saw a key it had read before as absent.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let seq = self.pins.pin(|| self.last_seq());
        let value = self.get_at(key, seq);
        self.pins.unpin(seq);
        value
    }

    /// The live pairs with keys in `range`, in key order, as of the moment
    /// of the call: writes made while the scan runs are not in it. Its
    /// sequence number is pinned until the scan has taken the read state
    /// (as [`get`](Db::get)'s): from then on it reads tables it holds,
    /// which a compaction replaces but does not change.
    pub fn scan<'k>(&self, range: impl std::ops::RangeBounds<&'k [u8]>) -> Scan {
        let seq = self.pins.pin(|| self.last_seq());
        let scan = self.scan_at(owned_bounds(&range), seq);
        self.pins.unpin(seq);
        scan
    }

    /// The last published sequence number: every write numbered at or
    /// below it is visible.
    pub fn last_seq(&self) -> SeqNo {
        self.published_seq.load(Ordering::Acquire)
    }

    /// Freezes the active memtable (if it holds anything) and flushes
    /// every frozen memtable into level-0 tables, on the calling thread;
    /// then compaction runs (inline) or is due (background).
    pub fn flush(&self) -> Result<()> {
        {
            let mut writer = self.lock_writer()?;
            self.check_poisoned()?;
            if !self.read_state().active.is_empty() {
                self.freeze(&mut writer)?;
            }
        }
        self.flush_now()?;
        match self.background.is_running() {
            true => {
                self.background.want_compaction();
                Ok(())
            }
            false => self.compact_now(),
        }
    }

    /// Makes every acknowledged write durable (promise P2).
    pub fn sync(&self) -> Result<()> {
        let mut writer = self.lock_writer()?;
        self.check_poisoned()?;
        let synced = writer.wal.sync();
        self.poison_on_error(synced)
    }

    /// Stops the background threads (each finishes the job it is running;
    /// frozen memtables not flushed yet stay in their logs, replayed at the
    /// next open), syncs the log and closes the database. Dropping a `Db`
    /// without `close` is a process crash as far as durability goes:
    /// unsynced writes survive it, not a power loss.
    pub fn close(mut self) -> Result<()> {
        self.stop_background();
        self.sync()?;
        if let Some(history) = &self.options.history {
            history.closed(self.last_seq(), self.options.clock.now_micros())?;
        }
        Ok(())
    }

    /// A picture of the tree and the counters.
    pub fn stats(&self) -> DbStats {
        let state = self.read_state();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        DbStats {
            levels: state
                .levels
                .iter()
                .map(|tables| {
                    let bytes = tables.iter().map(|t| t.meta.size_bytes).sum();
                    (tables.len(), bytes)
                })
                .collect(),
            memtable_bytes: state.active.approximate_size_bytes(),
            frozen_memtables: state.frozen.len(),
            last_seq: self.last_seq(),
            user_bytes: load(&self.stats.user_bytes),
            wal_bytes: load(&self.stats.wal_bytes),
            flush_bytes: load(&self.stats.flush_bytes),
            compaction_bytes: load(&self.stats.compaction_bytes),
            compaction_bytes_by_level: self
                .stats
                .compaction_bytes_by_level
                .iter()
                .map(load)
                .collect(),
            compactions: load(&self.stats.compactions),
            trivial_moves: load(&self.stats.trivial_moves),
            flushes: load(&self.stats.flushes),
            gets: load(&self.stats.gets),
            tables_read_by_gets: load(&self.stats.tables_read_by_gets),
            level_entries: state
                .levels
                .iter()
                .map(|tables| tables.iter().map(|t| t.table.footer().entry_count).sum())
                .collect(),
            flush_micros: load(&self.stats.flush_micros),
            compaction_micros: load(&self.stats.compaction_micros),
            slowed_writes: load(&self.stats.slowed_writes),
            stopped_writes: load(&self.stats.stopped_writes),
            stall_micros: load(&self.stats.stall_micros),
            background_threads: self.background.threads(),
            cache: self.options.block_cache.as_ref().map(|cache| cache.stats()),
        }
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Holds the background threads (chapter 10) before their next job
    /// until the returned guard is dropped — for tests and tools that need
    /// background work to fall behind. A job already running finishes.
    /// Without background threads it does nothing.
    pub fn pause_background(&self) -> BackgroundPause<'_> {
        self.background.pause()
    }

    /// Fail-stop: an I/O or corruption error poisons the database, so
    /// that every later write fails with [`Error::Poisoned`] naming the
    /// file that failed. A refused argument does not (nothing was
    /// written). Returns `result` unchanged.
    fn poison_on_error<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result
            && !matches!(error, Error::InvalidArgument(_))
        {
            self.poison(error_path(error).unwrap_or_else(|| self.dir.clone()));
        }
        result
    }

    /// `Err(Poisoned)` once an earlier failure has poisoned the database.
    fn check_poisoned(&self) -> Result<()> {
        match self.poisoned.get() {
            Some(path) => Err(Error::Poisoned { path: path.clone() }),
            None => Ok(()),
        }
    }

    /// Poisons the database (the first failure's file is kept) and wakes
    /// every writer waiting for background work, so it sees the failure.
    fn poison(&self, path: PathBuf) {
        let _ = self.poisoned.set(path);
        self.background.wake_all();
    }

    /// The current read state (cheap: one `Arc` clone).
    fn read_state(&self) -> Arc<ReadState> {
        // A writer that panicked while swapping left a whole `Arc`.
        Arc::clone(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the read state with `next(current)`, computed with the
    /// state locked, so that two swaps (a freeze on the writer's thread, a
    /// flush on a background thread) never lose each other's change. Keep
    /// `next` cheap: readers wait for it.
    fn update_read_state(&self, next: impl FnOnce(&ReadState) -> ReadState) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let next = next(&state);
        *state = Arc::new(next);
    }

    fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>> {
        self.writer.lock().map_err(|_| Error::Poisoned {
            path: self.dir.clone(),
        })
    }

    /// The manifest, locked: hold it only for a moment (a file number, an
    /// install), never while writing a table.
    fn manifest(&self) -> MutexGuard<'_, Manifest> {
        // Each install is one record: the manifest is whole after a panic.
        self.manifest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A number for a new table, never used before; the table is not
    /// deleted as obsolete while it is written (until it is installed).
    fn new_table_number(&self) -> u64 {
        let number = self.manifest().new_file_number();
        lock(&self.pending).push(number);
        number
    }

    /// Installs a flush's `edit` and, in the same read-state swap that
    /// adds its table, drops the oldest frozen memtable (the one it holds).
    fn install_flush(&self, edit: &VersionEdit) -> Result<()> {
        self.install(edit, true)
    }

    /// Installs `edit` (one durable manifest record) and swaps in a read
    /// state with the new version's tables, opened — with the manifest
    /// lock held throughout, so read states follow the manifest's order.
    /// `flushed`: the edit holds the oldest frozen memtable, dropped in
    /// the same swap.
    fn install(&self, edit: &VersionEdit, flushed: bool) -> Result<()> {
        let mut manifest = self.manifest();
        let installed = manifest.install(edit);
        self.poison_on_error(installed)?;
        let opened = open_levels(self, &manifest.version(), &self.read_state().levels);
        let levels = self.poison_on_error(opened)?;
        self.update_read_state(|state| {
            let mut frozen = state.frozen.clone();
            if flushed {
                frozen.pop();
            }
            ReadState {
                active: Arc::clone(&state.active),
                active_log: state.active_log,
                frozen,
                levels,
            }
        });
        lock(&self.pending).retain(|number| {
            !edit
                .added
                .iter()
                .any(|(_, table)| table.file_number == *number)
        });
        Ok(())
    }

    /// Where background work starts, called after a freeze: inline, it
    /// flushes every frozen memtable and compacts, here and now; with
    /// background threads (chapter 10) it wakes them and returns.
    fn maintain(&self) -> Result<()> {
        if self.background.is_running() {
            self.background.want_flush();
            return Ok(());
        }
        self.flush_now()?;
        self.compact_now()
    }

    /// Flushes every frozen memtable (one flush at a time), then deletes
    /// what the new version made obsolete.
    fn flush_now(&self) -> Result<()> {
        let _flushing = lock(&self.flushing);
        let started = Instant::now();
        let flushed = self.flush_frozen();
        add_micros(&self.stats.flush_micros, started);
        self.poison_on_error(flushed)?;
        self.delete_obsolete();
        Ok(())
    }

    /// Runs compaction if configured (one at a time), then deletes what it
    /// made obsolete.
    fn compact_now(&self) -> Result<()> {
        let Some(compaction) = self.options.compaction.clone() else {
            return Ok(());
        };
        let _compacting = lock(&self.compacting);
        let state = self.read_state();
        let mut context = Maintenance {
            fs: self.options.fs.as_ref(),
            dir: &self.dir,
            manifest: ManifestAccess { db: self },
            tables: &state.levels,
            table_options: self.options.table,
            oldest_readable_seq: self.oldest_readable_seq(),
            stats: &self.stats,
        };
        // Compaction reads each input block once: it does not fill the
        // block cache with them (readers' blocks stay).
        let compacted = without_filling_cache(|| compaction.run(&mut context));
        self.poison_on_error(compacted)?;
        self.delete_obsolete();
        Ok(())
    }

    /// Deletes the files the current version no longer needs. Best effort:
    /// a file left behind is named obsolete again next time.
    fn delete_obsolete(&self) {
        let fs = self.options.fs.as_ref();
        let Ok(listing) = fs.list(&self.dir) else {
            return;
        };
        let obsolete = {
            let manifest = self.manifest();
            manifest.obsolete_files(&listing, &lock(&self.pending))
        };
        for name in obsolete {
            let _ = fs.remove(&self.dir.join(name));
        }
    }

    /// Stops and joins the background threads, once (the owner's handle).
    fn stop_background(&mut self) {
        if std::mem::take(&mut self.owner) {
            self.background.stop();
        }
    }

    /// The salt of the log numbered `number`.
    fn salt(&self, number: u64) -> u64 {
        salt_for(self.salt_seed, number)
    }

    /// What table writing needs of this database.
    fn opening(&self) -> recovery::Opening<'_> {
        recovery::Opening {
            dir: &self.dir,
            options: &self.options,
            salt_seed: self.salt_seed,
            stats: &self.stats,
        }
    }

    /// Another handle on the same database, for a background thread: it
    /// owns no thread, so dropping it stops nothing.
    fn handle(&self) -> Db {
        Db {
            core: Arc::clone(&self.core),
            owner: false,
        }
    }
}

impl Drop for Db {
    /// The owner's handle stops the background threads (a process crash
    /// as far as durability goes: see [`Db::close`]).
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Locks a mutex whose data stays whole after a panic (a unit, a list
/// changed in one call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn add_micros(counter: &AtomicU64, since: Instant) {
    let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
    counter.fetch_add(micros, Ordering::Relaxed);
}

/// The file an error names, if any.
fn error_path(error: &Error) -> Option<PathBuf> {
    match error {
        Error::Io { path, .. } | Error::Poisoned { path } => Some(path.clone()),
        Error::Corruption { file, .. } => Some(file.clone()),
        _ => None,
    }
}

/// Opens the tables of `version`, reusing those already open in `open`.
/// A table whose file size differs from the manifest's is corruption.
fn open_levels(
    db: &Db,
    version: &Version,
    open: &[Vec<Arc<LiveTable>>],
) -> Result<Vec<Vec<Arc<LiveTable>>>> {
    let cache = db.options.block_cache.as_ref();
    open_tables(db.options.fs.as_ref(), &db.dir, version, open, cache)
}

/// [`open_levels`] without a `Db` (recovery has none yet).
fn open_tables(
    fs: &dyn Fs,
    dir: &Path,
    version: &Version,
    open: &[Vec<Arc<LiveTable>>],
    cache: Option<&Arc<dyn BlockCache>>,
) -> Result<Vec<Vec<Arc<LiveTable>>>> {
    let mut levels = Vec::with_capacity(LEVEL_COUNT);
    for level in 0..LEVEL_COUNT {
        let mut tables = Vec::new();
        for meta in version.level(level) {
            let reused = open
                .iter()
                .flatten()
                .find(|live| live.meta.file_number == meta.file_number);
            let live = match reused {
                Some(live) => Arc::clone(live),
                None => Arc::new(open_table(fs, dir, meta, cache)?),
            };
            tables.push(live);
        }
        levels.push(tables);
    }
    Ok(levels)
}

fn open_table(
    fs: &dyn Fs,
    dir: &Path,
    meta: &TableMeta,
    cache: Option<&Arc<dyn BlockCache>>,
) -> Result<LiveTable> {
    let path = FileName::Table(meta.file_number).path(dir);
    let mut table = Table::open(fs, &path)?;
    if let Some(cache) = cache {
        table = table.with_cache(Arc::clone(cache));
    }
    let len = table.footer().table_len;
    if len != meta.size_bytes {
        return Err(Error::corruption(
            &path,
            0,
            format!(
                "the manifest says {} bytes, the table has {len}",
                meta.size_bytes
            ),
        ));
    }
    Ok(LiveTable {
        meta: meta.clone(),
        table,
    })
}

/// The bounds of `range`, as the owned keys [`Db::scan_at`] takes.
pub fn owned_bounds<'k>(
    range: &impl std::ops::RangeBounds<&'k [u8]>,
) -> (Bound<Bytes>, Bound<Bytes>) {
    (owned(range.start_bound()), owned(range.end_bound()))
}

fn owned(bound: Bound<&&[u8]>) -> Bound<Bytes> {
    match bound {
        Bound::Included(key) => Bound::Included(Bytes::copy_from_slice(key)),
        Bound::Excluded(key) => Bound::Excluded(Bytes::copy_from_slice(key)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Each log's salt: the seed and the file number, mixed (SplitMix64's
/// finaliser), so that no two logs of a database share one.
fn salt_for(seed: u64, number: u64) -> u64 {
    splitmix(seed ^ number.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
