//! Chapter 2 — the write-ahead log (WAL). A write is acknowledged only once
//! its record has been appended to the log; after a crash, replaying the log
//! rebuilds the memtable.
//!
//! You write: [`LogHeader::encode`], [`LogHeader::decode`],
//! [`encode_record`], [`Wal::create`], [`Wal::append`], [`Wal::sync`] and
//! [`read_log`] (framing, decoding and the recovery rules). Book: "2. The
//! write-ahead log".
//!
//! A log is a header, written and synced when the log is created, then one
//! record per [`WriteBatch`]:
//!
//! ```text
//!  log header (32 bytes):
//!  0          8          16           24         28      32
//!  +----------+----------+------------+----------+-------+
//!  | magic    | salt     | first_seq  | version  | crc   |
//!  +----------+----------+------------+----------+-------+
//!  magic: u64 LE LOG_MAGIC; salt: u64 LE, random per log; first_seq: u64 LE,
//!  the sequence number the first record must start at; version: u32 LE;
//!  crc: u32 LE, CRC-32 of bytes [0, 28)
//!
//!  record (24-byte header, then the ops):
//!  0        4        8           16       20       24             24 + payload_len
//!  +--------+--------+-----------+--------+--------+--------------+
//!  | p_len  | count  | seq       | h_crc  | crc    | ops          |
//!  +--------+--------+-----------+--------+--------+--------------+
//!  p_len: u32 LE, bytes of ops;  count: u32 LE, number of ops;
//!  seq:   u64 LE, the first op's sequence number;
//!  h_crc: u32 LE, CRC-32 of salt (8 bytes LE) ‖ bytes [0, 16)
//!  crc:   u32 LE, CRC-32 of salt ‖ bytes [0, 16) ‖ ops
//!
//!  op:  tag u8 (1 = put, 0 = delete) | key_len u32 LE | key
//!       | value_len u32 LE | value          <- put only
//! ```
//!
//! Invariants: records are never rewritten, the log only grows; each record
//! continues the one before it (its `seq` is the previous record's `seq +
//! count`, the first one's is the header's `first_seq`); `append` hands the
//! whole record to the file in one call before it returns (no user-space
//! buffering); after any failed append or sync the writer is poisoned and
//! refuses further work.
//!
//! Recovery rules (promises P4/P5/P8, book: the toolbox): a damaged record
//! with no valid record *of this log* after it is a *torn tail* — dropped
//! and reported in [`ReplayReport`]; a damaged record followed by a valid
//! one is [`Error::Corruption`](crate::Error::Corruption) naming the file
//! and the damaged record's offset — never a truncation, never a skip. A
//! valid record that does not continue the sequence (a hole, a duplicate, a
//! swap) is corruption too. The salt makes records of another log, and
//! bytes a user stored in a value, fail the checksums of this one.

use std::path::Path;

use crate::ch01_memtable::Memtable;
use crate::error::Result;
use crate::fs::{Fs, WritableFile};
use crate::types::{SeqNo, WriteBatch};

/// Bytes of the log header.
pub const LOG_HEADER_LEN_BYTES: usize = 32;
/// The first 8 bytes of every log: "LSMWBLOG" read as a little-endian u64.
pub const LOG_MAGIC: u64 = u64::from_le_bytes(*b"LSMWBLOG");
/// The log format version this code writes and reads.
pub const LOG_FORMAT_VERSION: u32 = 1;
/// Offset of the header's `crc` field: it covers the bytes before it.
pub const LOG_HEADER_CRC_OFFSET: usize = 28;
/// Bytes before a record's ops: `p_len`, `count`, `seq`, `h_crc`, `crc`.
pub const RECORD_HEADER_LEN_BYTES: usize = 24;
/// Bytes of the record header that `h_crc` covers (after the salt).
pub const RECORD_HEADER_CHECKED_LEN_BYTES: usize = 16;
/// Bytes an op takes at least: its tag and its key length. A record's
/// `count` can never exceed its `p_len` divided by this.
pub const OP_LEN_MIN_BYTES: usize = 1 + 4;
/// The largest payload (ops) a record may carry. Larger batches are refused
/// by [`encode_record`]; a larger `p_len` on disk is damage.
pub const RECORD_PAYLOAD_LEN_MAX_BYTES: usize = 64 << 20;
/// Op tag of a put.
pub const TAG_PUT: u8 = 1;
/// Op tag of a delete.
pub const TAG_DELETE: u8 = 0;

