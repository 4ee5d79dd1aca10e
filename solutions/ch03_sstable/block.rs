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
// BEGIN SOLUTION hide
use crate::types::Value;
use std::cmp::Reverse;
use std::ops::Range;
// END SOLUTION

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

// ANCHOR: ch03_frame
/// Frames `payload` for the file position `offset`: returns
/// `len ‖ crc ‖ payload`, the crc covering `offset ‖ len ‖ payload`.
pub fn frame(payload: &[u8], offset: u64) -> Vec<u8> {
    // BEGIN SOLUTION todo(payload, offset): prepend len and a crc bound to the offset — book §3.4, task 1
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let mut framed = Vec::with_capacity(BLOCK_HEADER_LEN_BYTES + payload.len());
    framed.extend_from_slice(&len);
    framed.extend_from_slice(&frame_crc(offset, len, payload).to_le_bytes());
    framed.extend_from_slice(payload);
    framed
    // END SOLUTION
}

/// Checks a framed block (header and payload, exactly) read from the file
/// position `offset`, and returns its payload. `Err` says what is wrong;
/// the caller adds file and offset.
pub fn unframe(framed: &[u8], offset: u64) -> Result<&[u8], String> {
    // BEGIN SOLUTION todo(framed, offset): check the header, the length and the checksum — book §3.4, task 1
    let (header, payload) = framed
        .split_at_checked(BLOCK_HEADER_LEN_BYTES)
        .ok_or_else(|| format!("{} bytes cannot hold an 8-byte block header", framed.len()))?;
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let stored_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len != payload.len() {
        return Err(format!(
            "block payload length field says {len}, the block holds {}",
            payload.len()
        ));
    }
    let computed_crc = frame_crc(offset, len_bytes, payload);
    if stored_crc != computed_crc {
        return Err(format!(
            "block checksum mismatch at offset {offset}: stored {stored_crc:#010x}, \
             computed {computed_crc:#010x} (damaged, or written for another offset)"
        ));
    }
    Ok(payload)
    // END SOLUTION
}
// ANCHOR_END: ch03_frame

// BEGIN SOLUTION hide
fn frame_crc(offset: u64, len: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&offset.to_le_bytes());
    hasher.update(&len);
    hasher.update(payload);
    hasher.finalize()
}
// END SOLUTION

/// Accumulates entries into one data block's payload.
#[derive(Debug)]
pub struct BlockBuilder {
    // BEGIN SOLUTION hide: the state your builder needs — book §3.4, task 2
    /// The entries encoded so far.
    entries: Vec<u8>,
    /// Where each entry starts in `entries`.
    offsets: Vec<u32>,
    // END SOLUTION
}

impl BlockBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        // BEGIN SOLUTION todo(): start an empty block — book §3.4, task 2
        BlockBuilder {
            entries: Vec::new(),
            offsets: Vec::new(),
        }
        // END SOLUTION
    }

    // ANCHOR: ch03_block_add
    /// Appends `entry`. The caller adds entries in internal order and
    /// keeps the block under 4 GiB.
    pub fn add(&mut self, entry: &Entry) {
        // BEGIN SOLUTION todo(entry): remember where the entry starts, encode it — book §3.4, task 2
        let start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.offsets.push(start);
        put_bytes(&mut self.entries, &entry.key);
        self.entries.extend_from_slice(&entry.seq.to_le_bytes());
        match &entry.value {
            Value::Put(value) => {
                self.entries.push(TAG_PUT);
                put_bytes(&mut self.entries, value);
            }
            Value::Delete => self.entries.push(TAG_DELETE),
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_add

    /// The number of entries added.
    pub fn entry_count(&self) -> usize {
        // BEGIN SOLUTION todo(): count the entries — book §3.4, task 2
        self.offsets.len()
        // END SOLUTION
    }

    /// `true` if no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entry_count() == 0
    }

    /// The payload's size so far, in bytes (entries, offsets and count):
    /// what the table builder compares with its block size target.
    pub fn size_bytes(&self) -> usize {
        // BEGIN SOLUTION todo(): report the payload size — book §3.4, task 2
        self.entries.len() + BLOCK_OFFSET_LEN_BYTES * (self.offsets.len() + 1)
        // END SOLUTION
    }

    // ANCHOR: ch03_block_finish
    /// The block's payload (entries, offsets, count; unframed); the builder
    /// is left empty, ready for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        // BEGIN SOLUTION todo(): append the offsets and the count, hand out the payload — book §3.4, task 2
        // One allocation of the exact size; the builder keeps its buffers
        // (cleared, not taken), so the next block is encoded into memory it
        // already has instead of growing a new Vec from empty.
        let mut payload = Vec::with_capacity(self.size_bytes());
        payload.extend_from_slice(&self.entries);
        for offset in &self.offsets {
            payload.extend_from_slice(&offset.to_le_bytes());
        }
        let count = u32::try_from(self.offsets.len()).unwrap_or(u32::MAX);
        payload.extend_from_slice(&count.to_le_bytes());
        self.entries.clear();
        self.offsets.clear();
        payload
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_finish
}

