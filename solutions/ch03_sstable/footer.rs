//! The footer: the fixed-size end of every table, read first, so that a
//! reader can find everything else. Its checksum and magic number make a
//! truncated or foreign file fail loudly at open, and its `table_len`
//! makes a file exactly one table: a table followed by anything (appended
//! bytes, another whole table) is corruption, because the last footer no
//! longer describes the whole file.
//!
//! ```text
//!  offset  field                 meaning
//!   0      data_len      u64 LE  data blocks occupy bytes [0, data_len)
//!   8      block_count   u64 LE  number of data blocks
//!  16      entry_count   u64 LE  number of entries in them
//!  24      filter.offset u64 LE  the bloom filter block (chapter 4);
//!  32      filter.len    u64 LE    len 0 = the table has no filter
//!  40      index.offset  u64 LE  the sparse index block (chapter 5);
//!  48      index.len     u64 LE    len 0 = the table has no index
//!  56      table_len     u64 LE  the whole file's length, footer included
//!  64      version       u32 LE  FORMAT_VERSION
//!  68      crc           u32 LE  CRC-32 of bytes [0, 68)
//!  72      magic         u64 LE  TABLE_MAGIC
//!  80      end
//! ```
//!
//! A handle's `len` is the whole framed block, its 8-byte header included
//! (the frame's own `len` field counts only the payload).

// BEGIN SOLUTION hide
use super::block::{BLOCK_ENTRY_COST_MIN_BYTES, BLOCK_HEADER_LEN_BYTES, BLOCK_OFFSET_LEN_BYTES};
use std::ops::Range;
// END SOLUTION

/// Size of the footer in bytes.
pub const FOOTER_LEN_BYTES: usize = 80;
/// The last 8 bytes of every table: "LSMWBTAB" read as a little-endian u64.
pub const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"LSMWBTAB");
/// The table format version this code writes and reads.
/// Version 2: block checksums cover the block's offset, the footer pins
/// the table's length, data blocks end with an offsets array.
pub const FORMAT_VERSION: u32 = 2;
/// Offset of the `version` field in the footer.
pub const FOOTER_VERSION_OFFSET: usize = 64;
/// Offset of the `crc` field in the footer.
pub const FOOTER_CRC_OFFSET: usize = 68;
/// Offset of the `magic` field in the footer.
pub const FOOTER_MAGIC_OFFSET: usize = 72;

const _: () = assert!(FOOTER_VERSION_OFFSET == 8 * 8);
const _: () = assert!(FOOTER_CRC_OFFSET == FOOTER_VERSION_OFFSET + 4);
const _: () = assert!(FOOTER_MAGIC_OFFSET == FOOTER_CRC_OFFSET + 4);
const _: () = assert!(FOOTER_LEN_BYTES == FOOTER_MAGIC_OFFSET + 8);

/// Where a block lives in the file: `len` bytes at `offset`, frame header
/// included (so `len` is 8 more than the frame's payload length field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockHandle {
    /// The block's first byte.
    pub offset: u64,
    /// The block's length, frame header included; 0 means "no block".
    pub len: u64,
}

impl BlockHandle {
    /// The handle of an absent optional block.
    pub const NONE: BlockHandle = BlockHandle { offset: 0, len: 0 };

    /// `true` for [`BlockHandle::NONE`]-like handles (length 0).
    pub fn is_none(&self) -> bool {
        self.len == 0
    }

    /// The byte just past the block.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// The decoded footer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Footer {
    /// Data blocks occupy bytes `[0, data_len)`.
    pub data_len: u64,
    /// Number of data blocks.
    pub block_count: u64,
    /// Number of entries in the data blocks.
    pub entry_count: u64,
    /// The bloom filter block, or [`BlockHandle::NONE`].
    pub filter: BlockHandle,
    /// The sparse index block, or [`BlockHandle::NONE`].
    pub index: BlockHandle,
    /// The whole table's length in bytes, this footer included: the file's
    /// length must be exactly this.
    pub table_len: u64,
}

