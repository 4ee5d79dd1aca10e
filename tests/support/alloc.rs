//! An allocation-counting global allocator, so graded tests can prove that a
//! decoder allocates no more than the bytes in front of it justify (promise
//! P7). Linux hands out zeroed pages lazily, so `vec![0; huge]` "works" in a
//! test without counting: only counting the requests catches it.
//!
//! Counts are per thread (libtest runs each test on its own thread), so
//! tests running in parallel do not disturb each other's figures.
//!
//! ```ignore
//! let (result, stats) = support::alloc::measure(|| read_log(&fs, &path, &mut |_, _| {}));
//! stats.assert_within(file_len, "read_log");
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator with per-thread counters.
pub struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record_alloc(size: usize) {
    // `try_with`: a thread being torn down has no counters left; its
    // allocations are simply not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + size as i64;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

fn record_dealloc(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get() - size as i64));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters only observe sizes and never allocate (their
// thread-locals are `const`-initialised, with no lazy set-up).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record_dealloc(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_dealloc(layout.size());
        record_alloc(new_size);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// What one measured closure allocated on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocStats {
    /// The most bytes live at once, above what was live when it started.
    pub peak_bytes: u64,
    /// The largest single allocation it asked for.
    pub largest_bytes: u64,
}

impl AllocStats {
    /// The bound every decoder in the workbook keeps: at most
    /// `ALLOC_FACTOR_MAX` times the input's bytes, plus a small constant for
    /// fixed overheads (buffers of a few KiB, a report, a message).
    pub fn bound(input_len_bytes: u64) -> u64 {
        ALLOC_FACTOR_MAX * input_len_bytes + ALLOC_SLACK_BYTES
    }

    /// Fails, saying so, if the peak or any single allocation passed
    /// [`AllocStats::bound`] of `input_len_bytes`.
    #[track_caller]
    pub fn assert_within(&self, input_len_bytes: u64, what: &str) {
        let bound = Self::bound(input_len_bytes);
        assert!(
            self.largest_bytes <= bound && self.peak_bytes <= bound,
            "{what} allocated too much for {input_len_bytes} bytes of input: one allocation of \
             {} bytes, {} bytes live at the peak; the bound is {bound} \
             ({ALLOC_FACTOR_MAX} x the input + {ALLOC_SLACK_BYTES}). Is a length or count read \
             from the file used to reserve or allocate before it is checked against the bytes \
             that are really there (book: the toolbox, promise P7)?",
            self.largest_bytes,
            self.peak_bytes,
        );
    }
}

/// The "small stated constant" of promise P7.
pub const ALLOC_FACTOR_MAX: u64 = 8;
/// Fixed overheads allowed on top of the factor.
pub const ALLOC_SLACK_BYTES: u64 = 256 << 10;

/// Runs `f` and reports what it allocated on this thread.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, AllocStats) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    LARGEST.with(|largest| largest.set(0));
    let result = f();
    let peak = PEAK.with(Cell::get);
    let stats = AllocStats {
        peak_bytes: u64::try_from(peak - start).unwrap_or(0),
        largest_bytes: LARGEST.with(Cell::get) as u64,
    };
    (result, stats)
}
