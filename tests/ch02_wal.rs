//! Graded tests for chapter 2 — the write-ahead log. Book: "2. The
//! write-ahead log". Run: `cargo test --test ch02_wal`.
//!
//! Every test runs on the simulated file system (`SimFs`), so it can read
//! the exact bytes written, damage them, and build crash images.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch01_memtable::Memtable;
use lsm_workbook::ch02_wal::{
    LOG_HEADER_LEN_BYTES, LogHeader, RECORD_HEADER_LEN_BYTES, RECORD_PAYLOAD_LEN_MAX_BYTES,
    ReplayReport, Wal, encode_record, read_log, replay,
};
use lsm_workbook::fs::sim::CrashPoint;
use lsm_workbook::fs::{CrashMode, Fault, Fs, OpKind, SimFs};
use lsm_workbook::types::{Entry, WriteBatch};
use proptest::prelude::*;
use support::alloc::{AllocStats, measure};
use support::{b, hexdump, show};

const LOG: &str = "db/000001.log";
/// The header every test log is created with.
const HEADER: LogHeader = LogHeader {
    salt: 0x5a17_0000_c0de_0001,
    first_seq: 1,
};
const SALT: u64 = HEADER.salt;
const HEADER_LEN: usize = LOG_HEADER_LEN_BYTES;

fn log() -> &'static Path {
    Path::new(LOG)
}

/// A small, varied history: single puts, a multi-op batch with a delete,
/// an empty value, a binary key and a value longer than a sector.
fn sample_batches() -> Vec<WriteBatch> {
    vec![
        WriteBatch::new(1).put("apple", "red"),
        WriteBatch::new(2)
            .put("banana", "yellow")
            .delete("apple")
            .put("cherry", ""),
        WriteBatch::new(5).put(Bytes::from_static(b"\x00\xffkey"), "binary"),
        WriteBatch::new(6).put("long", "x".repeat(700)),
        WriteBatch::new(7).delete("banana"),
    ]
}

fn new_fs() -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db")).unwrap();
    fs
}

/// Writes `batches` to a new log; syncs at the end if `sync`.
fn write_log(fs: &SimFs, batches: &[WriteBatch], sync: bool) -> Wal {
    let mut wal = Wal::create(fs, log(), HEADER).unwrap();
    for batch in batches {
        wal.append(batch).unwrap();
    }
    if sync {
        wal.sync().unwrap();
    }
    wal
}

/// A file system holding exactly `bytes` at the log's path.
fn fs_with_log_bytes(bytes: &[u8]) -> SimFs {
    let fs = new_fs();
    let mut file = fs.create(log()).unwrap();
    file.append(bytes).unwrap();
    fs
}

/// Reads the log, collecting the batches.
fn read_batches(fs: &SimFs) -> lsm_workbook::Result<(Vec<WriteBatch>, ReplayReport)> {
    let mut batches = Vec::new();
    let report = read_log(fs, log(), &mut |_offset, batch| batches.push(batch))?;
    Ok((batches, report))
}

/// The encoded records of `batches` for a log with `salt`, one by one.
fn records(batches: &[WriteBatch], salt: u64) -> Vec<Vec<u8>> {
    batches
        .iter()
        .map(|batch| {
            let mut record = Vec::new();
            encode_record(batch, salt, &mut record).unwrap();
            record
        })
        .collect()
}

/// The offsets where each record ends in the log file, header included.
fn record_ends(batches: &[WriteBatch]) -> Vec<usize> {
    let mut end = HEADER_LEN;
    records(batches, SALT)
        .iter()
        .map(|record| {
            end += record.len();
            end
        })
        .collect()
}

/// The bytes of a log holding `batches`, as `Wal` writes it.
fn log_bytes(batches: &[WriteBatch]) -> Vec<u8> {
    let fs = new_fs();
    write_log(&fs, batches, false);
    fs.file_bytes(LOG)
        .expect("Wal::create must create the log file")
}

/// The log file made of the header and these records, in this order.
fn log_of(header: LogHeader, records: &[&[u8]]) -> Vec<u8> {
    let mut bytes = header.encode().to_vec();
    for record in records {
        bytes.extend_from_slice(record);
    }
    bytes
}

/// A record with correct checksums (as the book draws them) around any
/// header fields and ops, so a test can build records that are intact but
/// impossible, and only the decoder can refuse them.
fn sealed_record(salt: u64, payload_len: u32, count: u32, seq: u64, ops: &[u8]) -> Vec<u8> {
    let mut record = Vec::new();
    record.extend_from_slice(&payload_len.to_le_bytes());
    record.extend_from_slice(&count.to_le_bytes());
    record.extend_from_slice(&seq.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(&record);
    let header_crc = hasher.clone().finalize();
    hasher.update(ops);
    record.extend_from_slice(&header_crc.to_le_bytes());
    record.extend_from_slice(&hasher.finalize().to_le_bytes());
    record.extend_from_slice(ops);
    record
}

/// Short description of a result for messages: never a whole log's worth
/// of batches.
fn outcome(result: &lsm_workbook::Result<(Vec<WriteBatch>, ReplayReport)>) -> String {
    match result {
        Ok((batches, report)) => format!(
            "Ok: {} batches with seqs {:?}, torn tail {:?}",
            batches.len(),
            batches.iter().map(|b| b.seq).take(10).collect::<Vec<_>>(),
            report
                .torn_tail
                .as_ref()
                .map(|t| (t.offset, t.dropped_len_bytes))
        ),
        Err(error) => format!("Err({error})"),
    }
}

/// Fails unless `result` is `Corruption` in the log at `offset`.
#[track_caller]
fn assert_corruption_at(
    result: &lsm_workbook::Result<(Vec<WriteBatch>, ReplayReport)>,
    offset: usize,
    what: &str,
) {
    assert!(
        matches!(result, Err(Error::Corruption { file, offset: at, .. }) if file == log() && *at == offset as u64),
        "{what}: expected Corruption in {LOG} at offset {offset}, got {}",
        outcome(result)
    );
}

#[test]
fn log_header_is_magic_salt_first_seq_version_and_crc() {
    let header = LogHeader {
        salt: 0x0102_0304_0506_0708,
        first_seq: 42,
    };
    let bytes = header.encode();
    assert_eq!(&bytes[0..8], b"LSMWBLOG", "the magic comes first");
    assert_eq!(
        &bytes[8..16],
        &0x0102_0304_0506_0708u64.to_le_bytes(),
        "then the salt (u64 LE)"
    );
    assert_eq!(
        &bytes[16..24],
        &42u64.to_le_bytes(),
        "then first_seq (u64 LE)"
    );
    assert_eq!(
        &bytes[24..28],
        &1u32.to_le_bytes(),
        "then the version, 1 (u32 LE)"
    );
    let crc = crc32fast::hash(&bytes[..28]);
    assert_eq!(
        &bytes[28..32],
        &crc.to_le_bytes(),
        "the crc (u32 LE) is CRC-32 of bytes [0, 28)"
    );
    assert_eq!(
        LogHeader::decode(&bytes),
        Ok(header),
        "decode(encode(h)) == h"
    );
    for bit in 0..LOG_HEADER_LEN_BYTES * 8 {
        let mut damaged = bytes;
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            LogHeader::decode(&damaged).is_err(),
            "a header with bit {bit} flipped must not decode: check the magic, the crc and the version"
        );
    }
}

