//! The encoding thresholds: when a small collection leaves its compact form.
//!
//! They are server-wide settings (`CONFIG SET hash-max-listpack-entries 64` takes effect for the
//! next write), read on every write that grows a collection. Atomics with relaxed ordering are
//! enough: a write that races a `CONFIG SET` may use either value, as in Valkey.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

macro_rules! thresholds {
    ($( $(#[$doc:meta])* $name:ident, $getter:ident, $setter:ident: $ty:ty = $default:expr; )*) => {
        $(
            $(#[$doc])*
            static $name: $ty = <$ty>::new($default);

            #[inline]
            pub fn $getter() -> <$ty as Threshold>::Value {
                $name.load(Relaxed)
            }

            pub fn $setter(value: <$ty as Threshold>::Value) {
                $name.store(value, Relaxed)
            }
        )*
    };
}

/// The value type behind an atomic threshold.
pub trait Threshold {
    type Value;
}

impl Threshold for AtomicUsize {
    type Value = usize;
}

impl Threshold for AtomicI64 {
    type Value = i64;
}

thresholds! {
    /// `set-max-intset-entries`: the most members of an all-integer set kept as an intset.
    SET_MAX_INTSET_ENTRIES, set_max_intset_entries, set_set_max_intset_entries: AtomicUsize = 512;
    /// `set-max-listpack-entries`: the most members of a set kept as a listpack.
    SET_MAX_LISTPACK_ENTRIES, set_max_listpack_entries, set_set_max_listpack_entries: AtomicUsize = 128;
    /// `set-max-listpack-value`: the longest member, in bytes, of a set kept as a listpack.
    SET_MAX_LISTPACK_VALUE, set_max_listpack_value, set_set_max_listpack_value: AtomicUsize = 64;
    /// `hash-max-listpack-entries`: the most fields of a hash kept as a listpack.
    HASH_MAX_LISTPACK_ENTRIES, hash_max_listpack_entries, set_hash_max_listpack_entries: AtomicUsize = 512;
    /// `hash-max-listpack-value`: the longest field or value, in bytes, of a listpack hash.
    HASH_MAX_LISTPACK_VALUE, hash_max_listpack_value, set_hash_max_listpack_value: AtomicUsize = 64;
    /// `zset-max-listpack-entries`: the most members of a sorted set kept as a listpack.
    ZSET_MAX_LISTPACK_ENTRIES, zset_max_listpack_entries, set_zset_max_listpack_entries: AtomicUsize = 128;
    /// `zset-max-listpack-value`: the longest member, in bytes, of a listpack sorted set.
    ZSET_MAX_LISTPACK_VALUE, zset_max_listpack_value, set_zset_max_listpack_value: AtomicUsize = 64;
    /// `list-max-listpack-size`: positive, the most elements of a listpack list; negative (-1 to
    /// -5), a byte limit of 4 KB × 2^(-n-1).
    LIST_MAX_LISTPACK_SIZE, list_max_listpack_size, set_list_max_listpack_size: AtomicI64 = -2;
}
