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
use lsm_workbook::ch03_sstable::block::{frame, unframe};
use lsm_workbook::ch03_sstable::{BlockHandle, Footer, Table, TableOptions, write_table};
use lsm_workbook::ch05_index::{IndexBuilder, SparseIndex};
use lsm_workbook::fs::{Fs, SimFs};
use lsm_workbook::types::{Entry, SEQ_MAX, Value};
use proptest::prelude::*;
use support::alloc::measure;
use support::{
    arb_versions, hexdump, model_get, numbered_entries, put, scan_bounded, show, sorted,
};

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

fn fs_with(bytes: &[u8]) -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db")).unwrap();
    fs.create(path()).unwrap().append(bytes).unwrap();
    fs
}

fn open(fs: &SimFs) -> Table {
    Table::open(fs, path()).unwrap_or_else(|error| panic!("the table does not open: {error}"))
}

fn index_of(table: &Table) -> &SparseIndex {
    table
        .index()
        .expect("a table built with index: true has an index")
}

/// The entries of a seek from `target`, through the shared bounded scan
/// (on a copy of the file, so `fs`'s read counters are left alone): never
/// more than the table holds, so a scan that does not advance fails at
/// once instead of running forever.
fn seek_keys(fs: &SimFs, table: &Table, target: &[u8]) -> Vec<Entry> {
    let limit = table.footer().entry_count as usize;
    scan_bounded(fs, path(), limit, |table| table.seek(target)).unwrap_or_else(|error| {
        panic!(
            "seek({:?}) failed: {error}",
            String::from_utf8_lossy(target)
        )
    })
}

/// `None` if `got` and `expected` are the same entries, else a short
/// description: the lengths and the first difference, never whole vectors.
fn difference(got: &[Entry], expected: &[Entry]) -> Option<String> {
    let first_difference = got.iter().zip(expected).position(|(g, e)| g != e);
    if got.len() == expected.len() && first_difference.is_none() {
        return None;
    }
    let at = first_difference.unwrap_or(got.len().min(expected.len()));
    let window = |entries: &[Entry]| {
        let shown = show(&entries[at.min(entries.len())..(at + 3).min(entries.len())]);
        shown.iter().map(|text| short(text)).collect::<Vec<_>>()
    };
    Some(format!(
        "got {} entries, expected {}; from position {at}: got {:?}, expected {:?}",
        got.len(),
        expected.len(),
        window(got),
        window(expected)
    ))
}

/// At most 40 characters of `text`.
fn short(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Fails, with a short message, unless `got` and `expected` are the same
/// entries.
#[track_caller]
fn assert_same_entries(got: &[Entry], expected: &[Entry], what: &str) {
    if let Some(difference) = difference(got, expected) {
        panic!("{what}: {difference}");
    }
}

/// Where each data block really starts, by walking the data region with
/// the table's own block reader (not the index), at most `block_count`
/// blocks.
fn block_offsets(table: &Table) -> Vec<u64> {
    let footer = table.footer();
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset < footer.data_len && (offsets.len() as u64) < footer.block_count {
        offsets.push(offset);
        offset = table
            .read_block_at(offset)
            .unwrap_or_else(|error| panic!("test set-up: reading block at {offset}: {error}"))
            .1;
    }
    offsets
}

/// The handles of the data blocks, from their real offsets.
fn block_handles(table: &Table) -> Vec<BlockHandle> {
    let offsets = block_offsets(table);
    let ends = offsets
        .iter()
        .skip(1)
        .copied()
        .chain([table.footer().data_len]);
    offsets
        .iter()
        .zip(ends)
        .map(|(&offset, end)| BlockHandle {
            offset,
            len: end - offset,
        })
        .collect()
}

/// Index entries as the test writes them: last key, last seq, handle.
type IndexRows = Vec<(Bytes, u64, BlockHandle)>;

/// An index payload as §5.3 draws it, encoded by the test itself: a
/// count, then per entry key_len, key, seq, offset, len.
fn encode_index(count: u32, entries: &[(Bytes, u64, BlockHandle)]) -> Vec<u8> {
    let mut payload = count.to_le_bytes().to_vec();
    for (key, seq, handle) in entries {
        payload.extend_from_slice(&(key.len() as u32).to_le_bytes());
        payload.extend_from_slice(key);
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&handle.offset.to_le_bytes());
        payload.extend_from_slice(&handle.len.to_le_bytes());
    }
    payload
}

