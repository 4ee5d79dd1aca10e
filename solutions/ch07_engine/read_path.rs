//! The read path: a point read looks in the memtables, newest first, then
//! in the tables level by level, and stops at the first version it finds;
//! a scan merges all of them at one sequence number.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::merge::MergeIterator;
use super::{Db, LiveTable};
use crate::ch01_memtable::Memtable;
use crate::ch03_sstable::Block;
use crate::error::Result;
use crate::types::{Entry, SEQ_MAX, SeqNo};
// BEGIN SOLUTION hide
use super::ReadState;
use super::merge::Source;
use crate::ch04_bloom::bloom_hash;
use crate::types::Value;
use std::sync::atomic::Ordering;
// END SOLUTION

/// A scan's pairs, `(key, value)`, in key order; an error ends it.
pub struct Scan {
    merge: MergeIterator,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan").finish_non_exhaustive()
    }
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.merge.next()
    }
}

impl Db {
    // ANCHOR: ch07_get
    /// The value of `key` as of sequence number `seq`: the newest version
    /// at or below `seq` in the active memtable, the frozen ones (newest
    /// first), level 0 (newest table first, only tables whose key range
    /// holds `key`), then levels 1–6 (the one table per level whose range
    /// holds it). The first version found decides; a tombstone means
    /// `None`.
    ///
    /// Reading below [`last_seq`](Db::last_seq) without a snapshot
    /// (chapter 9) may see versions that compaction already dropped.
    pub fn get_at(&self, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        // BEGIN SOLUTION todo(key, seq): memtables newest first, then tables level by level; the first version found decides — book §7.4, task 3
        self.stats.gets.fetch_add(1, Ordering::Relaxed);
        let state = self.read_state();
        let memtables =
            std::iter::once(&state.active).chain(state.frozen.iter().map(|f| &f.memtable));
        for memtable in memtables {
            if let Some(value) = memtable.get(key, seq) {
                return Ok(visible(value));
            }
        }
        // One hash for every table's filter (chapter 4), not one per table.
        let hash = bloom_hash(key);
        for (level, tables) in state.levels.iter().enumerate() {
            // Level 0: every table whose range holds the key, newest first.
            // Deeper levels: the one table whose range can hold it.
            let deeper = (level > 0).then(|| {
                let position = tables.partition_point(|live| live.meta.largest.key.as_ref() < key);
                tables.get(position..position + 1).unwrap_or_default()
            });
            for live in deeper.unwrap_or(tables) {
                if !holds(live, key) {
                    continue;
                }
                self.stats
                    .tables_read_by_gets
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(value) = live.table.get_hashed(key, hash, seq)? {
                    return Ok(visible(value));
                }
            }
        }
        Ok(None)
        // END SOLUTION
    }
    // ANCHOR_END: ch07_get

