//! Graded tests for chapter 5 — the sparse index. Book: "5. The sparse
//! index". Run: `cargo test --test ch05_index`.
//!
//! Tables here have an index and no filter, so every lookup goes through
//! the index; the simulated file system counts the reads.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch03_sstable::{BlockHandle, Footer, Table, TableOptions, write_table};
use lsm_workbook::ch05_index::{IndexBuilder, SparseIndex};
use lsm_workbook::fs::{Fs, SimFs};
use lsm_workbook::types::{Entry, SEQ_MAX, Value};
use proptest::prelude::*;
use support::{arb_versions, hexdump, model_get, numbered_entries, put, show, sorted};

const TABLE: &str = "db/000011.sst";

fn path() -> &'static Path {
    Path::new(TABLE)
}

fn indexed(block_size_bytes: usize) -> TableOptions {
    TableOptions {
        block_size_bytes,
        bloom_bits_per_key: 0,
        index: true,
    }
}

fn build(entries: &[Entry], options: TableOptions) -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db")).unwrap();
    write_table(&fs, path(), options, entries.iter().cloned()).unwrap();
    fs
}

fn seek_keys(table: &Table, target: &[u8]) -> Vec<Entry> {
    table
        .seek(target)
        .collect::<lsm_workbook::Result<_>>()
        .unwrap()
}

#[test]
fn index_has_one_entry_per_block_ending_with_its_last_version() {
    let entries = numbered_entries(200, 16);
    let fs = build(&entries, indexed(128));
    let table = Table::open(&fs, path()).unwrap();
    let index = table
        .index()
        .expect("a table built with index: true has an index");
    assert_eq!(
        index.entries().len() as u64,
        table.footer().block_count,
        "one index entry per data block"
    );
    let mut expected_offset = 0;
    for (number, entry) in index.entries().iter().enumerate() {
        assert_eq!(
            entry.handle.offset, expected_offset,
            "entry {number}: blocks are contiguous"
        );
        let block = table.read_block(entry.handle).unwrap();
        let last = block.entries().last().unwrap();
        assert_eq!(
            (&entry.last_key, entry.last_seq),
            (&last.key, last.seq),
            "entry {number}: the block's last version"
        );
        expected_offset = entry.handle.end();
    }
    assert_eq!(
        expected_offset,
        table.footer().data_len,
        "the handles tile the data region"
    );
}

#[test]
fn index_layout_matches_snapshot() {
    let mut builder = IndexBuilder::new();
    // The two blocks of chapter 3's worked example (its snapshot), with the
    // handles a real index gives them: 8-byte frame headers included.
    builder.add_block(b"fig", 2, BlockHandle { offset: 0, len: 53 });
    builder.add_block(
        b"kiwi",
        1,
        BlockHandle {
            offset: 53,
            len: 38,
        },
    );
    insta::assert_snapshot!("index_two_blocks", hexdump(&builder.finish()));
}

#[test]
fn point_lookup_reads_at_most_one_data_block() {
    let entries = numbered_entries(500, 24);
    let fs = build(&entries, indexed(256));
    let table = Table::open(&fs, path()).unwrap();
    let absent = (0..100).map(|i| format!("key-{i:05}x").into_bytes());
    for key in entries.iter().map(|e| e.key.to_vec()).chain(absent) {
        fs.reset_reads();
        let _ = table.get(&key, SEQ_MAX).unwrap();
        let reads = fs.reads(TABLE).calls;
        assert!(
            reads <= 1,
            "get({:?}) read the file {reads} times; with an index it reads at most one block",
            String::from_utf8_lossy(&key)
        );
    }
    fs.reset_reads();
    assert_eq!(table.get(b"zzz", SEQ_MAX).unwrap(), None);
    assert_eq!(
        fs.reads(TABLE).calls,
        0,
        "a key after the last block needs no read at all"
    );
}

