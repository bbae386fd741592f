//! One key's entry: value, expiry and access bits.

use crate::value::Value;

#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 when the key does not expire. Changed only through
    /// the slot table, which counts the entries that have one.
    pub(crate) expire_at_ms: u64,
    /// Access bits: an LRU clock or an LFU counter with its time, by the eviction policy
    /// (see `evict.rs`).
    pub access: u32,
}

impl Entry {
    pub fn new(value: Value, now_ms: u64) -> Entry {
        Entry {
            value,
            expire_at_ms: 0,
            access: crate::evict::fresh_access(now_ms),
        }
    }

    /// The expiry in Unix milliseconds, if any.
    pub fn expire_at_ms(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }

    /// Whether the entry has expired at `now_ms` (Valkey: strictly after the expiry time).
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && now_ms > self.expire_at_ms
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
}
