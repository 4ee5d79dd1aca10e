//! Graded tests for chapter 3 — the SSTable. Book: "3. The SSTable".
//! Run: `cargo test --test ch03_sstable`.
//!
//! These tables have no filter and no index (`TableOptions::plain`), so
//! everything here is chapter 3's code: blocks, the footer, the builder,
//! the reader and its scans.

mod support;

use std::path::Path;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch01_memtable::Memtable;
use lsm_workbook::ch03_sstable::block::{self, ENTRY_LEN_MIN_BYTES};
use lsm_workbook::ch03_sstable::footer::{FORMAT_VERSION, TABLE_MAGIC};
use lsm_workbook::ch03_sstable::{
    Block, BlockBuilder, BlockHandle, FOOTER_LEN_BYTES, Footer, Table, TableOptions, write_table,
};
use lsm_workbook::fs::{Fs, OpKind, SimFs};
use lsm_workbook::types::{Entry, SEQ_MAX, Value};
use proptest::prelude::*;
use support::{arb_versions, del, hexdump, model_get, numbered_entries, put, show, sorted, val};

const TABLE: &str = "db/000005.sst";

fn path() -> &'static Path {
    Path::new(TABLE)
}

fn new_fs() -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db")).unwrap();
    fs
}

/// Writes `entries` as a plain table with blocks of `block_size` bytes.
fn build(entries: &[Entry], block_size: usize) -> SimFs {
    let fs = new_fs();
    write_table(
        &fs,
        path(),
        TableOptions::plain(block_size),
        entries.iter().cloned(),
    )
    .unwrap();
    fs
}

fn fs_with_bytes(bytes: &[u8]) -> SimFs {
    let fs = new_fs();
    fs.create(path()).unwrap().append(bytes).unwrap();
    fs
}

fn scan(table: &Table) -> lsm_workbook::Result<Vec<Entry>> {
    table.iter().collect()
}

/// Where each data block starts, by walking the data region.
fn block_offsets(table: &Table) -> Vec<u64> {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset < table.footer().data_len {
        offsets.push(offset);
        offset = table.read_block_at(offset).unwrap().1;
    }
    offsets
}

#[test]
fn frame_then_unframe_returns_the_payload() {
    let framed = block::frame(b"hello, block");
    assert_eq!(
        framed.len(),
        8 + 12,
        "a frame is an 8-byte header and the payload"
    );
    assert_eq!(
        &framed[0..4],
        &12u32.to_le_bytes(),
        "len (u32 LE) comes first"
    );
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&framed[0..4]);
    hasher.update(b"hello, block");
    assert_eq!(
        &framed[4..8],
        &hasher.finalize().to_le_bytes(),
        "crc covers len and payload"
    );
    assert_eq!(block::unframe(&framed), Ok(b"hello, block".as_slice()));
}

#[test]
fn unframe_rejects_every_single_bit_flip() {
    let framed = block::frame(b"some payload bytes");
    for bit in 0..framed.len() * 8 {
        let mut damaged = framed.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            block::unframe(&damaged).is_err(),
            "flipping bit {bit} must be detected"
        );
    }
    let mut short_len = framed.clone();
    let len = (framed.len() - 8 - 1) as u32;
    short_len[0..4].copy_from_slice(&len.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&short_len[0..4]);
    hasher.update(&short_len[8..]);
    short_len[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
    assert!(
        block::unframe(&short_len).is_err(),
        "a length field that disagrees with the frame is an error, even with a matching checksum"
    );
    assert!(
        block::unframe(&framed[..5]).is_err(),
        "a frame shorter than its header is an error"
    );
    assert!(
        block::unframe(&framed[..framed.len() - 1]).is_err(),
        "a frame shorter than its length says is an error"
    );
}

#[test]
fn block_round_trips_puts_tombstones_and_sequence_numbers() {
    let entries = vec![
        put("a", 9, "new"),
        put("a", 2, "old"),
        del("b", 5),
        put("c", 1, ""),
        put("d", u64::MAX - 1, "max"),
    ];
    let mut builder = BlockBuilder::new();
    assert!(builder.is_empty());
    for entry in &entries {
        builder.add(entry);
    }
    assert_eq!(builder.entry_count(), 5);
    let payload = builder.finish();
    assert_eq!(
        payload.len(),
        builder_size_of(&entries),
        "payload = count (4) + each entry's encoding"
    );
    let block = Block::decode(Bytes::from(payload)).unwrap();
    assert_eq!(show(block.entries()), show(&entries));
    assert!(
        builder.is_empty(),
        "finish leaves the builder empty, ready for the next block"
    );
}

