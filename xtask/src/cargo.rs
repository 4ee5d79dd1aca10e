//! Running cargo (and other tools) as child processes: captured output,
//! limits (a total time, and a time without progress on stdout) that kill
//! the whole process tree (cargo and the test binary it started), and the
//! feature flags of each grading mode.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Result, failed};

/// A `cargo` command run in `root`: the cargo that runs us (`$CARGO`), or
/// the one on `PATH`.
pub fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(root);
    command
}

/// `--features a,b`, or nothing for no features.
pub fn feature_args(features: &[String]) -> Vec<String> {
    if features.is_empty() {
        Vec::new()
    } else {
        vec!["--features".into(), features.join(",")]
    }
}

/// What a finished (or killed) child printed.
#[derive(Debug)]
pub struct Captured {
    /// `None` when the child was killed at a limit (see `killed`).
    pub status: Option<ExitStatus>,
    /// Which limit killed the child, if one did.
    pub killed: Option<Killed>,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// The limit a child was killed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    /// [`Limits::total`] ran out.
    Total(Duration),
    /// Nothing new on stdout for [`Limits::quiet`].
    Quiet(Duration),
}

/// When to kill a child (and everything below it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Time allowed in all.
    pub total: Option<Duration>,
    /// Time allowed without progress on stdout, counted from its first
    /// byte (so waiting for a build lock or compiling is not silence).
    /// libtest's `test NAME has been running for over 60 seconds` warnings
    /// are not progress.
    pub quiet: Option<Duration>,
}

/// Runs `command` to completion, capturing stdout and stderr. With a timeout,
/// the child and all its descendants are killed when it expires.
pub fn capture(command: Command, timeout: Option<Duration>) -> Result<Captured> {
    let limits = Limits {
        total: timeout,
        quiet: None,
    };
    capture_limited(command, limits)
}

/// [`capture`] with both kinds of [`Limits`].
pub fn capture_limited(mut command: Command, limits: Limits) -> Result<Captured> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => failed(format!("`{program}` not found on PATH")),
            _ => failed(format!("cannot run `{program}`: {e}")),
        })?;
    let stdout = Reader::start(child.stdout.take());
    let stderr = Reader::start(child.stderr.take());
    let ended = wait(&mut child, limits, &stdout)
        .map_err(|e| failed(format!("waiting for `{program}`: {e}")))?;
    let (status, killed) = match ended {
        Ok(status) => (Some(status), None),
        Err(killed) => (None, Some(killed)),
    };
    Ok(Captured {
        status,
        killed,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
    })
}

/// Waits for the child: its status, or the limit it was killed at.
fn wait(
    child: &mut Child,
    limits: Limits,
    stdout: &Reader,
) -> std::io::Result<std::result::Result<ExitStatus, Killed>> {
    if limits.total.is_none() && limits.quiet.is_none() {
        return child.wait().map(Ok);
    }
    let deadline = limits.total.map(|total| (Instant::now() + total, total));
    // Stdout's length when last looked at, its progress, and since when.
    let mut seen_len = 0;
    let mut progress = (0, 0);
    let mut progress_at: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ok(status));
        }
        let now = Instant::now();
        if let Some((deadline, total)) = deadline
            && now >= deadline
        {
            kill_tree(child);
            return Ok(Err(Killed::Total(total)));
        }
        if let Some(quiet) = limits.quiet {
            let text = lock(&stdout.buffer);
            if text.len() != seen_len {
                seen_len = text.len();
                let now_progress = progress_of(&text);
                if now_progress != progress {
                    progress = now_progress;
                    progress_at = Some(now);
                }
            }
            drop(text);
            if progress_at.is_some_and(|at| now.duration_since(at) >= quiet) {
                kill_tree(child);
                return Ok(Err(Killed::Quiet(quiet)));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Progress on `stdout`, to compare with earlier: the complete lines other
/// than libtest's `has been running for over N seconds` warnings (a hanging
/// test prints one, and it must not keep the run alive), and the unfinished
/// last line if it is a serial run's `test NAME ... ` announcement (a test
/// starting is progress; a warning arriving in pieces is not).
fn progress_of(stdout: &[u8]) -> (usize, usize) {
    let contains = |line: &[u8], part: &[u8]| line.windows(part.len()).any(|w| w == part);
    let mut lines = 0;
    let mut unfinished = 0;
    for line in stdout.split_inclusive(|&b| b == b'\n') {
        if !line.ends_with(b"\n") {
            if contains(line, b" ... ") {
                unfinished = line.len();
            }
        } else if !(line.starts_with(b"test ") && contains(line, b" has been running for over ")) {
            lines += 1;
        }
    }
    (lines, unfinished)
}

/// Collects one pipe on a thread. The buffer is shared, so whatever was read
/// is kept even if a surviving grandchild holds the pipe open.
struct Reader {
    buffer: Arc<Mutex<Vec<u8>>>,
    done: Receiver<()>,
}

impl Reader {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Reader {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let (sender, done) = mpsc::channel();
        let shared = Arc::clone(&buffer);
        std::thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    lock(&shared).extend_from_slice(&chunk[..n]);
                }
            }
            let _ = sender.send(());
        });
        Reader { buffer, done }
    }

    fn finish(self) -> String {
        let _ = self.done.recv_timeout(Duration::from_secs(5));
        String::from_utf8_lossy(&lock(&self.buffer)).into_owned()
    }
}

