//! The merge iterator: many sorted sources in, one sorted, de-duplicated
//! view out. It is how a scan reads the memtables and every table at once,
//! and how compaction (chapter 8) merges tables.
//!
//! Each source yields versions in internal order (key ascending, then
//! sequence number descending). The merge keeps the head of every source
//! in a min-heap and always takes the smallest; for each user key it
//! yields the newest version at or below the read's sequence number, and
//! nothing if that version is a tombstone:
//!
//! ```text
//!  memtable:  a@9=x        c@7=<del>
//!  table 2:   a@4=old  b@5=y        c@2=z
//!  table 1:            b@1=older          d@3=w
//!                                                  read at seq 8
//!  merged:    a@9 is too new → a@4=old, b@5=y, c@7 hides c@2, d@3=w
//!  yields:    (a, old) (b, y) (d, w)
//! ```
//!
//! Invariant: sources are in internal order, and one (key, seq) is in at
//! most one source (the engine never holds a version twice); an error from
//! a source ends the merge after it is yielded.

use bytes::Bytes;

use crate::error::Result;
use crate::types::{Entry, SeqNo};

/// One input of a merge: versions in internal order.
pub type Source = Box<dyn Iterator<Item = Result<Entry>> + Send>;

/// Merges sources into the live `(key, value)` pairs visible at a sequence
/// number, in key order.
pub struct MergeIterator {
    // TODO(ch07): the state your merge needs (the sources, a heap of their heads, the last key seen…) — book §7.4, task 1
    _sources: Vec<Source>,
}

impl std::fmt::Debug for MergeIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeIterator").finish_non_exhaustive()
    }
}

impl MergeIterator {
    /// A merge of `sources` that yields what a reader at `read_seq` sees.
    pub fn new(sources: Vec<Source>, read_seq: SeqNo) -> MergeIterator {
        let _ = (sources, read_seq);
        todo!("ch07: take the first entry of every source — book §7.4, task 1")
    }
}

impl Iterator for MergeIterator {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        todo!(
            "ch07: take the smallest head; yield each key's newest visible version unless it is a tombstone — book §7.4, task 1"
        )
    }
}
