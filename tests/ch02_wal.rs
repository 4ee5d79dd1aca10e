//! Graded tests for chapter 2 — the write-ahead log. Book: "2. The
//! write-ahead log". Run: `cargo test --test ch02_wal`.
//!
//! Every test runs on the simulated file system (`SimFs`), so it can read
//! the exact bytes written, damage them, and build crash images.

mod support;

use std::path::Path;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch01_memtable::Memtable;
use lsm_workbook::ch02_wal::{ReplayReport, Wal, encode_record, read_log, replay};
use lsm_workbook::fs::sim::CrashPoint;
use lsm_workbook::fs::{CrashMode, Fault, Fs, OpKind, SimFs};
use lsm_workbook::types::{Entry, WriteBatch};
use proptest::prelude::*;
use support::{b, hexdump, show};

const LOG: &str = "db/000001.log";

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
    let mut wal = Wal::create(fs, log()).unwrap();
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

/// The offsets where each record ends, from the encoder.
fn record_ends(batches: &[WriteBatch]) -> Vec<usize> {
    let mut buf = Vec::new();
    batches
        .iter()
        .map(|batch| {
            encode_record(batch, &mut buf).unwrap();
            buf.len()
        })
        .collect()
}

fn log_bytes(batches: &[WriteBatch]) -> Vec<u8> {
    let fs = new_fs();
    write_log(&fs, batches, false);
    fs.file_bytes(LOG).unwrap()
}

#[test]
fn replay_of_empty_log_recovers_nothing() {
    let fs = new_fs();
    write_log(&fs, &[], true);
    let (batches, report) = read_batches(&fs).unwrap();
    assert!(batches.is_empty());
    assert_eq!(
        report,
        ReplayReport::default(),
        "an empty log has no records and no torn tail"
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
    let mut wal = Wal::create(&fs, log()).unwrap();
    let mut expected_len = 0;
    for batch in sample_batches() {
        wal.append(&batch).unwrap();
        let mut record = Vec::new();
        encode_record(&batch, &mut record).unwrap();
        expected_len += record.len();
        assert_eq!(
            fs.file_bytes(LOG).unwrap().len(),
            expected_len,
            "after append returns, the record must already be in the file (no user-space buffer)"
        );
    }
    assert_eq!(wal.len_bytes(), expected_len as u64);
    let appends = fs
        .trace()
        .iter()
        .filter(|op| op.kind == OpKind::Append)
        .count();
    assert_eq!(
        appends, 5,
        "one append call per record, so a record is never split by a crash between calls"
    );
}

#[test]
fn record_header_is_length_then_crc_of_length_and_payload() {
    let batch = WriteBatch::new(0x0102_0304_0506_0708).put("k", "value");
    let mut record = Vec::new();
    encode_record(&batch, &mut record).unwrap();
    assert!(record.len() >= 8, "a record starts with an 8-byte header");
    let len = u32::from_le_bytes(record[0..4].try_into().unwrap()) as usize;
    assert_eq!(
        len,
        record.len() - 8,
        "len (u32 LE at offset 0) counts the payload bytes"
    );
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&record[0..4]);
    hasher.update(&record[8..]);
    let stored = u32::from_le_bytes(record[4..8].try_into().unwrap());
    let expected = hasher.finalize();
    assert!(
        stored == expected,
        "crc (u32 LE at offset 4) covers the len bytes and the payload: stored {stored:#010x}, expected {expected:#010x}"
    );
    assert_eq!(
        &record[8..16],
        &0x0102_0304_0506_0708u64.to_le_bytes(),
        "the payload starts with seq (u64 LE)"
    );
    assert_eq!(
        &record[16..20],
        &1u32.to_le_bytes(),
        "then the op count (u32 LE)"
    );
    assert_eq!(record[20], 1, "then each op: tag 1 = put");
    assert_eq!(&record[21..25], &1u32.to_le_bytes(), "key_len (u32 LE)");
    assert_eq!(&record[25..26], b"k");
    assert_eq!(&record[26..30], &5u32.to_le_bytes(), "value_len (u32 LE)");
    assert_eq!(&record[30..], b"value");
}

#[test]
fn log_layout_matches_snapshot() {
    let mut bytes = Vec::new();
    encode_record(&WriteBatch::new(1).put("k", "v1"), &mut bytes).unwrap();
    encode_record(&WriteBatch::new(2).delete("k"), &mut bytes).unwrap();
    insta::assert_snapshot!("wal_two_records", hexdump(&bytes));
}

