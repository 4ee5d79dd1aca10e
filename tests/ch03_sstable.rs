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
use support::alloc::measure;
use support::{
    arb_versions, del, hexdump, model_get, numbered_entries, put, scan_bounded, scan_items_bounded,
    show, sorted, val,
};

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

/// Every entry of the table in `fs`, by a scan that must end: at most
/// `entry_count` entries (see `support::scan_items_bounded`).
fn scan(fs: &SimFs, entry_count: usize) -> lsm_workbook::Result<Vec<Entry>> {
    scan_bounded(fs, path(), entry_count, |table| table.iter())
}

/// Where each data block starts, by walking the data region; fails, saying
/// so, if the walk does not advance.
fn block_offsets(table: &Table) -> Vec<u64> {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset < table.footer().data_len {
        offsets.push(offset);
        let next = table.read_block_at(offset).unwrap().1;
        assert!(
            next > offset,
            "read_block_at({offset}) says the next block starts at {next}: it must be the \
             offset just past this block (BlockHandle::end), or a scan never ends"
        );
        offset = next;
    }
    offsets
}

/// The framed-block checksum the book specifies: CRC-32 of the block's
/// offset (u64 LE), the payload length field and the payload.
fn frame_crc(offset: u64, len_field: &[u8], payload: &[u8]) -> [u8; 4] {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&offset.to_le_bytes());
    hasher.update(len_field);
    hasher.update(payload);
    hasher.finalize().to_le_bytes()
}

/// A table file made by hand: `blocks` (payloads) framed at their offsets,
/// then a footer with the right lengths and `block_count`/`entry_count`
/// as given.
fn table_bytes(blocks: &[Vec<u8>], block_count: u64, entry_count: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for payload in blocks {
        let framed = block::frame(payload, bytes.len() as u64);
        bytes.extend_from_slice(&framed);
    }
    let footer = Footer {
        data_len: bytes.len() as u64,
        block_count,
        entry_count,
        table_len: (bytes.len() + FOOTER_LEN_BYTES) as u64,
        ..Footer::default()
    };
    bytes.extend_from_slice(&footer.encode());
    bytes
}

/// A block payload holding `entries`.
fn payload_of(entries: &[Entry]) -> Vec<u8> {
    let mut builder = BlockBuilder::new();
    for entry in entries {
        builder.add(entry);
    }
    builder.finish()
}

/// `result` is Corruption in the test table at `offset` (`result` may hold
/// the error or a reference to it).
fn is_corruption_at<T, E: std::borrow::Borrow<Error>>(result: &Result<T, E>, offset: u64) -> bool {
    matches!(
        result.as_ref().map_err(|error| error.borrow()),
        Err(Error::Corruption { file, offset: at, .. }) if file == path() && *at == offset
    )
}

/// A short description of a result for failure messages (never a whole
/// table).
fn outcome<T: std::fmt::Debug, E: std::fmt::Debug>(result: &Result<T, E>) -> String {
    let text = format!("{result:?}");
    match text.chars().count() > 300 {
        true => format!(
            "{}… (cut short)",
            text.chars().take(300).collect::<String>()
        ),
        false => text,
    }
}

#[test]
fn frame_then_unframe_returns_the_payload() {
    let framed = block::frame(b"hello, block", 4096);
    assert_eq!(
        framed.len(),
        8 + 12,
        "a frame is an 8-byte header and the payload (the offset is not stored)"
    );
    assert_eq!(
        &framed[0..4],
        &12u32.to_le_bytes(),
        "len (u32 LE, the payload's length) comes first"
    );
    assert_eq!(
        &framed[4..8],
        &frame_crc(4096, &framed[0..4], b"hello, block"),
        "crc is CRC-32 of offset (u64 LE) || len || payload"
    );
    assert_eq!(
        block::unframe(&framed, 4096),
        Ok(b"hello, block".as_slice()),
        "a frame read back at the offset it was made for gives its payload"
    );
}

// The checksum binds a block to its place: the same bytes are damage at
// any other offset, so a moved or copied block is never trusted.
#[test]
fn a_frame_is_valid_only_at_its_own_offset() {
    let framed = block::frame(b"payload", 200);
    assert!(
        block::unframe(&framed, 200).is_ok(),
        "a frame is valid at the offset it was made for"
    );
    for other in [0, 199, 201, 200 + framed.len() as u64, 200 + (1 << 32)] {
        assert!(
            block::unframe(&framed, other).is_err(),
            "a frame made for offset 200 read at {other} must fail its checksum: \
             does the crc cover the offset (all 8 bytes of it)?"
        );
    }
}

