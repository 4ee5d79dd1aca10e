//! The clock seam (provided): the engine asks a [`Clock`] what time it is,
//! never the operating system directly, so tests can drive time by hand
//! (chapter 9's reads "as of" a moment are tested on a [`SimClock`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the engine gets wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> u64;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        // A clock before 1970 reads as 1970.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
            })
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct SimClock {
    micros: std::sync::Arc<AtomicU64>,
}

impl SimClock {
    /// A clock showing `micros`.
    pub fn at(micros: u64) -> SimClock {
        SimClock {
            micros: std::sync::Arc::new(AtomicU64::new(micros)),
        }
    }

    /// Moves the clock forward by `micros`.
    pub fn advance(&self, micros: u64) {
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }

    /// Sets the clock (it may go backwards: real clocks do).
    pub fn set(&self, micros: u64) {
        self.micros.store(micros, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now_micros(&self) -> u64 {
        self.micros.load(Ordering::SeqCst)
    }
}
