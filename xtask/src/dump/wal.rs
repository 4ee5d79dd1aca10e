//! Dumping a write-ahead log: its header, the records the reference
//! `read_log` accepts, its replay report, and the torn tail or corruption it
//! stops at.

use std::path::Path;

use lsm_workbook::Error;
use lsm_workbook::ch02_wal::{
    LOG_HEADER_LEN_BYTES, LogHeader, RECORD_HEADER_LEN_BYTES, ReplayReport, encode_record, read_log,
};
use lsm_workbook::fs::Fs;
use lsm_workbook::types::WriteBatch;

use super::{Out, damage, plural, say, show_entry};

/// Prints every record of the log at `path`, then the replay report. A
/// corruption is printed after the records before it.
pub fn dump(fs: &dyn Fs, path: &Path, out: &mut Out) {
    print_header(fs, path, out);
    let mut records = 0u64;
    let result = read_log(fs, path, &mut |offset, batch| {
        print_record(out, records, offset, &batch);
        records += 1;
    });
    match result {
        Ok(report) => print_report(out, &report),
        Err(Error::Corruption { offset, detail, .. }) => {
            damage!(out, "record at {offset}: CORRUPTION: {detail}");
            say!(
                out,
                "{records} record{} read before the damage; recovery refuses this log",
                plural(records)
            );
        }
        Err(other) => damage!(out, "error: {other}"),
    }
}

/// `header: salt S, first seq F` — or why the header is not valid (the
/// replay report then says whether that is a torn header or corruption).
pub fn print_header(fs: &dyn Fs, path: &Path, out: &mut Out) {
    let mut bytes = [0; LOG_HEADER_LEN_BYTES];
    let read = fs.open(path).and_then(|file| {
        if file.len() < LOG_HEADER_LEN_BYTES as u64 {
            return Ok(None);
        }
        file.read_exact_at(&mut bytes, 0).map(|()| Some(bytes))
    });
    match read {
        Ok(Some(bytes)) => match LogHeader::decode(&bytes) {
            Ok(header) => say!(
                out,
                "header: {LOG_HEADER_LEN_BYTES} bytes, salt {:#018x}, first seq {}",
                header.salt,
                header.first_seq
            ),
            Err(reason) => say!(out, "header: not valid: {reason}"),
        },
        Ok(None) => say!(
            out,
            "header: missing (the file is shorter than {LOG_HEADER_LEN_BYTES} bytes)"
        ),
        Err(error) => say!(out, "header: unreadable: {error}"),
    }
}

/// `record N at OFFSET: LEN bytes, seq S, K ops`, then one line per op.
fn print_record(out: &mut Out, number: u64, offset: u64, batch: &WriteBatch) {
    // The record's length is its re-encoding's: the format has one encoding,
    // and the salt changes only the checksums, not the length.
    let mut encoded = Vec::new();
    let len = match encode_record(batch, 0, &mut encoded) {
        Ok(()) => {
            debug_assert!(encoded.len() >= RECORD_HEADER_LEN_BYTES);
            encoded.len().to_string()
        }
        Err(_) => "?".to_string(),
    };
    let ops = batch.ops.len() as u64;
    say!(
        out,
        "record {number} at {offset}: {len} bytes, seq {}, {ops} op{}",
        batch.seq,
        plural(ops)
    );
    for entry in batch.entries() {
        say!(out, "  {}", show_entry(&entry));
    }
}

/// The replay report: counts, last sequence number, torn tail.
fn print_report(out: &mut Out, report: &ReplayReport) {
    let last_seq = match report.last_seq {
        Some(seq) => seq.to_string(),
        None => "none".to_string(),
    };
    let next_seq = match report.next_seq {
        Some(seq) => seq.to_string(),
        None => "none".to_string(),
    };
    say!(
        out,
        "replay: {} record{}, {} entr{}, last seq {last_seq}, next seq {next_seq}",
        report.records,
        plural(report.records),
        report.entries,
        if report.entries == 1 { "y" } else { "ies" }
    );
    match &report.torn_tail {
        None => say!(out, "torn tail: none"),
        Some(tail) => say!(
            out,
            "torn tail at {}: {} byte{} dropped: {}",
            tail.offset,
            tail.dropped_len_bytes,
            plural(tail.dropped_len_bytes),
            tail.reason
        ),
    }
}
