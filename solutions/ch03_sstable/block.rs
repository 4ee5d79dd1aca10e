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
// BEGIN SOLUTION hide
use crate::types::Value;
use std::cmp::Reverse;
// END SOLUTION

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

// ANCHOR: ch03_frame
/// Frames `payload`: returns `len ‖ crc ‖ payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    // BEGIN SOLUTION todo(payload): prepend len and crc — book §3.4, task 1
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let mut framed = Vec::with_capacity(BLOCK_HEADER_LEN_BYTES + payload.len());
    framed.extend_from_slice(&len);
    framed.extend_from_slice(&frame_crc(len, payload).to_le_bytes());
    framed.extend_from_slice(payload);
    framed
    // END SOLUTION
}

/// Checks a framed block (header and payload, exactly) and returns its
/// payload. `Err` says what is wrong; the caller adds file and offset.
pub fn unframe(framed: &[u8]) -> Result<&[u8], String> {
    // BEGIN SOLUTION todo(framed): check the header, the length and the checksum — book §3.4, task 1
    let (header, payload) = framed
        .split_at_checked(BLOCK_HEADER_LEN_BYTES)
        .ok_or_else(|| format!("{} bytes cannot hold an 8-byte block header", framed.len()))?;
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let stored_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len != payload.len() {
        return Err(format!(
            "block length field says {len}, the block holds {}",
            payload.len()
        ));
    }
    let computed_crc = frame_crc(len_bytes, payload);
    if stored_crc != computed_crc {
        return Err(format!(
            "block checksum mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        ));
    }
    Ok(payload)
    // END SOLUTION
}
// ANCHOR_END: ch03_frame

// BEGIN SOLUTION hide
fn frame_crc(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    hasher.finalize()
}
// END SOLUTION

/// Accumulates entries into one data block's payload.
#[derive(Debug)]
pub struct BlockBuilder {
    // BEGIN SOLUTION hide: the state your builder needs — book §3.4, task 2
    payload: Vec<u8>,
    count: u32,
    // END SOLUTION
}

impl BlockBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        // BEGIN SOLUTION todo(): start an empty block — book §3.4, task 2
        BlockBuilder {
            payload: vec![0; 4],
            count: 0,
        }
        // END SOLUTION
    }

    // ANCHOR: ch03_block_add
    /// Appends `entry`. The caller adds entries in internal order and
    /// keeps keys and values under 4 GiB.
    pub fn add(&mut self, entry: &Entry) {
        // BEGIN SOLUTION todo(entry): encode the entry at the end of the payload — book §3.4, task 2
        put_bytes(&mut self.payload, &entry.key);
        self.payload.extend_from_slice(&entry.seq.to_le_bytes());
        match &entry.value {
            Value::Put(value) => {
                self.payload.push(TAG_PUT);
                put_bytes(&mut self.payload, value);
            }
            Value::Delete => self.payload.push(TAG_DELETE),
        }
        self.count += 1;
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_add

    /// The number of entries added.
    pub fn entry_count(&self) -> usize {
        // BEGIN SOLUTION todo(): count the entries — book §3.4, task 2
        self.count as usize
        // END SOLUTION
    }

    /// `true` if no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entry_count() == 0
    }

    /// The payload's size so far, in bytes: what the table builder compares
    /// with its block size target.
    pub fn size_bytes(&self) -> usize {
        // BEGIN SOLUTION todo(): report the payload size — book §3.4, task 2
        self.payload.len()
        // END SOLUTION
    }

    /// The block's payload (count and entries, unframed); the builder is
    /// left empty, ready for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        // BEGIN SOLUTION todo(): write the count and hand out the payload — book §3.4, task 2
        let mut payload = std::mem::replace(&mut self.payload, vec![0; 4]);
        payload[..4].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        payload
        // END SOLUTION
    }
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

/// A decoded data block: its entries, in internal order. Keys and values
/// share the block's buffer (no copies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    entries: Vec<Entry>,
}

impl Block {
    // ANCHOR: ch03_block_decode
    /// Decodes a data block's payload (already unframed). Trust boundary:
    /// the payload passed its checksum, but no count or length in it is
    /// used before it is checked against the bytes that are there, and
    /// entries must be in strictly increasing internal order.
    pub fn decode(payload: Bytes) -> Result<Block, String> {
        // BEGIN SOLUTION todo(payload): decode the count and every entry, checking every length — book §3.4, task 3
        let mut reader = Reader {
            bytes: payload.clone(),
        };
        let count = u32::from_le_bytes(reader.array("entry count")?);
        let count_max = payload.len() / ENTRY_LEN_MIN_BYTES;
        if count as usize > count_max {
            return Err(format!(
                "entry count {count} is more than {count_max} entries could fit"
            ));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(count as usize);
        for index in 0..count {
            let entry = reader.entry().map_err(|e| format!("entry {index}: {e}"))?;
            if let Some(previous) = entries.last()
                && internal_order(previous) >= internal_order(&entry)
            {
                return Err(format!("entry {index} is out of order"));
            }
            entries.push(entry);
        }
        if !reader.bytes.is_empty() {
            return Err(format!(
                "{} unexpected bytes after the last entry",
                reader.bytes.len()
            ));
        }
        Ok(Block { entries })
        // END SOLUTION
    }
    // ANCHOR_END: ch03_block_decode

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
        // BEGIN SOLUTION todo(key, seq): find the first entry at or after (key, seq) — book §3.4, task 3
        self.entries
            .partition_point(|entry| (entry.key.as_ref(), Reverse(entry.seq)) < (key, Reverse(seq)))
        // END SOLUTION
    }
}

// BEGIN SOLUTION hide
fn internal_order(entry: &Entry) -> (&[u8], Reverse<SeqNo>) {
    (&entry.key, Reverse(entry.seq))
}

/// A cursor over untrusted bytes that never reads past their end; slices
/// share the underlying buffer.
struct Reader {
    bytes: Bytes,
}

impl Reader {
    fn take(&mut self, len: usize, what: &str) -> Result<Bytes, String> {
        if len > self.bytes.len() {
            return Err(format!(
                "{what} needs {len} bytes, {} left",
                self.bytes.len()
            ));
        }
        Ok(self.bytes.split_to(len))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut array = [0; N];
        array.copy_from_slice(&self.take(N, what)?);
        Ok(array)
    }

    fn bytes_with_len(&mut self, what: &str) -> Result<Bytes, String> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        self.take(len, what)
    }

    fn entry(&mut self) -> Result<Entry, String> {
        let key = self.bytes_with_len("key")?;
        let seq = u64::from_le_bytes(self.array("sequence number")?);
        let value = match self.array("tag")? {
            [TAG_PUT] => Value::Put(self.bytes_with_len("value")?),
            [TAG_DELETE] => Value::Delete,
            [other] => return Err(format!("unknown tag {other}")),
        };
        Ok(Entry { key, seq, value })
    }
}
// END SOLUTION
