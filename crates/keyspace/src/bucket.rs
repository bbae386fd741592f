//! Buckets: one allocation per key, holding its entry and, right after it, the key's bytes.
//!
//! ```text
//! pointer (48 bits, stored in 6 bytes of the table's group):
//!   bits 47..1   address (buckets are 8-aligned, so bit 0 of an address is always 0)
//!   bit  0       1 when the key has an expiry
//!
//! bucket:
//!   offset  0  value        24 bytes   `Value` (see value.rs)
//!          24  access        4 bytes   LRU/LFU bits (`Entry::access`)
//!          28  key length    4 bytes   u32 (u32::MAX: the length is a u64 before the key)
//!          32  expiry        8 bytes   Unix ms, u64 — only when the key has one
//!   32 or  40  key length    8 bytes   u64 — only for keys of 4 GiB or more
//!          ..  key bytes
//! ```
//!
//! A 16-byte key with a 16-byte value (inline in the value) is a 48-byte allocation, 56 (a
//! 64-byte one) with an expiry. A key pays for an expiry only while it has one: giving it one,
//! or taking it away, reallocates the bucket and moves the key bytes by 8 ([`set_expiry`]);
//! changing it is a write in place. Such changes go only through the slot table, which stores
//! the moved pointer and counts the entries that have an expiry. A key of any length needs no
//! second allocation. User-space addresses on the 64-bit targets Tern runs on fit 48 bits;
//! [`new`] checks it.
//!
//! The functions here are the only place that knows this layout. A tagged pointer is created by
//! [`new`], owned by exactly one table position, replaced by [`set_expiry`], and given back by
//! [`free`].

use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::ptr::{self, NonNull};

use crate::entry::{Entry, Head, OwnedEntry};

/// Pointer bits that may be set: a table stores 48.
pub const POINTER_BITS: u32 = 48;
const ADDRESS_MASK: usize = (1 << POINTER_BITS) - 1;
/// The address bit that says the bucket holds an expiry.
const EXPIRY_BIT: usize = 1;
/// The key length in the fixed part of a key whose length is stored as a u64 instead.
const LONG_KEY: u32 = u32::MAX;
/// The shortest key stored that way: 4 GiB, or a few kilobytes in tests, so that they run the
/// long form too.
const LONG_KEY_MIN: usize = if cfg!(test) { 4096 } else { LONG_KEY as usize };
const HEAD_BYTES: usize = std::mem::size_of::<Head>();
/// Where the fixed part keeps the key length.
const KEY_LEN_OFFSET: usize = std::mem::offset_of!(Head, key_len);
const EXPIRY_BYTES: usize = std::mem::size_of::<u64>();
const ALIGN: usize = std::mem::align_of::<Head>();

/// A bucket's tagged pointer, as the table stores it.
pub type Tagged = *mut u8;

fn is_long(key_len: usize) -> bool {
    key_len >= LONG_KEY_MIN
}

/// The bucket's size: the fixed part, the expiry if any, the long key length if any, the key.
fn layout(key_len: usize, expiry: bool) -> Layout {
    let length_field = if is_long(key_len) { 8 } else { 0 };
    let expiry_field = if expiry { EXPIRY_BYTES } else { 0 };
    Layout::from_size_align(HEAD_BYTES + expiry_field + length_field + key_len, ALIGN)
        .expect("a key fits in memory")
}

/// The bytes of the bucket of an entry with `key_len` key bytes, with or without an expiry,
/// before the allocator rounds them up to its size class.
pub fn bytes(key_len: usize, expiry: bool) -> usize {
    layout(key_len, expiry).size()
}

#[inline]
fn tag(base: *mut u8, expiry: bool) -> Tagged {
    assert!(
        base.addr() & !ADDRESS_MASK == 0,
        "allocation above the 48-bit address space"
    );
    debug_assert_eq!(base.addr() % ALIGN, 0);
    base.map_addr(|address| address | usize::from(expiry))
}

/// (address, has an expiry).
#[inline]
fn untag(tagged: Tagged) -> (*mut u8, bool) {
    (
        tagged.map_addr(|address| address & !EXPIRY_BIT),
        tagged.addr() & EXPIRY_BIT != 0,
    )
}