// Cut a multi-record log at every byte length; each cut must recover
// exactly the records that lie wholly before it, and report a torn tail
// exactly when the cut falls inside a record.
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
        let last_end = if whole == 0 { 0 } else { ends[whole - 1] };
        match (&report.torn_tail, cut == last_end) {
            (None, true) => {}
            (Some(torn), false) => {
                assert_eq!(
                    torn.offset, last_end as u64,
                    "cut at {cut}: the torn tail starts where the last whole record ends"
                );
                assert_eq!(
                    torn.len_bytes,
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
    assert_eq!((torn.offset, torn.len_bytes), (len, 4096));
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
    assert_eq!((torn.offset, torn.len_bytes), (len, 777));
}

// Flip every bit of a small log, one at a time. A flip in the last record
// is a torn tail (that record dropped, reported); a flip in any earlier
// record is Corruption naming the file and that record's offset.
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
        let record = ends.iter().position(|&end| byte < end).unwrap();
        let start = if record == 0 { 0 } else { ends[record - 1] } as u64;
        let result = read_batches(&fs);
        if record + 1 < written.len() {
            match result {
                Err(Error::Corruption { file, offset, .. }) => {
                    assert_eq!(file, log(), "bit {bit}: the error must name the log file");
                    assert_eq!(
                        offset, start,
                        "bit {bit}: the error must name the offset of the damaged record"
                    );
                }
                other => panic!(
                    "bit {bit} (record {record} of {}): a damaged record followed by a valid one must be Corruption, got {other:?}",
                    written.len()
                ),
            }
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
            assert_eq!(torn.offset, start);
        }
    }
}

#[test]
fn damaged_record_in_the_middle_is_corruption_not_a_skip() {
    let written = sample_batches();
    let mut bytes = log_bytes(&written);
    let ends = record_ends(&written);
    let second = ends[0];
    bytes[second + 12] ^= 0x55; // inside record 2's payload
    let fs = fs_with_log_bytes(&bytes);
    let result = read_batches(&fs);
    assert!(
        matches!(&result, Err(Error::Corruption { file, offset, .. }) if file == log() && *offset == second as u64),
        "expected Corruption at offset {second} of {LOG}, got {result:?}"
    );
}

