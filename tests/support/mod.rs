//! Helpers shared by the graded tests (not graded themselves).

#![allow(dead_code, reason = "each test target uses a different subset")]

use bytes::Bytes;
use lsm_workbook::types::{Entry, Value};

pub mod alloc;

/// `Bytes` from a string literal.
pub fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A put version.
pub fn put(key: &str, seq: u64, value: &str) -> Entry {
    Entry {
        key: b(key),
        seq,
        value: Value::Put(b(value)),
    }
}

/// A tombstone version.
pub fn del(key: &str, seq: u64) -> Entry {
    Entry {
        key: b(key),
        seq,
        value: Value::Delete,
    }
}

/// `Value::Put` from a string.
pub fn val(text: &str) -> Value {
    Value::Put(b(text))
}

/// Entries as short readable strings, for assertion messages:
/// `a@3=x`, `a@2=<del>`.
pub fn show(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| {
            let key = String::from_utf8_lossy(&entry.key);
            match &entry.value {
                Value::Put(v) => format!("{key}@{}={}", entry.seq, String::from_utf8_lossy(v)),
                Value::Delete => format!("{key}@{}=<del>", entry.seq),
            }
        })
        .collect()
}

/// A classic hex dump, 16 bytes a line with offsets, for snapshots and
/// failure messages.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&byte| {
                if byte.is_ascii_graphic() || byte == b' ' {
                    byte as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}  {:<47}  |{text}|\n",
            line * 16,
            hex.join(" ")
        ));
    }
    out
}

/// Versions in internal order (key ascending, sequence number descending),
/// as a table builder wants them.
pub fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|x, y| x.key.cmp(&y.key).then(y.seq.cmp(&x.seq)));
    entries
}

/// `count` entries `key-00000`, `key-00001`, … with values of
/// `value_len` bytes; every seventh is a tombstone; sequence numbers 1, 2, ….
pub fn numbered_entries(count: usize, value_len: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| Entry {
            key: Bytes::from(format!("key-{i:05}")),
            seq: i as u64 + 1,
            value: if i % 7 == 3 {
                Value::Delete
            } else {
                Value::Put(Bytes::from(format!(
                    "{i:0>width$}",
                    width = value_len.max(1)
                )))
            },
        })
        .collect()
}

/// The newest version of `key` at or below `seq` among `entries`, as a
/// table or memtable lookup must answer.
pub fn model_get(entries: &[Entry], key: &[u8], seq: u64) -> Option<Value> {
    entries
        .iter()
        .filter(|entry| entry.key.as_ref() == key && entry.seq <= seq)
        .max_by_key(|entry| entry.seq)
        .map(|entry| entry.value.clone())
}

/// A proptest strategy for a table's worth of versions, in internal order:
/// up to `count_max` distinct (key, seq) pairs with keys of 0–3 bytes drawn
/// from `key_bytes` (so keys repeat and have many versions), sequence
/// numbers in `1..seq_end`, and values of up to `value_len_max` bytes or
/// tombstones.
pub fn arb_versions(
    key_bytes: std::ops::Range<u8>,
    seq_end: u64,
    value_len_max: usize,
    count_max: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<Entry>> {
    use proptest::prelude::*;
    prop::collection::btree_map(
        (prop::collection::vec(key_bytes, 0..4), 1u64..seq_end),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..value_len_max)),
        0..count_max,
    )
    .prop_map(|map| {
        sorted(
            map.into_iter()
                .map(|((key, seq), value)| Entry {
                    key: Bytes::from(key),
                    seq,
                    value: value.map_or(Value::Delete, |v| Value::Put(Bytes::from(v))),
                })
                .collect(),
        )
    })
}

/// A scan of the table at `path` that must end: it runs `scan` (e.g.
/// `|table| table.iter()` or `|table| table.seek(b"k")`) on a fresh copy
/// of the file and returns every item it yields, errors included, failing
/// at once — with a message naming the likely bug — instead of hanging:
///
/// - if the scan yields more than `items_max` items, it did not end when
///   the data did (or it read the same block again);
/// - every read of the copy past a generous budget (two per block the file
///   could hold, and the open's reads) fails, so a `next()` that loops
///   inside itself, re-reading one block, gets an I/O error and this
///   helper reports it.
///
/// The copy is opened with `Table::open`, so `fs`'s read counters are left
/// alone.
pub fn scan_items_bounded(
    fs: &lsm_workbook::fs::SimFs,
    path: &std::path::Path,
    items_max: usize,
    scan: impl for<'t> FnOnce(
        &'t lsm_workbook::ch03_sstable::Table,
    ) -> lsm_workbook::ch03_sstable::TableIter<'t>,
) -> Vec<lsm_workbook::Result<Entry>> {
    use lsm_workbook::fs::{Fault, Fs, OpKind, SimFs};
    let bytes = fs
        .file_bytes(path)
        .unwrap_or_else(|| panic!("scan_items_bounded: no file {path:?}"));
    let copy = SimFs::new();
    copy.create_dir_all(&lsm_workbook::fs::parent_dir(path))
        .unwrap();
    copy.create(path).unwrap().append(&bytes).unwrap();
    // A framed block is at least 12 bytes and a scan reads it at most
    // twice (header, then block); opening reads the footer, filter, index.
    let reads_max = 16 + 2 * (bytes.len() as u64 / 12);
    copy.inject(Fault::nth(OpKind::Read, reads_max + 1).persistent());
    let table = match lsm_workbook::ch03_sstable::Table::open(&copy, path) {
        Ok(table) => table,
        Err(error) => return vec![Err(error)],
    };
    let mut items = Vec::new();
    for item in scan(&table) {
        assert!(
            items.len() < items_max,
            "the scan ended late: it yielded more than {items_max} items from a table that \
             holds fewer. Does next() move on to the next block (the offset after the one \
             just read: BlockHandle::end) and stop at the end of the data region?"
        );
        let calls = copy.reads(path).calls;
        if item.is_err() && calls >= reads_max {
            panic!(
                "the scan did not advance: {calls} reads of a {}-byte table without finishing. \
                 Does next() move on to the next block (the offset after the one just read: \
                 BlockHandle::end), and does read_block_at return that offset, never 0?",
                bytes.len()
            );
        }
        items.push(item);
    }
    items
}

/// [`scan_items_bounded`], stopping at the first error: the entries, or
/// the error the scan reported.
pub fn scan_bounded(
    fs: &lsm_workbook::fs::SimFs,
    path: &std::path::Path,
    items_max: usize,
    scan: impl for<'t> FnOnce(
        &'t lsm_workbook::ch03_sstable::Table,
    ) -> lsm_workbook::ch03_sstable::TableIter<'t>,
) -> lsm_workbook::Result<Vec<Entry>> {
    scan_items_bounded(fs, path, items_max, scan)
        .into_iter()
        .collect()
}
