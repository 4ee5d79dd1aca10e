//! Graded tests for chapter 1 — the memtable. Book: "1. The memtable".
//! Run: `cargo test --test ch01_memtable`.

mod support;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use lsm_workbook::ch01_memtable::{ENTRY_OVERHEAD_BYTES, Memtable};
use lsm_workbook::types::{Entry, SEQ_MAX, Value};
use proptest::prelude::*;
use support::{b, del, put, show, val};

fn keys_of(memtable: &Memtable) -> Vec<String> {
    show(&memtable.iter().collect::<Vec<_>>())
}

#[test]
fn new_memtable_is_empty() {
    let memtable = Memtable::new();
    assert_eq!(memtable.len(), 0, "a new memtable holds no versions");
    assert!(memtable.is_empty());
    assert_eq!(
        memtable.approximate_size_bytes(),
        0,
        "a new memtable accounts for 0 bytes"
    );
    assert_eq!(
        memtable.iter().count(),
        0,
        "iterating a new memtable yields nothing"
    );
}

#[test]
fn get_returns_none_for_missing_key() {
    let memtable = Memtable::new();
    memtable.insert(put("apple", 1, "red"));
    assert_eq!(
        memtable.get(b"banana", SEQ_MAX),
        None,
        "banana was never written"
    );
    assert_eq!(
        memtable.get(b"appl", SEQ_MAX),
        None,
        "a prefix of a key is another key"
    );
    assert_eq!(
        memtable.get(b"apples", SEQ_MAX),
        None,
        "a key extended is another key"
    );
}

#[test]
fn get_returns_value_after_put() {
    let memtable = Memtable::new();
    memtable.put(b("apple"), 1, b("red"));
    memtable.put(b("banana"), 2, b("yellow"));
    assert_eq!(memtable.get(b"apple", SEQ_MAX), Some(val("red")));
    assert_eq!(memtable.get(b"banana", SEQ_MAX), Some(val("yellow")));
}

#[test]
fn get_returns_newest_version_after_overwrite() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 1, "one"));
    memtable.insert(put("k", 5, "five"));
    memtable.insert(put("k", 3, "three"));
    assert_eq!(
        memtable.get(b"k", SEQ_MAX),
        Some(val("five")),
        "the highest sequence number wins, whatever the insertion order"
    );
}

#[test]
fn get_at_older_seq_sees_older_version() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 10, "ten"));
    memtable.insert(put("k", 20, "twenty"));
    memtable.insert(put("k", 30, "thirty"));
    assert_eq!(
        memtable.get(b"k", 29),
        Some(val("twenty")),
        "a read at 29 sees version 20"
    );
    assert_eq!(
        memtable.get(b"k", 20),
        Some(val("twenty")),
        "a read at 20 sees version 20 itself"
    );
    assert_eq!(memtable.get(b"k", 19), Some(val("ten")));
    assert_eq!(memtable.get(b"k", 30), Some(val("thirty")));
}

#[test]
fn get_below_first_version_returns_none() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 10, "ten"));
    memtable.insert(put("j", 3, "j"));
    assert_eq!(
        memtable.get(b"k", 9),
        None,
        "at seq 9 the key did not exist yet"
    );
    assert_eq!(memtable.get(b"k", 0), None);
}

#[test]
fn tombstone_is_returned_not_hidden() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 1, "v"));
    memtable.insert(del("k", 2));
    assert_eq!(
        memtable.get(b"k", SEQ_MAX),
        Some(Value::Delete),
        "a deleted key answers Some(Value::Delete): the caller must not look in older tables"
    );
    assert_eq!(
        memtable.get(b"k", 1),
        Some(val("v")),
        "before the delete, the value is visible"
    );
}

// `Memtable::delete(key, seq)` is provided and calls your `insert`: it must
// store a tombstone version, never remove the key's older versions.
#[test]
fn delete_inserts_a_tombstone_that_hides_older_versions() {
    let memtable = Memtable::new();
    memtable.put(b("k"), 1, b("old"));
    memtable.put(b("k"), 2, b("newer"));
    memtable.delete(b("k"), 3);
    memtable.delete(b("never-written"), 4);
    assert_eq!(
        memtable.get(b"k", SEQ_MAX),
        Some(Value::Delete),
        "after delete(k, 3) the newest version of k is a tombstone: did delete store Value::Delete?"
    );
    assert_eq!(
        memtable.get(b"k", 2),
        Some(val("newer")),
        "a read at seq 2 is older than the delete and still sees version 2: a delete must not remove older versions"
    );
    assert_eq!(
        memtable.get(b"never-written", SEQ_MAX),
        Some(Value::Delete),
        "deleting a key that was never written still stores its tombstone (an older table may hold the key)"
    );
    assert_eq!(
        keys_of(&memtable),
        ["k@3=<del>", "k@2=newer", "k@1=old", "never-written@4=<del>"],
        "a tombstone is one more version in internal order, next to the versions it hides"
    );
    assert_eq!(
        memtable.len(),
        4,
        "two puts and two tombstones are four versions"
    );
    assert_eq!(
        memtable.approximate_size_bytes(),
        (1 + 3 + ENTRY_OVERHEAD_BYTES)
            + (1 + 5 + ENTRY_OVERHEAD_BYTES)
            + (1 + ENTRY_OVERHEAD_BYTES)
            + ("never-written".len() + ENTRY_OVERHEAD_BYTES),
        "a tombstone costs its key and the overhead, with a value length of 0"
    );
}

