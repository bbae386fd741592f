//! Compact containers for the values an entry holds.
//!
//! - [`CompactBytes`]: an immutable byte string that keeps up to 22 bytes inline. Keys and short
//!   values are mostly small. Stored inline they need no allocation of their own, and a lookup
//!   compares the key without following a pointer to another cache line.
//! - [`RawBytes`]: a growable byte string in 16 bytes (APPEND and SETRANGE grow it), exactly
//!   sized like a boxed slice.
//! - [`ThinSlice`]: a boxed slice in one word, its length in the pointer's unused top bits.
//!
//! They exist to keep [`crate::Value`] at 24 bytes: every variant but the inline string must fit
//! in the 16 bytes after the string's tag byte (see `value.rs`).

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// The most bytes stored inline; with the length byte and the variant tag this is 24 bytes,
/// the size of the boxed form's pointer and length plus its tag.
const INLINE_BYTES_MAX: usize = 22;

#[derive(Clone)]
pub enum CompactBytes {
    Inline {
        len: u8,
        bytes: [u8; INLINE_BYTES_MAX],
    },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    #[inline]
    pub fn new(source: &[u8]) -> CompactBytes {
        if source.len() <= INLINE_BYTES_MAX {
            let mut bytes = [0u8; INLINE_BYTES_MAX];
            bytes[..source.len()].copy_from_slice(source);
            CompactBytes::Inline {
                len: source.len() as u8,
                bytes,
            }
        } else {
            CompactBytes::Heap(source.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, bytes } => &bytes[..*len as usize],
            CompactBytes::Heap(bytes) => bytes,
        }
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(source: &[u8]) -> CompactBytes {
        CompactBytes::new(source)
    }
}

impl std::ops::Deref for CompactBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CompactBytes {}

/// Hashes as the byte slice does, so that a set of `CompactBytes` can be searched by `&[u8]`.
impl std::hash::Hash for CompactBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl std::borrow::Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A growable byte string whose allocation is exactly its length: a boxed slice that grows by
/// asking the allocator to extend it in place, which it does for free within a size class. 16
/// bytes, where a `Vec` takes 24.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawBytes(Box<[u8]>);

impl RawBytes {
    /// Appends `more`.
    pub fn extend_from_slice(&mut self, more: &[u8]) {
        let mut bytes = self.take_vec(more.len());
        bytes.extend_from_slice(more);
        self.0 = bytes.into_boxed_slice();
    }

    /// Grows or shrinks to `len` bytes, filling new ones with `fill`.
    pub fn resize(&mut self, len: usize, fill: u8) {
        let mut bytes = self.take_vec(len.saturating_sub(self.0.len()));
        bytes.resize(len, fill);
        self.0 = bytes.into_boxed_slice();
    }

    /// The bytes as a vector with room for exactly `additional` more.
    fn take_vec(&mut self, additional: usize) -> Vec<u8> {
        let mut bytes = Vec::from(std::mem::take(&mut self.0));
        bytes.reserve_exact(additional);
        bytes
    }
}

impl From<Vec<u8>> for RawBytes {
    fn from(bytes: Vec<u8>) -> RawBytes {
        RawBytes(bytes.into_boxed_slice())
    }
}

impl From<&[u8]> for RawBytes {
    fn from(bytes: &[u8]) -> RawBytes {
        RawBytes(bytes.into())
    }
}

impl std::ops::Deref for RawBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for RawBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl std::fmt::Debug for RawBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// Pointer bits used by an address; a [`ThinSlice`]'s length sits above them.
const ADDRESS_BITS: u32 = 48;
const ADDRESS_MASK: usize = (1 << ADDRESS_BITS) - 1;
/// The length tag of a slice whose length does not fit it: the address is then that of a boxed
/// slice holding it.
const LONG_SLICE: usize = 0xFFFF;

/// A boxed slice behind one pointer-sized word: the top 16 bits hold the length, the low 48 the
/// address of the elements (user-space addresses on the 64-bit targets Tern runs on fit 48 bits;
/// construction checks it).
///
/// ```text
/// [ length: 16 bits | address of the elements: 48 bits ]              (up to 65534 elements)
/// [ 0xFFFF          | address of a Box<[T]> holding them: 48 bits ]   (65535 or more)
/// ```
///
/// The short form, which every small collection uses, converts to and from a `Box<[T]>` without
/// copying or allocating; the long form costs one 16-byte allocation more. The pointer is never
/// null, so an enum can use that as a niche.
pub struct ThinSlice<T> {
    tagged: NonNull<u8>,
    owns: PhantomData<Box<[T]>>,
}

// SAFETY: a ThinSlice owns its elements exactly as the Box<[T]> it was made of did.
unsafe impl<T: Send> Send for ThinSlice<T> {}
// SAFETY: shared access only reads the elements, as for Box<[T]>.
unsafe impl<T: Sync> Sync for ThinSlice<T> {}

impl<T> ThinSlice<T> {
    #[inline]
    fn parts(&self) -> (*mut u8, usize) {
        let tagged = self.tagged.as_ptr();
        (
            tagged.map_addr(|address| address & ADDRESS_MASK),
            tagged.addr() >> ADDRESS_BITS,
        )
    }