    // ANCHOR: ch07_scan
    /// The live pairs with keys in `bounds`, as of sequence number `seq`:
    /// one merge over a cursor per memtable and per table that may hold
    /// such keys.
    pub fn scan_at(&self, bounds: (Bound<Bytes>, Bound<Bytes>), seq: SeqNo) -> Scan {
        // BEGIN SOLUTION todo(bounds, seq): a source per memtable and per overlapping table, merged at seq — book §7.4, task 3
        let state = self.read_state();
        let level0 = state.levels.first().map_or(&[][..], Vec::as_slice);
        let source_count = 1 + state.frozen.len() + level0.len() + state.levels.len();
        let mut sources: Vec<Source> = Vec::with_capacity(source_count);
        let memtables =
            std::iter::once(&state.active).chain(state.frozen.iter().map(|f| &f.memtable));
        for memtable in memtables {
            sources.push(Box::new(MemtableCursor::new(
                Arc::clone(memtable),
                bounds.clone(),
                seq,
            )));
        }
        // Level 0's tables overlap: a cursor for each that meets the bounds.
        for live in level0 {
            if overlaps(live, &bounds) {
                sources.push(Box::new(TableCursor::new(Arc::clone(live), bounds.clone())));
            }
        }
        // Deeper levels are sorted and disjoint: one cursor per level.
        for level in 1..state.levels.len() {
            let cursor = LevelCursor::new(Arc::clone(&state), level, bounds.clone());
            sources.push(Box::new(cursor));
        }
        Scan {
            merge: MergeIterator::new(sources, seq),
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch07_scan
}

// BEGIN SOLUTION hide
fn visible(value: Value) -> Option<Bytes> {
    match value {
        Value::Put(bytes) => Some(bytes),
        Value::Delete => None,
    }
}

/// `true` if `key` lies in the table's key range.
fn holds(live: &LiveTable, key: &[u8]) -> bool {
    live.meta.smallest.key.as_ref() <= key && key <= live.meta.largest.key.as_ref()
}

/// `true` if the table's key range meets `bounds`.
fn overlaps(live: &LiveTable, (lower, upper): &(Bound<Bytes>, Bound<Bytes>)) -> bool {
    let (smallest, largest) = (&live.meta.smallest.key, &live.meta.largest.key);
    let above_lower = match lower {
        Bound::Included(key) => largest >= key,
        Bound::Excluded(key) => largest > key,
        Bound::Unbounded => true,
    };
    above_lower && !past_upper(smallest, upper)
}

// ANCHOR: ch07_level_cursor
/// Versions of one level ≥ 1 within bounds, in internal order, owned: it
/// holds the read state and walks the level's tables in order. Their key
/// ranges are sorted and disjoint, so the level's versions are one table's
/// after another's: the cursor starts at the first table whose largest key
/// reaches the lower bound and opens the next table (a [`TableCursor`])
/// only when the one before is exhausted. A seek, which takes one entry,
/// thus reads one block of the level instead of one block of every table
/// in it that meets the bounds.
struct LevelCursor {
    state: Arc<ReadState>,
    level: usize,
    bounds: (Bound<Bytes>, Bound<Bytes>),
    /// The level's next table to open.
    next_table: usize,
    current: Option<TableCursor>,
}

impl LevelCursor {
    /// A cursor over level `level` of `state` (≥ 1: sorted, disjoint
    /// tables) within bounds.
    fn new(state: Arc<ReadState>, level: usize, bounds: (Bound<Bytes>, Bound<Bytes>)) -> Self {
        let tables = state.levels.get(level).map_or(&[][..], Vec::as_slice);
        let next_table = match &bounds.0 {
            Bound::Included(key) | Bound::Excluded(key) => {
                tables.partition_point(|live| live.meta.largest.key < key)
            }
            Bound::Unbounded => 0,
        };
        LevelCursor {
            state,
            level,
            bounds,
            next_table,
            current: None,
        }
    }

    /// Opens the level's next table if it starts within the upper bound;
    /// `false` if there is none.
    fn open_next(&mut self) -> bool {
        let tables = self
            .state
            .levels
            .get(self.level)
            .map_or(&[][..], Vec::as_slice);
        let Some(live) = tables.get(self.next_table) else {
            return false;
        };
        if past_upper(&live.meta.smallest.key, &self.bounds.1) {
            return false;
        }
        self.next_table += 1;
        self.current = Some(TableCursor::new(Arc::clone(live), self.bounds.clone()));
        true
    }
}

impl Iterator for LevelCursor {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            match self.current.as_mut().and_then(Iterator::next) {
                Some(Ok(entry)) => return Some(Ok(entry)),
                Some(Err(error)) => {
                    // Nothing after damage is read: the level ends here.
                    self.current = None;
                    self.next_table = usize::MAX;
                    return Some(Err(error));
                }
                None => self.current = None,
            }
            if !self.open_next() {
                return None;
            }
        }
    }
}
// ANCHOR_END: ch07_level_cursor
// END SOLUTION

/// `true` if `key` lies beyond the upper bound.
fn past_upper(key: &[u8], upper: &Bound<Bytes>) -> bool {
    match upper {
        Bound::Included(bound) => key > bound.as_ref(),
        Bound::Excluded(bound) => key >= bound.as_ref(),
        Bound::Unbounded => false,
    }
}

/// Versions of one memtable within bounds, in internal order, owned: it
/// holds the memtable and reads it a chunk at a time, resuming after the
/// last key it returned. For each key it keeps only the newest version at
/// or below the read's sequence number (the only one a merge can use), so
/// a chunk never ends inside a key that still matters.
pub struct MemtableCursor {
    memtable: Arc<Memtable>,
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    read_seq: SeqNo,
    chunk: std::vec::IntoIter<Entry>,
    /// How many versions the next refill reads: small first (a seek reads
    /// one or two), doubling up to [`MEMTABLE_CHUNK_LEN_MAX`] for long scans.
    chunk_len: usize,
    done: bool,
}

/// Versions read from the memtable by the first refill.
const MEMTABLE_CHUNK_LEN_MIN: usize = 4;
/// The most versions read from the memtable by one refill.
const MEMTABLE_CHUNK_LEN_MAX: usize = 256;

impl MemtableCursor {
    /// A cursor over `memtable`'s newest version per key at or below
    /// `read_seq`, within bounds.
    pub fn new(
        memtable: Arc<Memtable>,
        (lower, upper): (Bound<Bytes>, Bound<Bytes>),
        read_seq: SeqNo,
    ) -> Self {
        MemtableCursor {
            memtable,
            lower,
            upper,
            read_seq,
            chunk: Vec::new().into_iter(),
            chunk_len: MEMTABLE_CHUNK_LEN_MIN,
            done: false,
        }
    }

