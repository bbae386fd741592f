//! `CompactBytes`: an immutable byte string that keeps up to 22 bytes inline.
//!
//! Keys and short values are mostly small. Stored inline they need no allocation of their own,
//! and a lookup compares the key without following a pointer to another cache line.

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
}
