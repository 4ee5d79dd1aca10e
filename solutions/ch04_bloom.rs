//! Chapter 4 — the bloom filter: a compact, per-table summary of its keys
//! that answers "definitely not here" or "maybe here". A table consults it
//! before touching any data block, so a lookup of a key the table does not
//! hold costs no data-block read at all.
//!
//! The filter is a bit array of `m` bits. Adding a key sets `k` bits chosen
//! by hashing it; a key may be present only if all its `k` bits are set.
//! With `b` bits per key and `k ≈ b·ln 2` probes, the false-positive rate
//! is about `(1 - e^(-k/b))^k` — under 1 % at 10 bits per key.
//!
//! The `k` bit positions come from *one* 64-bit hash by double hashing
//! (Kirsch and Mitzenmacher): `h1` = its low 32 bits, `h2` = its high 32
//! bits forced odd, probe `i` sets bit `(h1 + i·h2) mod m`. The hash is
//! part of the file format ([`bloom_hash`], version [`BLOOM_HASH_VERSION`]):
//! a filter written on one machine must answer the same on every other.
//!
//! The filter block's payload (framed and checksummed like every block):
//!
//! ```text
//!  0        1        2                6                10
//!  +--------+--------+----------------+----------------+---------------------+
//!  | hash   | probes | bit_count u32  | key_count u32  | bits (bit_count / 8 |
//!  | ver u8 | k u8   | LE (mult. of 8)| LE             | bytes, bit i = byte |
//!  |        |        |                |                | i/8, bit i%8)       |
//!  +--------+--------+----------------+----------------+---------------------+
//! ```
//!
//! You write: [`bloom_hash`], [`probe_count`], [`BloomFilterBuilder`]
//! (`new`, `add_key`, `finish`), [`BloomFilter::decode`] and
//! [`BloomFilter::may_contain_hash`] (which [`BloomFilter::may_contain`]
//! calls). Book: "4. The bloom filter".
//!
//! Invariant: never a false negative — every key added answers `true`.

// BEGIN SOLUTION hide
use bytes::Bytes;
// END SOLUTION

/// Version of the hash function and probe scheme below.
pub const BLOOM_HASH_VERSION: u8 = 1;
/// Bytes before the bit array: version, probes, bit_count, key_count.
pub const FILTER_HEADER_LEN_BYTES: usize = 10;
/// The fewest bits a filter has, however few its keys: tiny filters would
/// otherwise have a terrible false-positive rate.
pub const FILTER_BIT_COUNT_MIN: u64 = 64;
/// The most probes a filter may use.
pub const PROBE_COUNT_MAX: u32 = 30;

const _: () = assert!(FILTER_HEADER_LEN_BYTES == 1 + 1 + 4 + 4);

// ANCHOR: ch04_hash
/// The filter's 64-bit hash of `key`: FNV-1a (offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`) followed by MurmurHash3's
/// 64-bit finalizer (`fmix64`) to spread FNV's weak high bits. Pinned by
/// the format: the graded tests pin `bloom_hash(b"") == 0xefd01f60ba992926`.
pub fn bloom_hash(key: &[u8]) -> u64 {
    // BEGIN SOLUTION todo(key): FNV-1a over the bytes, then fmix64 — book §4.4, task 1
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
    // END SOLUTION
}
// ANCHOR_END: ch04_hash

/// The number of probes for `bits_per_key`: `round(bits_per_key · ln 2)`,
/// at least 1 and at most [`PROBE_COUNT_MAX`].
pub fn probe_count(bits_per_key: u32) -> u32 {
    // BEGIN SOLUTION todo(bits_per_key): k = round(b · ln 2), clamped — book §4.4, task 1
    let k = (f64::from(bits_per_key) * std::f64::consts::LN_2).round() as u32;
    k.clamp(1, PROBE_COUNT_MAX)
    // END SOLUTION
}

/// The theoretical false-positive rate of a filter of `bit_count` bits
/// holding `key_count` keys with `probes` probes: `(1 - e^(-k·n/m))^k`.
pub fn expected_fp_rate(bit_count: u64, key_count: u64, probes: u32) -> f64 {
    if bit_count == 0 {
        return 1.0;
    }
    let fill = -(probes as f64) * key_count as f64 / bit_count as f64;
    (1.0 - fill.exp()).powi(probes as i32)
}

/// Collects the keys of one table and builds its filter.
#[derive(Debug)]
pub struct BloomFilterBuilder {
    // BEGIN SOLUTION hide: the state your builder needs — book §4.4, task 2
    bits_per_key: u32,
    /// The hashes of the keys so far: the bit array can only be sized once
    /// the number of keys is known.
    hashes: Vec<u64>,
    // END SOLUTION
}

impl BloomFilterBuilder {
    /// A builder for a filter with `bits_per_key` bits per key (≥ 1).
    pub fn new(bits_per_key: u32) -> Self {
        // BEGIN SOLUTION todo(bits_per_key): start with no keys — book §4.4, task 2
        BloomFilterBuilder {
            bits_per_key: bits_per_key.max(1),
            hashes: Vec::new(),
        }
        // END SOLUTION
    }

    /// Adds a key. Adding the same key twice (two versions of it) is
    /// allowed and changes nothing.
    pub fn add_key(&mut self, key: &[u8]) {
        // BEGIN SOLUTION todo(key): remember the key's hash — book §4.4, task 2
        let hash = bloom_hash(key);
        // Versions of a key arrive together, so a repeat is the last one.
        if self.hashes.last() != Some(&hash) {
            self.hashes.push(hash);
        }
        // END SOLUTION
    }

