//! Graded tests for chapter 4 — the bloom filter. Book: "4. The bloom
//! filter". Run: `cargo test --test ch04_bloom`.
//!
//! Tables here have a filter and no index (chapter 5), so a lookup that
//! passes the filter scans; one that the filter rejects reads nothing.

mod support;

use std::collections::HashSet;
use std::path::Path;

use lsm_workbook::Error;
use lsm_workbook::ch03_sstable::block::{frame, unframe};
use lsm_workbook::ch03_sstable::{BlockHandle, Footer, Table, TableOptions, write_table};
use lsm_workbook::ch04_bloom::{
    BLOOM_HASH_VERSION, BloomFilter, BloomFilterBuilder, FILTER_HEADER_LEN_BYTES, bloom_hash,
    expected_fp_rate, probe_count,
};
use lsm_workbook::fs::{Fs, SimFs};
use lsm_workbook::types::{Entry, SEQ_MAX};
use proptest::prelude::*;
use support::alloc::measure;
use support::{hexdump, numbered_entries, put, sorted};

const TABLE: &str = "db/000009.sst";

fn path() -> &'static Path {
    Path::new(TABLE)
}

fn filtered(bits_per_key: u32) -> TableOptions {
    TableOptions {
        block_size_bytes: 256,
        bloom_bits_per_key: bits_per_key,
        index: false,
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

/// A filter payload's header: version, probes, bit_count, key_count.
fn filter_header(probes: u8, bit_count: u32, key_count: u32) -> Vec<u8> {
    let mut header = vec![BLOOM_HASH_VERSION, probes];
    header.extend_from_slice(&bit_count.to_le_bytes());
    header.extend_from_slice(&key_count.to_le_bytes());
    header
}

/// The checked payload of the block at `handle` in a table file.
fn block_payload(file: &[u8], handle: BlockHandle) -> Vec<u8> {
    let framed = &file[handle.offset as usize..handle.end() as usize];
    unframe(framed, handle.offset)
        .expect("the reference table's filter block unframes")
        .to_vec()
}

/// A copy of a table file (filter, no index) whose filter block is
/// `payload`, framed by the crate's own `frame` so its checksum is valid, and
/// a footer re-encoded to point at it: only `BloomFilter::decode` can refuse
/// it.
fn with_filter_payload(file: &[u8], footer: &Footer, payload: &[u8]) -> Vec<u8> {
    assert!(
        footer.index.is_none(),
        "test set-up: the filter is the last block"
    );
    let offset = footer.filter.offset;
    let mut out = file[..offset as usize].to_vec();
    out.extend_from_slice(&frame(payload, offset));
    let filter = BlockHandle {
        offset,
        len: out.len() as u64 - offset,
    };
    // The footer pins the table's length (chapter 3): this file's, footer included.
    let table_len = out.len() as u64 + lsm_workbook::ch03_sstable::FOOTER_LEN_BYTES as u64;
    out.extend_from_slice(
        &Footer {
            filter,
            table_len,
            ..*footer
        }
        .encode(),
    );
    out
}

/// A table of 50 keys with a filter: its bytes and its footer.
fn filtered_table() -> (Vec<u8>, Footer) {
    let fs = build(&numbered_entries(50, 10), filtered(10));
    let footer = *Table::open(&fs, path())
        .expect("a freshly written table opens")
        .footer();
    (fs.file_bytes(TABLE).unwrap(), footer)
}

/// Opens `bytes` as a table and expects `Corruption` at the filter block.
#[track_caller]
fn assert_filter_refused(bytes: &[u8], filter_offset: u64, what: &str) {
    match Table::open(&fs_with(bytes), path()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, path(), "{what}: the error names the table file");
            assert_eq!(
                offset, filter_offset,
                "{what}: the error names the filter block's offset"
            );
        }
        Err(other) => panic!("{what}: expected Corruption at the filter block, got {other}"),
        Ok(_) => panic!(
            "{what}: the table opened, but its filter block (with a valid checksum) is \
             impossible: BloomFilter::decode must refuse it"
        ),
    }
}

fn filter_of(keys: impl IntoIterator<Item = String>, bits_per_key: u32) -> BloomFilter {
    let mut builder = BloomFilterBuilder::new(bits_per_key);
    for key in keys {
        builder.add_key(key.as_bytes());
    }
    BloomFilter::decode(&builder.finish()).expect("a filter the builder wrote must decode")
}

