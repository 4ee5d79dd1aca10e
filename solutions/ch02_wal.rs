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
// BEGIN SOLUTION hide
use crate::error::Error;
use crate::fs::{parent_dir, read_all};
use crate::types::Op;
use bytes::Bytes;
// END SOLUTION

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

// BEGIN SOLUTION hide
/// The largest log [`read_log`] reads into memory.
const LOG_LEN_MAX_BYTES: u64 = 1 << 34;
// END SOLUTION

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
    // ANCHOR: ch02_header
    /// The header's 32 bytes, as drawn in the module docs.
    pub fn encode(&self) -> [u8; LOG_HEADER_LEN_BYTES] {
        // BEGIN SOLUTION todo(): lay out magic, salt, first_seq, version and the crc — book §2.4, task 1
        let mut out = [0; LOG_HEADER_LEN_BYTES];
        out[0..8].copy_from_slice(&LOG_MAGIC.to_le_bytes());
        out[8..16].copy_from_slice(&self.salt.to_le_bytes());
        out[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        out[24..28].copy_from_slice(&LOG_FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&out[..LOG_HEADER_CRC_OFFSET]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        out
        // END SOLUTION
    }

    /// Decodes and checks a header: magic, then checksum, then version.
    /// `Err` says what is wrong; the caller adds file and offset.
    pub fn decode(bytes: &[u8; LOG_HEADER_LEN_BYTES]) -> Result<LogHeader, String> {
        // BEGIN SOLUTION todo(bytes): check magic, crc and version, then read salt and first_seq — book §2.4, task 1
        let magic = u64::from_le_bytes(array(&bytes[0..8]));
        if magic != LOG_MAGIC {
            return Err(format!(
                "bad magic {magic:#018x}, expected {LOG_MAGIC:#018x}: not a log"
            ));
        }
        let stored_crc = u32::from_le_bytes(array(&bytes[28..32]));
        let computed_crc = crc32fast::hash(&bytes[..LOG_HEADER_CRC_OFFSET]);
        if stored_crc != computed_crc {
            return Err(format!(
                "log header checksum mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
            ));
        }
        let version = u32::from_le_bytes(array(&bytes[24..28]));
        if version != LOG_FORMAT_VERSION {
            return Err(format!(
                "log format version {version}, this reader knows {LOG_FORMAT_VERSION}"
            ));
        }
        Ok(LogHeader {
            salt: u64::from_le_bytes(array(&bytes[8..16])),
            first_seq: u64::from_le_bytes(array(&bytes[16..24])),
        })
        // END SOLUTION
    }
    // ANCHOR_END: ch02_header
}

/// An open log, appended to by the engine.
#[derive(Debug)]
pub struct Wal {
    file: Box<dyn WritableFile>,
    /// The sequence number the next record must start at.
    next_seq: SeqNo,
    // BEGIN SOLUTION hide: whatever else your writer needs (the salt, poisoning, a scratch buffer) — book §2.4, task 2
    /// The log's salt, mixed into every record's checksums.
    salt: u64,
    /// Set after a failed append or sync: fail-stop (promise P6).
    poisoned: bool,
    /// Reused between appends so that a record costs no allocation.
    scratch: Vec<u8>,
    // END SOLUTION
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

// ANCHOR: ch02_encode
/// Appends the framed record of `batch` (header and ops, as drawn in the
/// module docs) for a log with salt `salt` to `out`.
///
/// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument),
/// leaving `out` as it was, if the batch's sequence numbers would reach
/// [`SEQ_MAX`](crate::types::SEQ_MAX) (which is reserved for reads; see
/// [`WriteBatch::seq_end`]) or its ops exceed [`RECORD_PAYLOAD_LEN_MAX_BYTES`].
pub fn encode_record(batch: &WriteBatch, salt: u64, out: &mut Vec<u8>) -> Result<()> {
    // BEGIN SOLUTION todo(batch, salt, out): check the batch, then frame it: header, checksums, ops — book §2.4, task 1
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
            "batch encodes to {payload_len} bytes of ops, more than {RECORD_PAYLOAD_LEN_MAX_BYTES}"
        )));
    }
    // The payload fits in a u32, so do the op count and every length in it.
    let start = out.len();
    out.reserve(RECORD_HEADER_LEN_BYTES + payload_len);
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&(batch.ops.len() as u32).to_le_bytes());
    out.extend_from_slice(&batch.seq.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // h_crc and crc, filled in below
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
    let record = &mut out[start..];
    let (header_crc, crc) = record_crcs(salt, &record[..16], &record[RECORD_HEADER_LEN_BYTES..]);
    record[16..20].copy_from_slice(&header_crc.to_le_bytes());
    record[20..24].copy_from_slice(&crc.to_le_bytes());
    Ok(())
    // END SOLUTION
}
// ANCHOR_END: ch02_encode