/// Locks a buffer; a reader thread cannot panic while holding it, and a
/// poisoned buffer still holds valid bytes.
fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    buffer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kills the child and every process below it (cargo → test binary → …),
/// by process id. On Unix everything is stopped first, so no process can
/// react to another's death (a shell running its next command, say).
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        let signal = |name: &str, pids: &[u32]| {
            let _ = Command::new("kill")
                .arg(format!("-{name}"))
                .args(pids.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        };
        let root = child.id();
        signal("STOP", &[root]);
        let mut pids = descendants(root);
        signal("STOP", &pids);
        pids.push(root);
        signal("KILL", &pids);
    }
    #[cfg(windows)]
    {
        let _ = Command::new("taskkill")
            .args(["/T", "/F", "/PID", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The ids of all processes below `root`, parents before children.
#[cfg(unix)]
fn descendants(root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for pid in children_of(parent) {
            if !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// Direct children, from `/proc/PID/stat` (field 4 is the parent id; the
/// command name before it may contain spaces, so parse after its `)`).
#[cfg(target_os = "linux")]
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|field| field.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// Direct children, from `pgrep -P` (macOS, BSDs).
#[cfg(all(unix, not(target_os = "linux")))]
fn children_of(parent: u32) -> Vec<u32> {
    let output = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .stderr(Stdio::null())
        .output();
    output
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The last `count` non-blank lines of a text, for error reports.
pub fn tail(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let captured = capture(command, Some(Duration::from_secs(30))).unwrap();
        assert_eq!(captured.stdout, "out\n");
        assert_eq!(captured.stderr, "err\n");
        assert_eq!(captured.status.and_then(|s| s.code()), Some(3));
    }

    #[cfg(unix)]
    #[test]
    fn timeout_kills_grandchildren_and_keeps_partial_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; sh -c 'sleep 30' ; echo never"]);
        let begun = Instant::now();
        let captured = capture(command, Some(Duration::from_millis(500))).unwrap();
        assert!(matches!(captured.killed, Some(Killed::Total(_))));
        assert_eq!(captured.status, None);
        assert_eq!(captured.stdout, "started\n");
        assert!(begun.elapsed() < Duration::from_secs(10));
    }

    #[cfg(unix)]
    #[test]
    fn quiet_limit_counts_from_the_first_output_and_ignores_libtest_warnings() {
        let mut command = Command::new("sh");
        // Silent before the first output (a build), then progress, then a
        // warning that is not progress, then nothing.
        command.args([
            "-c",
            "sleep 1; echo 'test a ... ok'; sleep 0.3; \
             echo 'test b has been running for over 60 seconds'; sleep 30",
        ]);
        let limits = Limits {
            total: Some(Duration::from_secs(30)),
            quiet: Some(Duration::from_millis(700)),
        };
        let begun = Instant::now();
        let captured = capture_limited(command, limits).unwrap();
        assert_eq!(
            captured.killed,
            Some(Killed::Quiet(Duration::from_millis(700)))
        );
        assert_eq!(captured.status, None);
        assert!(captured.stdout.starts_with("test a ... ok\n"));
        let elapsed = begun.elapsed();
        assert!(elapsed >= Duration::from_millis(1700), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }

    #[test]
    fn progress_skips_running_for_over_warnings() {
        let warned = b"test a ... ok\ntest b has been running for over 60 seconds\n";
        assert_eq!(progress_of(warned), progress_of(b"test a ... ok\n"));
        assert_eq!(progress_of(b"test a ... ok\ntest b has been run"), (1, 0));
        // A serial run announcing its next test, then finishing it.
        let announced = progress_of(b"test a ... ok\ntest c ... ");
        assert_eq!(announced, (1, "test c ... ".len()));
        assert_ne!(progress_of(b"test a ... ok\ntest c ... ok\n"), announced);
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