/// The payload size the format in the book implies.
fn builder_size_of(entries: &[Entry]) -> usize {
    4 + entries
        .iter()
        .map(|e| 4 + e.key.len() + 8 + 1 + e.value.as_put().map_or(0, |v| 4 + v.len()))
        .sum::<usize>()
}

#[test]
fn block_size_grows_as_entries_are_added() {
    let mut builder = BlockBuilder::new();
    let empty = builder.size_bytes();
    builder.add(&put("key", 1, "value"));
    assert_eq!(
        builder.size_bytes() - empty,
        4 + 3 + 8 + 1 + 4 + 5,
        "size_bytes grows by the entry's encoded size"
    );
    let size = builder.size_bytes();
    assert_eq!(
        builder.finish().len(),
        size,
        "size_bytes is the size the payload will have"
    );
}

#[test]
fn block_decode_never_trusts_a_count_or_length() {
    let mut builder = BlockBuilder::new();
    builder.add(&put("key", 1, "value"));
    let good = builder.finish();
    let mut huge_count = good.clone();
    huge_count[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        Block::decode(Bytes::from(huge_count)).is_err(),
        "a count larger than the bytes allow is an error"
    );
    let mut huge_key = good.clone();
    huge_key[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        Block::decode(Bytes::from(huge_key)).is_err(),
        "a key length past the end is an error"
    );
    let mut tombstone = BlockBuilder::new();
    tombstone.add(&del("key", 1));
    let mut bad_tag = tombstone.finish();
    bad_tag[4 + 4 + 3 + 8] = 7; // the tag of a tombstone: nothing follows it
    assert!(
        Block::decode(Bytes::from(bad_tag)).is_err(),
        "an unknown tag is an error, not a delete"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(
        Block::decode(Bytes::from(trailing)).is_err(),
        "bytes after the last entry are an error"
    );
    assert!(
        Block::decode(Bytes::new()).is_err(),
        "an empty payload has no count"
    );
    assert_eq!(ENTRY_LEN_MIN_BYTES, 13);
}

#[test]
fn block_decode_rejects_entries_out_of_order() {
    let mut builder = BlockBuilder::new();
    builder.add(&put("b", 1, "x"));
    builder.add(&put("a", 2, "y")); // wrong order: the builder trusts its caller
    assert!(
        Block::decode(Bytes::from(builder.finish())).is_err(),
        "a block must be in internal order"
    );
    builder.add(&put("b", 1, "old"));
    builder.add(&put("b", 2, "new"));
    assert!(
        Block::decode(Bytes::from(builder.finish())).is_err(),
        "versions of a key come newest first: b@1 before b@2 is out of order"
    );
    builder.add(&put("b", 2, "x"));
    builder.add(&put("b", 2, "x"));
    assert!(
        Block::decode(Bytes::from(builder.finish())).is_err(),
        "the order is strict: the same version twice is an error"
    );
}

#[test]
fn block_seek_finds_the_first_entry_at_or_after_a_version() {
    let mut builder = BlockBuilder::new();
    for entry in [
        put("a", 5, "a5"),
        put("c", 9, "c9"),
        put("c", 4, "c4"),
        put("e", 1, "e1"),
    ] {
        builder.add(&entry);
    }
    let block = Block::decode(Bytes::from(builder.finish())).unwrap();
    assert_eq!(block.seek(b"a", SEQ_MAX), 0);
    assert_eq!(block.seek(b"b", SEQ_MAX), 1, "between keys: the next key");
    assert_eq!(block.seek(b"c", SEQ_MAX), 1, "newest version of c");
    assert_eq!(block.seek(b"c", 8), 2, "at seq 8, c@9 is too new: c@4");
    assert_eq!(
        block.seek(b"c", 3),
        3,
        "at seq 3 no version of c: the next entry"
    );
    assert_eq!(
        block.seek(b"z", SEQ_MAX),
        4,
        "past the end: entries().len()"
    );
}

#[test]
fn footer_layout_is_fixed_and_checksummed() {
    let footer = Footer {
        data_len: 0x1111,
        block_count: 2,
        entry_count: 30,
        filter: BlockHandle {
            offset: 0x1111,
            len: 0x22,
        },
        index: BlockHandle {
            offset: 0x1133,
            len: 0x44,
        },
    };
    let bytes = footer.encode();
    assert_eq!(bytes.len(), FOOTER_LEN_BYTES);
    assert_eq!(&bytes[0..8], &0x1111u64.to_le_bytes(), "data_len at 0");
    assert_eq!(&bytes[8..16], &2u64.to_le_bytes(), "block_count at 8");
    assert_eq!(&bytes[16..24], &30u64.to_le_bytes(), "entry_count at 16");
    assert_eq!(
        &bytes[24..32],
        &0x1111u64.to_le_bytes(),
        "filter offset at 24"
    );
    assert_eq!(&bytes[32..40], &0x22u64.to_le_bytes(), "filter len at 32");
    assert_eq!(
        &bytes[40..48],
        &0x1133u64.to_le_bytes(),
        "index offset at 40"
    );
    assert_eq!(&bytes[48..56], &0x44u64.to_le_bytes(), "index len at 48");
    assert_eq!(
        &bytes[56..60],
        &FORMAT_VERSION.to_le_bytes(),
        "version at 56"
    );
    assert_eq!(
        &bytes[60..64],
        &crc32fast::hash(&bytes[..60]).to_le_bytes(),
        "crc of [0, 60) at 60"
    );
    assert_eq!(&bytes[64..72], b"LSMWBTAB", "the magic ends the file");
    assert_eq!(TABLE_MAGIC.to_le_bytes(), *b"LSMWBTAB");
    let file_len = 0x1133 + 0x44 + FOOTER_LEN_BYTES as u64;
    assert_eq!(Footer::decode(&bytes, file_len), Ok(footer));
    assert!(
        Footer::decode(&bytes, file_len - 1).is_err(),
        "regions must fit in the file"
    );
}

#[test]
fn table_round_trip_preserves_every_entry() {
    let entries = numbered_entries(500, 20);
    let fs = build(&entries, 256);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        show(&scan(&table).unwrap()),
        show(&entries),
        "iter must yield every entry, in order"
    );
    let footer = table.footer();
    assert_eq!(footer.entry_count, 500);
    assert!(
        footer.block_count > 10,
        "256-byte blocks: many blocks, got {}",
        footer.block_count
    );
    assert_eq!(
        footer.filter,
        BlockHandle::NONE,
        "plain tables have no filter"
    );
    assert_eq!(
        footer.index,
        BlockHandle::NONE,
        "plain tables have no index"
    );
    let appends = fs
        .trace()
        .iter()
        .filter(|op| op.kind == OpKind::Append)
        .count() as u64;
    assert_eq!(
        appends,
        footer.block_count + 1,
        "one append per framed block, one for the footer: a block is never split between calls"
    );
}