/// A copy of a table file whose index block's payload is `payload`, of
/// the same length, framed by the crate's own `frame` so its checksum is
/// valid: the footer and every other block stay valid, so only
/// `SparseIndex::decode` can refuse it.
fn with_index_payload(file: &[u8], handle: BlockHandle, payload: &[u8]) -> Vec<u8> {
    let offset = handle.offset;
    let framed = frame(payload, offset);
    assert_eq!(
        framed.len() as u64,
        handle.len,
        "test set-up: the new index block has the old one's length"
    );
    let mut out = file.to_vec();
    out[offset as usize..handle.end() as usize].copy_from_slice(&framed);
    out
}

/// The checked payload of the block at `handle` in a table file.
fn block_payload(file: &[u8], handle: BlockHandle) -> Vec<u8> {
    let framed = &file[handle.offset as usize..handle.end() as usize];
    unframe(framed, handle.offset)
        .expect("test set-up: the table's index block unframes")
        .to_vec()
}

/// Opens `bytes` as a table and expects `Corruption` at the index block.
#[track_caller]
fn assert_index_refused(bytes: &[u8], index_offset: u64, what: &str) {
    match Table::open(&fs_with(bytes), path()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, path(), "{what}: the error names the table file");
            assert_eq!(
                offset, index_offset,
                "{what}: the error names the index block's offset"
            );
        }
        Err(other) => panic!("{what}: expected Corruption at the index block, got {other}"),
        Ok(_) => panic!(
            "{what}: the table opened, but its index block (with a valid checksum) is wrong: \
             SparseIndex::decode must refuse it"
        ),
    }
}

#[test]
fn index_has_one_entry_per_block_ending_with_its_last_version() {
    let entries = numbered_entries(200, 16);
    let fs = build(&entries, indexed(128));
    let table = open(&fs);
    let index = index_of(&table);
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
        let block = table.read_block(entry.handle).unwrap_or_else(|error| {
            panic!(
                "entry {number}: its handle {:?} is not a block: {error}",
                entry.handle
            )
        });
        let last = block
            .entry(block.len().wrapping_sub(1))
            .expect("a block holds at least one entry");
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
    builder.add_block(b"fig", 2, BlockHandle { offset: 0, len: 61 });
    builder.add_block(
        b"kiwi",
        1,
        BlockHandle {
            offset: 61,
            len: 42,
        },
    );
    insta::assert_snapshot!("index_two_blocks", hexdump(&builder.finish()));
}

#[test]
fn point_lookup_reads_at_most_one_data_block() {
    let entries = numbered_entries(500, 24);
    let fs = build(&entries, indexed(256));
    let table = open(&fs);
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
    assert_eq!(
        table.get(b"zzz", SEQ_MAX).unwrap(),
        None,
        "zzz sorts after every key: get finds nothing"
    );
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
    assert!(
        table.footer().block_count > 10,
        "test set-up: the versions spread over many blocks"
    );
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
    let table = open(&fs);
    let index = index_of(&table);
    assert_eq!(
        index.entries().len(),
        5,
        "one entry per block, one block per entry"
    );
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
        index.find(b"f", 9),
        Some(2),
        "exactly f@9, the last version of block 2: block 2 (compare with <, not <=)"
    );
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
    let table = open(&fs);
    let blocks = index_of(&table).entries();
    assert!(
        blocks.len() > 5,
        "the test wants several blocks; the index has {}",
        blocks.len()
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b""),
        &entries,
        "seek(\"\") is the whole table",
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b"key-00000"),
        &entries,
        "seek to the first key",
    );
    // The first key of a middle block: the one after the last key of the
    // block before it (the keys are distinct, one version each).
    let before = &blocks[blocks.len() / 2 - 1].last_key;
    let at = 1 + entries
        .iter()
        .position(|e| e.key == *before)
        .unwrap_or_else(|| panic!("the index names a last key {before:?} the table does not hold"));
    assert!(
        at < entries.len(),
        "the index says a middle block ends with the table's last key {before:?}"
    );
    assert_same_entries(
        &seek_keys(&fs, &table, &entries[at].key),
        &entries[at..],
        "seek to the first key of a middle block",
    );
    let between = format!("{}~", String::from_utf8_lossy(before));
    assert_same_entries(
        &seek_keys(&fs, &table, between.as_bytes()),
        &entries[at..],
        "seek between the last key of a block and the first of the next",
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b"key-00099"),
        &entries[99..],
        "seek to the last key",
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b"key-001"),
        &[],
        "seek past the last key: nothing",
    );
    fs.reset_reads();
    assert!(
        table.seek(b"zzz").next().is_none(),
        "seek past the last key yields nothing"
    );
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
    let table = open(&fs);
    assert_eq!(table.footer().block_count, 1, "test set-up: one block");
    assert_same_entries(
        &seek_keys(&fs, &table, b"a"),
        &entries,
        "seek before the first key",
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b"c"),
        &entries[1..],
        "seek between the two keys",
    );
    assert_same_entries(
        &seek_keys(&fs, &table, b"e"),
        &[],
        "seek past the last key of the only block",
    );
}

