//! What a command tells the rest of the server about a key it changed: the clients watching
//! the key (WATCH), the clients caching it (tracking), and keyspace notifications.
//!
//! Handlers call [`Ctx::key_event`] once per change, with Valkey's event class and name,
//! while they still hold the key's slot lock. Nothing here takes a slot lock.

use crate::cmd::Ctx;
use crate::server::Server;

/// Event classes: the letters of `notify-keyspace-events`.
pub mod class {
    /// `g`: commands that work on any type (DEL, EXPIRE, RENAME...).
    pub const GENERIC: u16 = 1 << 0;
    /// `$`
    pub const STRING: u16 = 1 << 1;
    /// `l`
    pub const LIST: u16 = 1 << 2;
    /// `s`
    pub const SET: u16 = 1 << 3;
    /// `h`
    pub const HASH: u16 = 1 << 4;
    /// `z`
    pub const ZSET: u16 = 1 << 5;
    /// `x`
    pub const EXPIRED: u16 = 1 << 6;
    /// `e`
    pub const EVICTED: u16 = 1 << 7;
    /// `t`
    pub const STREAM: u16 = 1 << 8;
    /// `m`
    pub const KEY_MISS: u16 = 1 << 9;
    /// `d`
    pub const MODULE: u16 = 1 << 10;
    /// `n`
    pub const NEW_KEY: u16 = 1 << 11;
}

impl Ctx<'_> {
    /// The command changed `key` in the client's database; `event` is Valkey's event name.
    #[inline]
    pub fn key_event(&self, class: u16, event: &'static str, key: &[u8]) {
        key_event(
            self.server,
            self.client.db,
            class,
            event,
            key,
            self.client.id(),
        );
    }

    /// The command changed `key` in database `db` (MOVE, COPY ... DB, SWAPDB).
    #[inline]
    pub fn key_event_in(&self, db: usize, class: u16, event: &'static str, key: &[u8]) {
        key_event(self.server, db, class, event, key, self.client.id());
    }
}

/// A change to `key` in `db` made by client `by` (0: by the server itself): its watchers and
/// the clients caching it, then its notification.
#[inline]
pub fn key_event(server: &Server, db: usize, class: u16, event: &'static str, key: &[u8], by: u64) {
    modified(server, db, key, by);
    notify(server, db, class, event, key);
}

/// A change to `key` in `db` without a notification of its own: watchers and caching clients.
#[inline]
pub fn modified(server: &Server, db: usize, key: &[u8], by: u64) {
    server.watches.touch(db, key);
    server.tracking.invalidate(server, key, by);
}

/// A keyspace notification alone, for events that are not a change a watcher sees (a key
/// expiring or evicted, a lookup that missed).
#[inline]
pub fn notify(server: &Server, db: usize, class: u16, event: &'static str, key: &[u8]) {
    let _ = (server, db, class, event, key);
}
