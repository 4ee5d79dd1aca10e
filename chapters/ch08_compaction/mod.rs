//! Chapter 8 — compaction: without it every flush adds a level-0 table,
//! reads slow down with each one, and overwritten or deleted data is never
//! reclaimed. Leveled compaction, as LevelDB and RocksDB do it, merges
//! level 0 into level 1 and each full level into the next, keeping every
//! level ≥ 1 sorted and non-overlapping and each about `factor` times the
//! one above.
//!
//! ```text
//!  L0  [a……z] [c……x] [b……y]        overlapping flushes, newest first
//!  L1  [a…f][g…m][n…s][t…z]        sorted, disjoint, ~10 MiB
//!  L2  [a.c][d.f] … [x.z]          sorted, disjoint, ~100 MiB
//! ```
//!
//! It plugs into chapter 7's engine through [`Options::compaction`](crate::ch07_engine::Options::compaction):
//! [`Leveled`] implements [`Compaction`], which the engine calls after
//! every flush. You write: [`pick`](policy::pick) (`policy.rs`), and
//! [`retain`](compact::retain) and [`compact`](compact::compact)
//! (`compact.rs`). [`Leveled::run`], the options and the merge of tables
//! are provided. Book: "8. Compaction".
//!
//! Invariants: one compaction is installed by one manifest edit that adds
//! its outputs and removes all of its tables, the inputs and the
//! overlapping ones below (the engine deletes those files only
//! after that edit is durable); a version a reader at or above the oldest
//! readable sequence number may see is never dropped; a tombstone is
//! dropped only where nothing older of its key can exist below.

pub mod compact;
pub mod policy;

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::ch06_manifest::{TableMeta, VersionEdit};
use crate::ch07_engine::{Compaction, Maintenance, Stats};
use crate::error::Result;

pub use compact::{
    Outputs, VersionMerge, compact, is_bottom_for, merge_tables, retain, trivial_move,
};
pub use policy::{level_target_bytes, pick, score};

/// The shape leveled compaction keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeveledOptions {
    /// Level 0 is compacted into level 1 once it holds this many tables.
    pub level0_trigger: usize,
    /// The byte target of level 1.
    pub level1_target_bytes: u64,
    /// Each level's target is this many times the one above.
    pub level_size_factor: u64,
    /// A compaction starts a new output table once one holds about this
    /// many bytes (between two keys).
    pub table_target_bytes: u64,
}

impl Default for LeveledOptions {
    /// LevelDB's shape: a trigger of 4, 10 MiB for level 1, a factor of
    /// 10, 2 MiB tables.
    fn default() -> Self {
        LeveledOptions {
            level0_trigger: 4,
            level1_target_bytes: 10 << 20,
            level_size_factor: 10,
            table_target_bytes: 2 << 20,
        }
    }
}

/// One compaction: tables of `level` (the inputs) and every table of
/// `level + 1` that overlaps them, merged into `level + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// The level compacted.
    pub level: usize,
    /// Its tables that take part.
    pub inputs: Vec<TableMeta>,
    /// The tables of `level + 1` whose key ranges overlap the inputs'.
    pub overlapping: Vec<TableMeta>,
}

impl Task {
    /// `true` if the task is one table with nothing to merge below: it
    /// moves down a level by a manifest edit alone, no bytes rewritten.
    pub fn is_trivial_move(&self) -> bool {
        self.inputs.len() == 1 && self.overlapping.is_empty()
    }
}

/// Leveled compaction, for [`Options::compaction`](crate::ch07_engine::Options::compaction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leveled {
    /// The shape it keeps.
    pub options: LeveledOptions,
}

impl Compaction for Leveled {
    /// Runs tasks until [`pick`] finds none: each is a trivial move or a
    /// [`compact`], installed with one manifest edit.
    fn run(&self, context: &mut Maintenance<'_>) -> Result<()> {
        while let Some(task) = pick(&context.manifest.version(), &self.options) {
            let started = Instant::now();
            let edit = if task.is_trivial_move() {
                trivial_move(&task)
            } else {
                compact(context, &task, self.options.table_target_bytes)?
            };
            context.manifest.install(&edit)?;
            count(context.stats, &task, &edit, started);
        }
        Ok(())
    }
}

/// Adds an installed compaction to the engine's counters: the bytes of its
/// outputs, by the level they went to.
fn count(stats: &Stats, task: &Task, edit: &VersionEdit, started: Instant) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    stats.compaction_micros.fetch_add(micros, Ordering::Relaxed);
    if task.is_trivial_move() {
        stats.trivial_moves.fetch_add(1, Ordering::Relaxed);
        return;
    }
    stats.compactions.fetch_add(1, Ordering::Relaxed);
    for (level, table) in &edit.added {
        stats
            .compaction_bytes
            .fetch_add(table.size_bytes, Ordering::Relaxed);
        if let Some(counter) = stats.compaction_bytes_by_level.get(*level) {
            counter.fetch_add(table.size_bytes, Ordering::Relaxed);
        }
    }
}