#[test]
fn unframe_rejects_every_single_bit_flip() {
    let framed = block::frame(b"some payload bytes", 0);
    for bit in 0..framed.len() * 8 {
        let mut damaged = framed.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            block::unframe(&damaged, 0).is_err(),
            "flipping bit {bit} must be detected"
        );
    }
    let mut short_len = framed.clone();
    let len = (framed.len() - 8 - 1) as u32;
    short_len[0..4].copy_from_slice(&len.to_le_bytes());
    let crc = frame_crc(0, &short_len[0..4], &short_len[8..]);
    short_len[4..8].copy_from_slice(&crc);
    assert!(
        block::unframe(&short_len, 0).is_err(),
        "a length field that disagrees with the frame is an error, even with a matching checksum"
    );
    assert!(
        block::unframe(&framed[..5], 0).is_err(),
        "a frame shorter than its header is an error"
    );
    assert!(
        block::unframe(&framed[..framed.len() - 1], 0).is_err(),
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
        "payload = each entry's encoding + one u32 offset per entry + the count (u32)"
    );
    let count_at = payload.len() - 4;
    assert_eq!(
        &payload[count_at..],
        &5u32.to_le_bytes(),
        "the count (u32 LE) ends the payload"
    );
    let mut start = 0u32;
    for (index, entry) in entries.iter().enumerate() {
        let slot = count_at - 4 * (entries.len() - index);
        assert_eq!(
            &payload[slot..slot + 4],
            &start.to_le_bytes(),
            "offset {index} (u32 LE, just before the count) is where entry {index} starts"
        );
        start += entry_len(entry) as u32;
    }
    let block = Block::decode(Bytes::from(payload)).unwrap();
    assert_eq!(block.len(), 5, "len() is the entry count");
    assert_eq!(show(&block.entries().unwrap()), show(&entries));
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(
            show(&[block.entry(index).unwrap()]),
            show(std::slice::from_ref(entry)),
            "entry({index}) decodes that one entry"
        );
    }
    assert!(
        block.entry(5).is_err(),
        "entry(len()) is past the end: an error, not a panic"
    );
    assert!(
        builder.is_empty(),
        "finish leaves the builder empty, ready for the next block"
    );
}

/// The encoded size of one entry, as the book draws it.
fn entry_len(entry: &Entry) -> usize {
    4 + entry.key.len() + 8 + 1 + entry.value.as_put().map_or(0, |v| 4 + v.len())
}

/// The payload size the format in the book implies.
fn builder_size_of(entries: &[Entry]) -> usize {
    entries.iter().map(|e| entry_len(e) + 4).sum::<usize>() + 4
}

#[test]
fn block_size_grows_as_entries_are_added() {
    let mut builder = BlockBuilder::new();
    let empty = builder.size_bytes();
    builder.add(&put("key", 1, "value"));
    assert_eq!(empty, 4, "an empty block is just its count");
    assert_eq!(
        builder.size_bytes() - empty,
        4 + 3 + 8 + 1 + 4 + 5 + 4,
        "size_bytes grows by the entry's encoded size and its 4-byte offset"
    );
    let size = builder.size_bytes();
    assert_eq!(
        builder.finish().len(),
        size,
        "size_bytes is the size the payload will have"
    );
}

#[test]
fn block_decode_never_trusts_a_count_or_an_offset() {
    let good = payload_of(&[put("key", 1, "value"), put("lime", 2, "green")]);
    let count_at = good.len() - 4;
    let with = |at: usize, word: u32| {
        let mut payload = good.clone();
        payload[at..at + 4].copy_from_slice(&word.to_le_bytes());
        Bytes::from(payload)
    };
    assert!(
        Block::decode(with(count_at, u32::MAX)).is_err(),
        "a count larger than the bytes allow (13 bytes per entry + 4 per offset) is an error"
    );
    assert!(
        Block::decode(with(count_at, 3)).is_err(),
        "a count that disagrees with the offsets array (3 for a block of 2 entries) is an error"
    );
    let offset_1 = count_at - 4;
    let second = entry_len(&put("key", 1, "value")) as u32;
    for (bad, why) in [
        (good.len() as u32, "past the payload"),
        (second + 100, "past the entries"),
        (5, "inside the first entry, which needs at least 13 bytes"),
        (0, "equal to offset 0: offsets must increase"),
    ] {
        assert!(
            Block::decode(with(offset_1, bad)).is_err(),
            "offset 1 = {bad} ({why}) is an error at decode"
        );
    }
    assert!(
        Block::decode(with(offset_1 - 4, 1)).is_err(),
        "offset 0 must be 0"
    );
    assert!(
        Block::decode(Bytes::new()).is_err(),
        "an empty payload has no count"
    );
    assert!(
        Block::decode(Bytes::from_static(&[1, 0, 0])).is_err(),
        "3 bytes cannot hold a count"
    );
    let mut entries_but_no_count = good[..count_at - 8].to_vec();
    entries_but_no_count.extend_from_slice(&0u32.to_le_bytes());
    assert!(
        Block::decode(Bytes::from(entries_but_no_count)).is_err(),
        "a count of 0 with entry bytes before it is an error: nothing may sit outside the entries"
    );
    assert_eq!(ENTRY_LEN_MIN_BYTES, 13);
}

