//! Buckets: one allocation per key, holding its entry and, right after it, the key's bytes.
//!
//! ```text
//! pointer in the table:  [ key length: 16 bits | address: 48 bits ]
//! allocation:            [ Entry (48 bytes) ][ key bytes ]
//!                        [ Entry (48 bytes) ][ length: u64 ][ key bytes ]   (keys of 65535+ bytes)
//! ```
//!
//! Keeping the key inline in the same allocation, with its length in the pointer's unused top
//! bits, makes a bucket exactly `48 + key length` bytes: a 16-byte key and its entry fill one
//! 64-byte allocation, and a key of any length needs no second allocation. User-space addresses
//! on the 64-bit targets Tern runs on fit 48 bits; [`new`] checks it.
//!
//! The functions here are the only place that knows this layout. A tagged pointer is created by
//! [`new`], owned by exactly one table position, and given back by [`free`].

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::{self, NonNull};

use crate::entry::Entry;

/// Pointer bits used by the address; the key length sits above them.
const ADDRESS_BITS: u32 = 48;
const ADDRESS_MASK: usize = (1 << ADDRESS_BITS) - 1;
/// The length tag of a key whose length is stored in the allocation instead.
const LONG_KEY: usize = 0xFFFF;
const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

/// A bucket's tagged pointer, as the table stores it.
pub type Tagged = *mut Entry;

fn layout(key_len: usize) -> Layout {
    let length_field = if key_len >= LONG_KEY { 8 } else { 0 };
    Layout::from_size_align(
        ENTRY_BYTES + length_field + key_len,
        std::mem::align_of::<Entry>(),
    )
    .expect("a key fits in memory")
}

/// A new bucket holding `entry` under `key`.
pub fn new(key: &[u8], entry: Entry) -> Tagged {
    let layout = layout(key.len());
    // SAFETY: the layout has a non-zero size (it holds an Entry).
    let base = unsafe { alloc(layout) } as *mut Entry;
    let Some(base) = NonNull::new(base) else {
        handle_alloc_error(layout)
    };
    let base = base.as_ptr();
    assert!(
        base.addr() & !ADDRESS_MASK == 0,
        "allocation above the 48-bit address space"
    );
    let tag = key.len().min(LONG_KEY);
    // SAFETY: `base` is a fresh allocation of `layout`: an Entry, an optional length and the key.
    unsafe {
        base.write(entry);
        let mut key_start = (base as *mut u8).add(ENTRY_BYTES);
        if tag == LONG_KEY {
            (key_start as *mut u64).write_unaligned(key.len() as u64);
            key_start = key_start.add(8);
        }
        ptr::copy_nonoverlapping(key.as_ptr(), key_start, key.len());
    }
    base.map_addr(|address| address | tag << ADDRESS_BITS)
}

/// The allocation's address, without the tag (for prefetching; may be null).
#[inline]
pub fn address(tagged: Tagged) -> *const u8 {
    tagged.map_addr(|address| address & ADDRESS_MASK) as *const u8
}

#[inline]
fn untag(tagged: Tagged) -> (*mut Entry, usize) {
    (
        tagged.map_addr(|address| address & ADDRESS_MASK),
        tagged.addr() >> ADDRESS_BITS,
    )
}

/// The key's bytes.
///
/// # Safety
/// `tagged` came from [`new`] and was not yet given to [`free`]; the bucket outlives `'a`.
#[inline]
pub unsafe fn key<'a>(tagged: Tagged) -> &'a [u8] {
    let (base, tag) = untag(tagged);
    let after_entry = (base as *const u8).add(ENTRY_BYTES);
    if tag == LONG_KEY {
        let len = (after_entry as *const u64).read_unaligned() as usize;
        std::slice::from_raw_parts(after_entry.add(8), len)
    } else {
        std::slice::from_raw_parts(after_entry, tag)
    }
}

/// The entry.
///
/// # Safety
/// As for [`key`]; the caller's borrow of the owning table decides shared or exclusive access.
#[inline]
pub unsafe fn entry<'a>(tagged: Tagged) -> &'a mut Entry {
    &mut *untag(tagged).0
}

/// Frees the bucket and returns its entry.
///
/// # Safety
/// `tagged` came from [`new`] and is freed once; no reference into the bucket outlives this.
pub unsafe fn free(tagged: Tagged) -> Entry {
    let (base, _) = untag(tagged);
    let key_len = key(tagged).len();
    let entry = base.read();
    dealloc(base as *mut u8, layout(key_len));
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{StrValue, Value};

    #[test]
    fn keys_of_every_length_round_trip() {
        assert_eq!(ENTRY_BYTES, 48);
        for len in [0usize, 1, 16, 200, 65534, 65535, 70000] {
            let name: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let value = Value::Str(StrValue::Int(len as i64));
            let tagged = new(&name, Entry::new(value.clone(), 0));
            // SAFETY: fresh bucket, freed once at the end.
            unsafe {
                assert_eq!(key(tagged), &name[..]);
                assert_eq!(entry(tagged).value, value);
                assert_eq!(free(tagged).value, value);
            }
        }
    }
}