#[test]
fn replay_of_empty_log_recovers_nothing() {
    let fs = new_fs();
    write_log(&fs, &[], true);
    let (batches, report) = read_batches(&fs).unwrap();
    assert!(batches.is_empty(), "an empty log holds no batch");
    assert_eq!(
        report,
        ReplayReport {
            header: Some(HEADER),
            next_seq: Some(HEADER.first_seq),
            ..ReplayReport::default()
        },
        "an empty log has its header, no records, no torn tail, and continues at first_seq"
    );
}

#[test]
fn read_log_returns_every_batch_in_order() {
    let fs = new_fs();
    let written = sample_batches();
    write_log(&fs, &written, true);
    let (read, report) = read_batches(&fs).unwrap();
    assert_eq!(
        read, written,
        "read_log must yield exactly the appended batches, in order"
    );
    assert_eq!(
        report.torn_tail, None,
        "a cleanly written log has no torn tail"
    );
}

#[test]
fn replay_report_counts_records_entries_and_last_seq() {
    let fs = new_fs();
    write_log(&fs, &sample_batches(), false);
    let memtable = Memtable::new();
    let report = replay(&fs, log(), &memtable).unwrap();
    assert_eq!(report.records, 5, "five records were appended");
    assert_eq!(report.entries, 7, "they hold seven operations");
    assert_eq!(
        report.last_seq,
        Some(7),
        "the last operation had sequence number 7"
    );
    assert_eq!(
        report.next_seq,
        Some(8),
        "a record appended next would start at seq 8"
    );
    assert_eq!(report.header, Some(HEADER), "the report carries the header");
}

#[test]
fn replay_inserts_every_operation_with_its_sequence_number() {
    let fs = new_fs();
    let written = sample_batches();
    write_log(&fs, &written, true);
    let memtable = Memtable::new();
    replay(&fs, log(), &memtable).unwrap();
    let mut expected: Vec<Entry> = written.iter().flat_map(WriteBatch::entries).collect();
    expected.sort_by(|x, y| x.key.cmp(&y.key).then(y.seq.cmp(&x.seq)));
    let got: Vec<Entry> = memtable.iter().collect();
    assert_eq!(
        show(&got),
        show(&expected),
        "batch operation i gets sequence number batch.seq + i"
    );
}

#[test]
fn append_hands_the_whole_record_to_the_file_before_returning() {
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    let mut expected_len = HEADER_LEN;
    let appends_before = fs.trace().len();
    for (batch, record) in sample_batches()
        .iter()
        .zip(records(&sample_batches(), SALT))
    {
        wal.append(batch).unwrap();
        expected_len += record.len();
        let len = fs.file_bytes(LOG).map_or(0, |bytes| bytes.len());
        assert_eq!(
            len, expected_len,
            "after append returns, the record must already be in the file (no user-space buffer): \
             the file has {len} bytes, header and records make {expected_len}"
        );
    }
    assert_eq!(
        wal.len_bytes(),
        expected_len as u64,
        "len_bytes counts header and records"
    );
    let appends = fs.trace()[appends_before..]
        .iter()
        .filter(|op| op.kind == OpKind::Append)
        .count();
    assert_eq!(
        appends, 5,
        "one append call per record, so a record is never split by a crash between calls"
    );
}

#[test]
fn record_header_holds_lengths_seq_and_salted_checksums() {
    let batch = WriteBatch::new(0x0102_0304_0506_0708).put("k", "value");
    let mut record = Vec::new();
    encode_record(&batch, SALT, &mut record).unwrap();
    assert!(
        record.len() >= RECORD_HEADER_LEN_BYTES,
        "a record starts with a 24-byte header; got {} bytes",
        record.len()
    );
    let field = |range: std::ops::Range<usize>| record[range].to_vec();
    let payload_len = u32::from_le_bytes(record[0..4].try_into().unwrap()) as usize;
    assert_eq!(
        payload_len,
        record.len() - RECORD_HEADER_LEN_BYTES,
        "p_len (u32 LE at offset 0) counts the bytes of ops after the header"
    );
    assert_eq!(
        field(4..8),
        1u32.to_le_bytes(),
        "count (u32 LE at offset 4): one op"
    );
    assert_eq!(
        field(8..16),
        0x0102_0304_0506_0708u64.to_le_bytes(),
        "seq (u64 LE at offset 8)"
    );
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&SALT.to_le_bytes());
    hasher.update(&record[0..16]);
    let header_crc = hasher.clone().finalize();
    hasher.update(&record[24..]);
    let crc = hasher.finalize();
    assert_eq!(
        field(16..20),
        header_crc.to_le_bytes(),
        "h_crc (u32 LE at offset 16) is CRC-32 of the salt (u64 LE) and header bytes [0, 16)"
    );
    assert_eq!(
        field(20..24),
        crc.to_le_bytes(),
        "crc (u32 LE at offset 20) is CRC-32 of the salt, header bytes [0, 16) and the ops"
    );
    assert_eq!(record[24], 1, "then each op: tag 1 = put");
    assert_eq!(field(25..29), 1u32.to_le_bytes(), "key_len (u32 LE)");
    assert_eq!(field(29..30), b"k");
    assert_eq!(field(30..34), 5u32.to_le_bytes(), "value_len (u32 LE)");
    assert_eq!(field(34..record.len()), b"value");
    let mut other_salt = Vec::new();
    encode_record(&batch, SALT ^ 1, &mut other_salt).unwrap();
    assert_ne!(
        other_salt[16..24],
        record[16..24],
        "the checksums must depend on the salt"
    );
}

