//! The bytes every engine is given: keys, values and orders, all from
//! fixed seeds, so two runs (and two engines) see exactly the same
//! operations.
//!
//! - key `i` is `format!("{:016}", i)`: 16 ASCII digits, as in LevelDB's
//!   `db_bench`;
//! - a missing key is a present key with one byte appended (`"…0042."`):
//!   it sorts between two present keys, so it is inside the key range and
//!   only a filter (or a block search) can tell it is absent;
//! - values are 100-byte slices of a 1 MiB buffer built like LevelDB's
//!   `RandomGenerator`: each 100-byte piece is 50 random printable bytes
//!   followed by the same 50 again, so half of every value is a repeat
//!   (a compressor would halve it; no engine here compresses);
//! - random orders are permutations of `0..N` (every key written exactly
//!   once per fill), random reads draw keys uniformly.

/// Bytes of a key.
pub const KEY_LEN_BYTES: usize = 16;
/// Bytes of a value.
pub const VALUE_LEN_BYTES: usize = 100;
/// The generator's buffer: values are slices of it.
const VALUE_BUFFER_LEN_BYTES: usize = 1 << 20;

/// Seeds: one per purpose, so adding a workload never changes another's
/// bytes.
pub mod seed {
    /// The value buffer.
    pub const VALUES: u64 = 301;
    /// fillrandom's order.
    pub const FILL: u64 = 302;
    /// overwrite's order.
    pub const OVERWRITE: u64 = 303;
    /// fillsync's order.
    pub const FILL_SYNC: u64 = 304;
    /// readrandom's keys.
    pub const READ: u64 = 305;
    /// readmissing's keys.
    pub const READ_MISSING: u64 = 306;
    /// seekrandom's keys.
    pub const SEEK: u64 = 307;
    /// deleterandom's order.
    pub const DELETE: u64 = 308;
}

/// SplitMix64: small, fast, and good enough to shuffle keys.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..end` (`end` > 0; the modulo bias is negligible for
    /// the sizes used here).
    pub fn below(&mut self, end: u64) -> u64 {
        self.next_u64() % end.max(1)
    }
}

// ANCHOR: bench_keys
/// Writes key `i` (`format!("{:016}", i)`) into `out`.
pub fn key(i: u64, out: &mut [u8; KEY_LEN_BYTES]) {
    let mut rest = i;
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// The missing key next to key `i`: key `i` and a `.` (`"…0042."`).
pub fn missing_key(i: u64, out: &mut [u8; KEY_LEN_BYTES + 1]) {
    let mut present = [0; KEY_LEN_BYTES];
    key(i, &mut present);
    out[..KEY_LEN_BYTES].copy_from_slice(&present);
    out[KEY_LEN_BYTES] = b'.';
}
// ANCHOR_END: bench_keys

/// The order of a random fill: `0..count`, shuffled (Fisher–Yates).
pub fn permutation(count: u64, seed: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..count).collect();
    let mut rng = Rng::new(seed);
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// `count` key numbers drawn uniformly from `0..key_count`.
pub fn uniform(count: u64, key_count: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| rng.below(key_count)).collect()
}

/// Values, LevelDB's way: consecutive 100-byte slices of a buffer whose
/// every 100-byte piece is half repeated.
#[derive(Debug)]
pub struct Values {
    buffer: Vec<u8>,
    position: usize,
}

impl Values {
    // ANCHOR: bench_values
    /// The same buffer on every run.
    pub fn new() -> Self {
        let mut rng = Rng::new(seed::VALUES);
        let mut buffer = Vec::with_capacity(VALUE_BUFFER_LEN_BYTES);
        let half = VALUE_LEN_BYTES / 2;
        while buffer.len() < VALUE_BUFFER_LEN_BYTES {
            let start = buffer.len();
            // Printable ASCII, ' ' to '~', as LevelDB's RandomString.
            buffer.extend((0..half).map(|_| b' ' + rng.below(95) as u8));
            buffer.extend_from_within(start..start + half);
        }
        Values {
            buffer,
            position: 0,
        }
    }
    // ANCHOR_END: bench_values

    /// The next value (wraps around the buffer).
    pub fn next_value(&mut self) -> &[u8] {
        if self.position + VALUE_LEN_BYTES > self.buffer.len() {
            self.position = 0;
        }
        let start = self.position;
        self.position += VALUE_LEN_BYTES;
        &self.buffer[start..self.position]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_sixteen_zero_padded_digits() {
        for i in [0, 7, 42, 999_999, 1_234_567_890_123] {
            let mut out = [0; KEY_LEN_BYTES];
            key(i, &mut out);
            assert_eq!(
                &out[..],
                format!("{i:016}").as_bytes(),
                "key {i} must match format!(\"{{:016}}\")"
            );
        }
    }

    #[test]
    fn missing_key_sorts_between_its_key_and_the_next() {
        let (mut present, mut next, mut missing) = ([0; 16], [0; 16], [0; 17]);
        key(41, &mut present);
        key(42, &mut next);
        missing_key(41, &mut missing);
        assert!(
            present[..] < missing[..] && missing[..] < next[..],
            "a missing key must fall inside the key range, between two present keys"
        );
    }

    #[test]
    fn values_are_half_repeats() {
        let mut values = Values::new();
        let value = values.next_value().to_vec();
        assert_eq!(value.len(), VALUE_LEN_BYTES, "values are 100 bytes");
        assert_eq!(
            value[..50],
            value[50..],
            "the second half repeats the first"
        );
        assert_ne!(
            values.next_value(),
            &value[..],
            "consecutive values must differ"
        );
    }

    #[test]
    fn permutation_holds_every_key_once() {
        let mut order = permutation(1000, 9);
        assert_ne!(order[..10], (0..10).collect::<Vec<_>>()[..], "shuffled");
        order.sort_unstable();
        assert!(
            order.iter().copied().eq(0..1000),
            "a permutation must hold every key exactly once"
        );
    }
}
