//! A latency histogram of the bench's own: log-linear buckets in the
//! manner of HdrHistogram, exact below 256 ns, then 128 buckets per power
//! of two, so any recorded value is reported to within 1/128 (under 0.8 %,
//! two significant digits and a bit) of what it was. Fixed size (7,424
//! counters, 58 KiB), no allocation per record, no dependency.
//!
//! A percentile is the *upper* end of the bucket holding it (as
//! HdrHistogram's "highest equivalent value"), capped at the largest value
//! recorded: it never understates a latency.

use std::time::Duration;

/// Sub-buckets per power of two, as a power of two: 2^7 = 128.
const SUB_BITS: u32 = 7;
/// Values below this are counted exactly, one bucket each.
const EXACT: u64 = 2 << SUB_BITS;
/// Buckets: the exact ones, then 128 for each power of two from 2^8 to 2^63.
const BUCKETS: usize = EXACT as usize + (64 - SUB_BITS as usize - 1) * (1 << SUB_BITS);

/// Latencies in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    max: u64,
    total: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// A histogram's summary, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Their mean, rounded down.
    pub mean: u64,
    /// The median.
    pub p50: u64,
    /// 99 % of the values are at most this.
    pub p99: u64,
    /// 99.9 %.
    pub p999: u64,
    /// 99.99 %.
    pub p9999: u64,
    /// The largest value, exact.
    pub max: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            max: 0,
            total: 0,
        }
    }

    /// Counts one operation that took `elapsed`.
    #[inline]
    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.record_nanos(nanos);
    }

    /// Counts one value of `nanos`.
    #[inline]
    pub fn record_nanos(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.count += 1;
        self.max = self.max.max(nanos);
        self.total += u128::from(nanos);
    }

    /// The smallest recorded value `v` such that at least `quantile` of
    /// the values are at most `v` (to the bucket's precision); 0 if empty.
    pub fn quantile(&self, quantile: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper_bound(index).min(self.max);
            }
        }
        self.max
    }

    /// Count, mean, p50, p99, p99.9, p99.99 and max.
    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count,
            mean: if self.count == 0 {
                0
            } else {
                u64::try_from(self.total / u128::from(self.count)).unwrap_or(u64::MAX)
            },
            p50: self.quantile(0.50),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            p9999: self.quantile(0.9999),
            max: self.max,
        }
    }
}

/// The bucket of `value`.
#[inline]
fn index(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    // Bit length m >= 9: keep the top 8 bits (128..=255), drop `shift`.
    let shift = 64 - value.leading_zeros() - (SUB_BITS + 1);
    let top = (value >> shift) as usize;
    EXACT as usize + (shift as usize - 1) * (1 << SUB_BITS) + (top - (1 << SUB_BITS))
}

/// The largest value bucket `index` holds.
fn upper_bound(index: usize) -> u64 {
    if index < EXACT as usize {
        return index as u64;
    }
    let above = index - EXACT as usize;
    let shift = (above >> SUB_BITS) as u32 + 1;
    let top = (above & ((1 << SUB_BITS) - 1)) as u64 + (1 << SUB_BITS);
    ((top + 1) << shift).wrapping_sub(1).max(top << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_large_ones_within_one_part_in_128() {
        for value in [
            0u64,
            1,
            17,
            255,
            256,
            257,
            1000,
            65_535,
            1 << 40,
            u64::MAX / 3,
        ] {
            let bound = upper_bound(index(value));
            assert!(
                bound >= value,
                "the bucket of {value} ends at {bound}, below the value"
            );
            let error = (bound - value) as f64 / value.max(1) as f64;
            assert!(
                error <= 1.0 / 128.0,
                "the bucket of {value} ends at {bound}: {error} relative error, over 1/128"
            );
            if value < EXACT {
                assert_eq!(bound, value, "values under 256 ns are counted exactly");
            }
        }
        assert_eq!(
            index(u64::MAX),
            BUCKETS - 1,
            "the last bucket holds u64::MAX"
        );
    }

    #[test]
    fn buckets_are_contiguous_and_in_order() {
        for shift in 0..64 {
            let value = 1u64 << shift;
            assert!(
                index(value) < BUCKETS,
                "index(2^{shift}) is past the last bucket"
            );
        }
        let mut previous = index(0);
        for value in 1..200_000u64 {
            let i = index(value);
            assert!(
                i >= previous,
                "index({value}) = {i} goes back below {previous}"
            );
            assert!(
                i <= previous + 1,
                "index({value}) = {i} skips a bucket after {previous}"
            );
            previous = i;
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut histogram = Histogram::new();
        for nanos in 1..=10_000u64 {
            histogram.record_nanos(nanos);
        }
        let summary = histogram.summary();
        assert_eq!(summary.count, 10_000, "every value counted");
        assert_eq!(summary.max, 10_000, "the max is exact");
        assert_eq!(summary.mean, 5_000, "the mean of 1..=10000, rounded down");
        for (got, want, what) in [
            (summary.p50, 5_000u64, "p50"),
            (summary.p99, 9_900, "p99"),
            (summary.p999, 9_990, "p99.9"),
        ] {
            assert!(
                got >= want && got as f64 <= want as f64 * (1.0 + 1.0 / 128.0),
                "{what}: {got}, want {want} to within 1/128 above"
            );
        }
        assert_eq!(
            Histogram::new().quantile(0.5),
            0,
            "an empty histogram says 0"
        );
    }

    #[test]
    fn one_outlier_shows_in_the_max_and_not_in_the_median() {
        let mut histogram = Histogram::new();
        for _ in 0..999 {
            histogram.record(Duration::from_micros(2));
        }
        histogram.record(Duration::from_millis(50));
        let summary = histogram.summary();
        assert!(
            summary.p50 <= 2_016,
            "p50 {} is the common 2 µs",
            summary.p50
        );
        assert!(summary.p99 <= 2_016, "p99 {} is still 2 µs", summary.p99);
        assert_eq!(summary.max, 50_000_000, "the outlier is the max");
    }
}