#[test]
fn lookup_finds_versions_that_straddle_blocks() {
    // 40 versions of one key, spread over many tiny blocks.
    let entries = sorted(
        (1..=40)
            .map(|seq| put("k", seq * 10, &format!("v{seq}")))
            .chain([put("a", 1, "a"), put("z", 1, "z")])
            .collect(),
    );
    let fs = build(&entries, indexed(40));
    let table = Table::open(&fs, path()).unwrap();
    assert!(table.footer().block_count > 10);
    for seq in [5, 10, 15, 99, 100, 101, 255, 399, 400, SEQ_MAX] {
        fs.reset_reads();
        let got = table.get(b"k", seq).unwrap();
        assert_eq!(got, model_get(&entries, b"k", seq), "get(k, {seq})");
        assert!(
            fs.reads(TABLE).calls <= 1,
            "get(k, {seq}): the index must pick the one block (compare last *internal* keys)"
        );
    }
}

#[test]
fn find_returns_the_first_block_whose_last_version_is_at_or_after_the_target() {
    let entries = sorted(vec![
        put("b", 1, "b"),
        put("d", 1, "d"),
        put("f", 9, "f9"),
        put("f", 2, "f2"),
        put("h", 1, "h"),
    ]);
    let fs = build(&entries, indexed(1)); // one entry per block
    let table = Table::open(&fs, path()).unwrap();
    let index = table.index().unwrap();
    assert_eq!(
        index.find(b"a", SEQ_MAX),
        Some(0),
        "before the first key: block 0"
    );
    assert_eq!(index.find(b"b", SEQ_MAX), Some(0), "the first key");
    assert_eq!(
        index.find(b"c", SEQ_MAX),
        Some(1),
        "between blocks: the next block"
    );
    assert_eq!(index.find(b"f", SEQ_MAX), Some(2), "newest f");
    assert_eq!(
        index.find(b"f", 5),
        Some(3),
        "f at seq 5 is f@2, in block 3"
    );
    assert_eq!(index.find(b"h", SEQ_MAX), Some(4), "the last key");
    assert_eq!(index.find(b"i", SEQ_MAX), None, "past the end");
}

#[test]
fn seek_lands_at_the_first_key_at_or_after_the_target() {
    let entries = numbered_entries(100, 8);
    let fs = build(&entries, indexed(96));
    let table = Table::open(&fs, path()).unwrap();
    assert!(table.footer().block_count > 5);
    let first_of_block: Vec<Bytes> = table
        .index()
        .unwrap()
        .entries()
        .iter()
        .map(|e| table.read_block(e.handle).unwrap().entries()[0].key.clone())
        .collect();
    assert_eq!(
        show(&seek_keys(&table, b"")),
        show(&entries),
        "seek(\"\") is the whole table"
    );
    assert_eq!(
        show(&seek_keys(&table, b"key-00000")),
        show(&entries),
        "the first key"
    );
    let middle = &first_of_block[first_of_block.len() / 2];
    let at = entries.iter().position(|e| e.key == *middle).unwrap();
    assert_eq!(
        show(&seek_keys(&table, middle)),
        show(&entries[at..]),
        "the first key of a middle block"
    );
    let between = format!("{}~", String::from_utf8_lossy(&entries[at - 1].key));
    assert_eq!(
        show(&seek_keys(&table, between.as_bytes())),
        show(&entries[at..]),
        "between the last key of a block and the first of the next"
    );
    assert_eq!(
        show(&seek_keys(&table, b"key-00099")),
        show(&entries[99..]),
        "the last key"
    );
    assert!(
        seek_keys(&table, b"key-001").is_empty(),
        "past the end: nothing"
    );
    fs.reset_reads();
    assert!(table.seek(b"zzz").next().is_none());
    assert_eq!(
        fs.reads(TABLE).calls,
        0,
        "a seek past the last block starts at the end of the data: no read"
    );
}

#[test]
fn seek_in_a_one_block_table() {
    let entries = sorted(vec![put("b", 1, "b"), put("d", 1, "d")]);
    let fs = build(&entries, indexed(4096));
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(table.footer().block_count, 1);
    assert_eq!(show(&seek_keys(&table, b"a")), show(&entries));
    assert_eq!(show(&seek_keys(&table, b"c")), show(&entries[1..]));
    assert!(seek_keys(&table, b"e").is_empty());
}

