//! `Pack`: a compact sequence of byte strings in one exact-size allocation.
//!
//! Small collections are the common case (a session hash of ten fields, a ten-element queue),
//! and per element they would cost a pointer, a length and an allocation of their own in a
//! general structure. A pack stores them back to back in one buffer instead, the way Valkey's
//! listpack does, and is what Tern's small lists, sets, hashes and sorted sets are made of.
//! Every change rewrites the buffer, so a pack is only for collections that the encoding
//! thresholds (`limits`) keep small.
//!
//! Layout of the buffer (no buffer at all when empty):
//!
//! ```text
//! [count: u32 LE] [entry] [entry] ...
//!
//! entry, by its first byte:
//!   0x00..=0x3F  text of 0..=63 bytes follows          (1-byte header)
//!   0x40..=0x7F  6 high bits of the length, then 1 more length byte, then the text
//!                                                       (2-byte header, up to 16383 bytes)
//!   0x80         u32 LE length, then the text          (5-byte header)
//!   0x81..=0x84  an integer of 1, 2, 4 or 8 bytes LE follows
//!   0xC0..=0xFF  the integer 0..=63 itself
//! ```
//!
//! Text that is a canonical 64-bit integer (Valkey's strict syntax) is stored as an integer and
//! read back as [`PackItem::Int`]; formatting it gives the same text back.

use crate::bytes::ThinSlice;
use crate::num::{format_i64, parse_i64};

const COUNT_BYTES: usize = 4;
const SHORT_TEXT_MAX: usize = 0x3F;
const MEDIUM_TEXT_MAX: usize = 0x3FFF;
const MEDIUM_TEXT_TAG: u8 = 0x40;
const LONG_TEXT_TAG: u8 = 0x80;
const INT8_TAG: u8 = 0x81;
const INT16_TAG: u8 = 0x82;
const INT32_TAG: u8 = 0x83;
const INT64_TAG: u8 = 0x84;
const TINY_INT_TAG: u8 = 0xC0;
const TINY_INT_MAX: i64 = 0x3F;
/// The longest text that can be a 64-bit integer ("-9223372036854775808").
const INT_TEXT_MAX: usize = 20;

/// One entry as stored: an integer, or text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PackItem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl PackItem<'_> {
    /// The entry's text, formatting an integer into `buffer`.
    #[inline]
    pub fn bytes<'b>(&'b self, buffer: &'b mut [u8; 20]) -> &'b [u8] {
        match self {
            PackItem::Int(number) => format_i64(*number, buffer),
            PackItem::Bytes(bytes) => bytes,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut [0; 20]).to_vec()
    }

    /// Whether the entry's text is `text`.
    #[inline]
    pub fn eq_bytes(&self, text: &[u8]) -> bool {
        match self {
            PackItem::Bytes(bytes) => *bytes == text,
            PackItem::Int(number) => format_i64(*number, &mut [0; 20]) == text,
        }
    }

    /// The entry as an integer: an `Int`, or text in strict integer syntax.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            PackItem::Int(number) => Some(*number),
            PackItem::Bytes(bytes) => parse_i64(bytes),
        }
    }

    /// The length of the entry's text.
    pub fn text_len(&self) -> usize {
        match self {
            PackItem::Int(number) => format_i64(*number, &mut [0; 20]).len(),
            PackItem::Bytes(bytes) => bytes.len(),
        }
    }
}

/// One word: the buffer's length rides in its pointer (`ThinSlice`), so the enums of the
/// collection types stay at 16 bytes and a value at 24.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pack {
    buffer: ThinSlice<u8>,
}

/// An encoded entry: its header (or whole integer) and the text that follows it, if any.
struct Encoded<'t> {
    header: [u8; 9],
    header_len: usize,
    text: &'t [u8],
}

impl Encoded<'_> {
    fn len(&self) -> usize {
        self.header_len + self.text.len()
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header[..self.header_len]);
        out.extend_from_slice(self.text);
    }
}