#[test]
fn huge_length_field_is_never_trusted() {
    let written = sample_batches();
    let ends = record_ends(&written);
    // In the middle: the length says 4 GiB, the checksum does not match, a
    // valid record follows, so this is corruption, found without
    // allocating or reading 4 GiB.
    let mut middle = log_bytes(&written);
    middle[ends[1]..ends[1] + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let result = read_batches(&fs_with_log_bytes(&middle));
    assert!(
        matches!(&result, Err(Error::Corruption { offset, .. }) if *offset == ends[1] as u64),
        "a huge length in record 3 must be Corruption at offset {}, got {result:?}",
        ends[1]
    );
    // At the end: the same damage in the last record is a torn tail.
    let mut last = log_bytes(&written);
    let start = ends[ends.len() - 2];
    last[start..start + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let (read, report) =
        read_batches(&fs_with_log_bytes(&last)).expect("damage in the last record is a torn tail");
    assert_eq!(read, written[..written.len() - 1]);
    assert_eq!(report.torn_tail.map(|torn| torn.offset), Some(start as u64));
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
    let (read, report) = read_batches(&fs.crash(CrashMode::PowerLoss)).unwrap();
    assert_eq!(
        read,
        written[..3],
        "the three synced records survive power loss; the unsynced ones vanish"
    );
    assert_eq!(report.torn_tail, None);
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
    let mut wal = Wal::create(&fs, log()).unwrap();
    wal.append(&WriteBatch::new(1).put("k", "v")).unwrap();
    wal.sync().unwrap();
    let image = fs.crash(CrashMode::PowerLoss);
    let result = read_batches(&image);
    assert!(
        result.is_ok(),
        "after a power loss the log file itself must still exist: a new file's directory entry is durable only after sync_dir on its directory; got {result:?}"
    );
    assert_eq!(result.unwrap().0.len(), 1);
}

/// Runs the workload on a fresh file system (creating `db`, then the log,
/// then appending and syncing after every second batch), stopping at the
/// first error; returns (records acknowledged, records synced).
fn crash_workload(fs: &SimFs, batches: &[WriteBatch]) -> (usize, usize) {
    let (mut acked, mut synced) = (0, 0);
    if fs.create_dir_all(Path::new("db")).is_err() {
        return (0, 0);
    }
    let Ok(mut wal) = Wal::create(fs, log()) else {
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
    let mut wal = Wal::create(&fs, log()).unwrap();
    wal.append(&WriteBatch::new(1).put("k", "v")).unwrap();
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
    let syncs = fs
        .trace()
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
    let mut wal = Wal::create(&fs, log()).unwrap();
    wal.append(&WriteBatch::new(1).put("a", "1")).unwrap();
    fs.inject(Fault::nth(OpKind::Append, 1));
    assert!(matches!(
        wal.append(&WriteBatch::new(2).put("b", "2")),
        Err(Error::Io { .. })
    ));
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

/// A record framed with a correct checksum around `payload`.
fn framed(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    let mut record = len.to_vec();
    record.extend_from_slice(&hasher.finalize().to_le_bytes());
    record.extend_from_slice(payload);
    record
}

// A checksum proves the bytes are what a writer wrote, not that the writer
// was right: a record whose checksum matches but whose payload cannot be a
// batch is Corruption at that record, in the middle or at the end (a torn
// write cannot produce a matching checksum).
#[test]
fn records_with_valid_checksums_but_impossible_payloads_are_corruption() {
    let mut bad_tag = Vec::new();
    bad_tag.extend_from_slice(&9u64.to_le_bytes());
    bad_tag.extend_from_slice(&1u32.to_le_bytes());
    bad_tag.extend_from_slice(&[7, 1, 0, 0, 0, b'k']); // tag 7 is neither put nor delete
    let mut trailing = Vec::new();
    encode_record(&WriteBatch::new(9).delete("k"), &mut trailing).unwrap();
    let mut trailing = trailing[8..].to_vec();
    trailing.push(0); // a byte after the last op
    let mut overflowing = Vec::new();
    overflowing.extend_from_slice(&u64::MAX.to_le_bytes()); // seq MAX: reserved for reads
    overflowing.extend_from_slice(&1u32.to_le_bytes());
    overflowing.extend_from_slice(&[0, 1, 0, 0, 0, b'k']);
    let valid = log_bytes(&sample_batches()[..1]);
    for (what, payload) in [
        ("an unknown op tag", bad_tag),
        ("bytes after the last op", trailing),
        ("sequence numbers reaching SEQ_MAX", overflowing),
    ] {
        for at_end in [false, true] {
            let mut bytes = valid.clone();
            let offset = bytes.len() as u64;
            bytes.extend_from_slice(&framed(&payload));
            if !at_end {
                bytes.extend_from_slice(&valid);
            }
            let result = read_batches(&fs_with_log_bytes(&bytes));
            assert!(
                matches!(&result, Err(Error::Corruption { file, offset: at, .. }) if file == log() && *at == offset),
                "a checksummed record with {what} ({}) must be Corruption at offset {offset}, got {result:?}",
                if at_end {
                    "the last record"
                } else {
                    "followed by a valid one"
                }
            );
        }
    }
}

#[test]
fn refused_batches_change_nothing_and_do_not_poison_the_log() {
    let mut out = b"earlier".to_vec();
    let at_seq_max = encode_record(
        &WriteBatch::new(u64::MAX - 1).put("a", "1").put("b", "2"),
        &mut out,
    );
    assert!(
        matches!(at_seq_max, Err(Error::InvalidArgument(_))),
        "a batch reaching SEQ_MAX must be refused, got {at_seq_max:?}"
    );
    let huge = WriteBatch::new(1).put("big", Bytes::from(vec![0u8; 64 << 20]));
    let too_big = encode_record(&huge, &mut out);
    assert!(
        matches!(too_big, Err(Error::InvalidArgument(_))),
        "a payload over RECORD_PAYLOAD_LEN_MAX_BYTES must be refused, got {too_big:?}"
    );
    assert_eq!(out, b"earlier", "a refused batch leaves `out` as it was");

    let fs = new_fs();
    let mut wal = Wal::create(&fs, log()).unwrap();
    assert!(matches!(wal.append(&huge), Err(Error::InvalidArgument(_))));
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
    fn wal_round_trip_preserves_every_batch(raw in prop::collection::vec(arb_batch(), 0..6)) {
        let mut seq = 1;
        let batches: Vec<WriteBatch> = raw.into_iter().map(|ops| {
            let mut batch = WriteBatch::new(seq);
            for (is_put, key, value) in ops {
                batch = if is_put { batch.put(key, value) } else { batch.delete(key) };
            }
            seq += batch.ops.len() as u64 + 1;
            batch
        }).collect();
        let fs = new_fs();
        write_log(&fs, &batches, true);
        let mut offsets = Vec::new();
        let mut read = Vec::new();
        let report = read_log(&fs, log(), &mut |offset, batch| { offsets.push(offset); read.push(batch); }).unwrap();
        prop_assert_eq!(&read, &batches);
        prop_assert_eq!(report.records, batches.len() as u64);
        prop_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets must increase: {:?}", offsets);
        prop_assert_eq!(offsets.first().copied().unwrap_or(0), 0);
    }

    // Any bytes at all, as a log file: reading returns Ok or an error, never
    // panics, and reports only records it really visited.
    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let fs = fs_with_log_bytes(&bytes);
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
        &[WriteBatch::new(9).put(b("all-bytes"), value.clone())],
        true,
    );
    let (read, _) = read_batches(&fs).unwrap();
    assert_eq!(read, vec![WriteBatch::new(9).put(b("all-bytes"), value)]);
}
