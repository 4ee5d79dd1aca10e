//! Blocks: the unit a table is read in. Every block — data, filter or
//! index — is *framed*, so it can be checked before a single byte of it is
//! trusted, and its checksum also covers the block's offset in the file, so
//! a block is only valid *where it was written*:
//!
//! ```text
//!  0        4        8                      8 + payload_len
//!  +--------+--------+----------------------+
//!  |  len   |  crc   |  payload             |    a framed block at `offset`
//!  +--------+--------+----------------------+
//!  len: u32 LE, the payload's length (`payload_len`; the frame header is
//!       not counted; a `BlockHandle`'s `len` is the whole frame, 8 + len)
//!  crc: u32 LE, CRC-32 of offset (u64 LE) ‖ the 4 len bytes ‖ the payload
//! ```
//!
//! The offset is not stored in the frame, only checksummed: the reader
//! knows where it read the block from. A block copied over its neighbour,
//! or two blocks of equal length swapped, fail their checksums (RocksDB's
//! format_version 6 "context checksums" do the same).
//!
//! A *data block*'s payload is its entries, in internal order (key
//! ascending, sequence number descending), then where each entry starts,
//! then how many there are — the count last, so a reader finds it first:
//!
//! ```text
//!  +---------+---------+-----+-------------+-------------+-----+-------------+
//!  | entry 0 | entry 1 | …   | offset 0    | offset 1    | …   | count u32LE |
//!  |         |         |     | u32 LE (=0) | u32 LE      |     |             |
//!  +---------+---------+-----+-------------+-------------+-----+-------------+
//!  0                         entries_len                     payload_len - 4
//!  entry: key_len u32 LE | key | seq u64 LE | tag u8 (1 = put, 0 = delete)
//!         | value_len u32 LE | value          <- put only
//!  entry i occupies [offset i, offset i+1); the last one ends at entries_len
//! ```
//!
//! The offsets array is what makes a lookup cheap: [`Block::seek`]
//! binary-searches it, decoding only the keys it compares, and
//! [`Block::entry`] decodes one entry, so a point lookup never decodes the
//! whole block.
//!
//! What is checked where (the trust boundary): the frame's checksum proves
//! the payload is what *our writer* wrote at this offset. [`Block::decode`]
//! checks the count and the offsets array (in bounds, starting at 0, each
//! entry at least [`ENTRY_LEN_MIN_BYTES`]): after it, no offset can point
//! outside the entries. [`Block::entry`] checks one entry's fields against
//! its own span. The order of the entries is checked by [`BlockIter`],
//! which compares each entry with the one before (cheap, since it decodes
//! them all anyway); a binary search cannot check it without decoding the
//! block, so [`Block::seek`] trusts it — a checksummed block that is out of
//! order can only come from a buggy writer, and the table builder refuses
//! out-of-order entries.

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

/// Bytes an entry takes at least: key_len (4), seq (8), tag (1).
pub const ENTRY_LEN_MIN_BYTES: usize = 4 + 8 + 1;
/// Bytes of one slot of a data block's offsets array, and of its count.
pub const BLOCK_OFFSET_LEN_BYTES: usize = 4;
/// Bytes a data block's payload takes per entry at least: the entry and
/// its offset. A block's count can never exceed its payload (minus the
/// count) divided by this.
pub const BLOCK_ENTRY_COST_MIN_BYTES: usize = ENTRY_LEN_MIN_BYTES + BLOCK_OFFSET_LEN_BYTES;

/// Frames `payload` for the file position `offset`: returns
/// `len ‖ crc ‖ payload`, the crc covering `offset ‖ len ‖ payload`.
pub fn frame(payload: &[u8], offset: u64) -> Vec<u8> {
    let _ = (payload, offset);
    todo!("ch03: prepend len and a crc bound to the offset — book §3.4, task 1")
}

