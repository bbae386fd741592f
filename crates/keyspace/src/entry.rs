//! One key's entry: value, access bits and expiry.
//!
//! An entry lives in its key's bucket (`bucket.rs` has the diagram of the bytes): a fixed part of
//! 32 bytes (the 24-byte [`Value`], the 32 access bits, the key's length), then the expiry only
//! when the key has one, then the key. So [`Entry`] is unsized: its last field is a slice of zero or
//! one expiry, and a `&Entry` carries that count beside the address. Code outside the crate reads
//! and writes entries only through such references, handed out by the slot table.
//!
//! Outside a table (a value being written, an entry being moved by RENAME, MOVE or COPY, a key
//! taken out by eviction) an entry is an [`OwnedEntry`], a plain struct.

use crate::value::Value;

/// A key's entry, in its bucket. Fields and methods are the same as [`OwnedEntry`]'s.
#[repr(C)]
pub struct Entry {
    pub value: Value,
    /// Access bits: an LRU clock or an LFU counter with its time, by the eviction policy
    /// (see `evict.rs`). The table only stores the 32 bits.
    pub access: u32,
    /// The key's length (`u32::MAX`: stored after the expiry, for keys of 4 GiB or more).
    #[allow(dead_code, reason = "read by `bucket` through the bucket's pointer")]
    key_len: u32,
    /// The expiry in Unix milliseconds: one element when the key has one, none otherwise. Its
    /// presence changes only through the slot table (which moves the bucket and keeps the count
    /// of entries that have one); only the crate writes it.
    expiry: [u64],
}

/// The fixed part of an [`Entry`], laid out as its first fields (both `repr(C)`), for writing
/// and reading a bucket as a whole.
#[repr(C)]
pub(crate) struct Head {
    pub(crate) value: Value,
    pub(crate) access: u32,
    pub(crate) key_len: u32,
}

/// An entry outside any table: what a write stores, and what a removal gives back.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedEntry {
    pub value: Value,
    /// As [`Entry::access`].
    pub access: u32,
    /// The expiry in Unix milliseconds, if any. [`crate::SlotTable::insert`] replaces it as its
    /// `ExpireUpdate` says; [`crate::SlotTable::insert_entry`] keeps it.
    pub(crate) expire_at_ms: Option<u64>,
}

impl OwnedEntry {
    /// A new entry accessed at `now_ms`, without an expiry.
    pub fn new(value: Value, now_ms: u64) -> OwnedEntry {
        OwnedEntry {
            value,
            access: crate::evict::fresh_access(now_ms),
            expire_at_ms: None,
        }
    }

    /// The expiry in Unix milliseconds, if any.
    pub fn expire_at_ms(&self) -> Option<u64> {
        self.expire_at_ms
    }
}

impl Entry {
    /// The expiry in Unix milliseconds, if any.
    #[inline]
    pub fn expire_at_ms(&self) -> Option<u64> {
        self.expiry.first().copied()
    }

    /// Whether the entry has expired at `now_ms` (Valkey: strictly after the expiry time).
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms().is_some_and(|at| now_ms > at)
    }

    /// Records an access (LRU clock or LFU counter, by the eviction policy).
    #[inline]
    pub fn touch(&mut self, now_ms: u64) {
        crate::evict::record_access(&mut self.access, now_ms);
    }

    /// Seconds since the last access, reading the bits as an LRU clock.
    pub fn idle_seconds(&self, now_ms: u64) -> u64 {
        crate::evict::lru_idle_ms(self.access, now_ms) / 1000
    }

    /// The bytes of the entry's bucket, holding a key of `key_len` bytes (before the allocator
    /// rounds them up to its size class; the value's own allocations are not counted).
    pub fn bucket_bytes(&self, key_len: usize) -> usize {
        crate::bucket::bytes(key_len, self.expire_at_ms().is_some())
    }

    /// A copy of the entry, value, access bits and expiry, outside the table (COPY).
    pub fn to_owned_entry(&self) -> OwnedEntry {
        OwnedEntry {
            value: self.value.clone(),
            access: self.access,
            expire_at_ms: self.expire_at_ms(),
        }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("value", &self.value)
            .field("access", &self.access)
            .field("expire_at_ms", &self.expire_at_ms())
            .finish()
    }
}