#[test]
fn bloom_hash_matches_the_pinned_vectors() {
    // The hash is part of the file format: these values must never change.
    assert_eq!(bloom_hash(b""), 0xefd0_1f60_ba99_2926, "bloom_hash(b\"\")");
    assert_eq!(
        bloom_hash(b"a"),
        0x82a2_a958_a9be_ce5b,
        "bloom_hash(b\"a\")"
    );
    assert_eq!(
        bloom_hash(b"hello"),
        0xe9c5_62c0_fdb2_3244,
        "bloom_hash(b\"hello\")"
    );
    assert_eq!(
        bloom_hash(b"key-00042"),
        0x113d_4988_9c82_c5ae,
        "bloom_hash(b\"key-00042\")"
    );
}

#[test]
fn probe_count_is_bits_per_key_times_ln2_rounded() {
    assert_eq!(probe_count(10), 7, "10 · ln 2 = 6.93");
    assert_eq!(probe_count(8), 6, "8 · ln 2 = 5.55");
    assert_eq!(probe_count(1), 1, "1 · ln 2 = 0.69");
    assert_eq!(probe_count(0), 1, "at least one probe");
    assert_eq!(probe_count(100), 30, "at most PROBE_COUNT_MAX");
}

#[test]
fn filter_layout_matches_snapshot() {
    let mut builder = BloomFilterBuilder::new(10);
    for key in ["apple", "fig", "kiwi"] {
        builder.add_key(key.as_bytes());
    }
    insta::assert_snapshot!("filter_three_keys", hexdump(&builder.finish()));
}

#[test]
fn filter_header_says_version_probes_bits_and_keys() {
    let mut builder = BloomFilterBuilder::new(10);
    for i in 0..1000 {
        builder.add_key(format!("k{i}").as_bytes());
    }
    let payload = builder.finish();
    assert!(
        payload.len() >= FILTER_HEADER_LEN_BYTES,
        "finish() returned {} bytes, fewer than the {FILTER_HEADER_LEN_BYTES}-byte header",
        payload.len()
    );
    assert_eq!(payload[0], BLOOM_HASH_VERSION, "byte 0: hash version");
    assert_eq!(payload[1], 7, "byte 1: probes");
    assert_eq!(
        &payload[2..6],
        &10_000u32.to_le_bytes(),
        "bytes 2..6: bit_count = keys · bits per key"
    );
    assert_eq!(
        &payload[6..10],
        &1000u32.to_le_bytes(),
        "bytes 6..10: key_count"
    );
    assert_eq!(
        payload.len(),
        FILTER_HEADER_LEN_BYTES + 10_000 / 8,
        "then bit_count / 8 bytes of bits"
    );
    let tiny = filter_of(["one".to_string()], 10);
    assert_eq!(tiny.bit_count(), 64, "a filter has at least 64 bits");
    let odd = filter_of((0..3).map(|i| i.to_string()), 3);
    assert_eq!(
        odd.bit_count() % 8,
        0,
        "bit_count is rounded up to whole bytes"
    );
}

#[test]
fn false_positive_rate_at_10_bits_per_key_is_near_theory() {
    let filter = filter_of((0..10_000).map(|i| format!("present-{i}")), 10);
    let theory = expected_fp_rate(filter.bit_count(), 10_000, filter.probes());
    let false_positives = (0..100_000)
        .filter(|i| filter.may_contain(format!("absent-{i}").as_bytes()))
        .count();
    let measured = false_positives as f64 / 100_000.0;
    assert!(
        (0.5 * theory..=1.3 * theory).contains(&measured),
        "measured false-positive rate {measured:.5} over 100,000 absent keys; theory (1 - e^(-kn/m))^k = {theory:.5}; \
         allowed 0.5×..1.3× theory. Too high: weak hashing or probes; too low: not 10 bits per key?"
    );
    assert!(
        (filter.expected_fp_rate() - theory).abs() < 1e-12,
        "expected_fp_rate() is the same formula"
    );
}

#[test]
fn versions_of_one_key_count_once() {
    let mut builder = BloomFilterBuilder::new(10);
    for _version in 0..5 {
        builder.add_key(b"same-key");
    }
    builder.add_key(b"other");
    let filter =
        BloomFilter::decode(&builder.finish()).expect("a filter the builder wrote must decode");
    assert_eq!(
        filter.key_count(),
        2,
        "consecutive versions of a key are one key to the filter"
    );
}