#[test]
fn block_entry_checks_its_fields_against_its_span() {
    let good = payload_of(&[del("key", 1), put("lime", 2, "green")]);
    let block = |payload: Vec<u8>| Block::decode(Bytes::from(payload)).unwrap();
    let mut huge_key = good.clone();
    huge_key[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        block(huge_key.clone()).entry(0).is_err(),
        "a key length past the entry's span is an error"
    );
    assert!(
        block(huge_key).seek(b"key", SEQ_MAX).is_err(),
        "seek decodes keys too: a key length past the span is an error, not a panic"
    );
    let mut long_key = good.clone();
    long_key[0..4].copy_from_slice(&4u32.to_le_bytes());
    assert!(
        block(long_key).entry(0).is_err(),
        "the tombstone's key length says 4, its span holds 3 + 8 + 1 after it: \
         an entry must fill its span exactly"
    );
    let mut bad_tag = good.clone();
    bad_tag[4 + 3 + 8] = 7; // the tag of the tombstone: nothing follows it
    assert!(
        block(bad_tag).entry(0).is_err(),
        "an unknown tag is an error, not a delete"
    );
    // One stray byte at the end of the last entry: the offsets still
    // check out (the count and offsets are read from the end).
    let entries_len = good.len() - 4 - 8;
    let mut trailing = good[..entries_len].to_vec();
    trailing.push(0);
    trailing.extend_from_slice(&good[entries_len..]);
    let trailing = block(trailing);
    assert!(trailing.entry(0).is_ok(), "entry 0 is intact");
    assert!(
        trailing.entry(1).is_err(),
        "a byte after the last entry's value is an error: entry 1 must end where the offsets begin"
    );
}

// The point of the offsets array: decode checks it and seek searches it
// in place, so a lookup never decodes (or allocates for) the whole block.
#[test]
fn block_decode_and_seek_decode_no_entry() {
    let entries = numbered_entries(100, 20);
    let block = Bytes::from(payload_of(&entries));
    let (block, stats) = measure(|| Block::decode(block));
    let block = block.unwrap();
    assert!(
        stats.peak_bytes < 1024,
        "Block::decode of 100 entries allocated {} bytes: it must check the count and the \
         offsets array only, and leave the entries encoded (entry() and seek() decode on demand)",
        stats.peak_bytes
    );
    let (position, stats) = measure(|| block.seek(b"key-00042", SEQ_MAX));
    assert_eq!(position, Ok(42), "seek finds key-00042 at index 42");
    assert!(
        stats.peak_bytes < 1024,
        "Block::seek allocated {} bytes: a binary search reads the keys it compares in place, \
         it does not decode the block into entries",
        stats.peak_bytes
    );
}

#[test]
fn block_iteration_rejects_entries_out_of_order() {
    let iterated = |entries: &[Entry]| {
        let block = Block::decode(Bytes::from(payload_of(entries))).unwrap();
        block
            .iter()
            .take(entries.len() + 1)
            .collect::<Result<Vec<_>, _>>()
    };
    // The builder trusts its caller, so it can write these.
    assert!(
        iterated(&[put("b", 1, "x"), put("a", 2, "y")]).is_err(),
        "a block must be in internal order: a after b is an error"
    );
    assert!(
        iterated(&[put("b", 1, "old"), put("b", 2, "new")]).is_err(),
        "versions of a key come newest first: b@1 before b@2 is out of order"
    );
    assert!(
        iterated(&[put("b", 2, "x"), put("b", 2, "x")]).is_err(),
        "the order is strict: the same version twice is an error"
    );
    let items: Vec<_> = Block::decode(Bytes::from(payload_of(&[
        put("a", 1, "x"),
        put("c", 1, "y"),
        put("b", 1, "z"),
        put("d", 1, "w"),
    ])))
    .unwrap()
    .iter()
    .take(10)
    .collect();
    assert_eq!(
        items.iter().map(Result::is_ok).collect::<Vec<_>>(),
        [true, true, false],
        "the entries before the first one out of order, then one error, then the end"
    );
}

