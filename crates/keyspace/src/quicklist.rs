//! The large form of a list: a deque of packs ("nodes"), each holding up to [`NODE_ENTRIES`]
//! elements and [`NODE_BYTES`] bytes. Pushes fill a node up to exactly the byte limit, a size
//! the allocator serves without rounding up.
//!
//! Elements cost what they cost in a pack (their bytes plus a one- or two-byte header, integers
//! less) instead of a 24-byte slot each, and a push at either end rewrites only the end node.
//! Reaching index i walks the nodes from the nearer end, so LINDEX and LSET near the ends are
//! O(1) and O(nodes) in the middle, as in Valkey's quicklist. The node layout is Tern's own:
//! nothing observable depends on it (Tern reports `quicklist` from Valkey's rules, see
//! `list.rs`).

use std::collections::VecDeque;

use crate::bytes::CompactBytes;
use crate::pack::{Pack, PackItem, PackIter};

/// The most elements a node takes before a push starts a new one.
const NODE_ENTRIES: usize = 512;
/// The most bytes a push lets a node grow to (an allocation size class).
const NODE_BYTES: usize = 4096;
/// The most bytes a pack spends on one element besides its text.
const ENTRY_HEADER_MAX: usize = 5;

#[derive(Clone, Debug, Default)]
pub struct Nodes {
    nodes: VecDeque<Pack>,
    len: usize,
}

/// Whether `element` must start a new node rather than join `node`.
fn full(node: &Pack, element: &[u8]) -> bool {
    node.len() >= NODE_ENTRIES
        || node.allocated_bytes() + element.len() + ENTRY_HEADER_MAX > NODE_BYTES
}

impl Nodes {
    /// The elements, in order, packed into full nodes.
    pub fn from_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Nodes {
        let mut nodes = Nodes::default();
        for element in elements {
            nodes.push_back(element);
        }
        nodes
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_front(&mut self, element: &[u8]) {
        if self.nodes.front().is_none_or(|node| full(node, element)) {
            self.nodes.push_front(Pack::new());
        }
        self.nodes[0].push_front(element);
        self.len += 1;
    }

    pub fn push_back(&mut self, element: &[u8]) {
        if self.nodes.back().is_none_or(|node| full(node, element)) {
            self.nodes.push_back(Pack::new());
        }
        self.nodes
            .back_mut()
            .expect("a node was just ensured")
            .push_back(element);
        self.len += 1;
    }

    /// The node holding element `index` (`index < len`) and the element's offset in it,
    /// walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut offset = index;
            for (node_index, node) in self.nodes.iter().enumerate() {
                if offset < node.len() {
                    return (node_index, offset);
                }
                offset -= node.len();
            }
        } else {
            let mut from_end = self.len - 1 - index;
            for (node_index, node) in self.nodes.iter().enumerate().rev() {
                if from_end < node.len() {
                    return (node_index, node.len() - 1 - from_end);
                }
                from_end -= node.len();
            }
        }
        unreachable!("index below len")
    }

    pub fn get(&self, index: usize) -> Option<PackItem<'_>> {
        if index >= self.len {
            return None;
        }
        let (node, offset) = self.locate(index);
        self.nodes[node].get(offset)
    }

    /// Removes and returns element `index` (`index < len`).
    pub fn remove(&mut self, index: usize) -> CompactBytes {
        let (node, offset) = self.locate(index);
        let pack = &mut self.nodes[node];
        let element = CompactBytes::new(
            pack.get(offset)
                .expect("offset below the node's length")
                .bytes(&mut [0; 20]),
        );
        pack.remove(offset);
        if pack.is_empty() {
            self.nodes.remove(node);
        }
        self.len -= 1;
        element
    }

    /// Replaces element `index` (`index < len`).
    pub fn set(&mut self, index: usize, element: &[u8]) {
        let (node, offset) = self.locate(index);
        self.nodes[node].replace(offset, element);
    }

    /// Inserts `element` so that it becomes element `index` (`index <= len`); a node that grows
    /// to twice its limits is split in two.
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        if index == self.len {
            return self.push_back(element);
        }
        let (node, offset) = self.locate(index);
        self.nodes[node].insert(offset, element);
        self.len += 1;
        let pack = &self.nodes[node];
        if pack.len() > 2 * NODE_ENTRIES || pack.allocated_bytes() > 2 * NODE_BYTES {
            let items: Vec<Vec<u8>> = pack.iter().map(|item| item.to_vec()).collect();
            let half = items.len() / 2;
            let (low, high) = items.split_at(half);
            self.nodes[node] = Pack::from_items(low.iter().map(Vec::as_slice));
            self.nodes
                .insert(node + 1, Pack::from_items(high.iter().map(Vec::as_slice)));
        }
    }

    pub fn iter(&self) -> NodesIter<'_> {
        NodesIter {
            nodes: self.nodes.iter(),
            current: None,
            remaining: self.len,
        }
    }

    /// The elements from the last to the first.
    pub fn iter_rev(&self) -> impl Iterator<Item = PackItem<'_>> + '_ {
        self.nodes.iter().rev().flat_map(|node| {
            let items: Vec<PackItem<'_>> = node.iter().collect();
            items.into_iter().rev()
        })
    }

    /// Keeps the elements whose flag is set (`keep` has one flag per element).
    pub fn retain_flags(&mut self, keep: &[bool]) {
        let kept: Vec<Vec<u8>> = self
            .iter()
            .zip(keep)
            .filter(|(_, keep)| **keep)
            .map(|(item, _)| item.to_vec())
            .collect();
        *self = Nodes::from_elements(kept.iter().map(Vec::as_slice));
    }
}