#[test]
fn empty_table_round_trips() {
    let fs = build(&[], 4096);
    assert_eq!(
        fs.file_bytes(TABLE).unwrap().len(),
        FOOTER_LEN_BYTES,
        "an empty table is just a footer"
    );
    let table = Table::open(&fs, path()).unwrap();
    assert!(scan(&table).unwrap().is_empty());
    assert_eq!(table.get_by_scan(b"anything", SEQ_MAX).unwrap(), None);
}

#[test]
fn memtable_flushes_to_a_table() {
    let memtable = Memtable::new();
    for (seq, key) in (1..).zip(["pear", "apple", "fig", "apple", "kiwi"]) {
        memtable.put(Bytes::from(key), seq, Bytes::from(format!("{key}{seq}")));
    }
    memtable.delete(Bytes::from("fig"), 6);
    let fs = new_fs();
    let summary = write_table(&fs, path(), TableOptions::plain(64), memtable.iter()).unwrap();
    assert_eq!(summary.entry_count, 6);
    assert_eq!(
        summary.key_range,
        Some((Bytes::from("apple"), Bytes::from("pear")))
    );
    assert_eq!(summary.file_len, fs.file_bytes(TABLE).unwrap().len() as u64);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        show(&scan(&table).unwrap()),
        show(&memtable.iter().collect::<Vec<_>>())
    );
    assert_eq!(
        fs.durable_bytes(TABLE),
        fs.file_bytes(TABLE),
        "finish syncs the table file"
    );
}

#[test]
fn blocks_close_once_they_reach_the_size_target() {
    let entries = vec![
        put("a", 1, &"x".repeat(10)),
        put("b", 2, &"y".repeat(5000)),
        put("c", 3, "z"),
    ];
    let fs = build(&entries, 100);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        table.footer().block_count,
        2,
        "a: under 100 bytes, joined by b which passes it; c alone"
    );
    let fs = build(&entries, 10);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        table.footer().block_count,
        3,
        "every entry passes a 10-byte target: one block each"
    );
    assert_eq!(
        table.get_by_scan(b"b", SEQ_MAX).unwrap(),
        Some(val(&"y".repeat(5000)))
    );
}