fn encode(text: &[u8]) -> Encoded<'_> {
    let mut header = [0u8; 9];
    if text.len() <= INT_TEXT_MAX {
        if let Some(number) = parse_i64(text) {
            let header_len = encode_int(number, &mut header);
            return Encoded {
                header,
                header_len,
                text: &[],
            };
        }
    }
    let len = text.len();
    let header_len = if len <= SHORT_TEXT_MAX {
        header[0] = len as u8;
        1
    } else if len <= MEDIUM_TEXT_MAX {
        header[0] = MEDIUM_TEXT_TAG | (len >> 8) as u8;
        header[1] = len as u8;
        2
    } else {
        header[0] = LONG_TEXT_TAG;
        header[1..5].copy_from_slice(&(len as u32).to_le_bytes());
        5
    };
    Encoded {
        header,
        header_len,
        text,
    }
}

fn encode_int(number: i64, header: &mut [u8; 9]) -> usize {
    if (0..=TINY_INT_MAX).contains(&number) {
        header[0] = TINY_INT_TAG | number as u8;
        return 1;
    }
    let (tag, width) = if i8::try_from(number).is_ok() {
        (INT8_TAG, 1)
    } else if i16::try_from(number).is_ok() {
        (INT16_TAG, 2)
    } else if i32::try_from(number).is_ok() {
        (INT32_TAG, 4)
    } else {
        (INT64_TAG, 8)
    };
    header[0] = tag;
    header[1..1 + width].copy_from_slice(&number.to_le_bytes()[..width]);
    1 + width
}

/// The entry at `offset` and its encoded length.
#[inline]
fn decode(buffer: &[u8], offset: usize) -> (PackItem<'_>, usize) {
    let tag = buffer[offset];
    let text = |start: usize, len: usize| PackItem::Bytes(&buffer[start..start + len]);
    match tag {
        0..=0x3F => (text(offset + 1, tag as usize), 1 + tag as usize),
        0x40..=0x7F => {
            let len = ((tag as usize & 0x3F) << 8) | buffer[offset + 1] as usize;
            (text(offset + 2, len), 2 + len)
        }
        LONG_TEXT_TAG => {
            let mut len_bytes = [0u8; 4];
            len_bytes.copy_from_slice(&buffer[offset + 1..offset + 5]);
            let len = u32::from_le_bytes(len_bytes) as usize;
            (text(offset + 5, len), 5 + len)
        }
        INT8_TAG..=INT64_TAG => {
            let width = 1usize << (tag - INT8_TAG);
            let mut bytes = [0u8; 8];
            bytes[..width].copy_from_slice(&buffer[offset + 1..offset + 1 + width]);
            // Sign-extend from the stored width.
            let shift = 64 - 8 * width as u32;
            let number = (i64::from_le_bytes(bytes) << shift) >> shift;
            (PackItem::Int(number), 1 + width)
        }
        _ => (PackItem::Int((tag - TINY_INT_TAG) as i64), 1),
    }
}

impl Pack {
    pub fn new() -> Pack {
        Pack::default()
    }

    /// A pack of `items`, in order, built with one allocation.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Pack {
        let encoded: Vec<Encoded<'a>> = items.into_iter().map(encode).collect();
        if encoded.is_empty() {
            return Pack::new();
        }
        let size = COUNT_BYTES + encoded.iter().map(Encoded::len).sum::<usize>();
        let mut buffer = Vec::with_capacity(size);
        buffer.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        for entry in &encoded {
            entry.write_to(&mut buffer);
        }
        Pack {
            buffer: buffer.into(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self.buffer.get(..COUNT_BYTES) {
            Some(count) => u32::from_le_bytes(count.try_into().expect("four bytes")) as usize,
            None => 0,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The heap bytes the pack holds.
    pub fn allocated_bytes(&self) -> usize {
        self.buffer.len()
    }

    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            buffer: &self.buffer,
            offset: COUNT_BYTES.min(self.buffer.len()),
            remaining: self.len(),
        }
    }

    /// The entry at `index`; O(index).
    pub fn get(&self, index: usize) -> Option<PackItem<'_>> {
        self.iter().nth(index)
    }

    /// The index of the first entry whose text is `text`.
    pub fn position(&self, text: &[u8]) -> Option<usize> {
        self.position_step(text, 0, 1)
    }