const _: () = assert!(LOG_HEADER_LEN_BYTES == 8 + 8 + 8 + 4 + 4);
const _: () = assert!(LOG_HEADER_CRC_OFFSET == 8 + 8 + 8 + 4);
const _: () = assert!(RECORD_HEADER_LEN_BYTES == 4 + 4 + 8 + 4 + 4);
const _: () = assert!(RECORD_HEADER_CHECKED_LEN_BYTES == 4 + 4 + 8);

/// What a log's header says: who the log is, and where its sequence
/// numbers start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogHeader {
    /// A random number chosen when the log is created and mixed into every
    /// record's checksums, so that records of another log, or a log's bytes
    /// stored as a value, are never valid records of this one (promise P8).
    pub salt: u64,
    /// The sequence number the log's first record starts at.
    pub first_seq: SeqNo,
}

impl LogHeader {
    /// The header's 32 bytes, as drawn in the module docs.
    pub fn encode(&self) -> [u8; LOG_HEADER_LEN_BYTES] {
        todo!("ch02: lay out magic, salt, first_seq, version and the crc — book §2.4, task 1")
    }

    /// Decodes and checks a header: magic, then checksum, then version.
    /// `Err` says what is wrong; the caller adds file and offset.
    pub fn decode(bytes: &[u8; LOG_HEADER_LEN_BYTES]) -> Result<LogHeader, String> {
        let _ = bytes;
        todo!(
            "ch02: check magic, crc and version, then read salt and first_seq — book §2.4, task 1"
        )
    }
}

/// An open log, appended to by the engine.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn WritableFile>,
    /// The sequence number the next record must start at.
    next_seq: SeqNo,
    // TODO(ch02): whatever else your writer needs (the salt, poisoning, a scratch buffer) — book §2.4, task 2
}

/// The outcome of reading a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// The log's header; `None` if the file ends inside it (a crash while
    /// the log was being created: the log holds nothing).
    pub header: Option<LogHeader>,
    /// Whole, valid records read.
    pub records: u64,
    /// Operations in those records.
    pub entries: u64,
    /// The sequence number of the last operation read, if any.
    pub last_seq: Option<SeqNo>,
    /// The sequence number a record appended after the last valid one
    /// would start at (the header's `first_seq` for a log without records);
    /// `None` without a header.
    pub next_seq: Option<SeqNo>,
    /// The damaged tail that was dropped, if any.
    pub torn_tail: Option<TornTail>,
}

/// A damaged end of log with no valid record after it: what a crash in the
/// middle of an append leaves. Recovery drops it and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Where the first damaged record (or the damaged header) starts.
    pub offset: u64,
    /// How many bytes, from `offset` to the end of the file, were dropped.
    pub dropped_len_bytes: u64,
    /// Why the record at `offset` was not valid.
    pub reason: String,
}

/// Appends the framed record of `batch` (header and ops, as drawn in the
/// module docs) for a log with salt `salt` to `out`.
///
/// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument),
/// leaving `out` as it was, if the batch's sequence numbers would reach
/// [`SEQ_MAX`](crate::types::SEQ_MAX) (which is reserved for reads; see
/// [`WriteBatch::seq_end`]) or its ops exceed [`RECORD_PAYLOAD_LEN_MAX_BYTES`].
pub fn encode_record(batch: &WriteBatch, salt: u64, out: &mut Vec<u8>) -> Result<()> {
    let _ = (batch, salt, out);
    todo!("ch02: check the batch, then frame it: header, checksums, ops — book §2.4, task 1")
}

