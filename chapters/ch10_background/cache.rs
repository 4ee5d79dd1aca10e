//! The block cache: decoded data blocks, shared by every table of a
//! database (or of several), bounded in bytes. The policy — which block
//! to evict to make room — is yours to choose: the book compares
//! LRU, FIFO, CLOCK and S3-FIFO, with hit rates measured on the same
//! traces. Several threads read at once: one lock is correct, several
//! (shards, each with its own lock and share of the capacity) scale.

#![allow(dead_code, reason = "your cache's state and helpers go here")]

use std::sync::Mutex;

use crate::ch03_sstable::{Block, BlockCache, BlockKey, CacheStats};

/// A shared, size-bounded cache of data blocks: give it to
/// [`Options::block_cache`](crate::ch07_engine::Options::block_cache) as
/// `Some(Arc::new(Cache::new(bytes)))`.
#[derive(Debug)]
pub struct Cache {
    // TODO(ch10): your cache's state (the capacity, the blocks and what your policy keeps per block, behind a lock; the counters) — book §10.4, task 2
    _state: Mutex<()>,
}

impl Cache {
    /// An empty cache that holds at most `capacity_bytes` of blocks (as
    /// charged by [`BlockCache::insert`]); 0 caches nothing.
    pub fn new(capacity_bytes: usize) -> Cache {
        let _ = capacity_bytes;
        todo!("ch10: an empty cache of this capacity — book §10.4, task 2")
    }
}

impl BlockCache for Cache {
    fn get(&self, key: BlockKey) -> Option<Block> {
        let _ = key;
        todo!(
            "ch10: the block under `key`, counting a hit or a miss; tell your policy it was used — book §10.4, task 2"
        )
    }

    fn insert(&self, key: BlockKey, block: Block, charge_bytes: usize) {
        let _ = (key, block, charge_bytes);
        todo!(
            "ch10: evict by your policy until it fits, then keep it — never above the capacity — book §10.4, task 2"
        )
    }

    fn stats(&self) -> CacheStats {
        todo!("ch10: your counters, read now — book §10.4, task 2")
    }
}
