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
// BEGIN SOLUTION hide
use std::cmp::Reverse;
// END SOLUTION

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
    // BEGIN SOLUTION hide: the state your builder needs — book §5.4, task 1
    payload: Vec<u8>,
    count: u32,
    // END SOLUTION
}

impl IndexBuilder {
    /// An empty index.
    pub fn new() -> Self {
        // BEGIN SOLUTION todo(): start an empty index — book §5.4, task 1
        IndexBuilder {
            payload: vec![0; 4],
            count: 0,
        }
        // END SOLUTION
    }

    /// Records a data block: its last entry's key and sequence number, and
    /// its handle. Called once per block, in order.
    pub fn add_block(&mut self, last_key: &[u8], last_seq: SeqNo, handle: BlockHandle) {
        // BEGIN SOLUTION todo(last_key, last_seq, handle): encode one entry — book §5.4, task 1
        let key_len = u32::try_from(last_key.len()).unwrap_or(u32::MAX);
        self.payload.extend_from_slice(&key_len.to_le_bytes());
        self.payload.extend_from_slice(last_key);
        self.payload.extend_from_slice(&last_seq.to_le_bytes());
        self.payload.extend_from_slice(&handle.offset.to_le_bytes());
        self.payload.extend_from_slice(&handle.len.to_le_bytes());
        self.count += 1;
        // END SOLUTION
    }

    /// The index block's payload, as drawn in the module docs.
    pub fn finish(self) -> Vec<u8> {
        // BEGIN SOLUTION todo(): write the count and hand out the payload — book §5.4, task 1
        let mut payload = self.payload;
        payload[..4].copy_from_slice(&self.count.to_le_bytes());
        payload
        // END SOLUTION
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
    // ANCHOR: ch05_decode
    /// Decodes an index block's payload (already unframed and checksummed)
    /// and checks it against the footer: one entry per data block, handles
    /// that tile `[0, footer.data_len)` in order, last keys strictly
    /// increasing. Any mismatch is an `Err` (the table reports it as
    /// corruption at open).
    pub fn decode(payload: &[u8], footer: &Footer) -> Result<SparseIndex, String> {
        // BEGIN SOLUTION todo(payload, footer): decode the entries and check them against the footer — book §5.4, task 2
        // One copy of the payload: every last key is a slice of it, so the
        // keys lie side by side in memory (one allocation, not one per block,
        // and a binary search touches fewer cache lines).
        let payload = Bytes::copy_from_slice(payload);
        let (count, mut rest) = payload
            .split_first_chunk::<4>()
            .ok_or("index shorter than its entry count")?;
        let count = u32::from_le_bytes(*count);
        if u64::from(count) != footer.block_count {
            return Err(format!(
                "index has {count} entries, the footer says {} blocks",
                footer.block_count
            ));
        }
        let mut entries: Vec<IndexEntry> =
            Vec::with_capacity((count as usize).min(payload.len() / INDEX_ENTRY_FIXED_LEN_BYTES));
        let mut expected_offset = 0;
        for number in 0..count {
            let entry = decode_entry(&payload, &mut rest)
                .map_err(|e| format!("index entry {number}: {e}"))?;
            if entry.handle.offset != expected_offset || entry.handle.len == 0 {
                return Err(format!(
                    "index entry {number}: block at {} (+{}) does not follow the previous block, which ends at {expected_offset}",
                    entry.handle.offset, entry.handle.len
                ));
            }
            if let Some(previous) = entries.last()
                && internal(previous) >= internal(&entry)
            {
                return Err(format!("index entry {number}: last keys are out of order"));
            }
            expected_offset = entry.handle.end();
            entries.push(entry);
        }
        if expected_offset != footer.data_len {
            return Err(format!(
                "index blocks end at {expected_offset}, the data region at {}",
                footer.data_len
            ));
        }
        if !rest.is_empty() {
            return Err(format!(
                "{} unexpected bytes after the last index entry",
                rest.len()
            ));
        }
        Ok(SparseIndex { entries })
        // END SOLUTION
    }
    // ANCHOR_END: ch05_decode

    /// The entries, one per data block, in order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    // ANCHOR: ch05_find
    /// The position of the only block that can hold the first entry at or
    /// after (`key`, `seq`) in internal order: the first block whose last
    /// entry is at or after it. `None` if every block ends before it.
    pub fn find(&self, key: &[u8], seq: SeqNo) -> Option<usize> {
        // BEGIN SOLUTION todo(key, seq): binary search over the last keys — book §5.4, task 3
        let target = (key, Reverse(seq));
        let position = self
            .entries
            .partition_point(|entry| internal(entry) < target);
        (position < self.entries.len()).then_some(position)
        // END SOLUTION
    }
    // ANCHOR_END: ch05_find

    /// Where a scan for entries at or after (`key`, `seq`) starts: the
    /// offset of the block [`find`](Self::find) picks, or `footer.data_len`
    /// (the end of the data) if there is none.
    pub fn seek_offset(&self, key: &[u8], seq: SeqNo, footer: &Footer) -> u64 {
        // BEGIN SOLUTION todo(key, seq, footer): the block to start reading at — book §5.4, task 3
        match self.find(key, seq) {
            Some(position) => self.entries[position].handle.offset,
            None => footer.data_len,
        }
        // END SOLUTION
    }
}

// BEGIN SOLUTION hide
fn internal(entry: &IndexEntry) -> (&[u8], Reverse<SeqNo>) {
    (&entry.last_key, Reverse(entry.last_seq))
}

/// Decodes the entry at the start of `rest`, a tail of `payload`, and
/// moves `rest` past it; the key is a slice of `payload`, not a copy.
fn decode_entry(payload: &Bytes, rest: &mut &[u8]) -> Result<IndexEntry, String> {
    let mut take = |len: usize, what: &str| -> Result<&[u8], String> {
        if len > rest.len() {
            return Err(format!("{what} needs {len} bytes, {} left", rest.len()));
        }
        let (head, tail) = rest.split_at(len);
        *rest = tail;
        Ok(head)
    };
    let u64_at = |bytes: &[u8]| {
        let mut array = [0; 8];
        array.copy_from_slice(bytes);
        u64::from_le_bytes(array)
    };
    let mut len = [0; 4];
    len.copy_from_slice(take(4, "key length")?);
    let last_key = payload.slice_ref(take(u32::from_le_bytes(len) as usize, "key")?);
    let last_seq = u64_at(take(8, "sequence number")?);
    let offset = u64_at(take(8, "block offset")?);
    let len = u64_at(take(8, "block length")?);
    Ok(IndexEntry {
        last_key,
        last_seq,
        handle: BlockHandle { offset, len },
    })
}
// END SOLUTION

// ANCHOR: ch05_get_indexed
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
    // BEGIN SOLUTION todo(table, index, key, seq): find the block, read it, seek in it — book §5.4, task 4
    let Some(position) = index.find(key, seq) else {
        return Ok(None);
    };
    let handle = index.entries()[position].handle;
    let block = table.read_block(handle)?;
    let found = block
        .find(key, seq)
        .map_err(|e| crate::Error::corruption(table.path(), handle.offset, e))?;
    Ok(found
        .filter(|entry| entry.key.as_ref() == key)
        .map(|entry| entry.value))
    // END SOLUTION
}
// ANCHOR_END: ch05_get_indexed