// A seek reads the block the index picks, and only it: 2 reads (its
// header, then the block). On failure it says where the reading started.
#[test]
fn seek_starts_reading_at_the_target_block() {
    let entries = numbered_entries(300, 16);
    let fs = build(&entries, indexed(128));
    let table = open(&fs);
    let index = index_of(&table);
    let offsets = block_offsets(&table);
    let block_at = |offset: u64| match offsets.iter().position(|&o| o == offset) {
        Some(number) => format!("block {number} (offset {offset})"),
        None if offset >= table.footer().data_len => {
            format!("offset {offset}, the end of the data")
        }
        None => format!("offset {offset}, which is not the start of any block"),
    };
    let target = &entries[250].key;
    let Some(picked) = index.find(target, SEQ_MAX) else {
        panic!("find({target:?}, SEQ_MAX) is None, but the table holds {target:?}");
    };
    let start = index.seek_offset(target, SEQ_MAX, table.footer());
    fs.reset_reads();
    match table.seek(target).next() {
        Some(Ok(first)) => assert_eq!(
            &first.key, target,
            "seek({target:?}) starts at the target, an existing key"
        ),
        Some(Err(error)) => panic!("seek({target:?}) failed: {error}"),
        None => panic!(
            "seek({target:?}) yielded nothing; seek_offset returned {}",
            block_at(start)
        ),
    }
    let reads = fs.reads(TABLE);
    let picked_at = match index.entries().get(picked) {
        Some(entry) => block_at(entry.handle.offset),
        None => format!(
            "nothing: the index has only {} entries",
            index.entries().len()
        ),
    };
    assert!(
        reads.calls <= 2,
        "seek({target:?}) read the file {} times ({} bytes), but one block takes 2 reads (its \
         header, then the block). The reading started where seek_offset said: {}; the index's \
         find picked entry {picked}, whose handle points at {picked_at}. Does seek_offset \
         return the offset of the block find picks? If both name the same block, find picks \
         one that ends before the target: compare last internal keys",
        reads.calls,
        reads.bytes,
        block_at(start),
    );
}