    fn refill(&mut self) {
        let lower = as_slice(&self.lower);
        let upper = as_slice(&self.upper);
        let mut chunk: Vec<Entry> = Vec::with_capacity(self.chunk_len);
        for entry in self.memtable.range((lower, upper)) {
            if entry.seq > self.read_seq || chunk.last().is_some_and(|last| last.key == entry.key) {
                continue;
            }
            if chunk.len() == self.chunk_len {
                break;
            }
            chunk.push(entry);
        }
        match chunk.last() {
            Some(last) => self.lower = Bound::Excluded(last.key.clone()),
            None => self.done = true,
        }
        self.chunk_len = (self.chunk_len * 2).min(MEMTABLE_CHUNK_LEN_MAX);
        self.chunk = chunk.into_iter();
    }
}

fn as_slice(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_ref()),
        Bound::Excluded(key) => Bound::Excluded(key.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Iterator for MemtableCursor {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(entry) = self.chunk.next() {
                return Some(Ok(entry));
            }
            if self.done {
                return None;
            }
            self.refill();
        }
    }
}

/// Versions of one table within bounds, in internal order, owned: it holds
/// the open table and reads one block at a time. With an index (chapter 5)
/// it starts at the block the index names for the lower bound, seeks inside
/// it, and takes each next block's handle from the index (one read per
/// block); without one it walks the blocks from the start.
pub struct TableCursor {
    live: Arc<LiveTable>,
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    /// The current block and the next entry to take from it.
    block: Option<(Block, usize)>,
    /// Where the current block starts, for errors in it.
    block_offset: u64,
    /// The next block: its position in the index, or its offset.
    next: NextBlock,
    done: bool,
}

/// How a table cursor finds its next block.
#[derive(Clone, Copy, Debug)]
enum NextBlock {
    /// Entry `n` of the index.
    Indexed(usize),
    /// The block starting at this offset (no index: walk the data region).
    At(u64),
}

impl TableCursor {
    /// A cursor over every version in `live` within bounds.
    pub fn new(live: Arc<LiveTable>, (lower, upper): (Bound<Bytes>, Bound<Bytes>)) -> Self {
        let lower_key = match &lower {
            Bound::Included(key) | Bound::Excluded(key) => Some(key.clone()),
            Bound::Unbounded => None,
        };
        let next = match (live.table.index(), lower_key) {
            (Some(index), Some(key)) => {
                NextBlock::Indexed(index.find(&key, SEQ_MAX).unwrap_or(index.entries().len()))
            }
            (Some(_), None) => NextBlock::Indexed(0),
            (None, _) => NextBlock::At(0),
        };
        TableCursor {
            live,
            lower,
            upper,
            block: None,
            block_offset: 0,
            next,
            done: false,
        }
    }

    fn below_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(bound) => key < bound.as_ref(),
            Bound::Excluded(bound) => key <= bound.as_ref(),
            Bound::Unbounded => false,
        }
    }

    /// Reads the next block, positioned at the lower bound if it is the
    /// first one; `Ok(false)` past the last block.
    fn load_next_block(&mut self) -> Result<bool> {
        let table = &self.live.table;
        let first = self.block.is_none();
        let (block, offset) = match (self.next, table.index()) {
            (NextBlock::Indexed(position), Some(index)) => {
                let Some(entry) = index.entries().get(position) else {
                    return Ok(false);
                };
                self.next = NextBlock::Indexed(position + 1);
                (table.read_block(entry.handle)?, entry.handle.offset)
            }
            (NextBlock::At(offset), _) if offset < table.footer().data_len => {
                let (block, next) = table.read_block_at(offset)?;
                self.next = NextBlock::At(next);
                (block, offset)
            }
            _ => return Ok(false),
        };
        let start = match (&self.lower, first) {
            (Bound::Included(key) | Bound::Excluded(key), true) => block
                .seek(key, SEQ_MAX)
                .map_err(|detail| crate::Error::corruption(table.path(), offset, detail))?,
            _ => 0,
        };
        self.block = Some((block, start));
        self.block_offset = offset;
        Ok(true)
    }
}

impl Iterator for TableCursor {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        while !self.done {
            let entry = match &mut self.block {
                Some((block, position)) if *position < block.len() => {
                    let entry = block.entry(*position);
                    *position += 1;
                    Some(entry)
                }
                _ => None,
            };
            match entry {
                Some(Ok(entry)) => {
                    if self.below_lower(&entry.key) {
                        continue;
                    }
                    if past_upper(&entry.key, &self.upper) {
                        self.done = true;
                        return None;
                    }
                    return Some(Ok(entry));
                }
                Some(Err(detail)) => {
                    self.done = true;
                    let path = self.live.table.path();
                    return Some(Err(crate::Error::corruption(
                        path,
                        self.block_offset,
                        detail,
                    )));
                }
                None => match self.load_next_block() {
                    Ok(true) => {}
                    Ok(false) => self.done = true,
                    Err(error) => {
                        self.done = true;
                        return Some(Err(error));
                    }
                },
            }
        }
        None
    }
}