    #[inline]
    pub fn as_slice(&self) -> &[T] {
        let (address, tag) = self.parts();
        // SAFETY: the parts are those of the live boxed slice (or of the box holding it) this
        // value was made from, owned by it; `&self` keeps them alive.
        unsafe {
            if tag == LONG_SLICE {
                &*(address as *const Box<[T]>)
            } else {
                std::slice::from_raw_parts(address as *const T, tag)
            }
        }
    }

    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let (address, tag) = self.parts();
        // SAFETY: as in `as_slice`; `&mut self` makes the access exclusive.
        unsafe {
            if tag == LONG_SLICE {
                &mut *(address as *mut Box<[T]>)
            } else {
                std::slice::from_raw_parts_mut(address as *mut T, tag)
            }
        }
    }

    /// The boxed slice back, without copying.
    pub fn into_boxed_slice(self) -> Box<[T]> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped nor used again.
        unsafe { this.rebuild() }
    }

    /// Rebuilds the box this value was made of.
    ///
    /// # Safety
    /// Called once for the value, which is not used afterwards.
    unsafe fn rebuild(&self) -> Box<[T]> {
        let (address, tag) = self.parts();
        if tag == LONG_SLICE {
            *Box::from_raw(address as *mut Box<[T]>)
        } else {
            Box::from_raw(ptr::slice_from_raw_parts_mut(address as *mut T, tag))
        }
    }
}

impl<T> From<Box<[T]>> for ThinSlice<T> {
    fn from(slice: Box<[T]>) -> ThinSlice<T> {
        let len = slice.len();
        let (address, tag) = if len < LONG_SLICE {
            (Box::into_raw(slice) as *mut T as *mut u8, len)
        } else {
            (Box::into_raw(Box::new(slice)) as *mut u8, LONG_SLICE)
        };
        assert!(
            address.addr() & !ADDRESS_MASK == 0,
            "allocation above the 48-bit address space"
        );
        let tagged = address.map_addr(|address| address | tag << ADDRESS_BITS);
        ThinSlice {
            tagged: NonNull::new(tagged).expect("a boxed slice's pointer is not null"),
            owns: PhantomData,
        }
    }
}

impl<T> From<Vec<T>> for ThinSlice<T> {
    fn from(items: Vec<T>) -> ThinSlice<T> {
        items.into_boxed_slice().into()
    }
}

impl<T> From<ThinSlice<T>> for Box<[T]> {
    fn from(slice: ThinSlice<T>) -> Box<[T]> {
        slice.into_boxed_slice()
    }
}

impl<T> Drop for ThinSlice<T> {
    fn drop(&mut self) {
        // SAFETY: the parts come from `Box::into_raw` in `from`, and this is the value's end.
        drop(unsafe { self.rebuild() });
    }
}

impl<T> Default for ThinSlice<T> {
    fn default() -> ThinSlice<T> {
        Box::<[T]>::default().into()
    }
}

impl<T: Clone> Clone for ThinSlice<T> {
    fn clone(&self) -> ThinSlice<T> {
        Box::<[T]>::from(self.as_slice()).into()
    }
}

impl<T> std::ops::Deref for ThinSlice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> std::ops::DerefMut for ThinSlice<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: PartialEq> PartialEq for ThinSlice<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for ThinSlice<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for ThinSlice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_length() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for len in 0..40 {
            let source: Vec<u8> = (0..len as u8).collect();
            assert_eq!(CompactBytes::new(&source).as_bytes(), &source[..]);
        }
    }

    #[test]
    fn raw_bytes_grow_and_shrink() {
        assert_eq!(std::mem::size_of::<RawBytes>(), 16);
        let mut raw = RawBytes::from(&b"abc"[..]);
        raw.extend_from_slice(b"def");
        assert_eq!(&raw[..], b"abcdef");
        raw.resize(8, b'-');
        assert_eq!(&raw[..], b"abcdef--");
        raw[0] = b'A';
        raw.resize(2, 0);
        assert_eq!(&raw[..], b"Ab");
        let mut empty = RawBytes::default();
        empty.extend_from_slice(b"");
        assert!(empty.is_empty());
        empty.resize(3, 0);
        assert_eq!(&empty[..], &[0, 0, 0]);
    }

    #[test]
    fn thin_slices_round_trip_at_every_length_form() {
        assert_eq!(std::mem::size_of::<ThinSlice<u8>>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinSlice<i64>>>(), 8);
        for len in [0usize, 1, 7, 200, 65534, 65535, 65536, 100_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut thin = ThinSlice::from(bytes.clone());
            assert_eq!(thin.len(), len);
            assert_eq!(&thin[..], &bytes[..]);
            let copy = thin.clone();
            assert_eq!(copy, thin);
            if len > 0 {
                thin[len - 1] ^= 0xFF;
                assert_ne!(copy, thin);
                thin[len - 1] ^= 0xFF;
            }
            assert_eq!(Box::<[u8]>::from(thin).into_vec(), bytes);
            let numbers: Vec<i64> = (0..len as i64).map(|n| n * -3).collect();
            let thin = ThinSlice::from(numbers.clone());
            assert_eq!(&thin[..], &numbers[..]);
            drop(thin);
        }
        assert!(ThinSlice::<i64>::default().is_empty());
    }
}