#[test]
fn table_layout_matches_snapshot() {
    let fs = build(
        &[
            put("apple", 3, "red"),
            del("fig", 2),
            put("kiwi", 1, "green"),
        ],
        30,
    );
    insta::assert_snapshot!(
        "table_three_entries",
        hexdump(&fs.file_bytes(TABLE).unwrap())
    );
}

#[test]
fn get_by_scan_returns_the_newest_visible_version() {
    let entries = sorted(vec![
        put("k", 10, "ten"),
        put("k", 20, "twenty"),
        del("k", 30),
        put("j", 5, "j"),
        put("m", 1, "m"),
    ]);
    let fs = build(&entries, 16);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        table.get_by_scan(b"k", SEQ_MAX).unwrap(),
        Some(Value::Delete),
        "the tombstone is the newest"
    );
    assert_eq!(table.get_by_scan(b"k", 29).unwrap(), Some(val("twenty")));
    assert_eq!(table.get_by_scan(b"k", 15).unwrap(), Some(val("ten")));
    assert_eq!(
        table.get_by_scan(b"k", 9).unwrap(),
        None,
        "no version of k at or below 9"
    );
    assert_eq!(
        table.get_by_scan(b"a", SEQ_MAX).unwrap(),
        None,
        "before the first key"
    );
    assert_eq!(
        table.get_by_scan(b"l", SEQ_MAX).unwrap(),
        None,
        "between keys"
    );
    assert_eq!(
        table.get_by_scan(b"z", SEQ_MAX).unwrap(),
        None,
        "after the last key"
    );
    assert_eq!(
        table.get(b"m", SEQ_MAX).unwrap(),
        Some(val("m")),
        "get on a plain table scans"
    );
    fs.reset_reads();
    assert_eq!(table.get_by_scan(b"j", SEQ_MAX).unwrap(), Some(val("j")));
    assert_eq!(
        fs.reads(TABLE).calls,
        2,
        "j is in the first block: a scan reads its header and the block, and stops"
    );
}

#[test]
fn footer_decode_rejects_bad_versions_overlaps_and_overflowing_handles() {
    let file_len = 1000 + FOOTER_LEN_BYTES as u64;
    let good = Footer {
        data_len: 600,
        block_count: 3,
        entry_count: 30,
        filter: BlockHandle {
            offset: 600,
            len: 100,
        },
        index: BlockHandle {
            offset: 700,
            len: 300,
        },
    };
    assert_eq!(Footer::decode(&good.encode(), file_len), Ok(good));
    let mut version_2 = good.encode();
    version_2[56..60].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&version_2[..60]);
    version_2[60..64].copy_from_slice(&crc.to_le_bytes());
    assert!(
        Footer::decode(&version_2, file_len).is_err(),
        "an unknown format version is an error, checksum or not"
    );
    let overlapping = Footer {
        index: BlockHandle {
            offset: 650,
            len: 300,
        },
        ..good
    };
    assert!(
        Footer::decode(&overlapping.encode(), file_len).is_err(),
        "the index may not overlap the filter"
    );
    let before_data = Footer {
        filter: BlockHandle {
            offset: 500,
            len: 100,
        },
        ..good
    };
    assert!(
        Footer::decode(&before_data.encode(), file_len).is_err(),
        "the filter may not overlap the data"
    );
    let overflowing = Footer {
        filter: BlockHandle {
            offset: u64::MAX - 10,
            len: 100,
        },
        ..good
    };
    assert!(
        Footer::decode(&overflowing.encode(), file_len).is_err(),
        "offset + len overflowing u64 is an error, not a panic"
    );
    let huge_data = Footer {
        data_len: u64::MAX,
        filter: BlockHandle::NONE,
        index: BlockHandle::NONE,
        ..good
    };
    assert!(
        Footer::decode(&huge_data.encode(), file_len).is_err(),
        "data_len past the file is an error"
    );
}