impl Default for BlockBuilder {
    /// The same as [`BlockBuilder::new`].
    fn default() -> Self {
        BlockBuilder::new()
    }
}

// BEGIN SOLUTION hide
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}
// END SOLUTION

/// A data block whose count and offsets array have been checked; entries
/// are decoded one at a time, on demand, and share the block's buffer (no
/// copies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    // BEGIN SOLUTION hide: the state your block needs (the payload, the entry count, where the offsets array starts) — book §3.4, task 3
    /// The whole payload: entries, offsets array, count.
    payload: Bytes,
    /// The number of entries.
    count: usize,
    /// Where the entries end and the offsets array begins.
    entries_len: usize,
    // END SOLUTION
}

impl Block {
    // ANCHOR: ch03_block_decode
    /// Checks a data block's payload (already unframed) and returns the
    /// block, decoding no entry. Trust boundary: the payload passed its
    /// checksum, but the count is checked against the bytes that are there
    /// before it is used, and the offsets array must start at 0, stay
    /// inside the entries and increase by at least [`ENTRY_LEN_MIN_BYTES`]
    /// per entry. Allocates nothing.
    pub fn decode(payload: Bytes) -> Result<Block, String> {
        // BEGIN SOLUTION todo(payload): read the count from the end, check it and every offset — book §3.4, task 3
        let body_len = payload
            .len()
            .checked_sub(BLOCK_OFFSET_LEN_BYTES)
            .ok_or_else(|| format!("{} bytes cannot hold an entry count", payload.len()))?;
        let count = read_u32(&payload, body_len) as usize;
        let count_max = body_len / BLOCK_ENTRY_COST_MIN_BYTES;
        if count > count_max {
            return Err(format!(
                "entry count {count} is more than the {count_max} entries {} bytes can hold",
                payload.len()
            ));
        }
        let entries_len = body_len - BLOCK_OFFSET_LEN_BYTES * count;
        let block = Block {
            payload,
            count,
            entries_len,
        };
        // Entry i spans [offset i, offset i+1), the last one ends at
        // entries_len: offsets that start at 0 and grow by at least a
        // minimal entry each time stay inside the entries.
        for index in 0..count {
            let (start, end) = (block.offset(index), block.end(index));
            if (index == 0 && start != 0) || end < start.saturating_add(ENTRY_LEN_MIN_BYTES) {
                return Err(format!(
                    "offset {index} is {start} and the next entry starts at {end}: offsets must \
                     start at 0 and grow by at least {ENTRY_LEN_MIN_BYTES} up to {entries_len}"
                ));
            }
        }
        if count == 0 && entries_len != 0 {
            return Err(format!("{entries_len} bytes of entries but a count of 0"));
        }
        Ok(block)
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_decode

    /// The number of entries.
    pub fn len(&self) -> usize {
        // BEGIN SOLUTION todo(): the entry count — book §3.4, task 3
        self.count
        // END SOLUTION
    }

    /// `true` if the block has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: ch03_block_entry
    /// Decodes entry `index` (`0..len()`) from its span of the payload; its
    /// lengths must fit the span exactly. `Err` for a damaged entry or an
    /// index out of range.
    pub fn entry(&self, index: usize) -> Result<Entry, String> {
        // BEGIN SOLUTION todo(index): decode one entry from its span — book §3.4, task 3
        let span = self.span(index)?;
        let bytes = self.payload.get(span.clone()).unwrap_or_default();
        let parsed = parse_entry(bytes).map_err(|e| format!("entry {index}: {e}"))?;
        // Key and value share the block's buffer: slices, not copies.
        let share = |range: Range<usize>| {
            self.payload
                .slice(span.start + range.start..span.start + range.end)
        };
        Ok(Entry {
            key: share(parsed.key),
            seq: parsed.seq,
            value: parsed
                .value
                .map_or(Value::Delete, |value| Value::Put(share(value))),
        })
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_entry

    // ANCHOR: ch03_block_seek
    /// The index of the first entry at or after (`key`, `seq`) in internal
    /// order — the newest version of `key` visible at `seq`, if the block
    /// has one — or `len()` if every entry is before it. A binary search
    /// over the offsets array that decodes only the keys and sequence
    /// numbers it compares; it trusts the block's order (see the module
    /// docs). `Err` if an entry it touches is damaged.
    pub fn seek(&self, key: &[u8], seq: SeqNo) -> Result<usize, String> {
        // BEGIN SOLUTION todo(key, seq): binary search, decoding only the keys you compare — book §3.4, task 3
        let target = (key, Reverse(seq));
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let middle = low + (high - low) / 2;
            let (middle_key, middle_seq) = self.key_at(middle)?;
            if (middle_key, Reverse(middle_seq)) < target {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_seek

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
        // BEGIN SOLUTION todo(): an iterator at the first entry — book §3.4, task 3
        BlockIter {
            block: self.clone(),
            position: 0,
        }
        // END SOLUTION
    }

    /// Every entry, decoded, with their order checked: `Err` at the first
    /// damaged or out-of-order entry.
    pub fn entries(&self) -> Result<Vec<Entry>, String> {
        self.iter().collect()
    }

    // BEGIN SOLUTION hide
    /// Offset `index` of the offsets array (`index < count`: decode made
    /// sure the array lies inside the payload).
    fn offset(&self, index: usize) -> usize {
        read_u32(
            &self.payload,
            self.entries_len + BLOCK_OFFSET_LEN_BYTES * index,
        ) as usize
    }

    /// Where entry `index` ends: where the next one starts, or the end of
    /// the entries.
    fn end(&self, index: usize) -> usize {
        match index + 1 < self.count {
            true => self.offset(index + 1),
            false => self.entries_len,
        }
    }

    /// The bytes of entry `index`, as checked by decode.
    fn span(&self, index: usize) -> Result<Range<usize>, String> {
        if index >= self.count {
            return Err(format!("entry {index} of a block of {}", self.count));
        }
        Ok(self.offset(index)..self.end(index))
    }

    /// Entry `index`'s key and sequence number, read in place.
    fn key_at(&self, index: usize) -> Result<(&[u8], SeqNo), String> {
        let bytes = self.payload.get(self.span(index)?).unwrap_or_default();
        let mut reader = Reader { bytes, position: 0 };
        let in_entry = |e: String| format!("entry {index}: {e}");
        let key = reader.bytes_with_len("key").map_err(in_entry)?;
        let seq = reader.array("sequence number").map_err(in_entry)?;
        Ok((&bytes[key], u64::from_le_bytes(seq)))
    }
    // END SOLUTION
}

/// The entries of a block, in order, decoded one at a time. Checks that
/// each entry comes strictly after the one before in internal order;
/// yields an `Err` (once, then ends) at the first damaged or out-of-order
/// entry.
#[derive(Clone, Debug)]
pub struct BlockIter {
    // BEGIN SOLUTION hide: the state your iterator needs (the block, the next position) — book §3.4, task 3
    block: Block,
    /// The next entry to decode.
    position: usize,
    // END SOLUTION
}

impl Iterator for BlockIter {
    type Item = Result<Entry, String>;

    // ANCHOR: ch03_block_iter_next
    fn next(&mut self) -> Option<Result<Entry, String>> {
        // BEGIN SOLUTION todo(): decode the next entry and check it comes after the last one — book §3.4, task 3
        if self.position >= self.block.len() {
            return None;
        }
        let index = self.position;
        // After an error the iterator ends: nothing after damage is trusted.
        self.position = self.block.len();
        let entry = match self.block.entry(index) {
            Ok(entry) => entry,
            Err(error) => return Some(Err(error)),
        };
        if let Some(before) = index.checked_sub(1) {
            // Entry `before` decoded fine a moment ago; re-reading its key
            // in place is cheaper than keeping a copy.
            let (key, seq) = match self.block.key_at(before) {
                Ok(key_and_seq) => key_and_seq,
                Err(error) => return Some(Err(error)),
            };
            if (key, Reverse(seq)) >= (entry.key.as_ref(), Reverse(entry.seq)) {
                return Some(Err(format!(
                    "entry {index} ({:?}@{}) is not after entry {before} ({key:?}@{seq}): \
                     the block is out of internal order",
                    entry.key, entry.seq
                )));
            }
        }
        self.position = index + 1;
        Some(Ok(entry))
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_iter_next
}

// BEGIN SOLUTION hide
/// The u32 LE at `at`, or 0 past the end (callers check bounds first).
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    if let Some(slice) = bytes.get(at..at.saturating_add(4)) {
        word.copy_from_slice(slice);
    }
    u32::from_le_bytes(word)
}

/// Where an entry's parts lie in its span: positions, not copies.
struct ParsedEntry {
    key: Range<usize>,
    seq: SeqNo,
    /// `None` for a tombstone.
    value: Option<Range<usize>>,
}

/// Parses one entry that must fill `bytes` exactly.
fn parse_entry(bytes: &[u8]) -> Result<ParsedEntry, String> {
    let mut reader = Reader { bytes, position: 0 };
    let key = reader.bytes_with_len("key")?;
    let seq = u64::from_le_bytes(reader.array("sequence number")?);
    let value = match reader.array("tag")? {
        [TAG_PUT] => Some(reader.bytes_with_len("value")?),
        [TAG_DELETE] => None,
        [other] => return Err(format!("unknown tag {other}")),
    };
    let extra = bytes.len() - reader.position;
    if extra != 0 {
        return Err(format!("{extra} unexpected bytes after it"));
    }
    Ok(ParsedEntry { key, seq, value })
}

/// A cursor over one entry's untrusted bytes that never reads past their
/// end. It hands out positions, not copies: the block slices its buffer for
/// the key and the value (two reference-count increments per entry).
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

// Every entry a block hands out goes through these three (a scan or a
// compaction calls them a few times per entry), so they are `#[inline]`
// and keep the error's formatting out of line, in `too_short`.
impl Reader<'_> {
    #[inline]
    fn take(&mut self, len: usize, what: &str) -> Result<Range<usize>, String> {
        let left = self.bytes.len() - self.position;
        if len > left {
            return Err(too_short(what, len, left));
        }
        let range = self.position..self.position + len;
        self.position += len;
        Ok(range)
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let range = self.take(N, what)?;
        let mut array = [0; N];
        array.copy_from_slice(&self.bytes[range]);
        Ok(array)
    }

    #[inline]
    fn bytes_with_len(&mut self, what: &str) -> Result<Range<usize>, String> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        self.take(len, what)
    }
}

#[cold]
fn too_short(what: &str, len: usize, left: usize) -> String {
    format!("{what} needs {len} bytes, {left} left")
}
// END SOLUTION