// BEGIN SOLUTION hide
/// The encoded size of a batch's ops, saturating so that an absurd batch
/// compares as too large instead of overflowing.
fn payload_len(batch: &WriteBatch) -> usize {
    batch.ops.iter().fold(0, |len: usize, op| {
        let op_len = match op {
            Op::Put { key, value } => OP_LEN_MIN_BYTES + key.len() + 4 + value.len(),
            Op::Delete { key } => OP_LEN_MIN_BYTES + key.len(),
        };
        len.saturating_add(op_len)
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// `(h_crc, crc)` of a record: both start from the salt, so a record only
/// checks out in the log it was written for.
fn record_crcs(salt: u64, checked_header: &[u8], payload: &[u8]) -> (u32, u32) {
    let mut hasher = crc32fast::Hasher::new_with_initial(crc32fast::hash(&salt.to_le_bytes()));
    hasher.update(checked_header);
    let header_crc = hasher.clone().finalize();
    hasher.update(payload);
    (header_crc, hasher.finalize())
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}
// END SOLUTION

impl Wal {
    /// Creates a new log at `path` (the file must not exist), writes its
    /// header and makes both the header and the file's directory entry
    /// durable, so that records synced later survive a power loss and a
    /// damaged header can only mean damage, never a crash.
    pub fn create(fs: &dyn Fs, path: &Path, header: LogHeader) -> Result<Wal> {
        // BEGIN SOLUTION todo(fs, path, header): create the file, append and sync the header, sync its directory — book §2.4, task 2
        let mut file = fs.create(path)?;
        file.append(&header.encode())?;
        file.sync()?;
        fs.sync_dir(&parent_dir(path))?;
        Ok(Wal {
            file,
            salt: header.salt,
            next_seq: header.first_seq,
            poisoned: false,
            scratch: Vec::new(),
        })
        // END SOLUTION
    }

    // ANCHOR: ch02_append
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
        // BEGIN SOLUTION todo(batch): check the sequence, encode, append in one call; poison on failure — book §2.4, task 2
        self.check_poisoned()?;
        if batch.seq != self.next_seq {
            return Err(Error::InvalidArgument(format!(
                "batch starts at seq {}, but {} continues at seq {}",
                batch.seq,
                self.file.path().display(),
                self.next_seq
            )));
        }
        self.scratch.clear();
        encode_record(batch, self.salt, &mut self.scratch)?;
        let appended = self.file.append(&self.scratch);
        self.poisoned = appended.is_err();
        appended?;
        // `encode_record` refused batches without a `seq_end`.
        self.next_seq = batch.seq_end().unwrap_or(self.next_seq);
        Ok(())
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
    // BEGIN SOLUTION todo(fs, path, visit): check the header, decode every record, apply the torn-tail and corruption rules — book §2.4, task 3
    let data = read_all(fs, path, LOG_LEN_MAX_BYTES)?;
    let mut report = ReplayReport::default();
    let Some(header) = read_header(&data, path, &mut report)? else {
        return Ok(report);
    };
    let mut next_seq = header.first_seq;
    let mut offset = LOG_HEADER_LEN_BYTES;
    while offset < data.len() {
        let record = match record_at(&data, offset, header.salt) {
            Ok(record) => record,
            Err(damage) => {
                report.torn_tail = Some(torn_or_corrupt(
                    &data,
                    path,
                    offset,
                    damage,
                    header.salt,
                    next_seq,
                )?);
                break;
            }
        };
        let batch = decode_record(&record, next_seq)
            .map_err(|detail| Error::corruption(path, offset as u64, detail))?;
        report.records += 1;
        report.entries += batch.ops.len() as u64;
        report.last_seq = batch.last_seq().or(report.last_seq);
        next_seq = batch.seq_end().unwrap_or(next_seq);
        visit(offset as u64, batch);
        offset = record.end;
    }
    report.next_seq = Some(next_seq);
    Ok(report)
    // END SOLUTION
}
// ANCHOR_END: ch02_read_log

// BEGIN SOLUTION hide
/// Reads the log header into `report`. `Ok(None)`: the file ends inside
/// (or right after a damaged) header, which only a crash during
/// `Wal::create` leaves, reported as a torn tail.
fn read_header(data: &[u8], path: &Path, report: &mut ReplayReport) -> Result<Option<LogHeader>> {
    let decoded = match data.first_chunk::<LOG_HEADER_LEN_BYTES>() {
        Some(bytes) => LogHeader::decode(bytes),
        None => Err(format!(
            "{} bytes cannot hold the {LOG_HEADER_LEN_BYTES}-byte log header",
            data.len()
        )),
    };
    match decoded {
        Ok(header) => {
            report.header = Some(header);
            Ok(Some(header))
        }
        Err(reason) if data.len() <= LOG_HEADER_LEN_BYTES => {
            if !data.is_empty() {
                report.torn_tail = Some(TornTail {
                    offset: 0,
                    dropped_len_bytes: data.len() as u64,
                    reason,
                });
            }
            Ok(None)
        }
        Err(reason) => Err(Error::corruption(
            path,
            0,
            format!("{reason} (the header was synced before any record was written)"),
        )),
    }
}

// ANCHOR: ch02_torn_or_corrupt
/// Decides what the damaged record at `offset` is: if a valid record of
/// this log starts anywhere after it, the log is corrupt in the middle;
/// otherwise the damage is a torn tail.
///
/// "Valid" is checked cheapest first: the 24-byte header's own checksum
/// (salted: another log's records and a user's stored bytes fail it), then
/// that it continues the sequence (its `seq` is at least `next_seq`, the
/// sequence the damaged record would have started at; a copy of an earlier
/// record has a smaller one), and only then the checksum over its ops. So
/// nearly every offset costs O(1), and the scan is linear in the tail.
fn torn_or_corrupt(
    data: &[u8],
    path: &Path,
    offset: usize,
    damage: Damage,
    salt: u64,
    next_seq: SeqNo,
) -> Result<TornTail> {
    let is_valid_record = |at: usize| {
        record_header_at(data, at, salt).is_ok_and(|header| {
            header.seq >= next_seq && record_payload(data, at, &header, salt).is_ok()
        })
    };
    if let Some(valid_at) = (offset + 1..data.len()).find(|&at| is_valid_record(at)) {
        return Err(Error::corruption(
            path,
            offset as u64,
            format!("{damage}; a valid record of this log follows at offset {valid_at}"),
        ));
    }
    Ok(TornTail {
        offset: offset as u64,
        dropped_len_bytes: (data.len() - offset) as u64,
        reason: damage.to_string(),
    })
}
// ANCHOR_END: ch02_torn_or_corrupt

/// The fields of a record header whose own checksum checked out.
struct RecordHeader {
    payload_len: usize,
    count: u32,
    seq: SeqNo,
    crc: u32,
}

/// A record whose header and payload checksums checked out.
struct Record<'a> {
    count: u32,
    seq: SeqNo,
    payload: &'a [u8],
    /// Offset just past the record.
    end: usize,
}

/// Why a record is not valid. Cheap to make: the resync scan makes one
/// for nearly every byte of a torn tail and drops it, so the message is
/// only formatted (by `Display`) when it is reported.
#[derive(Clone, Copy, Debug)]
enum Damage {
    ShortHeader { left: usize },
    PayloadLen { payload_len: usize },
    Count { count: u32, payload_len: usize },
    PastEnd { payload_len: usize },
    HeaderCrc { stored: u32, computed: u32 },
    Crc { stored: u32, computed: u32 },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Damage::ShortHeader { left } => write!(
                f,
                "{left} bytes left, a record header needs {RECORD_HEADER_LEN_BYTES}"
            ),
            Damage::PayloadLen { payload_len } => {
                write!(f, "implausible payload length {payload_len}")
            }
            Damage::Count { count, payload_len } => {
                write!(f, "{count} ops cannot fit in {payload_len} bytes")
            }
            Damage::PastEnd { payload_len } => {
                write!(f, "ops of {payload_len} bytes run past the end of the file")
            }
            Damage::HeaderCrc { stored, computed } => write!(
                f,
                "record header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Damage::Crc { stored, computed } => write!(
                f,
                "record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        }
    }
}

// ANCHOR: ch02_record_at
/// Checks the record header at `offset` in O(1), cheapest test first: it
/// fits, its length and count are plausible and its ops fit in the file,
/// and its own (salted) checksum matches. Garbage, foreign records and
/// stored bytes fail here.
fn record_header_at(data: &[u8], offset: usize, salt: u64) -> Result<RecordHeader, Damage> {
    let rest = data.get(offset..).unwrap_or_default();
    let bytes = rest
        .first_chunk::<RECORD_HEADER_LEN_BYTES>()
        .ok_or(Damage::ShortHeader { left: rest.len() })?;
    let payload_len = u32::from_le_bytes(array(&bytes[0..4])) as usize;
    let count = u32::from_le_bytes(array(&bytes[4..8]));
    if payload_len > RECORD_PAYLOAD_LEN_MAX_BYTES {
        return Err(Damage::PayloadLen { payload_len });
    }
    if count as usize > payload_len / OP_LEN_MIN_BYTES {
        return Err(Damage::Count { count, payload_len });
    }
    if payload_len > rest.len() - RECORD_HEADER_LEN_BYTES {
        return Err(Damage::PastEnd { payload_len });
    }
    let stored = u32::from_le_bytes(array(&bytes[16..20]));
    let (computed, _) = record_crcs(salt, &bytes[..RECORD_HEADER_CHECKED_LEN_BYTES], &[]);
    if stored != computed {
        return Err(Damage::HeaderCrc { stored, computed });
    }
    Ok(RecordHeader {
        payload_len,
        count,
        seq: u64::from_le_bytes(array(&bytes[8..16])),
        crc: u32::from_le_bytes(array(&bytes[20..24])),
    })
}

/// Checks the ops of the record at `offset`, whose header checked out,
/// against the header's `crc`.
fn record_payload<'a>(
    data: &'a [u8],
    offset: usize,
    header: &RecordHeader,
    salt: u64,
) -> Result<&'a [u8], Damage> {
    let start = offset + RECORD_HEADER_LEN_BYTES;
    let past_end = Damage::PastEnd {
        payload_len: header.payload_len,
    };
    let checked = data
        .get(offset..offset + RECORD_HEADER_CHECKED_LEN_BYTES)
        .ok_or(past_end)?;
    let payload = data
        .get(start..start + header.payload_len)
        .ok_or(past_end)?;
    let (_, computed) = record_crcs(salt, checked, payload);
    if computed != header.crc {
        return Err(Damage::Crc {
            stored: header.crc,
            computed,
        });
    }
    Ok(payload)
}
// ANCHOR_END: ch02_record_at