/// A new bucket holding `entry` under `key`.
pub fn new(key: &[u8], entry: OwnedEntry) -> Tagged {
    let expiry = entry.expire_at_ms.is_some();
    let layout = layout(key.len(), expiry);
    // SAFETY: the layout has a non-zero size (it holds a Head).
    let base = unsafe { alloc(layout) };
    let Some(base) = NonNull::new(base) else {
        handle_alloc_error(layout)
    };
    let base = base.as_ptr();
    let tagged = tag(base, expiry);
    // SAFETY: `base` is a fresh allocation of `layout`: a Head, the expiry if any, the key
    // length if long, and the key.
    unsafe {
        (base as *mut Head).write(Head {
            value: entry.value,
            access: entry.access,
            key_len: if is_long(key.len()) {
                LONG_KEY
            } else {
                key.len() as u32
            },
        });
        if let Some(at) = entry.expire_at_ms {
            (base.add(HEAD_BYTES) as *mut u64).write(at);
        }
        let mut key_start = after_entry(base, expiry);
        if is_long(key.len()) {
            (key_start as *mut u64).write_unaligned(key.len() as u64);
            key_start = key_start.add(8);
        }
        ptr::copy_nonoverlapping(key.as_ptr(), key_start, key.len());
    }
    tagged
}

/// The allocation's address, without the tag (for prefetching).
#[inline]
pub fn address(tagged: Tagged) -> *const u8 {
    untag(tagged).0
}

/// Whether the bucket holds an expiry (read from the pointer alone).
#[inline]
pub fn has_expiry(tagged: Tagged) -> bool {
    untag(tagged).1
}

/// Where the key's long length field or bytes start.
#[inline]
fn after_entry(base: *mut u8, expiry: bool) -> *mut u8 {
    base.wrapping_add(HEAD_BYTES + if expiry { EXPIRY_BYTES } else { 0 })
}

/// The key's bytes.
///
/// # Safety
/// `tagged` came from [`new`] or [`set_expiry`] and was not yet given to [`free`] or replaced;
/// the bucket outlives `'a`.
#[inline]
pub unsafe fn key<'a>(tagged: Tagged) -> &'a [u8] {
    let (base, expiry) = untag(tagged);
    // Raw reads only: a reference to the entry may be live (iteration hands out both).
    let len = (base.add(KEY_LEN_OFFSET) as *const u32).read();
    let after_entry = after_entry(base, expiry);
    if len == LONG_KEY {
        let len = (after_entry as *const u64).read_unaligned() as usize;
        std::slice::from_raw_parts(after_entry.add(8), len)
    } else {
        std::slice::from_raw_parts(after_entry, len as usize)
    }
}

/// The entry.
///
/// # Safety
/// As for [`key`]; the caller's borrow of the owning table decides shared or exclusive access.
#[inline]
pub unsafe fn entry<'a>(tagged: Tagged) -> &'a mut Entry {
    let (base, expiry) = untag(tagged);
    // An Entry is the Head's fields followed by a slice of `expiry` u64s: the slice pointer's
    // length becomes the reference's.
    &mut *(ptr::slice_from_raw_parts_mut(base as *mut u64, usize::from(expiry)) as *mut Entry)
}

/// Sets or clears the bucket's expiry, and returns its pointer, which moves when the bucket
/// gains or loses its expiry field.
///
/// # Safety
/// As for [`key`], with exclusive access; the old pointer is dead once this returns and the
/// caller stores the new one in its place.
pub unsafe fn set_expiry(tagged: Tagged, at_ms: Option<u64>) -> Tagged {
    let (base, had) = untag(tagged);
    match (had, at_ms) {
        (true, Some(at)) => {
            (base.add(HEAD_BYTES) as *mut u64).write(at);
            tagged
        }
        (false, None) => tagged,
        (false, Some(at)) => {
            let key_len = key(tagged).len();
            let old = layout(key_len, false);
            let grown = realloc(base, old, old.size() + EXPIRY_BYTES);
            if grown.is_null() {
                handle_alloc_error(layout(key_len, true))
            }
            // The key (and its long length field) moves up to make room after the fixed part.
            ptr::copy(
                grown.add(HEAD_BYTES),
                grown.add(HEAD_BYTES + EXPIRY_BYTES),
                old.size() - HEAD_BYTES,
            );
            (grown.add(HEAD_BYTES) as *mut u64).write(at);
            tag(grown, true)
        }
        (true, None) => {
            let key_len = key(tagged).len();
            let old = layout(key_len, true);
            ptr::copy(
                base.add(HEAD_BYTES + EXPIRY_BYTES),
                base.add(HEAD_BYTES),
                old.size() - HEAD_BYTES - EXPIRY_BYTES,
            );
            let shrunk = realloc(base, old, old.size() - EXPIRY_BYTES);
            if shrunk.is_null() {
                handle_alloc_error(layout(key_len, false))
            }
            tag(shrunk, false)
        }
    }
}