// A block whose frame is intact but whose payload cannot be a block (its
// checksum matches what a buggy writer wrote) is Corruption at its offset.
#[test]
fn undecodable_block_is_corruption_at_its_offset() {
    let mut good = BlockBuilder::new();
    good.add(&put("a", 1, "x"));
    let first = block::frame(&good.finish());
    let second = block::frame(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    let mut bytes = [first.clone(), second.clone()].concat();
    let footer = Footer {
        data_len: bytes.len() as u64,
        block_count: 2,
        entry_count: 2,
        ..Footer::default()
    };
    bytes.extend_from_slice(&footer.encode());
    let table = Table::open(&fs_with_bytes(&bytes), path()).unwrap();
    assert_eq!(
        table.get_by_scan(b"a", SEQ_MAX).unwrap(),
        Some(val("x")),
        "the first block is fine"
    );
    let result = table.get_by_scan(b"b", SEQ_MAX);
    assert!(
        matches!(&result, Err(Error::Corruption { offset, .. }) if *offset == first.len() as u64),
        "the second block starts at {}: a decode error must name that offset, got {result:?}",
        first.len()
    );
}

#[test]
fn seek_starts_at_the_first_key_at_or_after_the_target() {
    let entries = numbered_entries(50, 8);
    let fs = build(&entries, 64);
    let table = Table::open(&fs, path()).unwrap();
    let from = |target: &str| -> Vec<Entry> {
        table
            .seek(target.as_bytes())
            .collect::<lsm_workbook::Result<_>>()
            .unwrap()
    };
    assert_eq!(show(&from("key-00020")), show(&entries[20..]));
    assert_eq!(
        show(&from("key-00020x")),
        show(&entries[21..]),
        "between keys: the next key"
    );
    assert_eq!(show(&from("a")), show(&entries));
    assert!(from("zzz").is_empty());
}

#[test]
fn builder_rejects_entries_out_of_internal_order() {
    let fs = new_fs();
    let mut builder =
        lsm_workbook::ch03_sstable::TableBuilder::create(&fs, path(), TableOptions::plain(64))
            .unwrap();
    builder.add(&put("b", 5, "x")).unwrap();
    let back = builder.add(&put("a", 6, "y"));
    assert!(
        matches!(back, Err(Error::InvalidArgument(_))),
        "a smaller key after b must be refused, got {back:?}"
    );
    let older_first = builder.add(&put("b", 9, "y"));
    assert!(
        matches!(older_first, Err(Error::InvalidArgument(_))),
        "b@9 after b@5 breaks seq-descending order, got {older_first:?}"
    );
}

#[test]
fn truncated_table_is_rejected_at_open() {
    let fs = build(&numbered_entries(40, 10), 128);
    let full = fs.file_bytes(TABLE).unwrap();
    for cut in 0..full.len() {
        let result = Table::open(&fs_with_bytes(&full[..cut]), path());
        assert!(
            matches!(&result, Err(Error::Corruption { file, .. }) if file == path()),
            "a table cut to {cut} of {} bytes must be Corruption naming {TABLE}, got {:?}",
            full.len(),
            result.as_ref().map(|_| "an open table")
        );
    }
}

#[test]
fn every_footer_bit_flip_is_corruption_at_open() {
    let fs = build(&numbered_entries(40, 10), 128);
    let full = fs.file_bytes(TABLE).unwrap();
    let footer_offset = (full.len() - FOOTER_LEN_BYTES) as u64;
    for bit in footer_offset * 8..full.len() as u64 * 8 {
        let damaged = fs_with_bytes(&full);
        damaged.flip_bit(TABLE, bit).unwrap();
        let result = Table::open(&damaged, path());
        assert!(
            matches!(&result, Err(Error::Corruption { file, offset, .. }) if file == path() && *offset == footer_offset),
            "flipping footer bit {bit} must be Corruption at the footer's offset {footer_offset}, got {:?}",
            result.as_ref().map(|_| "an open table")
        );
    }
}

// Flip bits spread over every data block; reads that touch the damaged
// block fail with Corruption at its offset, reads that end before it
// answer correctly — present keys, and absent keys too: a lookup stops at
// the first entry at or after its key, it does not read on.
#[test]
fn data_block_damage_fails_only_the_reads_that_touch_it() {
    let entries = numbered_entries(60, 12);
    let fs = build(&entries, 200);
    let full = fs.file_bytes(TABLE).unwrap();
    let table = Table::open(&fs, path()).unwrap();
    let offsets = block_offsets(&table);
    // The offset of the block holding each entry, from the undamaged table.
    let block_of: Vec<u64> = offsets
        .iter()
        .flat_map(|&offset| {
            let count = table.read_block_at(offset).unwrap().0.entries().len();
            std::iter::repeat_n(offset, count)
        })
        .collect();
    assert_eq!(block_of.len(), entries.len());
    let data_len = table.footer().data_len;
    for bit in (0..data_len * 8).step_by(29) {
        let damaged_at = *offsets
            .iter()
            .rev()
            .find(|&&start| start * 8 <= bit)
            .unwrap();
        let damaged = fs_with_bytes(&full);
        damaged.flip_bit(TABLE, bit).unwrap();
        let table = Table::open(&damaged, path())
            .expect("data damage is found when a block is read, not at open");
        for (i, entry) in entries.iter().enumerate().step_by(3) {
            let result = table.get_by_scan(&entry.key, SEQ_MAX);
            if block_of[i] < damaged_at {
                assert_eq!(
                    result.unwrap(),
                    Some(entry.value.clone()),
                    "bit {bit}: key {:?} lies before the damage",
                    entry.key
                );
            } else {
                assert!(
                    matches!(&result, Err(Error::Corruption { file, offset, .. }) if file == path() && *offset == damaged_at),
                    "bit {bit}: the lookup of {:?} reaches the damaged block at {damaged_at}: expected Corruption there, got {result:?}",
                    entry.key
                );
            }
            // An absent key just after this one: its lookup ends at the next
            // entry, so it must not read past that entry's block.
            let mut absent = entry.key.to_vec();
            absent.push(0);
            if block_of.get(i + 1).is_some_and(|&next| next < damaged_at) {
                let result = table.get_by_scan(&absent, SEQ_MAX);
                assert!(
                    matches!(result, Ok(None)),
                    "bit {bit}: {:?} is absent and its lookup ends before the damaged block at {damaged_at} \
                     (stop at the first entry at or after the key), got {result:?}",
                    String::from_utf8_lossy(&absent)
                );
            }
        }
        let iterated: lsm_workbook::Result<Vec<Entry>> =
            table.iter().take(entries.len() + 1).collect();
        assert!(
            matches!(iterated, Err(Error::Corruption { .. })),
            "bit {bit}: a full scan must report the damage"
        );
    }
}

#[test]
fn iteration_stops_after_reporting_damage() {
    let fs = build(&numbered_entries(60, 12), 200);
    let table = Table::open(&fs, path()).unwrap();
    let second_block = block_offsets(&table)[1];
    fs.flip_bit(TABLE, second_block * 8 + 100).unwrap();
    let table = Table::open(&fs, path()).unwrap();
    // Bounded, so an iterator that never ends fails here instead of filling memory.
    let items: Vec<lsm_workbook::Result<Entry>> = table.iter().take(100).collect();
    let errors = items.iter().filter(|item| item.is_err()).count();
    assert_eq!(
        errors, 1,
        "the damage is reported once, then the iterator ends"
    );
    assert!(items.last().unwrap().is_err(), "nothing after the error");
    assert!(
        items[..items.len() - 1].iter().all(Result::is_ok),
        "the first block's entries come first"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    // Random versions (short keys, many versions per key, tombstones) in
    // tables with random block sizes: a scan returns them all, and every
    // lookup at every sequence number agrees with the model.
    #[test]
    fn table_matches_model(entries in arb_versions(0..4, 50, 30, 80), block_size in 1usize..300) {
        let fs = build(&entries, block_size);
        let table = Table::open(&fs, path()).unwrap();
        prop_assert_eq!(scan(&table).unwrap(), entries.clone());
        for key in entries.iter().map(|e| e.key.clone()).chain([Bytes::from_static(b"\x03\x03\x03\x03")]) {
            for seq in [0, 1, 10, 25, 49, SEQ_MAX] {
                prop_assert_eq!(table.get_by_scan(&key, seq).unwrap(), model_get(&entries, &key, seq), "key {:?} seq {}", key, seq);
            }
        }
    }

    // Any bytes as a table file: open, scan and lookups return values or
    // errors, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), tail in any::<bool>()) {
        let mut bytes = bytes;
        if tail {
            // Give the garbage a valid-looking footer so decoding goes deeper.
            let footer = Footer { data_len: bytes.len() as u64, block_count: 1, entry_count: 1, ..Footer::default() };
            bytes.extend_from_slice(&footer.encode());
        }
        if let Ok(table) = Table::open(&fs_with_bytes(&bytes), path()) {
            let _ = table.iter().take(10_000).count();
            let _ = table.get_by_scan(b"key", SEQ_MAX);
        }
    }
}
