//! Chapter 10 — background work, write stalls, a block cache and
//! statistics: flush and compaction leave the write path, writers are
//! held back when they would outrun them, and hot blocks stay in memory.
//!
//! ```text
//!   writers ──► make_room ──► WAL + memtable ──► freeze ─┐
//!      ▲           │ pressure(frozen, level-0)           │ want_flush
//!      │ progress  ▼ Proceed / Slow (1 ms) / Stop (wait)  ▼
//!      └───────────────────────── background threads: flush ─► level 0
//!                                                     compaction ─► levels 1–6
//!   get ─► table ─► Table::read_block ─► Cache::get ─ hit ─► block
//!                                         └ miss ─► pread + decode ─► Cache::insert
//! ```
//!
//! - [`pressure`] is the stall rule: from the number of frozen memtables
//!   and level-0 tables it says whether a write goes ahead, is delayed, or
//!   waits. Give it to [`Options::stall_rule`](crate::ch07_engine::Options::stall_rule)
//!   as `Some(pressure)`: chapter 7's provided `make_room` then calls it
//!   before every write when there are background threads, and counts the
//!   time (chapter 7 never names chapter 10: the rule comes in through
//!   the options).
//! - [`Cache`] is a shared, size-bounded cache of decoded data blocks
//!   ([`BlockCache`](crate::ch03_sstable::BlockCache)); chapter 3's
//!   provided `Table::read_block` looks blocks up in it, so point reads,
//!   scans and compaction all go through it. Its eviction policy is yours
//!   to choose (the book compares LRU, CLOCK, FIFO and S3-FIFO).
//!
//! You write: [`pressure`] (this file) and [`Cache`] (`cache.rs`): `new`,
//! and the [`BlockCache`](crate::ch03_sstable::BlockCache) methods `get`,
//! `insert` and `stats`. The threads, the stall loop, the statistics and
//! the cache's plumbing into tables are provided (chapter 7's
//! `background.rs`, chapter 3's `Table::with_cache`). Book: "10.
//! Background work, stalls and the block cache".
//!
//! Invariants: a worker never holds the writer lock; at most one flush
//! and one compaction run at a time; a background failure poisons the
//! database (every later write fails until reopen) and wakes every waiting
//! writer; the cache never charges more than its capacity, and a block is
//! found only under the key it was inserted with (the key names one open
//! table, never reused).

pub mod cache;

pub use crate::ch07_engine::Pressure;
use crate::ch07_engine::StallOptions;

pub use cache::Cache;

/// The stall rule (LevelDB's triggers): `Stop` when `frozen_memtables`
/// reaches [`StallOptions::max_frozen_memtables`] (memory: every frozen
/// memtable waits for a flush) or `level0_tables` reaches
/// [`StallOptions::level0_stop_tables`] (reads: every get may probe every
/// level-0 table); `Slow` from
/// [`StallOptions::level0_slowdown_tables`]; otherwise `Proceed`. A limit
/// of 0 counts as 1: writes can always proceed while nothing waits.
pub fn pressure(frozen_memtables: usize, level0_tables: usize, options: &StallOptions) -> Pressure {
    let _ = (frozen_memtables, level0_tables, options);
    todo!("ch10: Stop, Slow or Proceed — book §10.4, task 1")
}
