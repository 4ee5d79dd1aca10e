//! The block cache: decoded data blocks, shared by every table of a
//! database (or of several), bounded in bytes. The policy — which block
//! to evict to make room — is yours to choose: the book compares
//! LRU, FIFO, CLOCK and S3-FIFO, with hit rates measured on the same
//! traces. Several threads read at once: one lock is correct, several
//! (shards, each with its own lock and share of the capacity) scale.
// BEGIN SOLUTION hide
//!
//! The reference uses CLOCK in up to 16 shards (fewer for a small cache):
//! each shard is a ring of slots with a *referenced* bit that a hit sets;
//! to make room, a hand sweeps the ring, clearing set bits and evicting
//! the first block whose bit is already clear — close to LRU for a hot
//! set, at the cost of setting a bit on a hit instead of moving a list
//! node. A key goes to the shard its hash picks, so threads that read
//! different blocks mostly take different locks.
// END SOLUTION

// BEGIN SOLUTION hide
// STARTER: #![allow(dead_code, reason = "your cache's state and helpers go here")]
// END SOLUTION

use std::sync::Mutex;
// BEGIN SOLUTION hide
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicU64, Ordering};
// END SOLUTION

use crate::ch03_sstable::{Block, BlockCache, BlockKey, CacheStats};

/// A shared, size-bounded cache of data blocks: give it to
/// [`Options::block_cache`](crate::ch07_engine::Options::block_cache) as
/// `Some(Arc::new(Cache::new(bytes)))`.
#[derive(Debug)]
pub struct Cache {
    // BEGIN SOLUTION hide: your cache's state (the capacity, the blocks and what your policy keeps per block, behind a lock; the counters) — book §10.4, task 2
    // STARTER: _state: Mutex<()>,
    shards: Box<[Mutex<Shard>]>,
    capacity_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    /// Bytes charged, over all shards.
    bytes: AtomicU64,
    // END SOLUTION
}

// BEGIN SOLUTION hide
/// One shard: a CLOCK ring of slots and a map from key to slot.
#[derive(Debug, Default)]
struct Shard {
    capacity_bytes: usize,
    used_bytes: usize,
    slots: Vec<Slot>,
    /// Slots whose block was evicted, to be reused.
    free: Vec<usize>,
    map: HashMap<BlockKey, usize, BuildHasherDefault<KeyHasher>>,
    hand: usize,
}

#[derive(Debug)]
struct Slot {
    key: BlockKey,
    /// `None` once evicted (the slot is on the free list).
    block: Option<Block>,
    charge: usize,
    referenced: bool,
}

/// At most this many shards; a cache smaller than
/// `SHARD_BYTES_MIN` per shard has fewer.
const SHARDS_MAX: usize = 16;
const SHARD_BYTES_MIN: usize = 256 << 10;

/// A hasher for [`BlockKey`]s: two integers mixed (SplitMix64's
/// finaliser), far cheaper than the default SipHash, and spread well
/// enough for shard choice and the map.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(29) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn key_hash(key: BlockKey) -> u64 {
    let mut hasher = KeyHasher::default();
    hasher.write_u64(key.table);
    hasher.write_u64(key.offset);
    hasher.finish()
}
// END SOLUTION