#[test]
fn log_layout_matches_snapshot() {
    let mut bytes = HEADER.encode().to_vec();
    encode_record(&WriteBatch::new(1).put("k", "v1"), SALT, &mut bytes).unwrap();
    encode_record(&WriteBatch::new(2).delete("k"), SALT, &mut bytes).unwrap();
    insta::assert_snapshot!("wal_two_records", hexdump(&bytes));
}

// Cut a multi-record log at every byte length; each cut must recover
// exactly the records that lie wholly before it, and report a torn tail
// exactly when the cut falls inside the header or a record.
#[test]
fn truncation_at_every_byte_recovers_exactly_the_whole_records() {
    let written = sample_batches();
    let full = log_bytes(&written);
    let ends = record_ends(&written);
    for cut in 0..=full.len() {
        let fs = fs_with_log_bytes(&full[..cut]);
        let (read, report) = read_batches(&fs)
            .unwrap_or_else(|e| panic!("a log cut at byte {cut} must open (torn tail), got {e}"));
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(
            read,
            written[..whole],
            "cut at byte {cut}: expected the first {whole} records"
        );
        if cut < HEADER_LEN {
            assert_eq!(
                report.header, None,
                "cut at {cut}: inside the header, there is none"
            );
            let torn = report
                .torn_tail
                .as_ref()
                .map(|t| (t.offset, t.dropped_len_bytes));
            let expected = (cut > 0).then_some((0, cut as u64));
            assert_eq!(
                torn, expected,
                "cut at {cut}: the partial header is a torn tail at offset 0 (none for an empty file)"
            );
            continue;
        }
        let last_end = if whole == 0 {
            HEADER_LEN
        } else {
            ends[whole - 1]
        };
        match (&report.torn_tail, cut == last_end) {
            (None, true) => {}
            (Some(torn), false) => {
                assert_eq!(
                    torn.offset, last_end as u64,
                    "cut at {cut}: the torn tail starts where the last whole record ends"
                );
                assert_eq!(
                    torn.dropped_len_bytes,
                    (cut - last_end) as u64,
                    "cut at {cut}: torn tail length"
                );
            }
            (torn, _) => panic!(
                "cut at byte {cut}: torn_tail was {torn:?}, but the cut is {} a record boundary",
                if cut == last_end { "on" } else { "not on" }
            ),
        }
    }
}

#[test]
fn zero_filled_tail_is_dropped_and_reported() {
    let fs = new_fs();
    let written = sample_batches();
    write_log(&fs, &written, true);
    let len = fs.file_bytes(LOG).unwrap().len() as u64;
    fs.append_garbage(LOG, &[0; 4096]).unwrap();
    let (read, report) =
        read_batches(&fs).expect("zeros after the last record are a torn tail, not an error");
    assert_eq!(read, written);
    let torn = report
        .torn_tail
        .expect("the dropped zeros must be reported");
    assert_eq!(
        (torn.offset, torn.dropped_len_bytes),
        (len, 4096),
        "the torn tail is exactly the 4096 zeros after the last record"
    );
}

#[test]
fn garbage_tail_is_dropped_and_reported() {
    let fs = new_fs();
    let written = sample_batches();
    write_log(&fs, &written, true);
    let len = fs.file_bytes(LOG).unwrap().len() as u64;
    let garbage: Vec<u8> = (0u32..777)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs.append_garbage(LOG, &garbage).unwrap();
    let (read, report) =
        read_batches(&fs).expect("garbage after the last record is a torn tail, not an error");
    assert_eq!(read, written);
    let torn = report
        .torn_tail
        .expect("the dropped garbage must be reported");
    assert_eq!(
        (torn.offset, torn.dropped_len_bytes),
        (len, 777),
        "the torn tail is exactly the 777 garbage bytes"
    );
}

// Flip every bit of a small log, one at a time. A flip in the header is
// Corruption at offset 0 (the header was synced before any record); a flip
// in the last record is a torn tail (that record dropped, reported); a flip
// in any earlier record is Corruption naming the file and that record's
// offset.
#[test]
fn every_single_bit_flip_is_detected() {
    let written = vec![
        WriteBatch::new(1).put("a", "1"),
        WriteBatch::new(2).put("b", "22").delete("a"),
        WriteBatch::new(4).put("c", "333"),
    ];
    let full = log_bytes(&written);
    let ends = record_ends(&written);
    for bit in 0..full.len() as u64 * 8 {
        let fs = fs_with_log_bytes(&full);
        fs.flip_bit(LOG, bit).unwrap();
        let byte = (bit / 8) as usize;
        let result = read_batches(&fs);
        if byte < HEADER_LEN {
            assert_corruption_at(&result, 0, &format!("bit {bit} in the log header"));
            continue;
        }
        let record = ends.iter().position(|&end| byte < end).unwrap();
        let start = if record == 0 {
            HEADER_LEN
        } else {
            ends[record - 1]
        };
        if record + 1 < written.len() {
            assert_corruption_at(
                &result,
                start,
                &format!(
                    "bit {bit} (record {record} of {}): a damaged record followed by a valid one",
                    written.len()
                ),
            );
        } else {
            let (read, report) = result
                .unwrap_or_else(|e| panic!("bit {bit} in the last record is a torn tail, got {e}"));
            assert_eq!(
                read,
                written[..record],
                "bit {bit}: only the damaged last record is dropped"
            );
            let torn = report
                .torn_tail
                .unwrap_or_else(|| panic!("bit {bit}: the dropped record must be reported"));
            assert_eq!(
                torn.offset, start as u64,
                "bit {bit}: the torn tail starts at the record"
            );
        }
    }
}