/// c@9 and c@4 between a@5 and e@1: the versions the seek tests probe.
fn seek_block() -> Block {
    Block::decode(Bytes::from(payload_of(&[
        put("a", 5, "a5"),
        put("c", 9, "c9"),
        put("c", 4, "c4"),
        put("e", 1, "e1"),
    ])))
    .unwrap()
}

#[test]
fn block_seek_finds_the_first_entry_at_or_after_a_version() {
    let block = seek_block();
    let seek = |key: &str, seq| block.seek(key.as_bytes(), seq).unwrap();
    assert_eq!(seek("a", SEQ_MAX), 0);
    assert_eq!(seek("b", SEQ_MAX), 1, "between keys: the next key");
    assert_eq!(seek("c", SEQ_MAX), 1, "newest version of c");
    assert_eq!(seek("c", 8), 2, "at seq 8, c@9 is too new: c@4");
    assert_eq!(seek("c", 3), 3, "at seq 3 no version of c: the next entry");
    assert_eq!(seek("z", SEQ_MAX), 4, "past the end: len()");
    assert_eq!(seek("", SEQ_MAX), 0, "the empty key sorts first");
    let found = block.find(b"c", 8).unwrap();
    assert_eq!(
        found.map(|entry| show(&[entry])),
        Some(show(&[put("c", 4, "c4")])),
        "find = seek, then entry"
    );
}

// A read at exactly a stored sequence number sees that version: the seek
// target is "at or after", so an exact (key, seq) is the answer itself,
// not the entry after it.
#[test]
fn block_seek_lands_on_an_exact_version_and_the_versions_around_it() {
    let block = seek_block();
    let seek = |key: &str, seq| block.seek(key.as_bytes(), seq).unwrap();
    for (key, seq, expected, why) in [
        ("a", 5, 0, "a@5 exists"),
        (
            "c",
            9,
            1,
            "c@9 exists: it is the first entry at or after (c, 9)",
        ),
        ("c", 4, 2, "c@4 exists"),
        ("e", 1, 3, "e@1 exists"),
        ("c", 10, 1, "at seq 10 the newest version of c is c@9"),
        ("c", 5, 2, "at seq 5, c@9 is too new: c@4"),
        ("a", 6, 0, "at seq 6 a@5 is visible"),
        ("a", 4, 1, "at seq 4 a@5 is too new: the next entry, c@9"),
    ] {
        assert_eq!(
            seek(key, seq),
            expected,
            "seek({key:?}, {seq}): {why}. An exact match must not be skipped: is the \
             comparison `entry < target` (strict), not `<=`?"
        );
    }
    let fs = build(
        &[
            put("a", 5, "a5"),
            put("c", 9, "c9"),
            put("c", 4, "c4"),
            put("e", 1, "e1"),
        ],
        4096,
    );
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        table.get_by_scan(b"c", 9).unwrap(),
        Some(val("c9")),
        "a read at seq 9 sees c@9 itself, not the older c@4"
    );
    assert_eq!(
        table.get_by_scan(b"e", 1).unwrap(),
        Some(val("e1")),
        "a read at seq 1 sees e@1"
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
        table_len: 0x1133 + 0x44 + FOOTER_LEN_BYTES as u64,
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
        &bytes[56..64],
        &footer.table_len.to_le_bytes(),
        "table_len at 56"
    );
    assert_eq!(
        &bytes[64..68],
        &FORMAT_VERSION.to_le_bytes(),
        "version at 64"
    );
    assert_eq!(FORMAT_VERSION, 2, "this format is version 2");
    assert_eq!(
        &bytes[68..72],
        &crc32fast::hash(&bytes[..68]).to_le_bytes(),
        "crc of [0, 68) at 68"
    );
    assert_eq!(&bytes[72..80], b"LSMWBTAB", "the magic ends the file");
    assert_eq!(TABLE_MAGIC.to_le_bytes(), *b"LSMWBTAB");
    let file_len = footer.table_len;
    assert_eq!(Footer::decode(&bytes, file_len), Ok(footer));
    assert!(
        Footer::decode(&bytes, file_len + 1).is_err(),
        "a file longer than the footer's table_len is not this table"
    );
    assert!(
        Footer::decode(&bytes, file_len - 1).is_err(),
        "a file shorter than the footer's table_len is not this table"
    );
}