impl Cache {
    // ANCHOR: ch10_cache_new
    /// An empty cache that holds at most `capacity_bytes` of blocks (as
    /// charged by [`BlockCache::insert`]); 0 caches nothing.
    pub fn new(capacity_bytes: usize) -> Cache {
        // BEGIN SOLUTION todo(capacity_bytes): an empty cache of this capacity — book §10.4, task 2
        let shard_count = (capacity_bytes / SHARD_BYTES_MIN).clamp(1, SHARDS_MAX);
        // The shards' capacities add up to the whole, exactly.
        let shards = (0..shard_count)
            .map(|index| {
                let share = capacity_bytes / shard_count
                    + usize::from(index < capacity_bytes % shard_count);
                Mutex::new(Shard {
                    capacity_bytes: share,
                    ..Shard::default()
                })
            })
            .collect();
        Cache {
            shards,
            capacity_bytes: capacity_bytes as u64,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch10_cache_new

    // BEGIN SOLUTION hide
    fn shard(&self, key: BlockKey) -> MutexGuard<'_, Shard> {
        let index = (key_hash(key) % self.shards.len() as u64) as usize;
        // A shard is whole after a panic: every change is made in one call.
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    // END SOLUTION
}

// BEGIN SOLUTION hide
impl Shard {
    /// Evicts blocks, CLOCK order, until `charge` more bytes fit; returns
    /// the blocks evicted (for the caller to drop once the lock is
    /// released: freeing a block's buffer is the slowest part) and their
    /// bytes.
    fn make_room(&mut self, charge: usize) -> (Vec<Block>, usize) {
        let (mut evicted, mut freed) = (Vec::new(), 0);
        // Every full turn of the hand clears every bit it passes, so the
        // second turn evicts: the loop ends once the blocks fit (at worst
        // with the shard empty, and `charge` fits an empty shard).
        while self.used_bytes + charge > self.capacity_bytes {
            let len = self.slots.len();
            if len == 0 {
                break;
            }
            self.hand %= len;
            let slot = &mut self.slots[self.hand];
            if slot.block.is_some() {
                if slot.referenced {
                    slot.referenced = false;
                } else if let Some(block) = slot.block.take() {
                    self.used_bytes -= slot.charge;
                    freed += slot.charge;
                    evicted.push(block);
                    self.map.remove(&slot.key);
                    self.free.push(self.hand);
                }
            }
            self.hand += 1;
        }
        (evicted, freed)
    }
}
// END SOLUTION

impl BlockCache for Cache {
    // ANCHOR: ch10_cache_get
    fn get(&self, key: BlockKey) -> Option<Block> {
        // BEGIN SOLUTION todo(key): the block under `key`, counting a hit or a miss; tell your policy it was used — book §10.4, task 2
        let found = {
            let mut shard = self.shard(key);
            let slot = shard.map.get(&key).copied();
            slot.and_then(|slot| {
                let slot = &mut shard.slots[slot];
                slot.referenced = true;
                slot.block.clone()
            })
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
        // END SOLUTION
    }
    // ANCHOR_END: ch10_cache_get

    // ANCHOR: ch10_cache_insert
    fn insert(&self, key: BlockKey, block: Block, charge_bytes: usize) {
        // BEGIN SOLUTION todo(key, block, charge_bytes): evict by your policy until it fits, then keep it — never above the capacity — book §10.4, task 2
        let mut shard = self.shard(key);
        if charge_bytes > shard.capacity_bytes {
            return;
        }
        // Two readers may miss the same block and both insert it: the
        // second replaces the first.
        let mut released = 0;
        let mut replaced = None;
        if let Some(index) = shard.map.remove(&key) {
            let slot = &mut shard.slots[index];
            replaced = slot.block.take();
            released = slot.charge;
            shard.used_bytes -= slot.charge;
            shard.free.push(index);
        }
        let (evicted, freed) = shard.make_room(charge_bytes);
        let slot = Slot {
            key,
            block: Some(block),
            charge: charge_bytes,
            referenced: false,
        };
        let index = match shard.free.pop() {
            Some(index) => {
                shard.slots[index] = slot;
                index
            }
            None => {
                shard.slots.push(slot);
                shard.slots.len() - 1
            }
        };
        shard.map.insert(key, index);
        shard.used_bytes += charge_bytes;
        // Counted under the shard's lock, the freed bytes first: the sum
        // over shards never reads above the capacity.
        self.bytes
            .fetch_sub((freed + released) as u64, Ordering::Relaxed);
        self.bytes.fetch_add(charge_bytes as u64, Ordering::Relaxed);
        drop(shard);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.evictions
            .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        // The buffers are freed here, with no lock held.
        drop((evicted, replaced));
        // END SOLUTION
    }
    // ANCHOR_END: ch10_cache_insert

    fn stats(&self) -> CacheStats {
        // BEGIN SOLUTION todo(): your counters, read now — book §10.4, task 2
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStats {
            hits: load(&self.hits),
            misses: load(&self.misses),
            inserts: load(&self.inserts),
            evictions: load(&self.evictions),
            bytes: load(&self.bytes),
            capacity_bytes: self.capacity_bytes,
        }
        // END SOLUTION
    }
}
