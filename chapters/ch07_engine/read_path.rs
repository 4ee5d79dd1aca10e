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
        let _ = (key, seq);
        todo!(
            "ch07: memtables newest first, then tables level by level; the first version found decides — book §7.4, task 3"
        )
    }

    /// The live pairs with keys in `bounds`, as of sequence number `seq`:
    /// one merge over a cursor per memtable and per table that may hold
    /// such keys.
    pub fn scan_at(&self, bounds: (Bound<Bytes>, Bound<Bytes>), seq: SeqNo) -> Scan {
        let _ = (bounds, seq);
        todo!(
            "ch07: a source per memtable and per overlapping table, merged at seq — book §7.4, task 3"
        )
    }
}

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