#[test]
fn put_after_delete_makes_key_visible_again() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 1, "old"));
    memtable.insert(del("k", 2));
    memtable.insert(put("k", 3, "new"));
    assert_eq!(
        memtable.get(b"k", SEQ_MAX),
        Some(val("new")),
        "a put after a delete is the newest version"
    );
    assert_eq!(
        memtable.get(b"k", 2),
        Some(Value::Delete),
        "at seq 2 the tombstone is the newest version: return it, don't hide it"
    );
}

#[test]
fn iter_yields_keys_ascending_and_versions_newest_first() {
    let memtable = Memtable::new();
    for entry in [
        put("b", 2, "b2"),
        put("a", 1, "a1"),
        del("b", 5),
        put("a", 7, "a7"),
        put("c", 3, "c3"),
    ] {
        memtable.insert(entry);
    }
    assert_eq!(
        keys_of(&memtable),
        ["a@7=a7", "a@1=a1", "b@5=<del>", "b@2=b2", "c@3=c3"],
        "internal order is key ascending, then sequence number descending; tombstones are versions too"
    );
}

#[test]
fn iter_orders_keys_bytewise_with_prefixes_first() {
    let memtable = Memtable::new();
    let keys: [&[u8]; 6] = [b"b", b"ab", b"a", b"\xff", b"a\x00", b""];
    for (seq, key) in (1..).zip(keys) {
        memtable.put(Bytes::copy_from_slice(key), seq, b("v"));
    }
    let order: Vec<Bytes> = memtable.iter().map(|entry| entry.key).collect();
    let expected: Vec<&[u8]> = vec![b"", b"a", b"a\x00", b"ab", b"b", b"\xff"];
    assert_eq!(
        order, expected,
        "keys compare as unsigned bytes; a prefix sorts before its extensions"
    );
}

#[test]
fn range_respects_inclusive_and_exclusive_bounds() {
    let memtable = Memtable::new();
    for (seq, key) in (1..).zip(["a", "b", "c", "d", "e"]) {
        memtable.insert(put(key, seq, key));
        memtable.insert(put(key, seq + 10, key));
    }
    let keys = |iter: lsm_workbook::ch01_memtable::MemtableIter<'_>| {
        iter.map(|entry| format!("{}@{}", String::from_utf8_lossy(&entry.key), entry.seq))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(memtable.range(b"b".as_slice()..b"d".as_slice())),
        ["b@12", "b@2", "c@13", "c@3"],
        "b..d includes every version of b and c, none of d"
    );
    assert_eq!(
        keys(memtable.range(b"b".as_slice()..=b"d".as_slice())),
        ["b@12", "b@2", "c@13", "c@3", "d@14", "d@4"],
        "b..=d includes every version of d"
    );
    assert_eq!(
        keys(memtable.range((
            Bound::Excluded(b"b".as_slice()),
            Bound::Included(b"c".as_slice())
        ))),
        ["c@13", "c@3"],
        "an excluded lower bound skips every version of that key"
    );
    assert_eq!(
        keys(memtable.range(b"bb".as_slice()..b"cc".as_slice())),
        ["c@13", "c@3"],
        "bounds need not be keys that exist"
    );
}

#[test]
fn range_with_unbounded_sides() {
    let memtable = Memtable::new();
    for (seq, key) in (1..).zip(["a", "b", "c"]) {
        memtable.insert(put(key, seq, key));
    }
    let keys = |iter: lsm_workbook::ch01_memtable::MemtableIter<'_>| {
        iter.map(|entry| String::from_utf8_lossy(&entry.key).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(memtable.range(..)), ["a", "b", "c"]);
    assert_eq!(keys(memtable.range(b"b".as_slice()..)), ["b", "c"]);
    assert_eq!(keys(memtable.range(..b"b".as_slice())), ["a"]);
    assert_eq!(keys(memtable.range(..=b"b".as_slice())), ["a", "b"]);
    assert_eq!(
        keys(memtable.range(b"x".as_slice()..)),
        Vec::<String>::new(),
        "nothing at or after x"
    );
}

#[test]
fn len_counts_versions_not_keys() {
    let memtable = Memtable::new();
    memtable.insert(put("k", 1, "a"));
    memtable.insert(put("k", 2, "b"));
    memtable.insert(del("k", 3));
    memtable.insert(put("other", 4, "c"));
    assert_eq!(memtable.len(), 4, "three versions of k and one of other");
    assert!(!memtable.is_empty());
}