#[test]
fn damaged_record_in_the_middle_is_corruption_not_a_skip() {
    let written = sample_batches();
    let mut bytes = log_bytes(&written);
    let ends = record_ends(&written);
    let second = ends[0];
    bytes[second + RECORD_HEADER_LEN_BYTES + 2] ^= 0x55; // inside record 2's ops
    let result = read_batches(&fs_with_log_bytes(&bytes));
    assert_corruption_at(&result, second, "damaged ops in record 2 of 5");
}

#[test]
fn huge_length_field_is_never_trusted() {
    let written = sample_batches();
    let ends = record_ends(&written);
    let encoded = records(&written, SALT);
    // The length says 4 GiB and the header checksum agrees: only the range
    // check can refuse it, without allocating or reading 4 GiB. A valid
    // record follows, so this is corruption.
    let huge = sealed_record(SALT, u32::MAX, 1, 2, &encoded[1][RECORD_HEADER_LEN_BYTES..]);
    let refs: Vec<&[u8]> = vec![&encoded[0], &huge, &encoded[2]];
    let result = read_batches(&fs_with_log_bytes(&log_of(HEADER, &refs)));
    assert_corruption_at(
        &result,
        ends[0],
        "a record whose p_len says 4 GiB, before a valid one",
    );
    // At the end: the same damage in the last record is a torn tail.
    let refs: Vec<&[u8]> = vec![&encoded[0], &huge];
    let result = read_batches(&fs_with_log_bytes(&log_of(HEADER, &refs)));
    let (read, report) = result.expect("an implausible last record is a torn tail");
    assert_eq!(
        read,
        written[..1],
        "only the record before the damage is read"
    );
    assert_eq!(
        report.torn_tail.map(|torn| torn.offset),
        Some(ends[0] as u64),
        "the torn tail starts at the record with the huge length"
    );
}

// A record whose checksums hold but whose p_len is one byte over the
// maximum, with all its bytes present: the writer never makes one, so the
// reader must not return it (only the range check can tell).
#[test]
fn a_record_longer_than_the_maximum_is_never_returned() {
    let len = RECORD_PAYLOAD_LEN_MAX_BYTES + 1;
    let mut ops = vec![1u8];
    ops.extend_from_slice(&1u32.to_le_bytes());
    ops.push(b'k');
    ops.extend_from_slice(&((len - ops.len() - 4) as u32).to_le_bytes());
    ops.resize(len, b'v');
    let record = sealed_record(SALT, len as u32, 1, 1, &ops);
    let result = read_batches(&fs_with_log_bytes(&log_of(HEADER, &[&record])));
    if let Ok((read, _)) = &result {
        assert!(
            read.is_empty(),
            "a record with p_len {len} > RECORD_PAYLOAD_LEN_MAX_BYTES was returned: check p_len's \
             range before trusting it"
        );
    }
}

// The largest record the writer accepts is read back: `>` and `>=` differ.
#[test]
fn payload_of_exactly_the_maximum_length_round_trips() {
    let value_len = RECORD_PAYLOAD_LEN_MAX_BYTES - (1 + 4 + 1 + 4);
    let batch = WriteBatch::new(1).put("k", vec![7u8; value_len]);
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    let appended = wal.append(&batch);
    assert!(
        appended.is_ok(),
        "ops of exactly RECORD_PAYLOAD_LEN_MAX_BYTES are allowed; only larger ones are refused, got {:?}",
        appended.err()
    );
    let (read, report) = read_batches(&fs).expect("the largest record must read back");
    assert_eq!(
        report.records, 1,
        "the largest record must be read, not dropped"
    );
    assert!(
        read.first() == Some(&batch),
        "the largest record must come back unchanged"
    );
    let too_big = WriteBatch::new(2).put("k", vec![7u8; value_len + 1]);
    let refused = wal.append(&too_big);
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "one byte more than RECORD_PAYLOAD_LEN_MAX_BYTES must be refused, got {:?}",
        refused.map(|()| "Ok")
    );
}

#[test]
fn process_kill_image_keeps_every_acknowledged_record() {
    let fs = new_fs();
    let written = sample_batches();
    let _wal = write_log(&fs, &written, false);
    let image = fs.crash(CrashMode::ProcessKill);
    let (read, _) =
        read_batches(&image).expect("a process kill must never prevent reading the log");
    assert_eq!(
        read, written,
        "appended (acknowledged) records survive a process kill even without sync"
    );
}

#[test]
fn power_loss_image_keeps_exactly_the_synced_records() {
    let fs = new_fs();
    let written = sample_batches();
    let mut wal = write_log(&fs, &written[..3], true);
    for batch in &written[3..] {
        wal.append(batch).unwrap();
    }
    let (read, report) = read_batches(&fs.crash(CrashMode::PowerLoss)).unwrap_or_else(|e| {
        panic!(
            "after a power loss the synced log must read back, got {e}; if the log file is not \
             found, its directory entry was never made durable: Wal::create must sync_dir"
        )
    });
    assert_eq!(
        read,
        written[..3],
        "the three synced records survive power loss; the unsynced ones vanish"
    );
    assert_eq!(
        report.torn_tail, None,
        "exactly the synced bytes survive: nothing torn"
    );
    for seed in 0..40 {
        for mode in [
            CrashMode::PowerLossRandom { seed },
            CrashMode::Torn { seed },
        ] {
            let (read, _) = read_batches(&fs.crash(mode)).unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert!(
                read.len() >= 3 && written.starts_with(&read),
                "{mode}: recovered {} records, expected a prefix of at least the 3 synced",
                read.len()
            );
        }
    }
}

#[test]
fn create_syncs_the_directory_so_a_synced_log_survives_power_loss() {
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    wal.append(&WriteBatch::new(1).put("k", "v")).unwrap();
    wal.sync().unwrap();
    let image = fs.crash(CrashMode::PowerLoss);
    let result = read_batches(&image);
    let dir_syncs = fs
        .trace()
        .iter()
        .filter(|op| op.kind == OpKind::SyncDir)
        .count();
    assert!(
        result.is_ok(),
        "after a power loss the log file itself must still exist: a new file's directory entry is \
         durable only after sync_dir on its directory ({dir_syncs} sync_dir calls were made); \
         got {}",
        outcome(&result)
    );
    let read = result.map(|(read, _)| read.len()).unwrap_or(0);
    assert_eq!(
        read,
        1,
        "the synced record must survive power loss; if the file is there but empty, does \
         Wal::sync really call sync on the file?\n{}",
        fs.trace_string()
    );
}