#[test]
fn decode_rejects_impossible_headers() {
    let good = {
        let mut builder = BloomFilterBuilder::new(10);
        builder.add_key(b"k");
        builder.finish()
    };
    assert_eq!(
        good.len(),
        FILTER_HEADER_LEN_BYTES + 8,
        "one key at 10 bits per key: the header and the minimum 64 bits (8 bytes)"
    );
    if let Err(error) = BloomFilter::decode(&good) {
        panic!("decode refused a filter the builder wrote: {error}");
    }
    let with = |at: usize, byte: u8| {
        let mut bad = good.clone();
        bad[at] = byte;
        bad
    };
    assert!(
        BloomFilter::decode(&with(0, 2)).is_err(),
        "unknown hash version"
    );
    assert!(BloomFilter::decode(&with(1, 0)).is_err(), "zero probes");
    assert!(
        BloomFilter::decode(&with(1, 31)).is_err(),
        "more than 30 probes"
    );
    assert!(
        BloomFilter::decode(&with(2, 63)).is_err(),
        "bit_count not a multiple of 8 (63 bits in 8 bytes)"
    );
    assert!(
        BloomFilter::decode(&good[..good.len() - 1]).is_err(),
        "bits missing"
    );
    assert!(BloomFilter::decode(&good[..5]).is_err(), "header cut short");
}

// A header that says 0 bits and brings no bit bytes is self-consistent
// (0 / 8 = 0 bytes) but useless: every probe would be `hash % 0`. decode
// must refuse it, alone and inside a table where the block's checksum is
// valid, so nothing but decode stands in its way.
#[test]
fn decode_rejects_a_filter_of_zero_bits() {
    let zero_bits = filter_header(7, 0, 1);
    assert!(
        BloomFilter::decode(&zero_bits).is_err(),
        "a header with bit_count 0 and no bit bytes was accepted: 0 bits in 0 bytes matches, \
         but may_contain would divide by zero. Refuse `bit_count == 0` on its own, not only \
         together with another check"
    );
    let (file, footer) = filtered_table();
    assert_filter_refused(
        &with_filter_payload(&file, &footer, &zero_bits),
        footer.filter.offset,
        "a filter block of 0 bits and no bit bytes",
    );
}

// Promise P7: decode allocates within a small multiple of the bytes it is
// given, whatever the header claims; a header claiming 64 MiB of bits in
// front of 8 bytes is refused before anything is reserved for them.
#[test]
fn decode_allocates_within_the_bytes_present() {
    let mut claims_64_mib = filter_header(7, 1 << 29, 1);
    claims_64_mib.extend_from_slice(&[0xff; 8]);
    let (result, stats) = measure(|| BloomFilter::decode(&claims_64_mib));
    stats.assert_within(
        claims_64_mib.len() as u64,
        "BloomFilter::decode of a header claiming 2^29 bits in front of 8 bytes",
    );
    assert!(
        result.is_err(),
        "a header claiming 2^29 bits in front of 8 bytes was accepted"
    );

    let mut many_keys = filter_header(7, 64, u32::MAX);
    many_keys.extend_from_slice(&[0xff; 8]);
    let (_, stats) = measure(|| BloomFilter::decode(&many_keys));
    stats.assert_within(
        many_keys.len() as u64,
        "BloomFilter::decode of a 64-bit filter claiming u32::MAX keys",
    );

    let mut builder = BloomFilterBuilder::new(10);
    for i in 0..10_000 {
        builder.add_key(format!("k{i}").as_bytes());
    }
    let real = builder.finish();
    let (result, stats) = measure(|| BloomFilter::decode(&real));
    stats.assert_within(real.len() as u64, "BloomFilter::decode of 10,000 keys");
    assert!(result.is_ok(), "a filter the builder wrote must decode");

    // The same claim inside a table, re-checksummed: opening it must stay
    // within the bound of the file's size, and fail at the filter block.
    let (file, footer) = filtered_table();
    let mut payload = block_payload(&file, footer.filter);
    assert!(
        payload.len() >= FILTER_HEADER_LEN_BYTES,
        "the table's filter block holds {} bytes, fewer than the header",
        payload.len()
    );
    payload[2..6].copy_from_slice(&(1u32 << 29).to_le_bytes());
    let damaged = with_filter_payload(&file, &footer, &payload);
    let fs = fs_with(&damaged);
    let (_, stats) = measure(|| Table::open(&fs, path()).map(|_| ()));
    stats.assert_within(
        damaged.len() as u64,
        "Table::open of a table whose filter header claims 2^29 bits",
    );
    assert_filter_refused(
        &damaged,
        footer.filter.offset,
        "a filter block whose header claims 2^29 bits",
    );
}

#[test]
fn table_stores_the_filter_and_reads_it_at_open() {
    let entries = numbered_entries(300, 10);
    let fs = build(&entries, filtered(10));
    let table = Table::open(&fs, path()).unwrap();
    let filter = table
        .filter()
        .expect("a table built with bloom_bits_per_key = 10 has a filter");
    assert_eq!(
        filter.key_count(),
        300,
        "key_count: the table added 300 distinct keys"
    );
    assert_eq!(filter.probes(), 7, "probes: round(10 · ln 2)");
    assert!(
        filter.bit_count() >= 3000,
        "bit_count {}: 300 keys at 10 bits per key need at least 3000",
        filter.bit_count()
    );
    assert!(
        !table.footer().filter.is_none(),
        "the footer points at the filter block"
    );
    let missed = entries
        .iter()
        .filter(|entry| !filter.may_contain(&entry.key))
        .count();
    assert_eq!(
        missed, 0,
        "{missed} of 300 keys the table holds are refused by its filter (false negatives)"
    );
}

