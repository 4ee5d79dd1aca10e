//! Running a task: merge the input tables, keep only the versions a reader
//! may still need, write the rest into new tables of the next level, and
//! say so in one manifest edit.
//!
//! Which versions of a key survive (they arrive newest first), for a
//! reader that can be as old as `oldest_readable_seq` (S):
//!
//! ```text
//!  k@9=c  k@7=b  k@4=<del>  k@2=a        S = 5
//!  keep   keep   keep       drop         k@9, k@7: newer than S, a reader may want them
//!                                        k@4: the newest at or below S (what a reader at S sees)
//!                                        k@2: hidden from every reader by k@4
//!  …and k@4 itself goes too if it is a tombstone and no deeper level can
//!  hold an older k: nothing is left for it to hide.
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::ops::Bound;
use std::sync::Arc;

use super::Task;
use crate::ch03_sstable::{Table, TableBuilder};
use crate::ch06_manifest::{LEVEL_COUNT, TableMeta, Version, VersionEdit};
use crate::ch07_engine::{LiveTable, Maintenance, TableCursor};
use crate::error::Result;
use crate::filename::FileName;
use crate::types::{Entry, InternalKey, SeqNo};

/// The versions of one key to keep, from all its versions in the inputs,
/// newest first: every version newer than `oldest_readable_seq`, and the
/// newest one at or below it — unless that one is a tombstone and
/// `bottom` (no level below the output can hold an older version of the
/// key), in which case it has nothing left to hide.
pub fn retain(versions: &[Entry], oldest_readable_seq: SeqNo, bottom: bool) -> Vec<Entry> {
    let _ = (versions, oldest_readable_seq, bottom);
    todo!(
        "ch08: newer than S, then the newest at or below S (a bottom tombstone goes) — book §8.4, task 2"
    )
}

/// `true` if no table below `output_level` in `version` has `key` in its
/// range: a tombstone written to `output_level` then hides nothing.
/// (LevelDB's `IsBaseLevelForKey`.)
pub fn is_bottom_for(version: &Version, output_level: usize, key: &[u8]) -> bool {
    // Levels below the output are ≥ 1: sorted and disjoint, so one binary
    // search per level finds the only table that could hold the key (this
    // runs once per key a compaction writes).
    (output_level + 1..LEVEL_COUNT).all(|level| {
        let tables = version.level(level);
        let position = tables.partition_point(|table| table.largest.key.as_ref() < key);
        tables
            .get(position)
            .is_none_or(|table| key < table.smallest.key.as_ref())
    })
}

/// Runs `task` (not a trivial move): merges its tables, keeps what
/// [`retain`] keeps, writes the survivors to new tables of level
/// `task.level + 1` — a new table once one passes `table_target_bytes`,
/// only ever between two keys, never inside one key's versions — makes
/// their names durable, and returns the edit that removes every table of
/// the task — its inputs from `task.level` and the overlapping tables from
/// `task.level + 1` — and adds every output. Installing it is the caller's
/// job.
pub fn compact(
    context: &mut Maintenance<'_>,
    task: &Task,
    table_target_bytes: u64,
) -> Result<VersionEdit> {
    let _ = (context, task, table_target_bytes);
    todo!(
        "ch08: merge, retain per key, write outputs split between keys, build the edit — book §8.4, task 3"
    )
}

/// The edit of a trivial move: the one input goes down a level as it is.
pub fn trivial_move(task: &Task) -> VersionEdit {
    VersionEdit {
        removed: task
            .inputs
            .iter()
            .map(|t| (task.level, t.file_number))
            .collect(),
        added: task
            .inputs
            .iter()
            .map(|t| (task.level + 1, t.clone()))
            .collect(),
        ..VersionEdit::default()
    }
}

/// Every version of every key of `tables`, in internal order (not hiding
/// anything: that is [`retain`]'s job). Tables already open in the engine
/// are reused; the others are opened.
pub fn merge_tables<'t>(
    context: &Maintenance<'_>,
    tables: impl Iterator<Item = &'t TableMeta>,
) -> Result<VersionMerge> {
    let mut cursors = Vec::new();
    for meta in tables {
        let open = context
            .tables
            .iter()
            .flatten()
            .find(|live| live.meta.file_number == meta.file_number);
        let live = match open {
            Some(live) => Arc::clone(live),
            None => {
                let path = FileName::Table(meta.file_number).path(context.dir);
                let table = Table::open(context.fs, &path)?;
                Arc::new(LiveTable {
                    meta: meta.clone(),
                    table,
                })
            }
        };
        cursors.push(TableCursor::new(live, (Bound::Unbounded, Bound::Unbounded)));
    }
    Ok(VersionMerge::new(cursors))
}

