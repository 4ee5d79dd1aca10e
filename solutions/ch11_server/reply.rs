//! The reply side of RESP2: every reply starts with a byte that says its
//! type and every line ends in `\r\n`.
//!
//! ```text
//!   Simple("OK")          +OK\r\n
//!   Error("ERR no")       -ERR no\r\n
//!   Integer(42)           :42\r\n
//!   Bulk("hi")            $2\r\nhi\r\n          (binary-safe: a length, then the bytes)
//!   Nil                   $-1\r\n               (GET of an absent key)
//!   Array([a, b])         *2\r\n<a><b>          (elements encoded one after the other)
//!   NilArray              *-1\r\n
//! ```
//!
//! You write [`Reply::encode`] (task 2). Book: "11. The server", §11.4.
//! Invariant: a simple string or error is one line — a `\r` or `\n` in its
//! text would end it early and desynchronise the client, so `encode`
//! writes each as a space (as Redis does for error messages).

use bytes::Bytes;

/// One reply, as a command produces it and the connection encodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A status line: `+OK`, `+PONG`, `+QUEUED`.
    Simple(String),
    /// An error line, its first word the kind: `ERR …`, `NOAUTH …`.
    Error(String),
    /// A signed integer.
    Integer(i64),
    /// A bulk string: any bytes.
    Bulk(Bytes),
    /// The null bulk string: no value.
    Nil,
    /// An array of replies.
    Array(Vec<Reply>),
    /// The null array (EXEC of a transaction that was aborted).
    NilArray,
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An error reply; `message` starts with its kind (`ERR`, `NOAUTH`, …).
    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error(message.into())
    }

    /// A bulk string copied from `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(bytes.as_ref()))
    }

    // ANCHOR: ch11_encode
    /// Appends the reply's RESP2 bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // BEGIN SOLUTION todo(self, out): a type byte, then the payload and \r\n; arrays recursively — book §11.4, task 2
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => header(out, b':', *n),
            Reply::Bulk(bytes) => {
                header(out, b'$', bytes.len() as i64);
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len() as i64);
                for item in items {
                    item.encode(out);
                }
            }
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch11_encode

    /// The reply's bytes, in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

// BEGIN SOLUTION hide
/// `kind`, `text` with line breaks made spaces, `\r\n`.
fn line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend(text.bytes().map(|byte| {
        if byte == b'\r' || byte == b'\n' {
            b' '
        } else {
            byte
        }
    }));
    out.extend_from_slice(b"\r\n");
}

/// `kind`, the number in decimal, `\r\n`.
fn header(out: &mut Vec<u8>, kind: u8, n: i64) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}
// END SOLUTION