#[test]
fn seek_starts_reading_at_the_target_block() {
    let entries = numbered_entries(300, 16);
    let fs = build(&entries, indexed(128));
    let table = Table::open(&fs, path()).unwrap();
    let index = table.index().unwrap();
    let target = &entries[250].key;
    let expected = index.find(target, SEQ_MAX).unwrap();
    fs.reset_reads();
    let first = table.seek(target).next().unwrap().unwrap();
    assert_eq!(&first.key, target);
    let reads = fs.reads(TABLE);
    assert!(
        reads.calls <= 2,
        "seek must start at block {expected}, not scan from block 0: {} reads",
        reads.calls
    );
}

// Flip every bit of the index block: the table must refuse to open with
// Corruption at the index block's offset.
#[test]
fn damaged_index_is_an_error_at_open() {
    let fs = build(&numbered_entries(60, 8), indexed(64));
    let full = fs.file_bytes(TABLE).unwrap();
    let handle = Table::open(&fs, path()).unwrap().footer().index;
    for bit in handle.offset * 8..handle.end() * 8 {
        let damaged = SimFs::new();
        damaged.create_dir_all(Path::new("db")).unwrap();
        damaged.create(path()).unwrap().append(&full).unwrap();
        damaged.flip_bit(TABLE, bit).unwrap();
        let result = Table::open(&damaged, path());
        assert!(
            matches!(&result, Err(Error::Corruption { file, offset, .. }) if file == path() && *offset == handle.offset),
            "index bit {bit}: expected Corruption at the index block ({}), got {:?}",
            handle.offset,
            result.as_ref().map(|_| "an open table")
        );
    }
}

