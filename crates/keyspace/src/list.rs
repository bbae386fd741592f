//! Lists: a double-ended queue of byte strings, named by the encoding Valkey would report.
//!
//! Valkey keeps a small list as one `listpack` (a packed byte array) and a large one as a
//! `quicklist` (a linked list of listpack nodes). Replies never depend on that choice, only
//! `OBJECT ENCODING` does, so Tern stores every list the same way, a `VecDeque` of
//! `CompactBytes` (O(1) at both ends and at any index), and keeps alongside it what decides the
//! name: the size in bytes the list would have as a single listpack.
//!
//! The rules, with `list-max-listpack-size` at its default (-2, 8 KB per node):
//!
//! - Growing (push, insert, set, the destination of a move): a listpack becomes a quicklist when
//!   its current size plus the raw lengths of the new elements exceeds [`LIST_MAX_LISTPACK_BYTES`].
//!   As in Valkey the check is made once per command, before the elements go in, and an element
//!   that travels as an integer (one popped by a move) counts zero bytes.
//! - Shrinking (pop, remove, trim, set): a quicklist becomes a listpack again when it fits half
//!   the limit. Valkey also requires the quicklist to be down to a single node; Tern does not
//!   model nodes, so after removals that leave two small nodes (for example pops from the head of
//!   a list that was grown past the limit by later pushes) Tern reports `listpack` where Valkey
//!   still reports `quicklist`, until Valkey's head node empties. This is an approximation, kept
//!   because the element layout across nodes depends on the whole history of the list.
//!
//! The sizes follow Valkey's listpack format exactly: a 7-byte header and terminator, and per
//! element an encoding (integers in 1 to 9 bytes, strings with a 1, 2 or 5 byte length) plus a
//! back-length of 1 to 5 bytes. The thresholds are constants for now, Valkey's defaults; the
//! `list-max-listpack-size` directive will replace them.

use std::collections::VecDeque;

use crate::bytes::CompactBytes;
use crate::num::parse_i64;

/// The byte limit of one listpack under `list-max-listpack-size -2` (the default).
pub const LIST_MAX_LISTPACK_BYTES: usize = 8192;
/// A listpack's header (total bytes, element count) and terminator.
const LISTPACK_OVERHEAD_BYTES: usize = 7;

#[derive(Clone, Debug)]
pub struct ListValue {
    items: VecDeque<CompactBytes>,
    /// The size the list would take as one listpack.
    packed_bytes: usize,
    quicklist: bool,
}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.quicklist == other.quicklist && self.items == other.items
    }
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::new()
    }
}

