//! A progress line on stderr for long workloads: rewritten in place on a
//! terminal, one line every 10 s in a log file. Nothing for runs shorter
//! than 2 s.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const QUIET_START: Duration = Duration::from_secs(2);

/// The progress of one workload.
#[derive(Debug)]
pub struct Progress {
    label: String,
    workload: String,
    total: u64,
    started: Instant,
    printed_at: Option<Instant>,
    terminal: bool,
}

impl Progress {
    /// Starts counting `total` operations (0: unknown).
    pub fn new(label: &str, workload: &str, total: u64) -> Self {
        Progress {
            label: label.to_string(),
            workload: workload.to_string(),
            total,
            started: Instant::now(),
            printed_at: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// `done` operations are done. Cheap: looks at the clock every 4096.
    pub fn tick(&mut self, done: u64) {
        if !done.is_multiple_of(4096) {
            return;
        }
        let now = Instant::now();
        let every = if self.terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(10)
        };
        let due = match self.printed_at {
            None => now.duration_since(self.started) >= QUIET_START,
            Some(at) => now.duration_since(at) >= every,
        };
        if !due {
            return;
        }
        self.printed_at = Some(now);
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let percent = 100.0 * done as f64 / self.total.max(1) as f64;
        let line = format!(
            "  {} {}: {done}/{} ops ({percent:.0}%), {elapsed:.0} s",
            self.label, self.workload, self.total
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(stderr, "\r{line}\x1b[K")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }

    /// The workload is over: clears the line on a terminal.
    pub fn finish(self) {
        if self.terminal && self.printed_at.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
