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

/// `micros` since the Unix epoch as ISO-8601 UTC, with `fraction_digits`
/// (at most 6) digits of the second: 3 for milliseconds, 6 for
/// microseconds. For the tools that print times (the REPL, the dump).
///
/// ```
/// # use lsm_workbook::clock::format_utc;
/// assert_eq!(format_utc(1_712_345_678_901_234, 6), "2024-04-05T19:34:38.901234Z");
/// assert_eq!(format_utc(1_712_345_678_901_234, 3), "2024-04-05T19:34:38.901Z");
/// assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00Z");
/// ```
pub fn format_utc(micros: u64, fraction_digits: usize) -> String {
    let digits = fraction_digits.min(6);
    let seconds = micros / 1_000_000;
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if digits > 0 {
        let fraction = micros % 1_000_000 / 10u64.pow(6 - digits as u32);
        text.push_str(&format!(".{fraction:0digits$}"));
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days` algorithm, for days >= 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