/// The record at `offset`, header and payload checked.
fn record_at(data: &[u8], offset: usize, salt: u64) -> Result<Record<'_>, Damage> {
    let header = record_header_at(data, offset, salt)?;
    let payload = record_payload(data, offset, &header, salt)?;
    Ok(Record {
        count: header.count,
        seq: header.seq,
        payload,
        end: offset + RECORD_HEADER_LEN_BYTES + payload.len(),
    })
}

/// Decodes a record whose checksums matched. Still checks the sequence
/// and every length: a checksum proves the bytes are what a writer wrote,
/// not that the writer was correct or that this is the right place.
fn decode_record(record: &Record<'_>, next_seq: SeqNo) -> Result<WriteBatch, String> {
    if record.seq != next_seq {
        return Err(format!(
            "record starts at seq {}, the log continues at seq {next_seq}: a record is missing, \
             duplicated or out of place",
            record.seq
        ));
    }
    let mut reader = Reader {
        bytes: record.payload,
    };
    // No reservation from `count`: it is checked against the bytes, but an
    // op in memory is far larger than its 5 smallest bytes on disk.
    let mut batch = WriteBatch::new(record.seq);
    for index in 0..record.count {
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
            "sequence numbers {} + {} ops reach SEQ_MAX",
            record.seq, record.count
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
        Ok(array(self.take(N, what)?))
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
