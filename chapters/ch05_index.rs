//! Chapter 5 — the sparse index: one entry per data block, holding the
//! block's *last* internal key (key and sequence number) and its handle.
//! Because the entries are sorted, a binary search finds the only block
//! that can hold a given version, so a point lookup reads at most one data
//! block, and a seek starts reading at the right block instead of block 0.
//!
//! Why the last *internal* key, not the last user key: versions of one key
//! can straddle two blocks. A block ending in `(k, 9)` followed by a block
//! starting with `(k, 3)`: a read of `k` at sequence 5 wants `(k, 3)`, and
//! only internal order says it lies in the second block.
//!
//! The index block's payload (framed and checksummed like every block):
//!
//! ```text
//!  +-------------+---------+---------+-----
//!  | count u32LE | entry 1 | entry 2 | …         one entry per data block
//!  +-------------+---------+---------+-----
//!  entry: key_len u32 LE | last key | last seq u64 LE
//!         | block offset u64 LE | block len u64 LE
//! ```
//!
//! You write: [`IndexBuilder`] (`new`, `add_block`, `finish`),
//! [`SparseIndex::decode`], [`SparseIndex::find`],
//! [`SparseIndex::seek_offset`] and [`get_indexed`]. Book: "5. The sparse
//! index".
//!
//! Invariants: the entries' handles tile the data region exactly, in
//! order; their last keys strictly increase in internal order.

use bytes::Bytes;

use crate::ch03_sstable::{BlockHandle, Footer, Table};
use crate::error::Result;
use crate::types::{SeqNo, Value};

/// Bytes an index entry takes besides its key: key_len, seq, offset, len.
pub const INDEX_ENTRY_FIXED_LEN_BYTES: usize = 4 + 8 + 8 + 8;

/// One index entry: the last version in a data block, and where the block is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The key of the block's last entry.
    pub last_key: Bytes,
    /// The sequence number of the block's last entry.
    pub last_seq: SeqNo,
    /// The block.
    pub handle: BlockHandle,
}

/// Collects one entry per data block while a table is written.
#[derive(Debug)]
pub struct IndexBuilder {
    // TODO(ch05): the state your builder needs — book §5.4, task 1
}

impl IndexBuilder {
    /// An empty index.
    pub fn new() -> Self {
        todo!("ch05: start an empty index — book §5.4, task 1")
    }

    /// Records a data block: its last entry's key and sequence number, and
    /// its handle. Called once per block, in order.
    pub fn add_block(&mut self, last_key: &[u8], last_seq: SeqNo, handle: BlockHandle) {
        let _ = (last_key, last_seq, handle);
        todo!("ch05: encode one entry — book §5.4, task 1")
    }

    /// The index block's payload, as drawn in the module docs.
    pub fn finish(self) -> Vec<u8> {
        todo!("ch05: write the count and hand out the payload — book §5.4, task 1")
    }
}

impl Default for IndexBuilder {
    /// The same as [`IndexBuilder::new`].
    fn default() -> Self {
        IndexBuilder::new()
    }
}

/// A decoded index: the entries, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseIndex {
    entries: Vec<IndexEntry>,
}

impl SparseIndex {
    /// Decodes an index block's payload (already unframed and checksummed)
    /// and checks it against the footer: one entry per data block, handles
    /// that tile `[0, footer.data_len)` in order, last keys strictly
    /// increasing. Any mismatch is an `Err` (the table reports it as
    /// corruption at open).
    pub fn decode(payload: &[u8], footer: &Footer) -> Result<SparseIndex, String> {
        let _ = (payload, footer);
        todo!("ch05: decode the entries and check them against the footer — book §5.4, task 2")
    }

    /// The entries, one per data block, in order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// The position of the only block that can hold the first entry at or
    /// after (`key`, `seq`) in internal order: the first block whose last
    /// entry is at or after it. `None` if every block ends before it.
    pub fn find(&self, key: &[u8], seq: SeqNo) -> Option<usize> {
        let _ = (key, seq);
        todo!("ch05: binary search over the last keys — book §5.4, task 3")
    }

    /// Where a scan for entries at or after (`key`, `seq`) starts: the
    /// offset of the block [`find`](Self::find) picks, or `footer.data_len`
    /// (the end of the data) if there is none.
    pub fn seek_offset(&self, key: &[u8], seq: SeqNo, footer: &Footer) -> u64 {
        let _ = (key, seq, footer);
        todo!("ch05: the block to start reading at — book §5.4, task 3")
    }
}

/// [`Table::get`] with an index: find the one block that can hold the
/// newest version of `key` at or below `seq`, read it (one read), and look
/// there: a binary search inside the block decodes only the entries it
/// compares. Damage inside the block is Corruption at the block's offset.
pub fn get_indexed(
    table: &Table,
    index: &SparseIndex,
    key: &[u8],
    seq: SeqNo,
) -> Result<Option<Value>> {
    let _ = (table, index, key, seq);
    todo!("ch05: find the block, read it, seek in it — book §5.4, task 4")
}
