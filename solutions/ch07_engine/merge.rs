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
// BEGIN SOLUTION hide
use crate::error::Error;
use crate::types::Value;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
// END SOLUTION

/// One input of a merge: versions in internal order.
pub type Source = Box<dyn Iterator<Item = Result<Entry>> + Send>;

/// Merges sources into the live `(key, value)` pairs visible at a sequence
/// number, in key order.
pub struct MergeIterator {
    // BEGIN SOLUTION hide: the state your merge needs (the sources, a heap of their heads, the last key seen…) — book §7.4, task 1
    // STARTER: _sources: Vec<Source>,
    sources: Vec<Source>,
    /// The head of every source that has one, smallest internal key on top.
    heap: BinaryHeap<Reverse<Head>>,
    read_seq: SeqNo,
    /// The user key whose newest visible version was already decided.
    last_key: Option<Bytes>,
    /// An error taken from a source: yielded next, then the merge ends
    /// (where the failed source's next entry would have sorted is unknown).
    pending_error: Option<Error>,
    done: bool,
    // END SOLUTION
}

impl std::fmt::Debug for MergeIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeIterator").finish_non_exhaustive()
    }
}

// BEGIN SOLUTION hide
/// A source's current entry, ordered by internal key, then by source
/// (lower index first) for a deterministic order.
#[derive(Debug)]
struct Head {
    entry: Entry,
    source: usize,
}

impl Head {
    fn order_key(&self) -> (&[u8], Reverse<SeqNo>, usize) {
        (&self.entry.key, Reverse(self.entry.seq), self.source)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.order_key() == other.order_key()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order_key().cmp(&other.order_key())
    }
}
// END SOLUTION

impl MergeIterator {
    // ANCHOR: ch07_merge_new
    /// A merge of `sources` that yields what a reader at `read_seq` sees.
    pub fn new(sources: Vec<Source>, read_seq: SeqNo) -> MergeIterator {
        // BEGIN SOLUTION todo(sources, read_seq): take the first entry of every source — book §7.4, task 1
        let mut merge = MergeIterator {
            heap: BinaryHeap::with_capacity(sources.len()),
            sources,
            read_seq,
            last_key: None,
            pending_error: None,
            done: false,
        };
        for source in 0..merge.sources.len() {
            merge.advance(source);
        }
        merge
        // END SOLUTION
    }
    // ANCHOR_END: ch07_merge_new

    // BEGIN SOLUTION hide
    /// Pulls the next entry of `source` into the heap. An error has no key
    /// to sort by: it is kept and reported by the next call to `next`.
    fn advance(&mut self, source: usize) {
        let Some(iter) = self.sources.get_mut(source) else {
            return;
        };
        match iter.next() {
            Some(Ok(entry)) => self.heap.push(Reverse(Head { entry, source })),
            Some(Err(error)) => {
                self.pending_error.get_or_insert(error);
            }
            None => {}
        }
    }
    // END SOLUTION
}

impl Iterator for MergeIterator {
    type Item = Result<(Bytes, Bytes)>;

    // ANCHOR: ch07_merge_next
    fn next(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        // BEGIN SOLUTION todo(): take the smallest head; yield each key's newest visible version unless it is a tombstone — book §7.4, task 1
        loop {
            if self.done {
                return None;
            }
            if let Some(error) = self.pending_error.take() {
                self.done = true;
                return Some(Err(error));
            }
            let Reverse(Head { entry, source }) = self.heap.pop()?;
            self.advance(source);
            if entry.seq > self.read_seq || self.last_key.as_ref() == Some(&entry.key) {
                continue; // too new for this read, or an older version of a decided key
            }
            self.last_key = Some(entry.key.clone());
            match entry.value {
                Value::Put(value) => return Some(Ok((entry.key, value))),
                Value::Delete => continue,
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch07_merge_next
}
