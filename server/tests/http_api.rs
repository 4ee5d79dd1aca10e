//! The HTTP/JSON API (`--http ADDR`) against the real binary on
//! 127.0.0.1, with a minimal HTTP/1.1 client (one request per connection):
//! the key routes, the bounded prefix listing, `/stats`, and the same
//! database as the RESP side.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use lsm_server::client::Value;
use support::{Running, TIMEOUT};

/// A response: status, headers (lowercase names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned()
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("the HTTP port accepts");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("the response arrives and the connection closes");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head ends with an empty line");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line like `HTTP/1.1 200 OK`, not {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn start(dir: &std::path::Path) -> (Running, SocketAddr) {
    let server = Running::start(dir, &["--http", "127.0.0.1:0"]);
    let http = server
        .http
        .expect("with --http the server prints `lsm-server: http on ADDR`");
    (server, http)
}

#[test]
fn put_get_and_delete_a_key_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (server, http) = start(dir.path());
    let put = request(http, "PUT", "/keys/a%2Fb", b"first value");
    assert_eq!(
        put.status,
        204,
        "PUT answers 204 No Content: {}",
        put.text()
    );
    let got = request(http, "GET", "/keys/a%2Fb", b"");
    assert_eq!(got.status, 200, "GET finds what PUT wrote: {}", got.text());
    assert_eq!(got.body, b"first value", "GET's body is the value's bytes");
    assert_eq!(
        got.header("content-type"),
        Some("application/octet-stream"),
        "a value is raw bytes, not JSON"
    );
    let mut resp = server.client();
    assert_eq!(
        resp.command(&[b"GET", b"a/b"]).unwrap(),
        Value::Bulk(b"first value".to_vec()),
        "the path segment is percent-decoded, and RESP sees the HTTP write"
    );
    let deleted = request(http, "DELETE", "/keys/a%2Fb", b"");
    assert_eq!(
        deleted.status,
        204,
        "DELETE answers 204: {}",
        deleted.text()
    );
    let gone = request(http, "GET", "/keys/a%2Fb", b"");
    assert_eq!(gone.status, 404, "a deleted key is 404: {}", gone.text());
    assert!(
        gone.json()["error"].is_string(),
        "a 404 carries a JSON error"
    );
    let unknown = request(http, "GET", "/nothing/here", b"");
    assert_eq!(unknown.status, 404, "an unknown route is 404");
}

#[test]
fn a_prefix_listing_is_ordered_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (server, http) = start(dir.path());
    let mut resp = server.client();
    let mut mset: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for (key, value) in [
        ("user:3", "c"),
        ("user:1", "a"),
        ("user:5", "e"),
        ("user:2", "b"),
        ("user:4", "d"),
        ("users", "not a user"),
        ("zebra", "z"),
        ("apple", "x"),
    ] {
        mset.push(key.into());
        mset.push(value.into());
    }
    let args: Vec<&[u8]> = mset.iter().map(Vec::as_slice).collect();
    assert_eq!(
        resp.command(&args).unwrap(),
        Value::Simple("OK".into()),
        "MSET"
    );
    let all = request(http, "GET", "/keys?prefix=user%3A", b"");
    assert_eq!(all.status, 200, "a listing is 200: {}", all.text());
    let all = all.json();
    let keys: Vec<&str> = all["keys"]
        .as_array()
        .expect("`keys` is an array")
        .iter()
        .map(|pair| pair["key"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        keys,
        ["user:1", "user:2", "user:3", "user:4", "user:5"],
        "exactly the keys with the prefix, in key order (the scan stops at the first key without it)"
    );
    assert_eq!(
        all["keys"][0]["value"], "a",
        "each key comes with its value"
    );
    assert_eq!(all["truncated"], false, "all five fit in the default limit");
    let first = request(http, "GET", "/keys?prefix=user:&limit=2", b"").json();
    assert_eq!(
        first["keys"].as_array().map(Vec::len),
        Some(2),
        "limit=2 returns two keys"
    );
    assert_eq!(first["truncated"], true, "more keys had the prefix");
    let everything = request(http, "GET", "/keys", b"").json();
    assert_eq!(
        everything["keys"].as_array().map(Vec::len),
        Some(8),
        "no prefix lists every key"
    );
    for bad in ["0", "1000000", "many"] {
        let answer = request(http, "GET", &format!("/keys?limit={bad}"), b"");
        assert_eq!(
            answer.status, 400,
            "limit={bad} is refused: the listing is bounded"
        );
    }
}

#[test]
fn stats_are_chapter_10s_counters_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let (server, http) = start(dir.path());
    for i in 0..10 {
        let put = request(http, "PUT", &format!("/keys/k{i}"), b"value");
        assert_eq!(put.status, 204, "PUT #{i}");
    }
    let stats = request(http, "GET", "/stats", b"");
    assert_eq!(stats.status, 200, "/stats is 200: {}", stats.text());
    assert_eq!(
        stats.header("content-type"),
        Some("application/json"),
        "/stats is JSON"
    );
    let stats = stats.json();
    assert!(
        stats["last_seq"].as_u64().is_some_and(|seq| seq >= 10),
        "last_seq counts the ten writes: {}",
        stats["last_seq"]
    );
    assert!(
        stats["user_bytes"].as_u64().is_some_and(|b| b > 0),
        "user_bytes counts what was written"
    );
    assert_eq!(
        stats["background_threads"], 2,
        "the server's default: chapter 10's two background threads"
    );
    assert!(stats["levels"].is_array(), "levels is an array");
    assert!(
        stats["cache"]["capacity_bytes"].as_u64() == Some(64 << 20),
        "the server's default 64 MiB block cache: {}",
        stats["cache"]
    );
    let (status, stderr) = server.stop("TERM");
    assert!(
        status.success(),
        "SIGTERM with the HTTP API on still closes cleanly; stderr: {stderr}"
    );
}

#[test]
fn the_http_api_is_off_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    assert_eq!(server.http, None, "no `http on` line without --http");
}