#[test]
fn table_round_trip_preserves_every_entry() {
    let entries = numbered_entries(500, 20);
    let fs = build(&entries, 256);
    let table = Table::open(&fs, path()).unwrap();
    assert_eq!(
        show(&scan(&fs, entries.len()).unwrap()),
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
    assert!(
        scan(&fs, 0).unwrap().is_empty(),
        "an empty table's scan yields nothing"
    );
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
    Table::open(&fs, path()).expect("the flushed table opens");
    assert_eq!(
        show(&scan(&fs, 6).unwrap()),
        show(&memtable.iter().collect::<Vec<_>>()),
        "the table holds the memtable's versions, tombstone included, in order"
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
    // 40-byte blocks: apple (25 bytes + offset + count = 33) stays open,
    // fig takes the block to 53 and closes it; kiwi is the second block.
    let fs = build(
        &[
            put("apple", 3, "red"),
            del("fig", 2),
            put("kiwi", 1, "green"),
        ],
        40,
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
        table_len: file_len,
    };
    assert_eq!(Footer::decode(&good.encode(), file_len), Ok(good));
    for version in [1, 3] {
        let mut other = good.encode();
        other[64..68].copy_from_slice(&(version as u32).to_le_bytes());
        let crc = crc32fast::hash(&other[..68]);
        other[68..72].copy_from_slice(&crc.to_le_bytes());
        assert!(
            Footer::decode(&other, file_len).is_err(),
            "format version {version} is not this reader's ({FORMAT_VERSION}): an error, checksum or not"
        );
    }
    for (block_count, entry_count, why) in [
        (u64::MAX, 30, "u64::MAX blocks"),
        (51, 30, "51 blocks of at least 12 bytes in 600 data bytes"),
        (3, u64::MAX, "u64::MAX entries"),
        (
            3,
            36,
            "36 entries of at least 17 bytes (entry + offset) in 600 data bytes",
        ),
    ] {
        let counts = Footer {
            block_count,
            entry_count,
            ..good
        };
        assert!(
            Footer::decode(&counts.encode(), file_len).is_err(),
            "{why} cannot fit the data region: the footer's counts are checked at decode"
        );
    }
    let fits = Footer {
        block_count: 50,
        entry_count: 35,
        ..good
    };
    assert_eq!(
        Footer::decode(&fits.encode(), file_len),
        Ok(fits),
        "50 blocks of 12 bytes and 35 entries of 17 bytes do fit in 600 bytes"
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
    let other_len = Footer {
        table_len: file_len - 1,
        ..good
    };
    assert!(
        Footer::decode(&other_len.encode(), file_len).is_err(),
        "table_len must be the file's length exactly"
    );
    assert!(
        Footer::decode(&huge_data.encode(), file_len).is_err(),
        "data_len past the file is an error"
    );
}

// A block whose frame is intact but whose payload cannot be a block (its
// checksum matches what a buggy writer wrote) is Corruption at its offset.
#[test]
fn undecodable_block_is_corruption_at_its_offset() {
    let first = payload_of(&[put("a", 1, "x")]);
    let first_len = (8 + first.len()) as u64;
    // Its count, read from the end, says 0x03020100 entries.
    let second = vec![0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3];
    let bytes = table_bytes(&[first, second], 2, 2);
    let table = Table::open(&fs_with_bytes(&bytes), path()).unwrap();
    assert_eq!(
        table.get_by_scan(b"a", SEQ_MAX).unwrap(),
        Some(val("x")),
        "the first block is fine"
    );
    let result = table.get_by_scan(b"b", SEQ_MAX);
    assert!(
        is_corruption_at(&result, first_len),
        "the second block starts at {first_len}: a decode error must name that offset, got {}",
        outcome(&result)
    );
}

#[test]
fn seek_starts_at_the_first_key_at_or_after_the_target() {
    let entries = numbered_entries(50, 8);
    let fs = build(&entries, 64);
    let from = |target: &str| -> Vec<Entry> {
        scan_bounded(&fs, path(), entries.len(), |table| {
            table.seek(target.as_bytes())
        })
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

// The order is strict: adding the version just added again would write a
// block that a reader refuses (and a lookup could not tell apart).
#[test]
fn builder_rejects_the_same_version_twice() {
    let fs = new_fs();
    let mut builder =
        lsm_workbook::ch03_sstable::TableBuilder::create(&fs, path(), TableOptions::plain(64))
            .unwrap();
    builder.add(&put("b", 5, "x")).unwrap();
    let again = builder.add(&put("b", 5, "x"));
    assert!(
        matches!(again, Err(Error::InvalidArgument(_))),
        "b@5 twice must be refused: the order check is strict (`<`, not `<=`), got {again:?}"
    );
    let same_seq_other_value = builder.add(&put("b", 5, "other"));
    assert!(
        matches!(same_seq_other_value, Err(Error::InvalidArgument(_))),
        "b@5 again with another value is the same version: refused, got {same_seq_other_value:?}"
    );
    builder
        .add(&put("b", 4, "older"))
        .expect("b@4 after b@5 is in order: the refusals must not poison the builder");
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
            let count = table.read_block_at(offset).unwrap().0.len();
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
        let iterated = scan(&damaged, entries.len());
        assert!(
            is_corruption_at(&iterated, damaged_at),
            "bit {bit}: a full scan must report the damage at {damaged_at}, got {}",
            outcome(&iterated)
        );
    }
}

#[test]
fn iteration_stops_after_reporting_damage() {
    let fs = build(&numbered_entries(60, 12), 200);
    let table = Table::open(&fs, path()).unwrap();
    let second_block = block_offsets(&table)[1];
    fs.flip_bit(TABLE, second_block * 8 + 100).unwrap();
    let items = scan_items_bounded(&fs, path(), 60, |table| table.iter());
    let errors = items.iter().filter(|item| item.is_err()).count();
    assert_eq!(
        errors, 1,
        "the damage is reported once, then the iterator ends"
    );
    assert!(
        items.last().is_some_and(Result::is_err),
        "nothing after the error"
    );
    assert!(
        items[..items.len() - 1].iter().all(Result::is_ok),
        "the first block's entries come first"
    );
}

/// `count` puts of one size (`key-00000`… with 20-byte values): with
/// 200-byte blocks, every data block holds four of them and has the same
/// length, so blocks can be swapped without changing the table's shape.
fn equal_entries(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| put(&format!("key-{i:05}"), i as u64 + 1, &format!("{i:020}")))
        .collect()
}

/// An equal-block table of 40 entries: its bytes and its block offsets.
fn equal_block_table() -> (Vec<u8>, Vec<u64>) {
    let fs = build(&equal_entries(40), 200);
    let table = Table::open(&fs, path()).unwrap();
    let offsets = block_offsets(&table);
    assert_eq!(
        offsets.len(),
        10,
        "40 entries of 50 bytes in 200-byte blocks: ten blocks"
    );
    let block_len = offsets[1] - offsets[0];
    assert!(
        offsets
            .windows(2)
            .all(|pair| pair[1] - pair[0] == block_len),
        "equal entries make equal blocks: {offsets:?}"
    );
    (fs.file_bytes(TABLE).unwrap(), offsets)
}

/// Checks what a moved block must give: every read that reaches the block
/// at `bad` fails there with Corruption, the reads before it still answer.
fn assert_moved_block_is_corruption(bytes: &[u8], bad: u64, offsets: &[u64], what: &str) {
    let fs = fs_with_bytes(bytes);
    let table =
        Table::open(&fs, path()).expect("a moved data block is found when read, not at open");
    let result = table.read_block_at(bad);
    assert!(
        is_corruption_at(&result.as_ref().map(|_| ()), bad),
        "{what}: the block read at {bad} was written for another offset: Corruption at {bad}, \
         got {}. Does the frame checksum cover the block's offset?",
        outcome(&result.as_ref().map(|(block, next)| (block.len(), next)))
    );
    for (i, entry) in equal_entries(40).iter().enumerate() {
        let block_start = offsets[i / 4];
        let result = table.get_by_scan(&entry.key, SEQ_MAX);
        if block_start < bad {
            assert_eq!(
                result.unwrap(),
                Some(entry.value.clone()),
                "{what}: {:?} lies before the moved block at {bad}",
                entry.key
            );
        } else {
            assert!(
                is_corruption_at(&result, bad),
                "{what}: the lookup of {:?} reads the moved block at {bad}: Corruption there, \
                 never a stale value or None; got {}",
                entry.key,
                outcome(&result)
            );
        }
    }
    let scanned = scan(&fs, 40);
    assert!(
        is_corruption_at(&scanned, bad),
        "{what}: a full scan reaches the moved block at {bad}: Corruption there, got {}",
        outcome(&scanned.map(|entries| entries.len()))
    );
}

// Swapping two data blocks of equal length keeps every frame intact; only
// a checksum that covers the block's offset sees that they moved.
#[test]
fn swapped_equal_length_blocks_are_corruption_at_their_offset() {
    let (bytes, offsets) = equal_block_table();
    let (one, two, three) = (
        offsets[1] as usize,
        offsets[2] as usize,
        offsets[3] as usize,
    );
    let mut swapped = bytes.clone();
    swapped[one..two].copy_from_slice(&bytes[two..three]);
    swapped[two..three].copy_from_slice(&bytes[one..two]);
    assert_moved_block_is_corruption(&swapped, offsets[1], &offsets, "blocks 1 and 2 swapped");
}

#[test]
fn block_copied_over_its_neighbour_is_corruption_not_a_stale_value() {
    let (bytes, offsets) = equal_block_table();
    let (one, two, three) = (
        offsets[1] as usize,
        offsets[2] as usize,
        offsets[3] as usize,
    );
    let mut copied = bytes.clone();
    copied[two..three].copy_from_slice(&bytes[one..two]);
    assert_moved_block_is_corruption(&copied, offsets[2], &offsets, "block 1 copied over block 2");
}

// A file is exactly one table: anything after the footer — another table,
// a copy of the footer, a few bytes — means the last 80 bytes no longer
// describe the whole file.
#[test]
fn concatenated_or_extended_table_is_corruption_at_open() {
    let first = build(&numbered_entries(30, 10), 128)
        .file_bytes(TABLE)
        .unwrap();
    let second = build(&numbered_entries(50, 10)[40..], 128)
        .file_bytes(TABLE)
        .unwrap();
    let footer_of = |bytes: &[u8]| bytes[bytes.len() - FOOTER_LEN_BYTES..].to_vec();
    for (name, bytes) in [
        (
            "a table followed by another table",
            [first.clone(), second.clone()].concat(),
        ),
        (
            "a table followed by itself",
            [first.clone(), first.clone()].concat(),
        ),
        (
            "a table followed by a copy of its footer",
            [first.clone(), footer_of(&first)].concat(),
        ),
        (
            "a table with one byte before it",
            [vec![0], first.clone()].concat(),
        ),
    ] {
        let footer_at = (bytes.len() - FOOTER_LEN_BYTES) as u64;
        let result = Table::open(&fs_with_bytes(&bytes), path());
        assert!(
            is_corruption_at(&result.as_ref().map(|_| ()), footer_at),
            "{name} ({} bytes) must be Corruption at the last footer ({footer_at}): its \
             table_len does not match the file's length. Got {}",
            bytes.len(),
            outcome(&result.as_ref().map(|table| table.footer().entry_count))
        );
    }
}

// A block whose frame is intact (re-checksummed for its offset) but whose
// header says it ends past the data region: only read_block_at's bound
// check can refuse it.
#[test]
fn block_running_past_the_data_region_is_corruption_even_with_a_valid_checksum() {
    let payload = payload_of(&[put("a", 1, "x"), put("b", 2, "y")]);
    let framed = block::frame(&payload, 0);
    let data_len = framed.len() as u64 - 4; // the block's last 4 bytes lie past it
    let footer = Footer {
        data_len,
        block_count: 1,
        entry_count: 2,
        table_len: (framed.len() + FOOTER_LEN_BYTES) as u64,
        ..Footer::default()
    };
    let bytes = [framed.clone(), footer.encode().to_vec()].concat();
    let fs = fs_with_bytes(&bytes);
    let table = Table::open(&fs, path()).expect("the footer is valid");
    let result = table.read_block_at(0);
    assert!(
        is_corruption_at(&result.as_ref().map(|_| ()), 0),
        "block 0 says it is {} bytes, the data region is {data_len}: Corruption at 0, got {}. \
         Is a block that ends past data_len refused (`||` of both checks)?",
        framed.len(),
        outcome(&result.as_ref().map(|(block, next)| (block.len(), next)))
    );
    let found = table.get_by_scan(b"a", SEQ_MAX);
    assert!(
        is_corruption_at(&found, 0),
        "a lookup reading that block must fail at 0, not answer from it; got {}",
        outcome(&found)
    );
    let scanned = scan(&fs, 2);
    assert!(
        is_corruption_at(&scanned, 0),
        "a scan reading that block must fail at 0; got {}",
        outcome(&scanned.map(|entries| entries.len()))
    );
}

// Promise P7: counts and lengths from the file never size an allocation
// before they are checked against the bytes that are there.
#[test]
fn huge_counts_and_lengths_allocate_within_the_bound() {
    let good = payload_of(&[put("key", 1, "value")]);
    let mut huge_count = good.clone();
    let count_at = huge_count.len() - 4;
    huge_count[count_at..].copy_from_slice(&u32::MAX.to_le_bytes());
    let len = huge_count.len() as u64;
    let payload = Bytes::from(huge_count.clone());
    let (result, stats) = measure(|| Block::decode(payload));
    assert!(
        result.is_err(),
        "a count of u32::MAX in {len} bytes is an error"
    );
    stats.assert_within(len, "Block::decode of a block whose count says u32::MAX");
    // A count that an allocator would grant (a million entries), in 34
    // bytes: reserving for it before the check shows up in the counts.
    let mut million = good.clone();
    million[count_at..].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let payload = Bytes::from(million);
    let (result, stats) = measure(|| Block::decode(payload));
    assert!(
        result.is_err(),
        "a count of 2^20 in {len} bytes is an error"
    );
    stats.assert_within(len, "Block::decode of a block whose count says 2^20");

    let mut huge_key = good.clone();
    huge_key[0..4].copy_from_slice(&(64u32 << 20).to_le_bytes());
    let block = Block::decode(Bytes::from(huge_key)).unwrap();
    let (result, stats) = measure(|| (block.entry(0).is_err(), block.seek(b"k", SEQ_MAX).is_err()));
    assert_eq!(
        result,
        (true, true),
        "a 64 MiB key length in a 34-byte block is an error"
    );
    stats.assert_within(
        good.len() as u64,
        "Block::entry/seek of an entry whose key length says 64 MiB",
    );

    // The same block in a table, re-checksummed for its offset: only the
    // decoder can refuse it.
    let bytes = table_bytes(&[huge_count], 1, 1);
    let fs = fs_with_bytes(&bytes);
    let (result, stats) = measure(|| {
        let table = Table::open(&fs, path())?;
        table.get_by_scan(b"key", SEQ_MAX)
    });
    assert!(
        is_corruption_at(&result, 0),
        "the block at 0 is Corruption, got {}",
        outcome(&result)
    );
    stats.assert_within(
        bytes.len() as u64,
        "a lookup in a table whose block count says u32::MAX",
    );

    // Footers whose fields are huge but checksummed: refused at open.
    let data = payload_of(&[put("key", 1, "value")]);
    let plain = table_bytes(&[data], 1, 1);
    let body = &plain[..plain.len() - FOOTER_LEN_BYTES];
    let footer =
        Footer::decode(plain[body.len()..].try_into().unwrap(), plain.len() as u64).unwrap();
    let filter_at = footer.data_len;
    for (name, bad) in [
        (
            "block_count u64::MAX",
            Footer {
                block_count: u64::MAX,
                ..footer
            },
        ),
        (
            "entry_count u64::MAX",
            Footer {
                entry_count: u64::MAX,
                ..footer
            },
        ),
        (
            "a 64 MiB filter",
            Footer {
                filter: BlockHandle {
                    offset: filter_at,
                    len: 64 << 20,
                },
                ..footer
            },
        ),
        (
            "a 64 MiB index",
            Footer {
                index: BlockHandle {
                    offset: filter_at,
                    len: 64 << 20,
                },
                ..footer
            },
        ),
        (
            "data_len u64::MAX",
            Footer {
                data_len: u64::MAX,
                ..footer
            },
        ),
    ] {
        let bytes = [body, &bad.encode()].concat();
        let fs = fs_with_bytes(&bytes);
        let (result, stats) = measure(|| Table::open(&fs, path()).map(|_| ()));
        assert!(
            is_corruption_at(&result, body.len() as u64),
            "a footer with {name} must be Corruption at the footer, got {}",
            outcome(&result)
        );
        stats.assert_within(
            bytes.len() as u64,
            &format!("Table::open of a footer with {name}"),
        );
    }
}

#[test]
fn reading_a_table_allocates_within_the_bound() {
    let entries = numbered_entries(500, 20);
    let fs = build(&entries, 256);
    let file_len = fs.file_bytes(TABLE).unwrap().len() as u64;
    let (result, stats) = measure(|| {
        let table = Table::open(&fs, path())?;
        let scanned = scan(&fs, entries.len())?.len();
        let mut found = 0;
        for entry in entries.iter().step_by(25) {
            found += usize::from(table.get_by_scan(&entry.key, SEQ_MAX)?.is_some());
        }
        Ok::<_, Error>((scanned, found))
    });
    assert_eq!(
        result.unwrap(),
        (500, 20),
        "every entry scanned, every sampled key found"
    );
    stats.assert_within(file_len, "opening, scanning and reading a normal table");
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
        prop_assert_eq!(scan(&fs, entries.len()).unwrap(), entries.clone());
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
            let footer = Footer { data_len: bytes.len() as u64, block_count: 1, entry_count: 1, table_len: (bytes.len() + FOOTER_LEN_BYTES) as u64, ..Footer::default() };
            bytes.extend_from_slice(&footer.encode());
        }
        let fs = fs_with_bytes(&bytes);
        if let Ok(table) = Table::open(&fs, path()) {
            let _ = scan_items_bounded(&fs, path(), bytes.len() / 17, |table| table.iter());
            let _ = table.get_by_scan(b"key", SEQ_MAX);
        }
    }
}