    // ANCHOR: ch04_finish
    /// The filter block's payload, as drawn in the module docs.
    pub fn finish(self) -> Vec<u8> {
        // BEGIN SOLUTION todo(): size the bit array, set each key's probes, encode — book §4.4, task 2
        let key_count = self.hashes.len() as u64;
        let wanted = key_count.saturating_mul(u64::from(self.bits_per_key));
        let bit_count = wanted.max(FILTER_BIT_COUNT_MIN).div_ceil(8) * 8;
        let bit_count = bit_count.min(u64::from(u32::MAX) / 8 * 8);
        let probes = probe_count(self.bits_per_key);
        let mut bits = vec![0u8; (bit_count / 8) as usize];
        for hash in &self.hashes {
            for bit in probe_bits(*hash, probes, bit_count) {
                bits[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        let mut payload = Vec::with_capacity(FILTER_HEADER_LEN_BYTES + bits.len());
        payload.push(BLOOM_HASH_VERSION);
        payload.push(probes as u8);
        payload.extend_from_slice(&(bit_count as u32).to_le_bytes());
        payload.extend_from_slice(&(key_count.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        payload.extend_from_slice(&bits);
        payload
        // END SOLUTION
    }
    // ANCHOR_END: ch04_finish
}

// BEGIN SOLUTION hide
// ANCHOR: ch04_probe_bits
/// The bit positions of a key with hash `hash`: double hashing.
fn probe_bits(hash: u64, probes: u32, bit_count: u64) -> impl Iterator<Item = u64> {
    let h1 = hash & 0xffff_ffff;
    let h2 = (hash >> 32) | 1;
    (0..u64::from(probes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bit_count)
}
// ANCHOR_END: ch04_probe_bits
// END SOLUTION

/// A decoded filter, ready to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    // BEGIN SOLUTION hide: the state your filter needs — book §4.4, task 3
    bits: Bytes,
    bit_count: u64,
    probes: u32,
    key_count: u64,
    // END SOLUTION
}

impl BloomFilter {
    // ANCHOR: ch04_decode
    /// Decodes a filter block's payload (already unframed and checksummed).
    /// Rejects an unknown hash version, 0 or more than
    /// [`PROBE_COUNT_MAX`] probes, a bit count that is 0, not a multiple of
    /// 8, or does not match the bytes present.
    pub fn decode(payload: &[u8]) -> Result<BloomFilter, String> {
        // BEGIN SOLUTION todo(payload): check the header fields against the bytes present — book §4.4, task 3
        let (header, bits) = payload
            .split_at_checked(FILTER_HEADER_LEN_BYTES)
            .ok_or_else(|| {
                format!(
                    "filter of {} bytes is shorter than its header",
                    payload.len()
                )
            })?;
        let version = header[0];
        if version != BLOOM_HASH_VERSION {
            return Err(format!(
                "filter hash version {version}, this reader knows {BLOOM_HASH_VERSION}"
            ));
        }
        let probes = u32::from(header[1]);
        if !(1..=PROBE_COUNT_MAX).contains(&probes) {
            return Err(format!(
                "filter probe count {probes} is not in 1..={PROBE_COUNT_MAX}"
            ));
        }
        let bit_count = u64::from(u32::from_le_bytes([
            header[2], header[3], header[4], header[5],
        ]));
        if bit_count == 0 || bit_count % 8 != 0 || bit_count / 8 != bits.len() as u64 {
            return Err(format!(
                "filter bit count {bit_count} does not match its {} bytes",
                bits.len()
            ));
        }
        let key_count = u64::from(u32::from_le_bytes([
            header[6], header[7], header[8], header[9],
        ]));
        Ok(BloomFilter {
            bits: Bytes::copy_from_slice(bits),
            bit_count,
            probes,
            key_count,
        })
        // END SOLUTION
    }
    // ANCHOR_END: ch04_decode

    /// `false` if `key` was certainly never added; `true` if it may have
    /// been: [`may_contain_hash`](Self::may_contain_hash) of its
    /// [`bloom_hash`].
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.may_contain_hash(bloom_hash(key))
    }

    // ANCHOR: ch04_may_contain
    /// [`may_contain`](Self::may_contain) for a key whose [`bloom_hash`] is
    /// `hash`: a lookup that asks the filters of several tables hashes its
    /// key once.
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        // BEGIN SOLUTION todo(hash): test the hash's probe bits — book §4.4, task 3
        probe_bits(hash, self.probes, self.bit_count)
            .all(|bit| self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
        // END SOLUTION
    }
    // ANCHOR_END: ch04_may_contain

    /// The number of probes per key (`k`).
    pub fn probes(&self) -> u32 {
        // BEGIN SOLUTION todo(): report k — book §4.4, task 3
        self.probes
        // END SOLUTION
    }

    /// The size of the bit array (`m`).
    pub fn bit_count(&self) -> u64 {
        // BEGIN SOLUTION todo(): report m — book §4.4, task 3
        self.bit_count
        // END SOLUTION
    }

    /// The number of distinct keys added (`n`).
    pub fn key_count(&self) -> u64 {
        // BEGIN SOLUTION todo(): report n — book §4.4, task 3
        self.key_count
        // END SOLUTION
    }

    /// The theoretical false-positive rate of this filter.
    pub fn expected_fp_rate(&self) -> f64 {
        expected_fp_rate(self.bit_count(), self.key_count(), self.probes())
    }
}
