//! `tern-keyspace`: the data set.
//!
//! - [`Keyspace`] → numbered [`Db`]s → 16384 [`Slot`]s, each a [`SlotTable`] behind its own lock.
//!   Databases and slot tables are created on first use.
//! - [`Entry`]: a value with its expiry and access bits, as it lives in its key's bucket
//!   ([`OwnedEntry`] outside a table); [`Value`] and its encodings; sets in
//!   [`SetValue`], lists in [`ListValue`], sorted sets in [`ZSetValue`], hashes in [`HashValue`].
//! - Expiry: lazy on every lookup ([`SlotTable::get`]), and [`Db::expire_slot_step`] for the
//!   server's active cycle, a bounded step at a time.
//! - Freeing: values the table drops itself (replaced, expired) and flushed tables
//!   ([`Detached`]) can be freed off the request path; see [`release`].
//! - Eviction ([`evict`]): the meaning of each entry's access bits (LRU clock or LFU counter),
//!   recorded on lookups, and choosing keys to evict by sampling slot tables.
//! - Helpers every command needs: [`key_slot`], [`glob_match`], Valkey's number syntax ([`num`]).
//!
//! What it is not: it does no I/O and keeps no clock. Callers pass the time (`now_ms`), so
//! every behaviour here is testable without sleeping.
//!
//! Invariants:
//! - A request locks only the slots its keys hash to. Code that holds several slot locks takes
//!   them in ascending (database, slot) order, so no two requests can deadlock.
//! - An expired entry is never returned: lookups remove it first.
//! - Each slot's count of entries with an expiry is exact (it drives active expiry and INFO).
//! - A bucket holds an expiry field exactly while its key has an expiry. Only the slot table
//!   adds or removes it (the bucket moves), under `&mut`, so no reference into the table lives
//!   across such a change.

mod bucket;
mod bytes;
mod crc16;
mod db;
mod entry;
pub mod events;
pub mod evict;
mod glob;
mod hash;
pub mod limits;
mod list;
pub mod num;
mod pack;
mod quicklist;
pub mod release;
mod set;
mod table;
mod value;
mod zset;

pub use bytes::{CompactBytes, RawBytes, ThinSlice};
pub use crc16::{crc16, key_slot, SLOT_COUNT};
pub use db::{find_guard, Db, Detached, Keyspace, ScanCursor};
pub use entry::{Entry, OwnedEntry};
pub use glob::glob_match;
pub use hash::{
    ExpireCondition, FieldExpire, FieldPersist, FieldTtl, HashIter, HashValue, RandomPairs,
};
pub use list::{
    argument_growth, moved_growth, packed_entry_bytes, resolve_range, ListItem, ListIter,
    ListValue, LIST_MAX_LISTPACK_BYTES,
};
pub use pack::{Pack, PackItem, PackIter};
pub use set::{Member, SetIter, SetValue};
pub use table::{key_hash, ExpireUpdate, ExpiredScan, Slot, SlotGuard, SlotTable, EXPIRED_KEYS};
pub use value::{StrValue, Value};
pub use zset::{
    format_score, parse_score, AddFlags, AddOutcome, Entries, LexBound, LexRange, Ordered,
    ScoreRange, Scored, ZSetValue, SCORE_TEXT_MAX,
};
