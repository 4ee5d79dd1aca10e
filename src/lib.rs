//! # lsm-workbook
//!
//! A workbook in which you build an LSM-tree key-value storage engine, one
//! chapter at a time. This file is the *switchboard*: every chapter is a
//! module whose source comes either from `chapters/` (your code, the default)
//! or from `solutions/` (the reference), chosen per chapter by a Cargo
//! feature:
//!
//! | features        | chapters 1–2 | chapter 3    | chapters 4–5 |
//! |-----------------|--------------|--------------|--------------|
//! | *(none)*        | `chapters/`  | `chapters/`  | `chapters/`  |
//! | `ref-ch03`      | `chapters/`  | `solutions/` | `chapters/`  |
//! | `ref-upto-ch03` | `solutions/` | `solutions/` | `chapters/`  |
//! | `solutions`     | `solutions/` | `solutions/` | `solutions/` |
//!
//! `ref-chNN` takes chapter NN from the reference, `ref-upto-chNN` chapters
//! 1 to NN, `solutions` all of them; features add up. Both trees expose the
//! same public API, so any mix compiles: you can work on chapter N on top of
//! the reference for every earlier chapter with `ref-upto-chMM`, M = N − 1:
//! `cargo test --test ch05_index --features ref-upto-ch04`.
//!
//! The modules [`clock`], [`error`], [`filename`], [`fs`] and [`types`] are *provided*: you use them,
//! you never write them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod clock;
pub mod error;
pub mod filename;
pub mod fs;
pub mod types;

pub use error::{Error, Result};

/// Chapter 1 — the memtable: an ordered, concurrent, in-memory table of
/// versioned entries. Book: "1. The memtable".
#[cfg_attr(feature = "ref-ch01", path = "../solutions/ch01_memtable.rs")]
#[cfg_attr(not(feature = "ref-ch01"), path = "../chapters/ch01_memtable.rs")]
pub mod ch01_memtable;

/// Chapter 2 — the write-ahead log: every write is framed, checksummed and
/// appended before it is acknowledged; replay rebuilds the memtable.
/// Book: "2. The write-ahead log".
#[cfg_attr(feature = "ref-ch02", path = "../solutions/ch02_wal.rs")]
#[cfg_attr(not(feature = "ref-ch02"), path = "../chapters/ch02_wal.rs")]
pub mod ch02_wal;

/// Chapter 3 — the SSTable: an immutable, block-based sorted table with a
/// checksummed footer. Book: "3. The SSTable".
#[cfg_attr(feature = "ref-ch03", path = "../solutions/ch03_sstable/mod.rs")]
#[cfg_attr(not(feature = "ref-ch03"), path = "../chapters/ch03_sstable/mod.rs")]
pub mod ch03_sstable;

/// Chapter 4 — the bloom filter: a per-table summary that rules out absent
/// keys without reading a data block. Book: "4. The bloom filter".
#[cfg_attr(feature = "ref-ch04", path = "../solutions/ch04_bloom.rs")]
#[cfg_attr(not(feature = "ref-ch04"), path = "../chapters/ch04_bloom.rs")]
pub mod ch04_bloom;

/// Chapter 5 — the sparse index: one entry per block, binary search, seek.
/// Book: "5. The sparse index".
#[cfg_attr(feature = "ref-ch05", path = "../solutions/ch05_index.rs")]
#[cfg_attr(not(feature = "ref-ch05"), path = "../chapters/ch05_index.rs")]
pub mod ch05_index;

/// Chapter 6 — the manifest: a log of version edits that says which files
/// are the database, with `CURRENT` replaced atomically. Book: "6. The
/// manifest".
#[cfg_attr(feature = "ref-ch06", path = "../solutions/ch06_manifest/mod.rs")]
#[cfg_attr(not(feature = "ref-ch06"), path = "../chapters/ch06_manifest/mod.rs")]
pub mod ch06_manifest;

/// Chapter 7 — the engine: `Db`, its write and read paths, the merge
/// iterator and recovery. Book: "7. The engine".
#[cfg_attr(feature = "ref-ch07", path = "../solutions/ch07_engine/mod.rs")]
#[cfg_attr(not(feature = "ref-ch07"), path = "../chapters/ch07_engine/mod.rs")]
pub mod ch07_engine;

/// Chapter 8 — compaction: the leveled policy, merging tables with
/// garbage collection of shadowed versions and tombstones. Book: "8.
/// Compaction".
#[cfg_attr(feature = "ref-ch08", path = "../solutions/ch08_compaction/mod.rs")]
#[cfg_attr(not(feature = "ref-ch08"), path = "../chapters/ch08_compaction/mod.rs")]
pub mod ch08_compaction;

/// Chapter 9 — snapshots, time travel and transactions: reads at a point
/// in history, and optimistic transactions. Book: "9. Snapshots, time
/// travel and transactions".
#[cfg_attr(feature = "ref-ch09", path = "../solutions/ch09_snapshots/mod.rs")]
#[cfg_attr(not(feature = "ref-ch09"), path = "../chapters/ch09_snapshots/mod.rs")]
pub mod ch09_snapshots;

/// Chapter 10 — background work, write stalls and the block cache: flush
/// and compaction on threads, writers held back when they would outrun
/// them, hot blocks kept in memory. Book: "10. Background work, stalls and
/// the block cache".
#[cfg_attr(feature = "ref-ch10", path = "../solutions/ch10_background/mod.rs")]
#[cfg_attr(not(feature = "ref-ch10"), path = "../chapters/ch10_background/mod.rs")]
pub mod ch10_background;

/// Chapter 11 — the server: the Redis protocol (RESP2), parsed
/// incrementally and bounded, replies, and commands on a shared `Db`, so
/// `redis-cli` and `redis-benchmark` talk to your engine. Book: "11. The
/// server".
#[cfg_attr(feature = "ref-ch11", path = "../solutions/ch11_server/mod.rs")]
#[cfg_attr(not(feature = "ref-ch11"), path = "../chapters/ch11_server/mod.rs")]
pub mod ch11_server;