/// The elements of a large list, front to back.
pub struct NodesIter<'a> {
    nodes: std::collections::vec_deque::Iter<'a, Pack>,
    current: Option<PackIter<'a>>,
    remaining: usize,
}

impl<'a> Iterator for NodesIter<'a> {
    type Item = PackItem<'a>;

    #[inline]
    fn next(&mut self) -> Option<PackItem<'a>> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(Iterator::next) {
                self.remaining -= 1;
                return Some(item);
            }
            self.current = Some(self.nodes.next()?.iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }

    /// Skips whole nodes.
    fn nth(&mut self, mut n: usize) -> Option<PackItem<'a>> {
        loop {
            let left = self.current.as_ref().map_or(0, ExactSizeIterator::len);
            if n < left {
                self.remaining -= n + 1;
                return self.current.as_mut().and_then(|items| items.nth(n));
            }
            n -= left;
            self.remaining -= left;
            match self.nodes.next() {
                Some(node) => self.current = Some(node.iter()),
                None => {
                    self.current = None;
                    return None;
                }
            }
        }
    }
}

impl ExactSizeIterator for NodesIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_fill_split_and_walk() {
        let mut nodes = Nodes::default();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..1000u32 {
            let element = format!("e{i}").into_bytes();
            if i % 2 == 0 {
                nodes.push_back(&element);
                model.push(element);
            } else {
                nodes.push_front(&element);
                model.insert(0, element);
            }
        }
        assert!(nodes.nodes.len() > 1000 / NODE_ENTRIES);
        for i in 0..600usize {
            let at = (i * 7) % (model.len() + 1);
            let element = format!("i{i}").into_bytes();
            nodes.insert(at, &element);
            model.insert(at, element);
        }
        assert!(nodes.nodes.iter().all(|n| n.len() <= 2 * NODE_ENTRIES));
        let walked: Vec<Vec<u8>> = nodes.iter().map(|e| e.to_vec()).collect();
        assert_eq!(walked, model);
        let reversed: Vec<Vec<u8>> = nodes.iter_rev().map(|e| e.to_vec()).collect();
        assert!(reversed.iter().eq(model.iter().rev()));
        for index in [0, 1, 799, 800, 1599] {
            assert_eq!(
                nodes.get(index).map(|e| e.to_vec()).as_ref(),
                model.get(index)
            );
            assert_eq!(
                nodes.iter().nth(index).map(|e| e.to_vec()).as_ref(),
                model.get(index)
            );
        }
        let mut walk = nodes.iter();
        assert_eq!(walk.nth(130).map(|e| e.to_vec()), Some(model[130].clone()));
        assert_eq!(walk.len(), model.len() - 131);
        while nodes.len() > 0 {
            let index = nodes.len() / 3;
            assert_eq!(nodes.remove(index).to_vec(), model.remove(index));
        }
        assert!(nodes.nodes.is_empty());
    }
}
