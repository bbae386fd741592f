//! `tern-resp`: the wire format, and nothing else.
//!
//! - [`parse`]: turns the bytes a client sent into commands (RESP multibulk arrays and inline
//!   commands), in place: arguments are ranges into the caller's buffer, so parsing a command
//!   allocates nothing once the argument vector has grown to its working size.
//! - [`reply`]: writes replies into an output buffer, in RESP2 or RESP3, with one writer API so a
//!   command handler never branches on the protocol version.
//!
//! What it is not: it owns no socket, no timer and no thread. The server reads bytes, hands them
//! here, and writes what comes back.
//!
//! Invariants:
//! - The parser never reads past the bytes it was given, never panics on any input, and a command
//!   split into chunks at any points parses to the same arguments as the whole.
//! - Every protocol error carries the exact text Valkey sends for the same input.

pub mod parse;
pub mod reply;

pub use parse::{ParseError, ParseLimits, Parser, Request};
pub use reply::{Protocol, ReplyWriter};
