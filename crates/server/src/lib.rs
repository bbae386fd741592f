//! `tern-server`: one cache node.
//!
//! - [`net`]: start-up, listeners, the acceptor, signals.
//! - [`worker`]: the per-thread event loop; a connection lives on one worker for its whole life.
//! - [`dispatch`]: the command table joined to the handlers; lookup, arity, auth, stats.
//! - [`cmd`]: the handlers, one module per command group.
//! - [`config`]: the directive table behind the command line, config files and CONFIG.
//! - [`evict`]: maxmemory, key and client eviction; [`memory`]: memory accounting.
//! - [`expire`]: the active expiry cycle; [`lazyfree`]: the background free thread;
//!   [`client`]: connection state; [`server`]: shared state.
//!
//! What it is not: the protocol (`tern-resp`), the command metadata (`tern-commands`) and the
//! data structures (`tern-keyspace`) live in their own crates, which do no I/O.
//!
//! Invariants:
//! - No global lock on the data path: a command locks the slot tables of its keys (ascending)
//!   and its own worker's statistics (uncontended).
//! - The replies of one read are written with one write call.
//! - A client's bad input, or its not reading, costs that client its connection and nothing else.

pub mod atomic;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod dispatch;
pub mod evict;
pub mod expire;
pub mod lazyfree;
pub mod log;
pub mod memory;
pub mod net;
pub mod notify;
pub mod pubsub;
pub mod server;
pub mod tracking;
pub mod watch;
pub mod worker;

/// The Valkey version whose behaviour Tern reproduces, reported by INFO and HELLO.
pub const VALKEY_VERSION: &str = "9.1.2";
/// What INFO reports as `redis_version`, as Valkey does; clients gate features on it.
pub const REDIS_VERSION: &str = "7.2.4";

pub use config::Config;
pub use net::run;