/// Bytes of a listpack back-length field for an entry of `len` bytes.
fn backlen_bytes(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Bytes one element takes in a listpack.
pub fn packed_entry_bytes(element: &[u8]) -> usize {
    let integer = if element.len() <= 20 {
        parse_i64(element)
    } else {
        None
    };
    let encoded = match integer {
        Some(0..=127) => 1,
        Some(-4096..=4095) => 2,
        Some(-32768..=32767) => 3,
        Some(-8388608..=8388607) => 4,
        Some(-2147483648..=2147483647) => 5,
        Some(_) => 9,
        None => match element.len() {
            len @ 0..=63 => 1 + len,
            len @ 64..=4095 => 2 + len,
            len => 5 + len,
        },
    };
    encoded + backlen_bytes(encoded)
}

/// The bytes an element adds to Valkey's growth check when it arrives as a command argument.
pub fn argument_growth(element: &[u8]) -> usize {
    element.len()
}

/// The bytes an element adds to the growth check when it was popped from another list: an
/// element stored as an integer travels as one and counts nothing.
pub fn moved_growth(element: &[u8]) -> usize {
    if element.len() <= 20 && parse_i64(element).is_some() {
        0
    } else {
        element.len()
    }
}

/// Resolves Valkey's `start`/`stop` pair (negative counts from the end) against `len`:
/// the inclusive range, or None when it is empty.
pub fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

impl ListValue {
    /// An empty list, a listpack (a command creating a list adds its elements right after).
    pub fn new() -> ListValue {
        ListValue {
            items: VecDeque::new(),
            packed_bytes: LISTPACK_OVERHEAD_BYTES,
            quicklist: false,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Valkey's check before adding elements whose growth (see [`argument_growth`] and
    /// [`moved_growth`]) sums to `add_bytes`.
    pub fn prepare_growth(&mut self, add_bytes: usize) {
        if !self.quicklist && self.packed_bytes + add_bytes > LIST_MAX_LISTPACK_BYTES {
            self.quicklist = true;
        }
    }

    /// Valkey's check after elements were removed or replaced.
    pub fn after_shrink(&mut self) {
        if self.quicklist && self.packed_bytes <= LIST_MAX_LISTPACK_BYTES / 2 {
            self.quicklist = false;
        }
    }

    fn stored(&mut self, element: &[u8]) -> CompactBytes {
        self.packed_bytes += packed_entry_bytes(element);
        CompactBytes::new(element)
    }

    fn dropped(&mut self, element: &CompactBytes) {
        self.packed_bytes -= packed_entry_bytes(element);
    }

    pub fn push_front(&mut self, element: &[u8]) {
        let element = self.stored(element);
        self.items.push_front(element);
    }

    pub fn push_back(&mut self, element: &[u8]) {
        let element = self.stored(element);
        self.items.push_back(element);
    }

    pub fn pop_front(&mut self) -> Option<CompactBytes> {
        let element = self.items.pop_front()?;
        self.dropped(&element);
        Some(element)
    }

    pub fn pop_back(&mut self) -> Option<CompactBytes> {
        let element = self.items.pop_back()?;
        self.dropped(&element);
        Some(element)
    }

    /// The element at `index` (from the head), if any.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|e| e.as_bytes())
    }

    /// Valkey's index: negative counts from the tail (-1 is the last element).
    pub fn resolve_index(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let index = if index < 0 { len + index } else { index };
        (0..len).contains(&index).then_some(index as usize)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.items.iter().map(|e| e.as_bytes())
    }

    /// The elements `start..=stop` (`stop < len`).
    pub fn range(&self, start: usize, stop: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.range(start..=stop).map(|e| e.as_bytes())
    }

    /// Replaces the element at `index` (`index < len`).
    pub fn set(&mut self, index: usize, element: &[u8]) {
        let new = self.stored(element);
        let old = std::mem::replace(&mut self.items[index], new);
        self.dropped(&old);
    }

    /// Inserts `element` so it ends up at `index` (`index <= len`).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        let element = self.stored(element);
        self.items.insert(index, element);
    }

    /// The index of the first element equal to `element`, from the head.
    pub fn position(&self, element: &[u8]) -> Option<usize> {
        self.items.iter().position(|e| e.as_bytes() == element)
    }

    /// LREM: removes up to `count` elements equal to `element` (all when 0), from the head when
    /// `from_head`, else from the tail. Returns how many were removed.
    pub fn remove_matching(&mut self, element: &[u8], count: usize, from_head: bool) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut removed = 0;
        let mut keep = vec![true; self.items.len()];
        let indexes: Box<dyn Iterator<Item = usize>> = if from_head {
            Box::new(0..self.items.len())
        } else {
            Box::new((0..self.items.len()).rev())
        };
        for index in indexes {
            if removed == limit {
                break;
            }
            if self.items[index].as_bytes() == element {
                keep[index] = false;
                removed += 1;
            }
        }
        if removed > 0 {
            self.packed_bytes -= removed * packed_entry_bytes(element);
            let mut flags = keep.into_iter();
            self.items.retain(|_| flags.next().unwrap_or(true));
        }
        removed
    }

    /// LTRIM: keeps only `start..=stop`, or nothing when None.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        match keep {
            None => {
                self.items.clear();
                self.packed_bytes = LISTPACK_OVERHEAD_BYTES;
            }
            Some((start, stop)) => {
                for element in self.items.drain(stop + 1..) {
                    self.packed_bytes -= packed_entry_bytes(&element);
                }
                for element in self.items.drain(..start) {
                    self.packed_bytes -= packed_entry_bytes(&element);
                }
            }
        }
    }

    /// The size the list would take as a single listpack (for tests and memory estimates).
    pub fn packed_bytes(&self) -> usize {
        self.packed_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packed_of(model: &VecDeque<Vec<u8>>) -> usize {
        LISTPACK_OVERHEAD_BYTES + model.iter().map(|e| packed_entry_bytes(e)).sum::<usize>()
    }

    #[test]
    fn entry_sizes_follow_the_listpack_format() {
        assert_eq!(packed_entry_bytes(b"5"), 2);
        assert_eq!(packed_entry_bytes(b"-1"), 3);
        assert_eq!(packed_entry_bytes(b"100000"), 5);
        assert_eq!(packed_entry_bytes(b"9223372036854775807"), 10);
        assert_eq!(packed_entry_bytes(b"007"), 5);
        assert_eq!(packed_entry_bytes(&[b'x'; 63]), 65);
        assert_eq!(packed_entry_bytes(&[b'x'; 64]), 66 + 1);
        assert_eq!(packed_entry_bytes(&[b'x'; 8185]), 8190 + 2);
    }

    #[test]
    fn converts_at_valkeys_points() {
        let mut list = ListValue::new();
        list.prepare_growth(8185);
        list.push_back(&[b'x'; 8185]);
        assert_eq!(list.encoding_name(), "listpack");
        let mut list = ListValue::new();
        list.prepare_growth(8186);
        list.push_back(&[b'x'; 8186]);
        assert_eq!(list.encoding_name(), "quicklist");
        list.pop_back();
        list.after_shrink();
        assert_eq!(list.encoding_name(), "listpack");
    }

    #[test]
    fn ranges_resolve_like_valkey() {
        assert_eq!(resolve_range(0, -1, 3), Some((0, 2)));
        assert_eq!(resolve_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(resolve_range(2, 1, 3), None);
        assert_eq!(resolve_range(3, 5, 3), None);
        assert_eq!(resolve_range(-1, -1, 3), Some((2, 2)));
        assert_eq!(resolve_range(0, 0, 0), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Set(i64, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(Vec<u8>, usize, bool),
        Trim(i64, i64),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u8..4).prop_map(|n| vec![b'a' + n]),
            (-5i64..5).prop_map(|n| n.to_string().into_bytes()),
            (60usize..3000).prop_map(|n| vec![b'z'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            element().prop_map(Op::PushFront),
            element().prop_map(Op::PushBack),
            Just(Op::PopFront),
            Just(Op::PopBack),
            (-10i64..10, element()).prop_map(|(i, e)| Op::Set(i, e)),
            (0usize..10, element()).prop_map(|(i, e)| Op::Insert(i, e)),
            (element(), 0usize..3, any::<bool>()).prop_map(|(e, c, h)| Op::Remove(e, c, h)),
            (-10i64..10, -10i64..10).prop_map(|(a, b)| Op::Trim(a, b)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec(op(), 0..80)) {
            let mut list = ListValue::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushFront(e) => {
                        list.prepare_growth(argument_growth(&e));
                        list.push_front(&e);
                        model.push_front(e);
                    }
                    Op::PushBack(e) => {
                        list.prepare_growth(argument_growth(&e));
                        list.push_back(&e);
                        model.push_back(e);
                    }
                    Op::PopFront => {
                        prop_assert_eq!(list.pop_front().map(|e| e.to_vec()), model.pop_front());
                        list.after_shrink();
                    }
                    Op::PopBack => {
                        prop_assert_eq!(list.pop_back().map(|e| e.to_vec()), model.pop_back());
                        list.after_shrink();
                    }
                    Op::Set(index, e) => {
                        let len = model.len() as i64;
                        let want = if index < 0 { len + index } else { index };
                        let got = list.resolve_index(index);
                        prop_assert_eq!(got, (0..len).contains(&want).then_some(want as usize));
                        if let Some(i) = got {
                            list.prepare_growth(argument_growth(&e));
                            list.set(i, &e);
                            list.after_shrink();
                            model[i] = e;
                        }
                    }
                    Op::Insert(index, e) => {
                        let index = index.min(model.len());
                        list.prepare_growth(argument_growth(&e));
                        list.insert(index, &e);
                        model.insert(index, e);
                    }
                    Op::Remove(e, count, from_head) => {
                        let limit = if count == 0 { usize::MAX } else { count };
                        let mut removed = 0;
                        let mut kept: Vec<Vec<u8>> = Vec::new();
                        let ordered: Vec<Vec<u8>> = if from_head {
                            model.iter().cloned().collect()
                        } else {
                            model.iter().rev().cloned().collect()
                        };
                        for item in ordered {
                            if item == e && removed < limit {
                                removed += 1;
                            } else {
                                kept.push(item);
                            }
                        }
                        if !from_head {
                            kept.reverse();
                        }
                        model = kept.into();
                        prop_assert_eq!(list.remove_matching(&e, count, from_head), removed);
                        list.after_shrink();
                    }
                    Op::Trim(start, stop) => {
                        let keep = resolve_range(start, stop, model.len());
                        model = match keep {
                            None => VecDeque::new(),
                            Some((a, b)) => model.range(a..=b).cloned().collect(),
                        };
                        list.trim(keep);
                        list.after_shrink();
                    }
                }
                prop_assert_eq!(list.len(), model.len());
                prop_assert!(list.iter().eq(model.iter().map(|e| e.as_slice())));
                prop_assert_eq!(list.packed_bytes(), packed_of(&model));
                if list.packed_bytes() > LIST_MAX_LISTPACK_BYTES {
                    prop_assert_eq!(list.encoding_name(), "quicklist");
                }
            }
        }
    }
}