/// A k-way merge of table cursors that yields every version, in internal
/// order: the heap half of chapter 7's merge iterator, without its
/// hiding of older versions.
pub struct VersionMerge {
    cursors: Vec<TableCursor>,
    heap: BinaryHeap<Reverse<(InternalKey, usize, HeapEntry)>>,
    error: Option<crate::Error>,
}

/// An entry in the heap, ordered by nothing (the internal key before it
/// decides).
struct HeapEntry(Entry);

impl PartialEq for HeapEntry {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl VersionMerge {
    fn new(cursors: Vec<TableCursor>) -> Self {
        let mut merge = VersionMerge {
            cursors,
            heap: BinaryHeap::new(),
            error: None,
        };
        for index in 0..merge.cursors.len() {
            merge.pull(index);
        }
        merge
    }

    fn pull(&mut self, index: usize) {
        match self.cursors.get_mut(index).and_then(Iterator::next) {
            Some(Ok(entry)) => {
                let key = InternalKey::new(entry.key.clone(), entry.seq);
                self.heap.push(Reverse((key, index, HeapEntry(entry))));
            }
            Some(Err(error)) => {
                self.error.get_or_insert(error);
            }
            None => {}
        }
    }
}

impl Iterator for VersionMerge {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if let Some(error) = self.error.take() {
            self.heap.clear();
            self.cursors.clear();
            return Some(Err(error));
        }
        // The top's cursor refills the top in place: one sift down, where
        // a pop and a push would sift twice.
        let mut top = self.heap.peek_mut()?;
        let index = top.0.1;
        match self.cursors.get_mut(index).and_then(Iterator::next) {
            Some(Ok(next)) => {
                let key = InternalKey::new(next.key.clone(), next.seq);
                let Reverse((_, _, HeapEntry(entry))) =
                    std::mem::replace(&mut *top, Reverse((key, index, HeapEntry(next))));
                Some(Ok(entry))
            }
            pulled => {
                let Reverse((_, _, HeapEntry(entry))) = PeekMut::pop(top);
                if let Some(Err(error)) = pulled {
                    self.error.get_or_insert(error);
                }
                Some(Ok(entry))
            }
        }
    }
}

/// One output table being written.
struct Output {
    builder: TableBuilder,
    number: u64,
    /// Roughly the bytes added so far (keys, values, per-entry overhead).
    bytes: u64,
    smallest: InternalKey,
    largest: InternalKey,
}

/// The output tables of a compaction: the one being written, and those
/// finished. Provided: [`compact`] feeds it one key's kept versions at a
/// time.
#[derive(Default)]
pub struct Outputs {
    current: Option<Output>,
    done: Vec<TableMeta>,
}

/// Bytes counted per entry on top of its key and value.
const ENTRY_OVERHEAD_BYTES: u64 = 13;

impl Outputs {
    /// Adds one key's kept versions (newest first), starting a new table
    /// first if the current one is full, so a key never straddles two
    /// tables of a level.
    pub fn add_key(
        &mut self,
        context: &mut Maintenance<'_>,
        kept: &[Entry],
        target: u64,
    ) -> Result<()> {
        let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
            return Ok(());
        };
        if self
            .current
            .as_ref()
            .is_some_and(|output| output.bytes >= target)
        {
            self.finish_current()?;
        }
        let output = match &mut self.current {
            Some(output) => output,
            None => {
                let number = context.manifest.new_file_number();
                let path = FileName::Table(number).path(context.dir);
                let builder = TableBuilder::create(context.fs, &path, context.table_options)?;
                let smallest = InternalKey::new(first.key.clone(), first.seq);
                self.current.insert(Output {
                    builder,
                    number,
                    bytes: 0,
                    largest: smallest.clone(),
                    smallest,
                })
            }
        };
        for entry in kept {
            output.builder.add(entry)?;
            let value_len = entry.value.as_put().map_or(0, |v| v.len());
            output.bytes += (entry.key.len() + value_len) as u64 + ENTRY_OVERHEAD_BYTES;
        }
        output.largest = InternalKey::new(last.key.clone(), last.seq);
        Ok(())
    }

    fn finish_current(&mut self) -> Result<()> {
        let Some(output) = self.current.take() else {
            return Ok(());
        };
        let summary = output.builder.finish()?;
        self.done.push(TableMeta {
            file_number: output.number,
            size_bytes: summary.file_len,
            smallest: output.smallest,
            largest: output.largest,
        });
        Ok(())
    }

    /// Finishes the last table and makes every output's name durable.
    pub fn finish(mut self, context: &mut Maintenance<'_>) -> Result<Vec<TableMeta>> {
        self.finish_current()?;
        if !self.done.is_empty() {
            context.fs.sync_dir(context.dir)?;
        }
        Ok(self.done)
    }
}