    /// The index of the first of the entries `start`, `start + step`, ... whose text is `text`
    /// (the fields of field/value pairs: start 0, step 2).
    pub fn position_step(&self, text: &[u8], start: usize, step: usize) -> Option<usize> {
        debug_assert!(step > 0);
        // Compare integers as integers: an integer entry can only equal integer text.
        let wanted_int = if text.len() <= INT_TEXT_MAX {
            parse_i64(text)
        } else {
            None
        };
        let mut iter = self.iter();
        let mut index = 0;
        if start > 0 && iter.nth(start - 1).is_none() {
            return None;
        }
        index += start;
        while let Some(item) = iter.next() {
            let equal = match (item, wanted_int) {
                (PackItem::Int(number), Some(wanted)) => number == wanted,
                (PackItem::Int(_), None) => false,
                (PackItem::Bytes(_), Some(_)) => false,
                (PackItem::Bytes(bytes), None) => bytes == text,
            };
            if equal {
                return Some(index);
            }
            if step > 1 && iter.nth(step - 2).is_none() {
                return None;
            }
            index += step;
        }
        None
    }

    pub fn push_back(&mut self, text: &[u8]) {
        let end = self.buffer.len().max(COUNT_BYTES);
        self.splice(end, end, &[encode(text)], 1);
    }

    pub fn push_front(&mut self, text: &[u8]) {
        self.splice(COUNT_BYTES, COUNT_BYTES, &[encode(text)], 1);
    }

    /// Inserts `text` so that it becomes entry `index` (`index <= len`).
    pub fn insert(&mut self, index: usize, text: &[u8]) {
        assert!(index <= self.len(), "insert position out of bounds");
        let offset = self.offset_of(index);
        self.splice(offset, offset, &[encode(text)], 1);
    }

    /// Replaces entry `index` with `text`.
    pub fn replace(&mut self, index: usize, text: &[u8]) {
        assert!(index < self.len(), "replace position out of bounds");
        let start = self.offset_of(index);
        let end = start + decode(&self.buffer, start).1;
        self.splice(start, end, &[encode(text)], 0);
    }

    pub fn remove(&mut self, index: usize) {
        self.remove_range(index, 1);
    }

    /// Removes `count` entries from `index` on.
    pub fn remove_range(&mut self, index: usize, count: usize) {
        assert!(index + count <= self.len(), "remove range out of bounds");
        if count == 0 {
            return;
        }
        let start = self.offset_of(index);
        let mut end = start;
        for _ in 0..count {
            end += decode(&self.buffer, end).1;
        }
        self.splice(start, end, &[], -(count as isize));
    }

    /// The byte offset of entry `index` (the end of the buffer for `index == len`).
    fn offset_of(&self, index: usize) -> usize {
        let mut offset = COUNT_BYTES;
        for _ in 0..index {
            offset += decode(&self.buffer, offset).1;
        }
        offset
    }

    /// Replaces bytes `start..end` of the buffer with `entries`, resizing the allocation in
    /// place where the allocator can (a reallocation within the same size class is free) and
    /// moving the tail, so that it stays exactly sized.
    fn splice(&mut self, start: usize, end: usize, entries: &[Encoded<'_>], count_delta: isize) {
        let count = self.len() as isize + count_delta;
        if count == 0 {
            self.buffer = ThinSlice::default();
            return;
        }
        let mut buffer = Vec::from(std::mem::take(&mut self.buffer).into_boxed_slice());
        if buffer.is_empty() {
            buffer.extend_from_slice(&[0; COUNT_BYTES]);
        }
        let inserted: usize = entries.iter().map(Encoded::len).sum();
        let old_len = buffer.len();
        let new_len = old_len + inserted - (end - start);
        if new_len > old_len {
            buffer.reserve_exact(new_len - old_len);
            buffer.resize(new_len, 0);
            buffer.copy_within(end..old_len, start + inserted);
        } else {
            buffer.copy_within(end..old_len, start + inserted);
            buffer.truncate(new_len);
        }
        let mut at = start;
        for entry in entries {
            buffer[at..at + entry.header_len].copy_from_slice(&entry.header[..entry.header_len]);
            at += entry.header_len;
            buffer[at..at + entry.text.len()].copy_from_slice(entry.text);
            at += entry.text.len();
        }
        buffer[..COUNT_BYTES].copy_from_slice(&(count as u32).to_le_bytes());
        self.buffer = buffer.into();
    }
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|item| String::from_utf8_lossy(&item.to_vec()).into_owned()),
            )
            .finish()
    }
}

/// The entries of a pack, front to back.
#[derive(Clone)]
pub struct PackIter<'a> {
    buffer: &'a [u8],
    offset: usize,
    remaining: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = PackItem<'a>;

    #[inline]
    fn next(&mut self) -> Option<PackItem<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let (item, len) = decode(self.buffer, self.offset);
        self.offset += len;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for PackIter<'_> {}