// A file that is exactly one damaged header and nothing else can only be
// a crash inside Wal::create (the header was not synced yet): a torn tail,
// an empty log. With anything after it, it is corruption.
#[test]
fn a_damaged_header_alone_is_a_torn_create_not_corruption() {
    let mut header = HEADER.encode();
    header[20] ^= 0x04;
    let (read, report) = read_batches(&fs_with_log_bytes(&header)).unwrap_or_else(|e| {
        panic!("a file of exactly one damaged 32-byte header is a crash during create, got {e}")
    });
    assert!(read.is_empty(), "it holds no records");
    assert_eq!(report.header, None, "and no valid header");
    assert_eq!(
        report.torn_tail.map(|t| (t.offset, t.dropped_len_bytes)),
        Some((0, HEADER_LEN as u64)),
        "the 32 bytes are reported as a torn tail at offset 0"
    );
    let mut longer = header.to_vec();
    longer.push(0);
    let result = read_batches(&fs_with_log_bytes(&longer));
    assert_corruption_at(&result, 0, "a damaged header with a byte after it");
}

#[test]
fn create_makes_the_header_durable_before_returning() {
    let fs = new_fs();
    let _wal = Wal::create(&fs, log(), HEADER).unwrap();
    let image = fs.crash(CrashMode::PowerLoss);
    let durable = image.file_bytes(LOG).map_or(0, |bytes| bytes.len());
    assert_eq!(
        durable, HEADER_LEN,
        "right after Wal::create, the header must survive a power loss: append it, sync the file \
         and sync the directory before returning (so a damaged header can only ever be damage)"
    );
    let (_, report) = read_batches(&image).unwrap();
    assert_eq!(report.header, Some(HEADER), "the durable header reads back");
}

/// Runs the workload on a fresh file system (creating `db`, then the log,
/// then appending and syncing after every second batch), stopping at the
/// first error; returns (records acknowledged, records synced).
fn crash_workload(fs: &SimFs, batches: &[WriteBatch]) -> (usize, usize) {
    let (mut acked, mut synced) = (0, 0);
    if fs.create_dir_all(Path::new("db")).is_err() {
        return (0, 0);
    }
    let Ok(mut wal) = Wal::create(fs, log(), HEADER) else {
        return (0, 0);
    };
    for (index, batch) in batches.iter().enumerate() {
        if wal.append(batch).is_err() {
            break;
        }
        acked += 1;
        if index % 2 == 1 {
            if wal.sync().is_err() {
                break;
            }
            synced = acked;
        }
    }
    (acked, synced)
}

// The crash oracle (book: the toolbox): crash after every operation of a
// workload, in every crash mode; the recovered log must be a prefix of the
// acknowledged records that contains every synced one (all acknowledged
// ones for a process kill), and reading it must never fail. Operation
// numbers are those of the trace printed on failure.
#[test]
fn crash_at_every_operation_recovers_a_prefix_with_every_synced_record() {
    let written = sample_batches();
    let dry_run = SimFs::new();
    crash_workload(&dry_run, &written);
    for point in CrashPoint::sweep(dry_run.op_count(), 0x5eed) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let (acked, synced) = crash_workload(&fs, &written);
        let image = fs.crash(point.mode);
        let read = if image.exists(log()).unwrap() {
            read_batches(&image)
                .unwrap_or_else(|e| {
                    panic!(
                        "{point}: reading the log failed: {e}\ntrace:\n{}",
                        fs.trace_string()
                    )
                })
                .0
        } else {
            Vec::new()
        };
        let low = if point.mode == CrashMode::ProcessKill {
            acked
        } else {
            synced
        };
        assert!(
            read.len() >= low && read.len() <= acked && written.starts_with(&read),
            "{point}: recovered {} records; acknowledged {acked}, synced {synced}\ntrace of the crashed run:\n{}",
            read.len(),
            fs.trace_string()
        );
    }
}

#[test]
fn failed_sync_poisons_the_log_and_is_never_retried() {
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    wal.append(&WriteBatch::new(1).put("k", "v")).unwrap();
    let ops_before = fs.trace().len();
    fs.inject(Fault::nth(OpKind::Sync, 1).forgetting());
    let failed = wal.sync();
    assert!(
        matches!(failed, Err(Error::Io { .. })),
        "the injected sync failure must be returned, got {failed:?}; if you retried the sync \
         and the retry succeeded: never retry a failed sync, a retry can report success for lost data"
    );
    let append = wal.append(&WriteBatch::new(2).put("k", "w"));
    assert!(
        matches!(append, Err(Error::Poisoned { .. })),
        "after a failed sync, append must refuse with Poisoned, got {append:?}"
    );
    let sync = wal.sync();
    assert!(
        matches!(sync, Err(Error::Poisoned { .. })),
        "after a failed sync, sync must refuse with Poisoned, got {sync:?}"
    );
    let syncs = fs.trace()[ops_before..]
        .iter()
        .filter(|op| op.kind == OpKind::Sync)
        .count();
    assert_eq!(
        syncs,
        1,
        "a failed fsync must never be retried:\n{}",
        fs.trace_string()
    );
}

#[test]
fn failed_append_poisons_the_log() {
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    wal.append(&WriteBatch::new(1).put("a", "1")).unwrap();
    fs.inject(Fault::nth(OpKind::Append, 1));
    let failed = wal.append(&WriteBatch::new(2).put("b", "2"));
    assert!(
        matches!(failed, Err(Error::Io { .. })),
        "the injected append failure must be returned as Error::Io, got {failed:?}"
    );
    let len = fs.file_bytes(LOG).unwrap().len();
    let again = wal.append(&WriteBatch::new(2).put("b", "2"));
    assert!(
        matches!(again, Err(Error::Poisoned { .. })),
        "after a failed append the log may end in a partial record: refuse with Poisoned, got {again:?}"
    );
    assert_eq!(
        fs.file_bytes(LOG).unwrap().len(),
        len,
        "a poisoned log writes nothing"
    );
}