/// Frees the bucket and returns its entry.
///
/// # Safety
/// `tagged` is live as for [`key`] and is freed once; no reference into the bucket outlives this.
pub unsafe fn free(tagged: Tagged) -> OwnedEntry {
    let (base, expiry) = untag(tagged);
    let key_len = key(tagged).len();
    let Head { value, access, .. } = (base as *const Head).read();
    let expire_at_ms = expiry.then(|| (base.add(HEAD_BYTES) as *const u64).read());
    dealloc(base, layout(key_len, expiry));
    OwnedEntry {
        value,
        access,
        expire_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::CompactBytes;
    use crate::value::{StrValue, Value};

    fn string(text: &[u8]) -> Value {
        Value::Str(StrValue::Embedded(CompactBytes::new(text)))
    }

    #[test]
    fn the_fixed_part_is_32_bytes_and_a_small_string_key_48() {
        assert_eq!(HEAD_BYTES, 32);
        assert_eq!(KEY_LEN_OFFSET, 28);
        assert_eq!(layout(16, false).size(), 48);
        assert_eq!(layout(16, true).size(), 56);
        assert_eq!(layout(4095, false).size(), 32 + 4095);
        assert_eq!(layout(70_000, true).size(), 32 + 8 + 8 + 70_000);
        let tagged = new(b"key:000000000001", OwnedEntry::new(string(b"v"), 0));
        // SAFETY: fresh bucket, freed once at the end.
        unsafe {
            assert_eq!(std::mem::size_of_val(entry(tagged)), 32);
            let tagged = set_expiry(tagged, Some(5));
            assert_eq!(std::mem::size_of_val(entry(tagged)), 40);
            free(tagged);
        }
    }

    #[test]
    fn keys_of_every_length_round_trip_with_and_without_expiry() {
        for len in [0usize, 1, 16, 200, 4095, 4096, 70000] {
            let name: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let value = Value::Str(StrValue::Int(len as i64));
            for expiry in [None, Some(1), Some(i64::MAX as u64), Some(u64::MAX)] {
                let mut owned = OwnedEntry::new(value.clone(), 7_000);
                owned.expire_at_ms = expiry;
                let tagged = new(&name, owned.clone());
                assert_eq!(has_expiry(tagged), expiry.is_some());
                assert_eq!(tagged.addr() >> POINTER_BITS, 0);
                // SAFETY: fresh bucket, freed once at the end.
                unsafe {
                    assert_eq!(key(tagged), &name[..]);
                    assert_eq!(entry(tagged).value, value);
                    assert_eq!(entry(tagged).access, 7);
                    assert_eq!(entry(tagged).expire_at_ms(), expiry);
                    assert_eq!(free(tagged), owned);
                }
            }
        }
    }

    #[test]
    fn gaining_and_losing_an_expiry_keeps_key_and_entry() {
        for len in [0usize, 5, 16, 100, 4095, 4096, 70000] {
            let name: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let value = string(b"sixteen bytes!!!");
            let mut tagged = new(&name, OwnedEntry::new(value.clone(), 3_000));
            let steps = [
                Some(10),
                Some(20),
                None,
                None,
                Some(u64::MAX),
                None,
                Some(30),
            ];
            for at in steps {
                // SAFETY: the bucket stays live; each call's result replaces the old pointer.
                unsafe {
                    tagged = set_expiry(tagged, at);
                    assert_eq!(has_expiry(tagged), at.is_some());
                    assert_eq!(key(tagged), &name[..]);
                    assert_eq!(entry(tagged).expire_at_ms(), at);
                    assert_eq!(entry(tagged).value, value);
                    assert_eq!(entry(tagged).access, 3);
                    entry(tagged).access += 1;
                    entry(tagged).access -= 1;
                }
            }
            // SAFETY: freed once.
            let owned = unsafe { free(tagged) };
            assert_eq!(owned.expire_at_ms, Some(30));
            assert_eq!(owned.value, value);
        }
    }
}