impl<'a> IntoIterator for &'a Pack {
    type Item = PackItem<'a>;
    type IntoIter = PackIter<'a>;

    fn into_iter(self) -> PackIter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(pack: &Pack) -> Vec<Vec<u8>> {
        pack.iter().map(|item| item.to_vec()).collect()
    }

    #[test]
    fn stores_integers_compactly_and_returns_their_text() {
        let values: Vec<&[u8]> = vec![
            b"0",
            b"63",
            b"64",
            b"-1",
            b"127",
            b"-128",
            b"300",
            b"-40000",
            b"70000",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"01",
            b"+1",
            b"-0",
            b"",
            b"abc",
        ];
        let pack = Pack::from_items(values.iter().copied());
        assert_eq!(pack.len(), values.len());
        assert_eq!(
            texts(&pack),
            values.iter().map(|v| v.to_vec()).collect::<Vec<_>>()
        );
        assert_eq!(pack.get(0), Some(PackItem::Int(0)));
        assert_eq!(pack.get(11), Some(PackItem::Bytes(b"01")));
        assert_eq!(pack.position(b"70000"), Some(8));
        assert_eq!(pack.position(b"-0"), Some(13));
        assert_eq!(pack.position(b"nope"), None);
        // Two bytes for 64 (an i8), one for 63.
        assert_eq!(
            Pack::from_items([&b"63"[..]]).allocated_bytes(),
            COUNT_BYTES + 1
        );
        assert_eq!(
            Pack::from_items([&b"64"[..]]).allocated_bytes(),
            COUNT_BYTES + 2
        );
    }

    #[test]
    fn text_lengths_at_header_boundaries() {
        for len in [0, 63, 64, 16383, 16384, 70000] {
            let text = vec![b'x'; len];
            let mut pack = Pack::new();
            pack.push_back(&text);
            pack.push_front(b"a");
            assert_eq!(texts(&pack), vec![b"a".to_vec(), text.clone()]);
        }
    }

    #[test]
    fn position_step_looks_only_at_every_other_entry() {
        let pack = Pack::from_items([&b"f1"[..], b"v", b"v", b"f2"]);
        assert_eq!(pack.position_step(b"v", 0, 2), Some(2));
        assert_eq!(pack.position_step(b"f2", 0, 2), None);
        assert_eq!(pack.position_step(b"f2", 1, 2), Some(3));
        assert_eq!(pack.position_step(b"f1", 5, 2), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        Insert(usize, Vec<u8>),
        Replace(usize, Vec<u8>),
        Remove(usize),
        RemoveRange(usize, usize),
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (0i64..200).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(any::<u8>(), 16380..16390),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            text().prop_map(Op::PushBack),
            text().prop_map(Op::PushFront),
            (any::<usize>(), text()).prop_map(|(i, t)| Op::Insert(i, t)),
            (any::<usize>(), text()).prop_map(|(i, t)| Op::Replace(i, t)),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), 0usize..4).prop_map(|(i, n)| Op::RemoveRange(i, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec(op(), 0..40)) {
            let mut pack = Pack::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::PushBack(t) => { pack.push_back(&t); model.push(t); }
                    Op::PushFront(t) => { pack.push_front(&t); model.insert(0, t); }
                    Op::Insert(i, t) => {
                        let i = i % (model.len() + 1);
                        pack.insert(i, &t);
                        model.insert(i, t);
                    }
                    Op::Replace(i, t) if !model.is_empty() => {
                        let i = i % model.len();
                        pack.replace(i, &t);
                        model[i] = t;
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let i = i % model.len();
                        pack.remove(i);
                        model.remove(i);
                    }
                    Op::RemoveRange(i, n) if !model.is_empty() => {
                        let i = i % model.len();
                        let n = n.min(model.len() - i);
                        pack.remove_range(i, n);
                        model.drain(i..i + n);
                    }
                    _ => {}
                }
                prop_assert_eq!(pack.len(), model.len());
                prop_assert_eq!(pack.is_empty(), model.is_empty());
                prop_assert_eq!(texts(&pack), model.clone());
                if let Some(first) = model.first() {
                    prop_assert_eq!(pack.position(first), model.iter().position(|m| m == first));
                }
            }
        }
    }
}