#[test]
fn size_grows_by_key_value_and_overhead() {
    let memtable = Memtable::new();
    memtable.insert(put("key", 1, "value-bytes"));
    assert_eq!(
        memtable.approximate_size_bytes(),
        3 + 11 + ENTRY_OVERHEAD_BYTES
    );
    memtable.insert(put("key", 2, "v"));
    assert_eq!(
        memtable.approximate_size_bytes(),
        (3 + 11 + ENTRY_OVERHEAD_BYTES) + (3 + 1 + ENTRY_OVERHEAD_BYTES),
        "an overwrite adds a version, so it adds to the size"
    );
    memtable.insert(del("key", 3));
    assert_eq!(
        memtable.approximate_size_bytes(),
        (3 + 11 + ENTRY_OVERHEAD_BYTES)
            + (3 + 1 + ENTRY_OVERHEAD_BYTES)
            + (3 + ENTRY_OVERHEAD_BYTES),
        "a tombstone costs its key and the overhead"
    );
}

// Eight threads insert disjoint keys at once through `&Memtable`; every
// version must be there afterwards, in order, and the size must add up.
#[test]
fn concurrent_writers_lose_nothing() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 500;
    let memtable = Arc::new(Memtable::new());
    let writers: Vec<_> = (0..THREADS)
        .map(|thread_index| {
            let memtable = Arc::clone(&memtable);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let seq = thread_index * PER_THREAD + i + 1;
                    memtable.insert(put(&format!("key-{thread_index}-{i:04}"), seq, "v"));
                }
            })
        })
        .collect();
    for writer in writers {
        writer
            .join()
            .expect("a writer thread panicked; see its message above");
    }
    let total = (THREADS * PER_THREAD) as usize;
    assert_eq!(
        memtable.len(),
        total,
        "every concurrent insert must be kept"
    );
    let entries: Vec<Entry> = memtable.iter().collect();
    assert_eq!(entries.len(), total);
    assert!(
        entries.windows(2).all(|w| w[0].key < w[1].key),
        "iteration must be sorted"
    );
    let key_len = "key-0-0000".len();
    assert_eq!(
        memtable.approximate_size_bytes(),
        total * (key_len + 1 + ENTRY_OVERHEAD_BYTES)
    );
}

// Readers iterate while writers insert; every snapshot a reader sees must be
// sorted, and it must see each completed version exactly once.
#[test]
fn readers_see_sorted_order_while_writers_insert() {
    let memtable = Arc::new(Memtable::new());
    let writer = {
        let memtable = Arc::clone(&memtable);
        thread::spawn(move || {
            for seq in 1..=2_000u64 {
                memtable.insert(put(&format!("{:05}", (seq * 7919) % 10_007), seq, "v"));
            }
        })
    };
    for _ in 0..20 {
        let seen: Vec<Entry> = memtable.iter().collect();
        assert!(
            seen.windows(2)
                .all(|w| (&w[0].key, std::cmp::Reverse(w[0].seq))
                    < (&w[1].key, std::cmp::Reverse(w[1].seq))),
            "an iterator running during inserts still yields strictly increasing internal keys"
        );
    }
    writer.join().expect("the writer thread panicked");
    assert_eq!(memtable.len(), 2_000);
}

#[derive(Clone, Debug)]
enum ModelOp {
    Put(u8, u8),
    Delete(u8),
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        3 => (0..8u8, any::<u8>()).prop_map(|(k, v)| ModelOp::Put(k, v)),
        1 => (0..8u8).prop_map(ModelOp::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    // Apply random puts and deletes with sequence numbers 1, 2, …; then
    // every read at every sequence number must agree with a model that
    // keeps each key's history in a BTreeMap, and iteration must list
    // exactly the model's versions in internal order.
    #[test]
    fn memtable_matches_btreemap_model(ops in prop::collection::vec(model_op(), 1..60)) {
        let memtable = Memtable::new();
        let mut model: BTreeMap<Vec<u8>, BTreeMap<u64, Value>> = BTreeMap::new();
        for (seq, op) in (1u64..).zip(&ops) {
            let (key, value) = match op {
                ModelOp::Put(k, v) => (vec![b'k', *k], Value::Put(Bytes::from(vec![*v]))),
                ModelOp::Delete(k) => (vec![b'k', *k], Value::Delete),
            };
            memtable.insert(Entry { key: Bytes::from(key.clone()), seq, value: value.clone() });
            model.entry(key).or_default().insert(seq, value);
        }
        for read_seq in 0..=ops.len() as u64 + 1 {
            for k in 0..8u8 {
                let key = [b'k', k];
                let expected = model
                    .get(key.as_slice())
                    .and_then(|history| history.range(..=read_seq).next_back())
                    .map(|(_, value)| value.clone());
                prop_assert_eq!(memtable.get(&key, read_seq), expected, "get(k{}, {})", k, read_seq);
            }
        }
        let expected: Vec<Entry> = model
            .iter()
            .flat_map(|(key, history)| {
                history.iter().rev().map(|(seq, value)| Entry {
                    key: Bytes::from(key.clone()),
                    seq: *seq,
                    value: value.clone(),
                })
            })
            .collect();
        prop_assert_eq!(memtable.iter().collect::<Vec<_>>(), expected);
    }
}
