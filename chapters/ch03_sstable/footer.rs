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
    /// The footer's 80 bytes, as drawn in the module docs.
    pub fn encode(&self) -> [u8; FOOTER_LEN_BYTES] {
        todo!("ch03: lay out the fields, the version, the crc and the magic — book §3.4, task 4")
    }

    /// Decodes and validates a footer read from the last 80 bytes of a file
    /// of `file_len` bytes. Checks, in order: the magic (is this a table?),
    /// the checksum (is the footer intact?), the version (can we read it?),
    /// the table length (is the file exactly this table?), then that every
    /// region lies inside the file, they do not overlap, and the counts fit
    /// the data region.
    /// `Err` says what is wrong; the caller adds file and offset.
    pub fn decode(bytes: &[u8; FOOTER_LEN_BYTES], file_len: u64) -> Result<Footer, String> {
        let _ = (bytes, file_len);
        todo!(
            "ch03: check magic, crc, version and bounds, then read the fields — book §3.4, task 4"
        )
    }
}