impl Footer {
    // ANCHOR: ch03_footer_encode
    /// The footer's 80 bytes, as drawn in the module docs.
    pub fn encode(&self) -> [u8; FOOTER_LEN_BYTES] {
        // BEGIN SOLUTION todo(): lay out the fields, the version, the crc and the magic — book §3.4, task 4
        let mut out = [0; FOOTER_LEN_BYTES];
        let fields = [
            self.data_len,
            self.block_count,
            self.entry_count,
            self.filter.offset,
            self.filter.len,
            self.index.offset,
            self.index.len,
            self.table_len,
        ];
        for (slot, field) in out.chunks_exact_mut(8).zip(fields) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
        out[64..68].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&out[..FOOTER_CRC_OFFSET]);
        out[68..72].copy_from_slice(&crc.to_le_bytes());
        out[72..80].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        out
        // END SOLUTION
    }
    // ANCHOR_END: ch03_footer_encode

    // ANCHOR: ch03_footer_decode
    /// Decodes and validates a footer read from the last 80 bytes of a file
    /// of `file_len` bytes. Checks, in order: the magic (is this a table?),
    /// the checksum (is the footer intact?), the version (can we read it?),
    /// the table length (is the file exactly this table?), then that every
    /// region lies inside the file, they do not overlap, and the counts fit
    /// the data region.
    /// `Err` says what is wrong; the caller adds file and offset.
    pub fn decode(bytes: &[u8; FOOTER_LEN_BYTES], file_len: u64) -> Result<Footer, String> {
        // BEGIN SOLUTION todo(bytes, file_len): check magic, crc, version and bounds, then read the fields — book §3.4, task 4
        let magic = u64::from_le_bytes(field(bytes, 72..80));
        if magic != TABLE_MAGIC {
            return Err(format!(
                "bad magic {magic:#018x}, expected {TABLE_MAGIC:#018x}: not a table, or its end is missing"
            ));
        }
        let stored_crc = u32::from_le_bytes(field(bytes, 68..72));
        let computed_crc = crc32fast::hash(&bytes[..FOOTER_CRC_OFFSET]);
        if stored_crc != computed_crc {
            return Err(format!(
                "footer checksum mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
            ));
        }
        let version = u32::from_le_bytes(field(bytes, 64..68));
        if version != FORMAT_VERSION {
            return Err(format!(
                "format version {version}, this reader knows {FORMAT_VERSION}"
            ));
        }
        let word = |index: usize| u64::from_le_bytes(field(bytes, index * 8..index * 8 + 8));
        let footer = Footer {
            data_len: word(0),
            block_count: word(1),
            entry_count: word(2),
            filter: BlockHandle {
                offset: word(3),
                len: word(4),
            },
            index: BlockHandle {
                offset: word(5),
                len: word(6),
            },
            table_len: word(7),
        };
        if footer.table_len != file_len {
            return Err(format!(
                "the footer says the table is {} bytes, the file is {file_len}: \
                 bytes were appended, or another table follows this one",
                footer.table_len
            ));
        }
        footer.check_regions(file_len)?;
        footer.check_counts()?;
        Ok(footer)
        // END SOLUTION
    }
    // ANCHOR_END: ch03_footer_decode

    // BEGIN SOLUTION hide
    /// Data, then filter, then index, then the footer, each inside the file.
    fn check_regions(&self, file_len: u64) -> Result<(), String> {
        let body_len = file_len.saturating_sub(FOOTER_LEN_BYTES as u64);
        let mut end = self.data_len;
        if end > body_len {
            return Err(format!("data_len {end} runs past the footer at {body_len}"));
        }
        for (name, handle) in [("filter", self.filter), ("index", self.index)] {
            if handle.is_none() {
                continue;
            }
            if handle.offset < end
                || handle.end() > body_len
                || handle.offset.checked_add(handle.len).is_none()
            {
                return Err(format!(
                    "{name} block [{}, +{}) is outside [{end}, {body_len})",
                    handle.offset, handle.len
                ));
            }
            end = handle.end();
        }
        Ok(())
    }

    /// Every data block takes at least a header and a count, every entry at
    /// least its minimal encoding and its offset: counts larger than the
    /// data region can hold are damage (and are never used to allocate).
    fn check_counts(&self) -> Result<(), String> {
        let block_len_min = (BLOCK_HEADER_LEN_BYTES + BLOCK_OFFSET_LEN_BYTES) as u64;
        let entry_len_min = BLOCK_ENTRY_COST_MIN_BYTES as u64;
        let blocks_max = self.data_len / block_len_min;
        let entries_max = self.data_len / entry_len_min;
        if self.block_count > blocks_max || self.entry_count > entries_max {
            return Err(format!(
                "{} blocks and {} entries cannot fit in {} data bytes (at most {blocks_max} and {entries_max})",
                self.block_count, self.entry_count, self.data_len
            ));
        }
        Ok(())
    }
    // END SOLUTION
}

// BEGIN SOLUTION hide
fn field<const N: usize>(bytes: &[u8; FOOTER_LEN_BYTES], range: Range<usize>) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[range]);
    out
}
// END SOLUTION
