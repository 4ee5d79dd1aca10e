//! Running cargo (and other tools) as child processes: captured output, an
//! optional timeout that kills the whole process tree (cargo and the test
//! binary it started), and the feature flags of each grading mode.

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
    /// `None` when the child was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }
}

/// Runs `command` to completion, capturing stdout and stderr. With a timeout,
/// the child and all its descendants are killed when it expires.
pub fn capture(mut command: Command, timeout: Option<Duration>) -> Result<Captured> {
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
    let status =
        wait(&mut child, timeout).map_err(|e| failed(format!("waiting for `{program}`: {e}")))?;
    Ok(Captured {
        status,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
    })
}

/// Waits for the child; `Ok(None)` if it was killed at the timeout.
fn wait(child: &mut Child, timeout: Option<Duration>) -> std::io::Result<Option<ExitStatus>> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some);
    };
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            kill_tree(child);
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
        assert!(captured.timed_out());
        assert_eq!(captured.stdout, "started\n");
        assert!(begun.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