// Flip every bit of the index block: the table must refuse to open with
// Corruption at the index block's offset. (The block's checksum catches
// these flips; `decode_refuses_wrong_indexes_even_with_a_valid_checksum`
// is the test of the decoder.)
#[test]
fn damaged_index_is_an_error_at_open() {
    let fs = build(&numbered_entries(60, 8), indexed(64));
    let full = fs.file_bytes(TABLE).unwrap();
    let handle = open(&fs).footer().index;
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
    let footer = footer_of;
    let payload = index_payload;
    let good = payload(&[("b", 0, 50), ("d", 50, 30)]);
    if let Err(error) = SparseIndex::decode(&good, &footer(2, 80)) {
        panic!("decode refused a good index of two blocks: {error}");
    }
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

fn footer_of(blocks: u64, data_len: u64) -> Footer {
    Footer {
        data_len,
        block_count: blocks,
        entry_count: blocks,
        ..Footer::default()
    }
}

/// An index payload of blocks `(last key, offset, len)`, every last
/// sequence number 1, encoded by the test.
fn index_payload(blocks: &[(&str, u64, u64)]) -> Vec<u8> {
    let entries: IndexRows = blocks
        .iter()
        .map(|&(key, offset, len)| (support::b(key), 1, BlockHandle { offset, len }))
        .collect();
    encode_index(entries.len() as u32, &entries)
}

// The data region starts at offset 0, so the first block must too: blocks
// that follow each other and end at data_len, but start at 10, leave the
// region's first bytes outside every block.
#[test]
fn decode_refuses_an_index_whose_first_block_does_not_start_at_offset_0() {
    let shifted = index_payload(&[("b", 10, 40), ("d", 50, 30)]);
    assert!(
        SparseIndex::decode(&shifted, &footer_of(2, 80)).is_err(),
        "blocks (10, +40), (50, +30) with data_len 80 were accepted: the first block must \
         start at offset 0 (start the expected offset at 0, not at the first handle's offset)"
    );
    let one = index_payload(&[("b", 8, 72)]);
    assert!(
        SparseIndex::decode(&one, &footer_of(1, 80)).is_err(),
        "one block (8, +72) with data_len 80 was accepted: the first block must start at 0"
    );
}

// offset + len must not wrap around: with wrapping arithmetic, a block
// (10, +u64::MAX) "ends" at 9, and a block (50, +2^64 - 50) "ends" at 0,
// where the next one seems to start.
#[test]
fn decode_refuses_block_ends_that_wrap_around() {
    assert!(
        SparseIndex::decode(
            &index_payload(&[("b", 0, 10), ("d", 10, u64::MAX)]),
            &footer_of(2, 9)
        )
        .is_err(),
        "blocks (0, +10), (10, +u64::MAX) with data_len 9 were accepted: 10 + u64::MAX wraps \
         to 9. Compute a block's end with BlockHandle::end (it saturates) or checked_add, \
         never wrapping_add"
    );
    assert!(
        SparseIndex::decode(
            &index_payload(&[("b", 0, 50), ("d", 50, u64::MAX - 49), ("f", 0, 80)]),
            &footer_of(3, 80)
        )
        .is_err(),
        "blocks (0, +50), (50, +2^64 - 50), (0, +80) with data_len 80 were accepted: the \
         second block's end wraps to 0, where the third seems to start. Compute ends with \
         BlockHandle::end or checked_add, never wrapping_add"
    );
}

// Wrong indexes that the block's checksum cannot catch, because they were
// written that way: each is re-framed with a valid checksum, in place of a
// real table's index block, so only SparseIndex::decode can refuse it and
// Table::open must report Corruption at the index block.
#[test]
fn decode_refuses_wrong_indexes_even_with_a_valid_checksum() {
    let entries = numbered_entries(8, 8);
    let fs = build(&entries, indexed(1)); // one entry per block
    let table = open(&fs);
    let file = fs.file_bytes(TABLE).unwrap();
    let index_handle = table.footer().index;
    let handles = block_handles(&table);
    assert_eq!(handles.len(), 8, "test set-up: one block per entry");
    let truth: IndexRows = entries
        .iter()
        .zip(&handles)
        .map(|(entry, handle)| (entry.key.clone(), entry.seq, *handle))
        .collect();
    let written = block_payload(&file, index_handle);
    let described = encode_index(8, &truth);
    let first_difference = written.iter().zip(&described).position(|(w, d)| w != d);
    assert!(
        written == described,
        "the table's index block ({} bytes) is not the payload §5.3 describes for its blocks \
         ({} bytes; first difference at byte {first_difference:?}): see \
         index_layout_matches_snapshot and index_has_one_entry_per_block_ending_with_its_last_version",
        written.len(),
        described.len()
    );
    let edited = |edit: &dyn Fn(&mut IndexRows)| {
        let mut wrong = truth.clone();
        edit(&mut wrong);
        wrong
    };
    let handle = |offset: u64, len: u64| BlockHandle { offset, len };
    let [h0, h1, h2, h3] = [handles[0], handles[1], handles[2], handles[3]];
    let cases: Vec<(&str, u32, IndexRows)> = vec![
        (
            "the first block starts at 1, not 0 (the rest tiles the data region)",
            8,
            edited(&|w| w[0].2 = handle(1, h0.len - 1)),
        ),
        (
            "a 1-byte gap before block 3",
            8,
            edited(&|w| w[3].2 = handle(h3.offset + 1, h3.len - 1)),
        ),
        (
            "the last block ends 1 byte before data_len",
            8,
            edited(&|w| w[7].2.len -= 1),
        ),
        (
            "block 1's end wraps around u64 to 0, where block 2 now starts",
            8,
            edited(&|w| {
                w[1].2 = handle(h1.offset, 0u64.wrapping_sub(h1.offset));
                w[2].2 = handle(0, h2.end());
            }),
        ),
        (
            "block 2 is empty (len 0) and block 3 covers both",
            8,
            edited(&|w| {
                w[2].2 = handle(h2.offset, 0);
                w[3].2 = handle(h2.offset, h2.len + h3.len);
            }),
        ),
        (
            "the last keys of blocks 2 and 3 are swapped (out of order)",
            8,
            edited(&|w| {
                let key = w[2].0.clone();
                w[2].0 = w[3].0.clone();
                w[3].0 = key;
            }),
        ),
        (
            "blocks 2 and 3 have the same last version (the order is strict)",
            8,
            edited(&|w| {
                w[3].0 = w[2].0.clone();
                w[3].1 = w[2].1;
            }),
        ),
        (
            "the count says 9 entries, the footer 8 blocks",
            9,
            truth.clone(),
        ),
    ];
    for (what, count, wrong) in cases {
        let payload = encode_index(count, &wrong);
        assert_index_refused(
            &with_index_payload(&file, index_handle, &payload),
            index_handle.offset,
            what,
        );
    }
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
    let (result, stats) = measure(|| SparseIndex::decode(&payload, &footer));
    stats.assert_within(
        payload.len() as u64,
        "SparseIndex::decode of a count of u32::MAX in front of 40 bytes",
    );
    assert!(
        result.is_err(),
        "a count of u32::MAX entries in 40 bytes was accepted"
    );
}

// Promise P7 for the index: decode allocates within a small multiple of the
// bytes it is given, whatever the count or a key length says, alone and
// inside a table whose index block has a valid checksum.
#[test]
fn decode_allocates_within_the_bytes_present() {
    let agreeing = |blocks: u64| footer_of(blocks, 80);
    let cases: Vec<(&str, Vec<u8>, Footer)> = vec![
        (
            "a count of 2^20 entries (the footer agrees) in front of 40 bytes",
            [&(1u32 << 20).to_le_bytes()[..], &[0; 40]].concat(),
            agreeing(1 << 20),
        ),
        (
            "a count of 2^20 entries (the footer agrees) in front of 10,000 bytes",
            [&(1u32 << 20).to_le_bytes()[..], &[0; 10_000]].concat(),
            agreeing(1 << 20),
        ),
        (
            "a first key length of 64 MiB in a 62-byte index",
            {
                let mut payload = index_payload(&[("b", 0, 50), ("d", 50, 30)]);
                payload[4..8].copy_from_slice(&(64u32 << 20).to_le_bytes());
                payload
            },
            agreeing(2),
        ),
    ];
    for (what, payload, footer) in &cases {
        let (result, stats) = measure(|| SparseIndex::decode(payload, footer));
        stats.assert_within(
            payload.len() as u64,
            &format!("SparseIndex::decode of {what}"),
        );
        assert!(result.is_err(), "{what} was accepted");
    }

    let fs = build(&numbered_entries(1000, 8), indexed(1));
    let table = open(&fs);
    let file = fs.file_bytes(TABLE).unwrap();
    let footer = *table.footer();
    let real = block_payload(&file, footer.index);
    assert!(
        real.len() >= 8,
        "the table's index block holds {} bytes, too few for a count and a key length",
        real.len()
    );
    let (result, stats) = measure(|| SparseIndex::decode(&real, &footer));
    stats.assert_within(real.len() as u64, "SparseIndex::decode of 1000 blocks");
    if let Err(error) = result {
        panic!("a real index of 1000 blocks must decode: {error}");
    }

    // The same claims inside the table, re-checksummed.
    let count_field = |payload: &mut Vec<u8>| {
        payload[..4].copy_from_slice(&(1u32 << 20).to_le_bytes());
    };
    let key_len_field = |payload: &mut Vec<u8>| {
        payload[4..8].copy_from_slice(&(64u32 << 20).to_le_bytes());
    };
    for (what, edit) in [
        (
            "an index block whose count says 2^20",
            &count_field as &dyn Fn(&mut Vec<u8>),
        ),
        (
            "an index block whose first key length says 64 MiB",
            &key_len_field,
        ),
    ] {
        let mut payload = real.clone();
        edit(&mut payload);
        let damaged = with_index_payload(&file, footer.index, &payload);
        let damaged_fs = fs_with(&damaged);
        let (_, stats) = measure(|| Table::open(&damaged_fs, path()).map(|_| ()));
        stats.assert_within(damaged.len() as u64, &format!("Table::open of {what}"));
        assert_index_refused(&damaged, footer.index.offset, what);
    }
}

#[test]
fn data_block_damage_fails_only_lookups_in_that_block() {
    let entries = numbered_entries(120, 16);
    let fs = build(&entries, indexed(160));
    let table = open(&fs);
    let handles: Vec<BlockHandle> = index_of(&table)
        .entries()
        .iter()
        .map(|e| e.handle)
        .collect();
    assert!(
        handles.len() > 2,
        "the test wants several blocks; the index has {}",
        handles.len()
    );
    let victim = handles[handles.len() / 2];
    fs.flip_bit(TABLE, victim.offset * 8 + 77).unwrap();
    let table = open(&fs);
    for entry in &entries {
        let position = index_of(&table).find(&entry.key, SEQ_MAX);
        let Some(&holder) = position.and_then(|p| handles.get(p)) else {
            panic!(
                "find({:?}, SEQ_MAX) is {position:?}, not one of the {} blocks, for a key the \
                 table holds",
                entry.key,
                handles.len()
            );
        };
        let result = table.get(&entry.key, SEQ_MAX);
        if holder == victim {
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
    let table = open(&fs);
    for entry in &entries {
        fs.reset_reads();
        let got = table.get(&entry.key, SEQ_MAX);
        let key = String::from_utf8_lossy(&entry.key);
        match got {
            Ok(Some(value)) => assert!(
                value == entry.value,
                "get({key}) returned another value (of {} bytes; {} expected)",
                value_len(&value),
                value_len(&entry.value)
            ),
            Ok(None) => panic!("get({key}) is None for a key the table holds"),
            Err(error) => panic!("get({key}) failed: {error}"),
        }
        assert_eq!(
            fs.reads(TABLE).calls,
            1,
            "get({key}): one read, however large the block"
        );
    }
}

fn value_len(value: &Value) -> usize {
    match value {
        Value::Put(bytes) => bytes.len(),
        Value::Delete => 0,
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
        let table = open(&fs);
        let model: BTreeMap<(Bytes, std::cmp::Reverse<u64>), Value> =
            entries.iter().map(|e| ((e.key.clone(), std::cmp::Reverse(e.seq)), e.value.clone())).collect();
        for target in &targets {
            let expected: Vec<Entry> = model
                .range((Bytes::from(target.clone()), std::cmp::Reverse(SEQ_MAX))..)
                .map(|((key, seq), value)| Entry { key: key.clone(), seq: seq.0, value: value.clone() })
                .collect();
            let got = seek_keys(&fs, &table, target);
            if let Some(difference) = difference(&got, &expected) {
                prop_assert!(false, "seek({:?}): {}", target, difference);
            }
            for seq in [0, 3, 15, SEQ_MAX] {
                fs.reset_reads();
                let got = table.get(target, seq).unwrap();
                let expected = model_get(&entries, target, seq);
                prop_assert!(got == expected, "get({:?}, {}): got {:?}, expected {:?}", target, seq,
                    got.as_ref().map(value_len), expected.as_ref().map(value_len));
                prop_assert!(fs.reads(TABLE).calls <= 1, "get({:?}, {}) read the file {} times; with an index it reads at most one block", target, seq, fs.reads(TABLE).calls);
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