// A checksum proves the bytes are what a writer wrote, not that the writer
// was right: a record whose checksums match but whose ops cannot be a
// batch is Corruption at that record, in the middle or at the end (a torn
// write almost never produces matching checksums).
#[test]
fn records_with_valid_checksums_but_impossible_payloads_are_corruption() {
    let bad_tag = [7, 1, 0, 0, 0, b'k'].to_vec(); // tag 7 is neither put nor delete
    let trailing = [0, 1, 0, 0, 0, b'k', 0].to_vec(); // a byte after the last op
    let short = [1, 1, 0, 0, 0, b'k', 9, 0, 0, 0, b'v'].to_vec(); // value_len 9, 1 byte there
    let delete_k = [0, 1, 0, 0, 0, b'k'].to_vec();
    let valid = records(&sample_batches()[..1], SALT).remove(0);
    let next = 2; // the seq after the valid record
    for (what, count, seq, ops) in [
        ("an unknown op tag", 1, next, bad_tag),
        ("bytes after the last op", 1, next, trailing),
        ("a value longer than its bytes", 1, next, short),
        (
            "fewer ops than its count says",
            2,
            next,
            [0, 1, 0, 0, 0, b'k', 0, 0, 0, 0].to_vec(),
        ),
        ("sequence numbers reaching SEQ_MAX", 1, u64::MAX, delete_k),
    ] {
        for at_end in [false, true] {
            // The SEQ_MAX record is the log's first, so that it continues
            // the sequence and only the SEQ_MAX check can refuse it.
            let (header, before): (LogHeader, Vec<&[u8]>) = if seq == u64::MAX {
                (
                    LogHeader {
                        first_seq: seq,
                        ..HEADER
                    },
                    vec![],
                )
            } else {
                (HEADER, vec![&valid])
            };
            let bad = sealed_record(SALT, ops.len() as u32, count, seq, &ops);
            let offset = HEADER_LEN + before.iter().map(|r| r.len()).sum::<usize>();
            let mut parts = before.clone();
            parts.push(&bad);
            if !at_end {
                parts.push(&valid);
            }
            let result = read_batches(&fs_with_log_bytes(&log_of(header, &parts)));
            let place = if at_end {
                "the last record"
            } else {
                "followed by another"
            };
            assert_corruption_at(
                &result,
                offset,
                &format!("a checksummed record with {what} ({place})"),
            );
        }
    }
}

// Consecutive records continue each other's sequence numbers, so a hole, a
// duplicate or a swap of whole records is Corruption at the record where
// the sequence breaks — never a silent gap, never a panic.
#[test]
fn records_must_continue_each_others_sequence_numbers() {
    let written = sample_batches();
    let r = records(&written, SALT);
    let ends = record_ends(&written);
    let cases: Vec<(&str, Vec<&[u8]>, usize)> = vec![
        (
            "record 2 deleted (a hole)",
            vec![&r[0], &r[2], &r[3]],
            ends[0],
        ),
        (
            "record 2 duplicated",
            vec![&r[0], &r[1], &r[1], &r[2]],
            ends[1],
        ),
        (
            "records 2 and 3 swapped",
            vec![&r[0], &r[2], &r[1], &r[3]],
            ends[0],
        ),
        ("the first record missing", vec![&r[1], &r[2]], HEADER_LEN),
    ];
    for (what, parts, offset) in cases {
        let result = read_batches(&fs_with_log_bytes(&log_of(HEADER, &parts)));
        assert_corruption_at(
            &result,
            offset,
            &format!(
                "{what}: each record's seq must be the previous seq + count (the first's: the header's first_seq)"
            ),
        );
    }
}

// Records of another log (another salt) are never valid in this one: a
// foreign record spliced into the middle is Corruption, a foreign log
// appended after this one is garbage (a torn tail), never batches.
#[test]
fn records_of_another_log_are_not_valid_in_this_one() {
    let written = sample_batches();
    let ours = records(&written, SALT);
    let theirs = records(&written, SALT ^ 0xdead_beef);
    let ends = record_ends(&written);
    let spliced = log_of(HEADER, &[&ours[0], &theirs[1], &ours[2]]);
    let result = read_batches(&fs_with_log_bytes(&spliced));
    assert_corruption_at(
        &result,
        ends[0],
        "record 2 replaced by the same batch from a log with another salt (mix the salt into both checksums)",
    );
    let mut concatenated = log_bytes(&written[..2]);
    let foreign = LogHeader {
        salt: SALT ^ 0xdead_beef,
        first_seq: 5,
    };
    let refs: Vec<&[u8]> = theirs[2..].iter().map(Vec::as_slice).collect();
    concatenated.extend_from_slice(&log_of(foreign, &refs));
    let result = read_batches(&fs_with_log_bytes(&concatenated));
    let (read, report) = result.unwrap_or_else(|e| {
        panic!("another log's bytes after ours are not records of ours, so they are a torn tail; got {e}")
    });
    assert_eq!(read, written[..2], "only our own two records are read");
    assert_eq!(
        report.torn_tail.map(|t| t.offset),
        Some(ends[1] as u64),
        "the foreign log is dropped as a torn tail where ours ends"
    );
}