/// Checks a framed block (header and payload, exactly) read from the file
/// position `offset`, and returns its payload. `Err` says what is wrong;
/// the caller adds file and offset.
pub fn unframe(framed: &[u8], offset: u64) -> Result<&[u8], String> {
    let _ = (framed, offset);
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
    /// keeps the block under 4 GiB.
    pub fn add(&mut self, entry: &Entry) {
        let _ = entry;
        todo!("ch03: remember where the entry starts, encode it — book §3.4, task 2")
    }

    /// The number of entries added.
    pub fn entry_count(&self) -> usize {
        todo!("ch03: count the entries — book §3.4, task 2")
    }

    /// `true` if no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entry_count() == 0
    }

    /// The payload's size so far, in bytes (entries, offsets and count):
    /// what the table builder compares with its block size target.
    pub fn size_bytes(&self) -> usize {
        todo!("ch03: report the payload size — book §3.4, task 2")
    }

    /// The block's payload (entries, offsets, count; unframed); the builder
    /// is left empty, ready for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        todo!("ch03: append the offsets and the count, hand out the payload — book §3.4, task 2")
    }
}

impl Default for BlockBuilder {
    /// The same as [`BlockBuilder::new`].
    fn default() -> Self {
        BlockBuilder::new()
    }
}

/// A data block whose count and offsets array have been checked; entries
/// are decoded one at a time, on demand, and share the block's buffer (no
/// copies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    // TODO(ch03): the state your block needs (the payload, the entry count, where the offsets array starts) — book §3.4, task 3
}

impl Block {
    /// Checks a data block's payload (already unframed) and returns the
    /// block, decoding no entry. Trust boundary: the payload passed its
    /// checksum, but the count is checked against the bytes that are there
    /// before it is used, and the offsets array must start at 0, stay
    /// inside the entries and increase by at least [`ENTRY_LEN_MIN_BYTES`]
    /// per entry. Allocates nothing.
    pub fn decode(payload: Bytes) -> Result<Block, String> {
        let _ = payload;
        todo!("ch03: read the count from the end, check it and every offset — book §3.4, task 3")
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        todo!("ch03: the entry count — book §3.4, task 3")
    }

    /// `true` if the block has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes entry `index` (`0..len()`) from its span of the payload; its
    /// lengths must fit the span exactly. `Err` for a damaged entry or an
    /// index out of range.
    pub fn entry(&self, index: usize) -> Result<Entry, String> {
        let _ = index;
        todo!("ch03: decode one entry from its span — book §3.4, task 3")
    }

    /// The index of the first entry at or after (`key`, `seq`) in internal
    /// order — the newest version of `key` visible at `seq`, if the block
    /// has one — or `len()` if every entry is before it. A binary search
    /// over the offsets array that decodes only the keys and sequence
    /// numbers it compares; it trusts the block's order (see the module
    /// docs). `Err` if an entry it touches is damaged.
    pub fn seek(&self, key: &[u8], seq: SeqNo) -> Result<usize, String> {
        let _ = (key, seq);
        todo!("ch03: binary search, decoding only the keys you compare — book §3.4, task 3")
    }

    /// The first entry at or after (`key`, `seq`), or `None` if every entry
    /// is before it: [`seek`](Self::seek), then [`entry`](Self::entry).
    pub fn find(&self, key: &[u8], seq: SeqNo) -> Result<Option<Entry>, String> {
        let position = self.seek(key, seq)?;
        if position == self.len() {
            return Ok(None);
        }
        self.entry(position).map(Some)
    }

    /// The entries in order, decoded one by one as the iterator advances.
    pub fn iter(&self) -> BlockIter {
        todo!("ch03: an iterator at the first entry — book §3.4, task 3")
    }

    /// Every entry, decoded, with their order checked: `Err` at the first
    /// damaged or out-of-order entry.
    pub fn entries(&self) -> Result<Vec<Entry>, String> {
        self.iter().collect()
    }
}

/// The entries of a block, in order, decoded one at a time. Checks that
/// each entry comes strictly after the one before in internal order;
/// yields an `Err` (once, then ends) at the first damaged or out-of-order
/// entry.
#[derive(Clone, Debug)]
pub struct BlockIter {
    // TODO(ch03): the state your iterator needs (the block, the next position) — book §3.4, task 3
}

impl Iterator for BlockIter {
    type Item = Result<Entry, String>;

    fn next(&mut self) -> Option<Result<Entry, String>> {
        todo!(
            "ch03: decode the next entry and check it comes after the last one — book §3.4, task 3"
        )
    }
}