impl Wal {
    /// Creates a new log at `path` (the file must not exist), writes its
    /// header and makes both the header and the file's directory entry
    /// durable, so that records synced later survive a power loss and a
    /// damaged header can only mean damage, never a crash.
    pub fn create(fs: &dyn Fs, path: &Path, header: LogHeader) -> Result<Wal> {
        let _ = (fs, path, header);
        todo!(
            "ch02: create the file, append and sync the header, sync its directory — book §2.4, task 2"
        )
    }

    /// Appends the record of `batch`, which must continue the log: its
    /// `seq` must be [`next_seq`](Self::next_seq), or the batch is refused
    /// with [`Error::InvalidArgument`](crate::Error::InvalidArgument) (as
    /// are the batches [`encode_record`] refuses) and the log is unchanged.
    /// When this returns `Ok`, the whole record has been handed to the file
    /// (promise P1); it is durable only after a [`sync`](Self::sync).
    ///
    /// After a failed append the log may end in a partial record, so the
    /// writer is poisoned: the failed call returns the I/O error, and every
    /// later call returns [`Error::Poisoned`](crate::Error::Poisoned).
    pub fn append(&mut self, batch: &WriteBatch) -> Result<()> {
        let _ = batch;
        todo!(
            "ch02: check the sequence, encode, append in one call; poison on failure — book §2.4, task 2"
        )
    }

    /// Makes every appended record durable (promise P2). A failed sync
    /// poisons the writer: it is never retried, because a retry can report
    /// success for data the OS has already dropped.
    pub fn sync(&mut self) -> Result<()> {
        todo!("ch02: sync the file; poison on failure — book §2.4, task 2")
    }

    /// The sequence number the next appended batch must start at.
    pub fn next_seq(&self) -> SeqNo {
        self.next_seq
    }

    /// The log's length in bytes so far, header included.
    pub fn len_bytes(&self) -> u64 {
        self.file.len()
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Reads the log at `path`, calling `visit(offset, batch)` for every valid
/// record in order, and applies the recovery rules:
///
/// - a file that ends inside its header holds nothing (a crash during
///   [`Wal::create`]): `Ok`, with no header, the bytes reported as a torn
///   tail; a damaged header with bytes after it is
///   [`Error::Corruption`](crate::Error::Corruption) at offset 0 (the
///   header was synced before any record was written);
/// - a damaged record (short header, header checksum mismatch, `p_len` or
///   `count` implausible, ops running past the end of the file, checksum
///   mismatch) **with no valid record of this log after it** is a torn
///   tail: reading stops, and the report's `torn_tail` says where and why;
/// - a damaged record **followed by a valid one** is
///   [`Error::Corruption`](crate::Error::Corruption) with the file and the
///   damaged record's offset;
/// - a valid record that does not continue the sequence, or whose ops do
///   not decode, is [`Error::Corruption`](crate::Error::Corruption) too (a
///   torn write almost never produces matching checksums).
///
/// Trust boundary: every byte of the file is untrusted; no length or count
/// is used before it is checked against the bytes that are really there,
/// and reading is linear in the file's size.
pub fn read_log(
    fs: &dyn Fs,
    path: &Path,
    visit: &mut dyn FnMut(u64, WriteBatch),
) -> Result<ReplayReport> {
    let _ = (fs, path, visit);
    todo!(
        "ch02: check the header, decode every record, apply the torn-tail and corruption rules — book §2.4, task 3"
    )
}

/// Replays the log at `path` into `memtable`: every operation of every
/// valid record is inserted with its own sequence number. On error the
/// memtable holds a prefix of the log and should be discarded.
pub fn replay(fs: &dyn Fs, path: &Path, memtable: &Memtable) -> Result<ReplayReport> {
    read_log(fs, path, &mut |_offset, batch| {
        for entry in batch.entries() {
            memtable.insert(entry);
        }
    })
}
