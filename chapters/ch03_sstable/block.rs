//! Blocks: the unit a table is read in. Every block — data, filter or
//! index — is *framed* like a log record, so it can be checked before a
//! single byte of it is trusted:
//!
//! ```text
//!  0        4        8                      8 + len
//!  +--------+--------+----------------------+
//!  |  len   |  crc   |  payload (len bytes) |    a framed block
//!  +--------+--------+----------------------+
//!  len: u32 LE; crc: u32 LE, CRC-32 of the 4 len bytes and the payload
//! ```
//!
//! A *data block*'s payload is a count and then its entries, in internal
//! order (key ascending, sequence number descending):
//!
//! ```text
//!  +-------------+---------+---------+-----
//!  | count u32LE | entry 1 | entry 2 | …
//!  +-------------+---------+---------+-----
//!  entry: key_len u32 LE | key | seq u64 LE | tag u8 (1 = put, 0 = delete)
//!         | value_len u32 LE | value          <- put only
//! ```

use bytes::Bytes;

use crate::types::{Entry, SeqNo};

/// Bytes of a block's frame header: `len` (4) and `crc` (4).
pub const BLOCK_HEADER_LEN_BYTES: usize = 8;
/// The largest payload a block may have; a larger `len` on disk is damage.
pub const BLOCK_PAYLOAD_LEN_MAX_BYTES: usize = 256 << 20;
/// Entry tag of a put.
pub const TAG_PUT: u8 = 1;
/// Entry tag of a delete (tombstone).
pub const TAG_DELETE: u8 = 0;

/// Bytes an entry takes at least: key_len (4), seq (8), tag (1). A
/// block's entry count can never exceed its payload size divided by this.
pub const ENTRY_LEN_MIN_BYTES: usize = 4 + 8 + 1;

/// Frames `payload`: returns `len ‖ crc ‖ payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let _ = payload;
    todo!("ch03: prepend len and crc — book §3.4, task 1")
}

/// Checks a framed block (header and payload, exactly) and returns its
/// payload. `Err` says what is wrong; the caller adds file and offset.
pub fn unframe(framed: &[u8]) -> Result<&[u8], String> {
    let _ = framed;
    todo!("ch03: check the header, the length and the checksum — book §3.4, task 1")
}

/// Accumulates entries into one data block's payload.
#[derive(Debug)]
pub struct BlockBuilder {
    // TODO(ch03): the state your builder needs — book §3.4, task 2
}

impl BlockBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        todo!("ch03: start an empty block — book §3.4, task 2")
    }

    /// Appends `entry`. The caller adds entries in internal order and
    /// keeps keys and values under 4 GiB.
    pub fn add(&mut self, entry: &Entry) {
        let _ = entry;
        todo!("ch03: encode the entry at the end of the payload — book §3.4, task 2")
    }

    /// The number of entries added.
    pub fn entry_count(&self) -> usize {
        todo!("ch03: count the entries — book §3.4, task 2")
    }

    /// `true` if no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entry_count() == 0
    }

    /// The payload's size so far, in bytes: what the table builder compares
    /// with its block size target.
    pub fn size_bytes(&self) -> usize {
        todo!("ch03: report the payload size — book §3.4, task 2")
    }

    /// The block's payload (count and entries, unframed); the builder is
    /// left empty, ready for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        todo!("ch03: write the count and hand out the payload — book §3.4, task 2")
    }
}

impl Default for BlockBuilder {
    /// The same as [`BlockBuilder::new`].
    fn default() -> Self {
        BlockBuilder::new()
    }
}

/// A decoded data block: its entries, in internal order. Keys and values
/// share the block's buffer (no copies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    entries: Vec<Entry>,
}

impl Block {
    /// Decodes a data block's payload (already unframed). Trust boundary:
    /// the payload passed its checksum, but no count or length in it is
    /// used before it is checked against the bytes that are there, and
    /// entries must be in strictly increasing internal order.
    pub fn decode(payload: Bytes) -> Result<Block, String> {
        let _ = payload;
        todo!("ch03: decode the count and every entry, checking every length — book §3.4, task 3")
    }

    /// The entries, in internal order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries, by value.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// The index of the first entry at or after (`key`, `seq`) in internal
    /// order — the newest version of `key` visible at `seq`, if the block
    /// has one — or `entries().len()` if every entry is before it.
    pub fn seek(&self, key: &[u8], seq: SeqNo) -> usize {
        let _ = (key, seq);
        todo!("ch03: find the first entry at or after (key, seq) — book §3.4, task 3")
    }
}
