//! Starts the `lsm-server` binary on an ephemeral 127.0.0.1 port in a
//! temporary directory; kills it on drop, so a failing test leaves no
//! process behind.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use lsm_server::client::Client;

/// How long any one reply or start may take before a test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    /// The HTTP API's address, when started with `--http`.
    pub http: Option<SocketAddr>,
}

impl Running {
    /// Starts the server on `dir` with `args` (before DIR).
    pub fn start(dir: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lsm-server"))
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the lsm-server binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // `http on` (with --http) comes before `listening on`.
            let mut http = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("lsm-server: http on ") {
                    http = addr.parse::<SocketAddr>().ok();
                }
                if let Some(addr) = line.strip_prefix("lsm-server: listening on ") {
                    let _ = tx.send((addr.to_string(), http));
                }
            }
        });
        let (addr, http) = match rx.recv_timeout(TIMEOUT) {
            Ok((addr, http)) => (addr.parse().expect("the printed address parses"), http),
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("the server's output");
                panic!(
                    "lsm-server printed no `listening on` line within {TIMEOUT:?}; stderr: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        };
        Running { child, addr, http }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr, TIMEOUT).expect("a client connects")
    }

    /// Sends `signal` (a `kill` name: TERM, INT, KILL) and waits for the
    /// exit, at most TIMEOUT; the exit status and stderr.
    pub fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "kill -{signal} {pid} works"
        );
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return (status, stderr);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lsm-server did not exit within {TIMEOUT:?} of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
