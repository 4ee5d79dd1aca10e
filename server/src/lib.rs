//! `lsm-server`: the workbook's engine behind the Redis protocol. Provided
//! code, not an exercise: chapter 11's learner writes the protocol (the
//! request parser, the replies, the commands, in `lsm_workbook::ch11_server`);
//! this crate puts them on the network ([`net`]), serves an HTTP/JSON API
//! next to them ([`http`], `--http ADDR`), and has a small client
//! ([`client`]) for examples and tests. It is a workspace member of its own
//! so that a learner's `cargo test` of chapters 1–10 never compiles it.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod client;
pub mod http;
pub mod net;

/// Chapter 11's API, which the loop calls: the learner's (or, with the
/// `reference` feature, the reference's) parser, replies and commands.
pub use lsm_workbook::ch11_server as chapter;