// A user may store anything in a value — even a log file. A crash that
// tears the record holding it must still be a torn tail: no stored bytes
// may pass as a valid record of this log after the damage (promise P4).
#[test]
fn torn_tail_holding_stored_records_is_still_a_torn_tail() {
    let synced = WriteBatch::new(1).put("a", "1");
    // What a user could know and store: records of another log (any salt,
    // later sequence numbers), and a copy of this log's bytes so far.
    let mut stored = log_bytes(std::slice::from_ref(&synced));
    for salt in [0, 1, SALT ^ 1] {
        encode_record(&WriteBatch::new(3).put("x", "forged"), salt, &mut stored).unwrap();
    }
    let mut again = records(std::slice::from_ref(&synced), SALT).remove(0);
    stored.append(&mut again);
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    wal.append(&synced).unwrap();
    wal.sync().unwrap();
    wal.append(&WriteBatch::new(2).put("log-as-a-value", stored.clone()))
        .unwrap();
    let full = fs.file_bytes(LOG).unwrap();
    let start = record_ends(std::slice::from_ref(&synced))[0];
    for cut in start + 1..full.len() {
        let result = read_batches(&fs_with_log_bytes(&full[..cut]));
        let (read, report) = result.unwrap_or_else(|e| {
            panic!(
                "cut at {cut} inside a record whose value holds log bytes: a plain crash must not \
                 prevent open, got {e}. Can a stored value pass as a record of this log? (the salt \
                 and the sequence check exist for this)"
            )
        });
        assert_eq!(
            read,
            vec![synced.clone()],
            "cut at {cut}: the synced record, nothing else"
        );
        assert_eq!(
            report.torn_tail.map(|t| t.offset),
            Some(start as u64),
            "cut at {cut}: the torn tail starts at the torn record"
        );
    }
}

// Reading a log is linear in its size, whatever its tail holds: a large
// torn record whose bytes look like plausible headers at every offset
// (the worst case for the resync scan) must read in about the time an
// intact log of that size takes. A ratio of two runs on this machine, not
// a wall-clock bound (the intact one the best of three).
#[test]
fn recovery_of_a_large_torn_tail_is_linear() {
    const LEN: usize = 4 << 20;
    let timed = |fs: &SimFs| {
        let started = Instant::now();
        let result = read_batches(fs);
        (started.elapsed(), result.map(|(read, _)| read.len()))
    };
    let best_of_three = |bytes: &[u8]| {
        let fs = fs_with_log_bytes(bytes);
        (0..3)
            .map(|_| timed(&fs))
            .min_by_key(|(elapsed, _)| *elapsed)
            .unwrap()
    };
    // Intact: many ordinary records.
    let mut batches = Vec::new();
    let mut seq = 1;
    while batches.len() * 140 < LEN {
        batches.push(WriteBatch::new(seq).put(format!("key-{seq:08}"), vec![b'v'; 100]));
        seq += 1;
    }
    let intact = log_bytes(&batches);
    // Torn: one huge record whose value repeats the start of a plausible
    // record header (p_len 256 KiB, count 1) every 8 bytes, cut before its
    // end: a scan that checks each candidate's ops checksum before its
    // header's computes about 100 GiB of checksums.
    let mut value = Vec::with_capacity(LEN);
    while value.len() < LEN {
        value.extend_from_slice(&(256u32 << 10).to_le_bytes());
        value.extend_from_slice(&1u32.to_le_bytes());
    }
    let torn_full = log_bytes(&[WriteBatch::new(1).put("big", value)]);
    let torn = &torn_full[..torn_full.len() - 1];
    let (intact_time, intact_read) = best_of_three(&intact);
    let (torn_time, torn_read) = timed(&fs_with_log_bytes(torn));
    assert_eq!(
        intact_read.ok(),
        Some(batches.len()),
        "the intact log reads back whole"
    );
    assert_eq!(
        torn_read.ok(),
        Some(0),
        "the torn record is dropped as a torn tail"
    );
    let allowed = intact_time * 20 + Duration::from_millis(500);
    assert!(
        torn_time <= allowed,
        "reading {} bytes with a torn record took {torn_time:?}; an intact log of that size took \
         {intact_time:?}. The resync scan must reject almost every offset in O(1): check the \
         record header's own checksum (and the sequence) before the checksum over the ops, and \
         build no String (no format!) for an offset you reject — book §2.5, hint 3.5",
        torn.len()
    );
}

// P7: reading a log allocates a small multiple of the file's bytes, even
// when a checksummed record's count promises far more ops than it holds.
#[test]
fn reading_allocates_within_a_small_multiple_of_the_file() {
    let value = vec![b'v'; 1 << 20];
    let fs = new_fs();
    write_log(&fs, &[WriteBatch::new(1).put("k", value.clone())], true);
    let file_len = fs.file_bytes(LOG).unwrap().len() as u64;
    let (result, stats) = measure(|| read_batches(&fs));
    assert!(
        result.is_ok(),
        "the log must read back: {}",
        outcome(&result)
    );
    stats.assert_within(file_len, "read_log of a 1 MiB record");

    // One put of 1 MiB, but a count of p_len / 5 ops (the most that could
    // fit): `Vec::with_capacity(count)` reserves 200 K ops for one.
    let mut ops = vec![1u8];
    ops.extend_from_slice(&1u32.to_le_bytes());
    ops.push(b'k');
    ops.extend_from_slice(&(value.len() as u32).to_le_bytes());
    ops.extend_from_slice(&value);
    let count = (ops.len() / 5) as u32;
    let record = sealed_record(SALT, ops.len() as u32, count, 1, &ops);
    let bytes = log_of(HEADER, &[&record]);
    let fs = fs_with_log_bytes(&bytes);
    let (result, stats) = measure(|| read_batches(&fs));
    assert_corruption_at(
        &result,
        HEADER_LEN,
        "a record with fewer ops than its count",
    );
    stats.assert_within(
        bytes.len() as u64,
        "read_log of a record whose count is too large",
    );
    assert!(AllocStats::bound(bytes.len() as u64) > bytes.len() as u64);
}

#[test]
fn refused_batches_change_nothing_and_do_not_poison_the_log() {
    let mut out = b"earlier".to_vec();
    let at_seq_max = encode_record(
        &WriteBatch::new(u64::MAX - 1).put("a", "1").put("b", "2"),
        SALT,
        &mut out,
    );
    assert!(
        matches!(at_seq_max, Err(Error::InvalidArgument(_))),
        "a batch reaching SEQ_MAX must be refused, got {at_seq_max:?}"
    );
    let huge = WriteBatch::new(1).put("big", Bytes::from(vec![0u8; 64 << 20]));
    let too_big = encode_record(&huge, SALT, &mut out);
    assert!(
        matches!(too_big, Err(Error::InvalidArgument(_))),
        "a payload over RECORD_PAYLOAD_LEN_MAX_BYTES must be refused, got {too_big:?}"
    );
    assert!(
        out == b"earlier",
        "a refused batch leaves `out` as it was: it holds {} bytes, starting {:?}",
        out.len(),
        &out[..out.len().min(16)]
    );

    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    let refused = wal.append(&huge);
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "Wal::append refuses what encode_record refuses, got {refused:?}"
    );
    let next = wal.append(&WriteBatch::new(1).put("k", "v"));
    assert!(
        next.is_ok(),
        "an invalid argument is the caller's mistake, not an I/O failure: it must not poison the log, got {next:?}"
    );
    assert_eq!(
        read_batches(&fs).unwrap().0,
        vec![WriteBatch::new(1).put("k", "v")],
        "nothing of the refused batch reached the file"
    );
}

