//! Chapter 2 — the write-ahead log (WAL). A write is acknowledged only once
//! its record has been appended to the log; after a crash, replaying the log
//! rebuilds the memtable.
//!
//! You write: [`encode_record`], [`Wal::create`], [`Wal::append`],
//! [`Wal::sync`] and [`read_log`] (framing, decoding and the recovery
//! rules). Book: "2. The write-ahead log".
//!
//! The file is a sequence of records, one per [`WriteBatch`]:
//!
//! ```text
//!  0        4        8                                 8 + len
//!  +--------+--------+--------------------------------+
//!  |  len   |  crc   |  payload (len bytes)           |   record
//!  +--------+--------+--------------------------------+
//!  len: u32 LE, the payload's length
//!  crc: u32 LE, CRC-32 (crc32fast) of the 4 len bytes followed by the payload
//!
//!  payload:
//!  +-----------+-----------+------+------+-----
//!  | seq u64LE | count u32 | op 1 | op 2 | …      count ops
//!  +-----------+-----------+------+------+-----
//!  op:  tag u8 (1 = put, 0 = delete) | key_len u32 LE | key
//!       | value_len u32 LE | value          <- put only
//! ```
//!
//! Invariants: records are never rewritten, the log only grows; `append`
//! hands the whole record to the file in one call before it returns (no
//! user-space buffering); after any failed append or sync the writer is
//! poisoned and refuses further work.
//!
//! Recovery rules (promises P4/P5, book: the toolbox): a damaged record with no valid record
//! after it is a *torn tail* — dropped and reported in [`ReplayReport`]; a
//! damaged record followed by a valid one is [`Error::Corruption`](crate::Error::Corruption) naming
//! the file and the damaged record's offset — never a truncation, never a
//! skip.

use std::path::Path;

use crate::ch01_memtable::Memtable;
use crate::error::Result;
use crate::fs::{Fs, WritableFile};
use crate::types::{SeqNo, WriteBatch};

/// Bytes before a record's payload: `len` (4) and `crc` (4).
pub const RECORD_HEADER_LEN_BYTES: usize = 8;
/// Bytes before a payload's ops: `seq` (8) and `count` (4).
pub const BATCH_HEADER_LEN_BYTES: usize = 12;
/// The largest payload a record may carry. Larger batches are refused by
/// [`Wal::append`]; a larger `len` on disk is damage.
pub const RECORD_PAYLOAD_LEN_MAX_BYTES: usize = 64 << 20;
/// Op tag of a put.
pub const TAG_PUT: u8 = 1;
/// Op tag of a delete.
pub const TAG_DELETE: u8 = 0;

const _: () = assert!(RECORD_HEADER_LEN_BYTES == 4 + 4);
const _: () = assert!(BATCH_HEADER_LEN_BYTES == 8 + 4);

/// An open log, appended to by the engine.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn WritableFile>,
    // TODO(ch02): whatever else your writer needs (poisoning, a scratch buffer) — book §2.4, task 2
}

/// The outcome of reading a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Whole, valid records read.
    pub records: u64,
    /// Operations in those records.
    pub entries: u64,
    /// The sequence number of the last operation read, if any.
    pub last_seq: Option<SeqNo>,
    /// The damaged tail that was dropped, if any.
    pub torn_tail: Option<TornTail>,
}

/// A damaged end of log with no valid record after it: what a crash in the
/// middle of an append leaves. Recovery drops it and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Where the first damaged record starts.
    pub offset: u64,
    /// How many bytes, from `offset` to the end of the file, were dropped.
    pub len_bytes: u64,
    /// Why the record at `offset` was not valid.
    pub reason: String,
}

/// Appends the framed record of `batch` (header and payload, as drawn in
/// the module docs) to `out`.
///
/// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) if a key or value does not fit a
/// `u32` length or the payload exceeds [`RECORD_PAYLOAD_LEN_MAX_BYTES`].
pub fn encode_record(batch: &WriteBatch, out: &mut Vec<u8>) -> Result<()> {
    let _ = (batch, out);
    todo!("ch02: check the batch, then frame it: len, crc, payload — book §2.4, task 1")
}

impl Wal {
    /// Creates a new, empty log at `path` and makes its directory entry
    /// durable, so that records synced later survive a power loss.
    pub fn create(fs: &dyn Fs, path: &Path) -> Result<Wal> {
        let _ = (fs, path);
        todo!("ch02: create the file and sync its directory — book §2.4, task 2")
    }

    /// Appends the record of `batch`. When this returns `Ok`, the whole
    /// record has been handed to the file (promise P1); it is durable
    /// only after a [`sync`](Self::sync).
    ///
    /// After a failed append the log may end in a partial record, so the
    /// writer is poisoned: this and every later call return
    /// [`Error::Poisoned`](crate::Error::Poisoned).
    pub fn append(&mut self, batch: &WriteBatch) -> Result<()> {
        let _ = batch;
        todo!(
            "ch02: encode and append the record in one call; poison on failure — book §2.4, task 2"
        )
    }

    /// Makes every appended record durable (promise P2). A failed sync
    /// poisons the writer: it is never retried, because a retry can report
    /// success for data the OS has already dropped.
    pub fn sync(&mut self) -> Result<()> {
        todo!("ch02: sync the file; poison on failure — book §2.4, task 2")
    }

    /// The log's length in bytes so far.
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
/// - a damaged record (short header, `len` past the end of the file or over
///   [`RECORD_PAYLOAD_LEN_MAX_BYTES`], checksum mismatch) **with no valid
///   record anywhere after it** is a torn tail: reading stops, and the
///   report's `torn_tail` says where and why;
/// - a damaged record **followed by a valid one** is
///   [`Error::Corruption`](crate::Error::Corruption) with the file and the damaged record's offset;
/// - a record whose checksum matches but whose payload does not decode is
///   [`Error::Corruption`](crate::Error::Corruption) too (a torn write cannot produce it).
///
/// Trust boundary: every byte of the file is untrusted; no length is used
/// before it is checked against the bytes that are really there.
pub fn read_log(
    fs: &dyn Fs,
    path: &Path,
    visit: &mut dyn FnMut(u64, WriteBatch),
) -> Result<ReplayReport> {
    let _ = (fs, path, visit);
    todo!(
        "ch02: decode every record and apply the torn-tail and corruption rules — book §2.4, task 3"
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