#[test]
fn absent_key_lookup_reads_no_data_block() {
    let entries = numbered_entries(300, 10);
    let fs = build(&entries, filtered(10));
    let table = Table::open(&fs, path()).unwrap();
    let filter = table
        .filter()
        .expect("a table built with bloom_bits_per_key = 10 has a filter")
        .clone();
    let mut lookups_without_reads = 0;
    for i in 0..1000 {
        let key = format!("absent-{i}");
        fs.reset_reads();
        assert_eq!(
            table.get(key.as_bytes(), SEQ_MAX).unwrap(),
            None,
            "{key} was never added, yet get found it"
        );
        let reads = fs.reads(TABLE).calls;
        if !filter.may_contain(key.as_bytes()) {
            assert_eq!(
                reads, 0,
                "{key}: the filter says no, so get must not read the file"
            );
            lookups_without_reads += 1;
        }
    }
    assert!(
        lookups_without_reads >= 950,
        "only {lookups_without_reads} of 1000 absent keys were rejected by the filter"
    );
}

#[test]
fn present_keys_are_found_through_the_filter() {
    let entries = numbered_entries(300, 10);
    let fs = build(&entries, filtered(10));
    let table = Table::open(&fs, path()).unwrap();
    for entry in &entries {
        assert_eq!(
            table.get(&entry.key, SEQ_MAX).unwrap(),
            Some(entry.value.clone()),
            "key {:?}",
            entry.key
        );
    }
}

// Flip every bit of the filter block: opening the table must fail with
// Corruption at the filter's offset, or — if it opens — every present key
// must still be found. Never a false negative.
#[test]
fn damaged_filter_is_an_error_never_a_false_negative() {
    let entries = numbered_entries(40, 10);
    let fs = build(&entries, filtered(10));
    let full = fs.file_bytes(TABLE).unwrap();
    let handle = Table::open(&fs, path()).unwrap().footer().filter;
    for bit in handle.offset * 8..handle.end() * 8 {
        let damaged = SimFs::new();
        damaged.create_dir_all(Path::new("db")).unwrap();
        damaged.create(path()).unwrap().append(&full).unwrap();
        damaged.flip_bit(TABLE, bit).unwrap();
        match Table::open(&damaged, path()) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, path(), "bit {bit}: the error names the table file");
                assert_eq!(
                    offset, handle.offset,
                    "bit {bit}: the error names the filter block's offset"
                );
            }
            Err(other) => panic!("bit {bit}: expected Corruption, got {other}"),
            Ok(table) => {
                for entry in &entries {
                    assert_eq!(
                        table.get(&entry.key, SEQ_MAX).unwrap(),
                        Some(entry.value.clone()),
                        "bit {bit}: false negative"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    // Whatever the keys and the bits per key: every added key may be
    // contained. A bloom filter never says no to a key it holds.
    #[test]
    fn no_false_negatives(keys in prop::collection::hash_set(prop::collection::vec(any::<u8>(), 0..12), 0..300), bits in 1u32..24) {
        let mut builder = BloomFilterBuilder::new(bits);
        for key in &keys {
            builder.add_key(key);
        }
        let filter = BloomFilter::decode(&builder.finish()).unwrap();
        for key in &keys {
            prop_assert!(filter.may_contain(key), "false negative for {:?} at {} bits per key", key, bits);
        }
    }

    // Tables with filters, built from random versions: every key present is
    // found, so the table never loses a key to its filter.
    #[test]
    fn tables_with_filters_find_every_key(keys in prop::collection::btree_set("[a-z]{0,6}", 1..120)) {
        let entries = sorted(keys.iter().enumerate().map(|(i, key)| put(key, i as u64 + 1, key)).collect());
        let fs = build(&entries, filtered(6));
        let table = Table::open(&fs, path()).unwrap();
        let seen: HashSet<_> = entries.iter().map(|e| e.key.clone()).collect();
        for key in &seen {
            prop_assert!(table.get(key, SEQ_MAX).unwrap().is_some(), "lost {:?}", key);
        }
    }

    // Any bytes as a filter payload: decode returns a filter or an error,
    // and a decoded filter answers without panicking.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(filter) = BloomFilter::decode(&bytes) {
            let _ = filter.may_contain(b"anything");
        }
    }
}