#[test]
fn append_refuses_a_batch_that_does_not_continue_the_log() {
    let fs = new_fs();
    let mut wal = Wal::create(&fs, log(), HEADER).unwrap();
    assert_eq!(
        wal.next_seq(),
        1,
        "a new log continues at its header's first_seq"
    );
    wal.append(&WriteBatch::new(1).put("a", "1").put("b", "2"))
        .unwrap();
    assert_eq!(
        wal.next_seq(),
        3,
        "after a batch of two at seq 1, the log continues at 3"
    );
    let len = fs.file_bytes(LOG).unwrap().len();
    for seq in [1, 2, 4] {
        let refused = wal.append(&WriteBatch::new(seq).put("c", "3"));
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "a batch at seq {seq} does not continue a log at seq 3: refuse it with InvalidArgument, got {refused:?}"
        );
    }
    assert_eq!(
        fs.file_bytes(LOG).unwrap().len(),
        len,
        "a refused batch writes nothing"
    );
    let next = wal.append(&WriteBatch::new(3).put("c", "3"));
    assert!(
        next.is_ok(),
        "the right seq is still accepted (no poisoning): {next:?}"
    );
}

#[test]
fn last_seq_is_that_of_the_last_operation() {
    let fs = new_fs();
    write_log(&fs, &sample_batches()[..2], false);
    let report = read_batches(&fs).unwrap().1;
    assert_eq!(
        report.last_seq,
        Some(4),
        "batch 2 starts at seq 2 and has 3 ops: its last op has seq 2 + 3 - 1 = 4"
    );
}

#[test]
fn empty_batch_at_the_end_keeps_last_seq() {
    let fs = new_fs();
    let batches = vec![
        WriteBatch::new(1).put("a", "1").put("b", "2"),
        WriteBatch::new(3),
    ];
    write_log(&fs, &batches, false);
    let (read, report) = read_batches(&fs).unwrap();
    assert_eq!(read, batches, "an empty batch is a record too");
    assert_eq!(
        report.last_seq,
        Some(2),
        "an empty batch has no operation: last_seq stays that of the last operation (2)"
    );
    assert_eq!(report.next_seq, Some(3), "and the log continues at seq 3");
}

fn arb_batch() -> impl Strategy<Value = Vec<(bool, Vec<u8>, Vec<u8>)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..8),
            prop::collection::vec(any::<u8>(), 0..40),
        ),
        0..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    // Arbitrary batches (binary keys, empty keys and values, empty batches)
    // survive append + read_log unchanged, at increasing offsets.
    #[test]
    fn wal_round_trip_preserves_every_batch(raw in prop::collection::vec(arb_batch(), 0..6), first_seq in 0u64..1000) {
        let mut seq = first_seq;
        let batches: Vec<WriteBatch> = raw.into_iter().map(|ops| {
            let mut batch = WriteBatch::new(seq);
            for (is_put, key, value) in ops {
                batch = if is_put { batch.put(key, value) } else { batch.delete(key) };
            }
            seq += batch.ops.len() as u64;
            batch
        }).collect();
        let fs = new_fs();
        let mut wal = Wal::create(&fs, log(), LogHeader { first_seq, ..HEADER }).unwrap();
        for batch in &batches {
            wal.append(batch).unwrap();
        }
        let mut offsets = Vec::new();
        let mut read = Vec::new();
        let report = read_log(&fs, log(), &mut |offset, batch| { offsets.push(offset); read.push(batch); }).unwrap();
        prop_assert_eq!(&read, &batches);
        prop_assert_eq!(report.records, batches.len() as u64);
        prop_assert_eq!(report.next_seq, Some(seq));
        prop_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets must increase: {:?}", offsets);
        if let Some(&first) = offsets.first() {
            prop_assert_eq!(first, HEADER_LEN as u64, "the first record follows the header");
        }
    }

    // Any bytes at all after a valid header, as a log file: reading returns
    // Ok or an error, never panics, and reports only records it visited.
    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), with_header in any::<bool>()) {
        let mut file = if with_header { HEADER.encode().to_vec() } else { Vec::new() };
        file.extend_from_slice(&bytes);
        let fs = fs_with_log_bytes(&file);
        let mut visited = 0u64;
        if let Ok(report) = read_log(&fs, log(), &mut |_, _| visited += 1) {
            prop_assert_eq!(report.records, visited);
        }
    }

    // A valid log with random damage at a random place: never a panic, and
    // whatever is returned as Ok is a prefix of what was written.
    #[test]
    fn damaged_log_yields_a_prefix_or_an_error(at in 0usize..1200, garbage in prop::collection::vec(any::<u8>(), 1..16)) {
        let written = sample_batches();
        let mut bytes = log_bytes(&written);
        let at = at % bytes.len();
        for (i, byte) in garbage.iter().enumerate() {
            if let Some(slot) = bytes.get_mut(at + i) { *slot ^= byte | 1; }
        }
        if let Ok((read, _)) = read_batches(&fs_with_log_bytes(&bytes)) {
            prop_assert!(written.starts_with(&read));
            prop_assert!(read.len() < written.len(), "damage at byte {} went unnoticed", at);
        }
    }
}

#[test]
fn values_survive_byte_for_byte() {
    let fs = new_fs();
    let value: Vec<u8> = (0..=255u8).collect();
    write_log(
        &fs,
        &[WriteBatch::new(1).put(b("all-bytes"), value.clone())],
        true,
    );
    let (read, _) = read_batches(&fs).unwrap();
    assert_eq!(read, vec![WriteBatch::new(1).put(b("all-bytes"), value)]);
}