#[test]
fn decode_checks_the_index_against_the_footer() {
    let footer = |blocks: u64, data_len: u64| Footer {
        data_len,
        block_count: blocks,
        entry_count: blocks,
        ..Footer::default()
    };
    let payload = |blocks: &[(&str, u64, u64)]| {
        let mut builder = IndexBuilder::new();
        for (key, offset, len) in blocks {
            builder.add_block(
                key.as_bytes(),
                1,
                BlockHandle {
                    offset: *offset,
                    len: *len,
                },
            );
        }
        builder.finish()
    };
    let good = payload(&[("b", 0, 50), ("d", 50, 30)]);
    assert!(SparseIndex::decode(&good, &footer(2, 80)).is_ok());
    assert!(
        SparseIndex::decode(&good, &footer(3, 80)).is_err(),
        "entry count must equal block_count"
    );
    assert!(
        SparseIndex::decode(&good, &footer(2, 90)).is_err(),
        "handles must end at data_len"
    );
    assert!(
        SparseIndex::decode(&payload(&[("b", 0, 50), ("d", 60, 20)]), &footer(2, 80)).is_err(),
        "a gap between blocks"
    );
    assert!(
        SparseIndex::decode(&payload(&[("d", 0, 50), ("b", 50, 30)]), &footer(2, 80)).is_err(),
        "last keys out of order"
    );
    let mut long_key = good.clone();
    long_key[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        SparseIndex::decode(&long_key, &footer(2, 80)).is_err(),
        "a key length past the end"
    );
    assert!(
        SparseIndex::decode(&good[..good.len() - 3], &footer(2, 80)).is_err(),
        "a truncated entry"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(
        SparseIndex::decode(&trailing, &footer(2, 80)).is_err(),
        "bytes after the last entry"
    );
    assert!(
        SparseIndex::decode(
            &payload(&[("b", 0, 50), ("c", 50, 0), ("d", 50, 30)]),
            &footer(3, 80)
        )
        .is_err(),
        "an empty block (len 0) is not a block"
    );
    assert!(
        SparseIndex::decode(&payload(&[("b", 0, 50), ("b", 50, 30)]), &footer(2, 80)).is_err(),
        "two entries with the same last version: the order is strict"
    );
    assert!(
        SparseIndex::decode(
            &payload(&[("b", 0, u64::MAX), ("d", 50, 30)]),
            &footer(2, 80)
        )
        .is_err(),
        "a handle whose end overflows u64 is an error, not a panic"
    );
}

// The count says four billion entries and the footer agrees: decode must
// not reserve memory for them before seeing that the bytes are not there.
#[test]
fn decode_never_allocates_from_an_untrusted_count() {
    let footer = Footer {
        data_len: 80,
        block_count: u64::from(u32::MAX),
        entry_count: 1,
        ..Footer::default()
    };
    let mut payload = u32::MAX.to_le_bytes().to_vec();
    payload.extend_from_slice(&[0; 40]);
    assert!(SparseIndex::decode(&payload, &footer).is_err());
}

#[test]
fn data_block_damage_fails_only_lookups_in_that_block() {
    let entries = numbered_entries(120, 16);
    let fs = build(&entries, indexed(160));
    let table = Table::open(&fs, path()).unwrap();
    let handles: Vec<BlockHandle> = table
        .index()
        .unwrap()
        .entries()
        .iter()
        .map(|e| e.handle)
        .collect();
    let victim = handles[handles.len() / 2];
    fs.flip_bit(TABLE, victim.offset * 8 + 77).unwrap();
    let table = Table::open(&fs, path()).unwrap();
    for entry in &entries {
        let position = table.index().unwrap().find(&entry.key, SEQ_MAX).unwrap();
        let result = table.get(&entry.key, SEQ_MAX);
        if handles[position] == victim {
            assert!(
                matches!(&result, Err(Error::Corruption { offset, .. }) if *offset == victim.offset),
                "{:?} lives in the damaged block: expected Corruption at {}, got {result:?}",
                entry.key,
                victim.offset
            );
        } else {
            assert_eq!(
                result.unwrap(),
                Some(entry.value.clone()),
                "{:?} lives in an intact block",
                entry.key
            );
        }
    }
}

#[test]
fn values_larger_than_a_block_are_found() {
    let entries = sorted(vec![
        put("a", 1, "small"),
        put("b", 2, &"B".repeat(3000)),
        put("c", 3, &"C".repeat(1000)),
        put("d", 4, "small"),
    ]);
    let fs = build(&entries, indexed(100));
    let table = Table::open(&fs, path()).unwrap();
    for entry in &entries {
        fs.reset_reads();
        assert_eq!(
            table.get(&entry.key, SEQ_MAX).unwrap(),
            Some(entry.value.clone())
        );
        assert_eq!(
            fs.reads(TABLE).calls,
            1,
            "one read, however large the block"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    // Tables with tiny blocks and values often larger than a block: seeks
    // and scans agree with a BTreeMap of the versions, lookups at every
    // sequence number agree with the model, each with at most one read.
    #[test]
    fn seeks_and_lookups_match_a_btreemap(entries in arb_versions(b'a'..b'e', 30, 200, 120), block_size in 1usize..64, targets in prop::collection::vec(prop::collection::vec(b'a'..b'f', 0..4), 1..8)) {
        let fs = build(&entries, indexed(block_size));
        let table = Table::open(&fs, path()).unwrap();
        let model: BTreeMap<(Bytes, std::cmp::Reverse<u64>), Value> =
            entries.iter().map(|e| ((e.key.clone(), std::cmp::Reverse(e.seq)), e.value.clone())).collect();
        for target in &targets {
            let expected: Vec<Entry> = model
                .range((Bytes::from(target.clone()), std::cmp::Reverse(SEQ_MAX))..)
                .map(|((key, seq), value)| Entry { key: key.clone(), seq: seq.0, value: value.clone() })
                .collect();
            prop_assert_eq!(seek_keys(&table, target), expected, "seek({:?})", target);
            for seq in [0, 3, 15, SEQ_MAX] {
                fs.reset_reads();
                prop_assert_eq!(table.get(target, seq).unwrap(), model_get(&entries, target, seq));
                prop_assert!(fs.reads(TABLE).calls <= 1);
            }
        }
    }

    // Any bytes as an index payload: decode returns an index or an error.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), blocks in 0u64..4, data_len in 0u64..400) {
        let footer = Footer { data_len, block_count: blocks, entry_count: blocks, ..Footer::default() };
        if let Ok(index) = SparseIndex::decode(&bytes, &footer) {
            let _ = index.find(b"key", SEQ_MAX);
        }
    }
}
