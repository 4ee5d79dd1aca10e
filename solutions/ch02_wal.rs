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
// BEGIN SOLUTION hide
use crate::error::Error;
use crate::fs::{parent_dir, read_all};
use crate::types::Op;
use bytes::Bytes;
// END SOLUTION

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

// BEGIN SOLUTION hide
/// The largest log [`read_log`] reads into memory.
const LOG_LEN_MAX_BYTES: u64 = 1 << 34;
// END SOLUTION

/// An open log, appended to by the engine.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn WritableFile>,
    // BEGIN SOLUTION hide: whatever else your writer needs (poisoning, a scratch buffer) — book §2.4, task 2
    /// Set after a failed append or sync: fail-stop (promise P6).
    poisoned: bool,
    /// Reused between appends so that a record costs no allocation.
    scratch: Vec<u8>,
    // END SOLUTION
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

// ANCHOR: ch02_encode
/// Appends the framed record of `batch` (header and payload, as drawn in
/// the module docs) to `out`.
///
/// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) if a key or value does not fit a
/// `u32` length or the payload exceeds [`RECORD_PAYLOAD_LEN_MAX_BYTES`].
pub fn encode_record(batch: &WriteBatch, out: &mut Vec<u8>) -> Result<()> {
    // BEGIN SOLUTION todo(batch, out): check the batch, then frame it: len, crc, payload — book §2.4, task 1
    // Check everything before writing anything, so a refused batch leaves
    // `out` as it was and costs no copy of its (possibly huge) values.
    if batch.seq_end().is_none() {
        return Err(Error::InvalidArgument(format!(
            "batch at seq {} with {} ops would reach SEQ_MAX",
            batch.seq,
            batch.ops.len()
        )));
    }
    let payload_len = payload_len(batch);
    if payload_len > RECORD_PAYLOAD_LEN_MAX_BYTES {
        return Err(Error::InvalidArgument(format!(
            "batch encodes to {payload_len} bytes, more than {RECORD_PAYLOAD_LEN_MAX_BYTES}"
        )));
    }
    // Every length below is at most the payload's, which fits in a u32.
    let len = (payload_len as u32).to_le_bytes();
    let start = out.len();
    out.reserve(RECORD_HEADER_LEN_BYTES + payload_len);
    out.extend_from_slice(&len);
    out.extend_from_slice(&[0; 4]); // the crc, filled in below
    out.extend_from_slice(&batch.seq.to_le_bytes());
    out.extend_from_slice(&(batch.ops.len() as u32).to_le_bytes());
    for op in &batch.ops {
        match op {
            Op::Put { key, value } => {
                out.push(TAG_PUT);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            Op::Delete { key } => {
                out.push(TAG_DELETE);
                put_bytes(out, key);
            }
        }
    }
    let crc = record_crc(len, &out[start + RECORD_HEADER_LEN_BYTES..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
    // END SOLUTION
}
// ANCHOR_END: ch02_encode

// BEGIN SOLUTION hide
/// The encoded size of a batch's payload, saturating so that an absurd
/// batch compares as too large instead of overflowing.
fn payload_len(batch: &WriteBatch) -> usize {
    batch.ops.iter().fold(BATCH_HEADER_LEN_BYTES, |len, op| {
        let op_len = match op {
            Op::Put { key, value } => 1 + 4 + key.len() + 4 + value.len(),
            Op::Delete { key } => 1 + 4 + key.len(),
        };
        len.saturating_add(op_len)
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The checksum covers the length too, so a damaged length is caught
/// before anything trusts it.
fn record_crc(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    hasher.finalize()
}
// END SOLUTION

impl Wal {
    /// Creates a new, empty log at `path` and makes its directory entry
    /// durable, so that records synced later survive a power loss.
    pub fn create(fs: &dyn Fs, path: &Path) -> Result<Wal> {
        // BEGIN SOLUTION todo(fs, path): create the file and sync its directory — book §2.4, task 2
        let file = fs.create(path)?;
        fs.sync_dir(&parent_dir(path))?;
        Ok(Wal {
            file,
            poisoned: false,
            scratch: Vec::new(),
        })
        // END SOLUTION
    }

    // ANCHOR: ch02_append
    /// Appends the record of `batch`. When this returns `Ok`, the whole
    /// record has been handed to the file (promise P1); it is durable
    /// only after a [`sync`](Self::sync).
    ///
    /// After a failed append the log may end in a partial record, so the
    /// writer is poisoned: this and every later call return
    /// [`Error::Poisoned`](crate::Error::Poisoned).
    pub fn append(&mut self, batch: &WriteBatch) -> Result<()> {
        // BEGIN SOLUTION todo(batch): encode and append the record in one call; poison on failure — book §2.4, task 2
        self.check_poisoned()?;
        self.scratch.clear();
        encode_record(batch, &mut self.scratch)?;
        let appended = self.file.append(&self.scratch);
        self.poisoned = appended.is_err();
        appended
        // END SOLUTION
    }
    // ANCHOR_END: ch02_append

    /// Makes every appended record durable (promise P2). A failed sync
    /// poisons the writer: it is never retried, because a retry can report
    /// success for data the OS has already dropped.
    pub fn sync(&mut self) -> Result<()> {
        // BEGIN SOLUTION todo(): sync the file; poison on failure — book §2.4, task 2
        self.check_poisoned()?;
        let synced = self.file.sync();
        self.poisoned = synced.is_err();
        synced
        // END SOLUTION
    }

    /// The log's length in bytes so far.
    pub fn len_bytes(&self) -> u64 {
        self.file.len()
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    // BEGIN SOLUTION hide
    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.file.path().to_path_buf(),
            });
        }
        Ok(())
    }
    // END SOLUTION
}

// ANCHOR: ch02_read_log
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
    // BEGIN SOLUTION todo(fs, path, visit): decode every record and apply the torn-tail and corruption rules — book §2.4, task 3
    let data = read_all(fs, path, LOG_LEN_MAX_BYTES)?;
    let mut report = ReplayReport::default();
    let mut offset = 0;
    while offset < data.len() {
        let frame = match frame_at(&data, offset) {
            Ok(frame) => frame,
            Err(reason) => return torn_or_corrupt(&data, path, offset, reason, report),
        };
        let batch = decode_batch(frame.payload)
            .map_err(|detail| Error::corruption(path, offset as u64, detail))?;
        report.records += 1;
        report.entries += batch.ops.len() as u64;
        report.last_seq = batch.last_seq().or(report.last_seq);
        visit(offset as u64, batch);
        offset = frame.end;
    }
    Ok(report)
    // END SOLUTION
}
// ANCHOR_END: ch02_read_log

// BEGIN SOLUTION hide
// ANCHOR: ch02_torn_or_corrupt
/// Decides what the damaged record at `offset` is: if any valid record
/// starts after it, the log is corrupt in the middle; otherwise the damage
/// is a torn tail.
///
/// Cost: one `frame_at` per later byte offset. Almost every candidate is
/// rejected in O(1) (an implausible or too-long length), so this is linear
/// in the tail; only a crafted file full of plausible lengths makes it
/// quadratic, and it always ends.
fn torn_or_corrupt(
    data: &[u8],
    path: &Path,
    offset: usize,
    reason: String,
    mut report: ReplayReport,
) -> Result<ReplayReport> {
    let first_valid_after = (offset + 1..data.len()).find(|&at| frame_at(data, at).is_ok());
    if let Some(valid_at) = first_valid_after {
        return Err(Error::corruption(
            path,
            offset as u64,
            format!("{reason}; a valid record follows at offset {valid_at}"),
        ));
    }
    report.torn_tail = Some(TornTail {
        offset: offset as u64,
        len_bytes: (data.len() - offset) as u64,
        reason,
    });
    Ok(report)
}
// ANCHOR_END: ch02_torn_or_corrupt

/// A record whose frame checked out.
struct Frame<'a> {
    payload: &'a [u8],
    /// Offset just past the record.
    end: usize,
}

// ANCHOR: ch02_frame_at
/// Checks the record frame starting at `offset`: the header fits, the
/// length is plausible and fits in the file, the checksum matches. Cheap
/// to reject garbage: most random lengths fail before any checksum is
/// computed.
fn frame_at(data: &[u8], offset: usize) -> Result<Frame<'_>, String> {
    let header = data
        .get(offset..offset + RECORD_HEADER_LEN_BYTES)
        .ok_or_else(|| format!("{} bytes left, a header needs 8", data.len() - offset))?;
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let stored_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if !(BATCH_HEADER_LEN_BYTES..=RECORD_PAYLOAD_LEN_MAX_BYTES).contains(&len) {
        return Err(format!("implausible payload length {len}"));
    }
    let start = offset + RECORD_HEADER_LEN_BYTES;
    let payload = data
        .get(start..start + len)
        .ok_or_else(|| format!("payload of {len} bytes runs past the end of the file"))?;
    let computed_crc = record_crc(len_bytes, payload);
    if computed_crc != stored_crc {
        return Err(format!(
            "checksum mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        ));
    }
    Ok(Frame {
        payload,
        end: start + len,
    })
}
// ANCHOR_END: ch02_frame_at

/// Decodes a payload whose checksum matched. Still checks every length:
/// a checksum proves the bytes are what a writer wrote, not that the
/// writer was correct.
fn decode_batch(payload: &[u8]) -> Result<WriteBatch, String> {
    let mut reader = Reader { bytes: payload };
    let seq = u64::from_le_bytes(reader.array("sequence number")?);
    let count = u32::from_le_bytes(reader.array("op count")?);
    // Each op takes at least 5 bytes, so `count` cannot make us allocate
    // more than the payload justifies.
    let mut batch = WriteBatch::new(seq);
    batch.ops.reserve((count as usize).min(payload.len() / 5));
    for index in 0..count {
        let [tag] = reader.array("op tag")?;
        let key = reader.bytes_with_len("key")?;
        let op = match tag {
            TAG_PUT => Op::Put {
                key,
                value: reader.bytes_with_len("value")?,
            },
            TAG_DELETE => Op::Delete { key },
            other => return Err(format!("op {index} has unknown tag {other}")),
        };
        batch.ops.push(op);
    }
    if !reader.bytes.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the last op",
            reader.bytes.len()
        ));
    }
    if batch.seq_end().is_none() {
        return Err(format!(
            "sequence numbers {seq} + {count} ops reach SEQ_MAX"
        ));
    }
    Ok(batch)
}

/// A cursor over untrusted bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, len: usize, what: &str) -> Result<&[u8], String> {
        if len > self.bytes.len() {
            return Err(format!(
                "{what} needs {len} bytes, {} left",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    fn bytes_with_len(&mut self, what: &str) -> Result<Bytes, String> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        Ok(Bytes::copy_from_slice(self.take(len, what)?))
    }
}
// END SOLUTION

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
