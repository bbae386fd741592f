//! The large form of a sorted set (what Valkey calls `skiplist`): a hash index from member to
//! node, and an order-statistic tree of the nodes ordered by (score, member).
//!
//! - Nodes live in one vector (an arena) and refer to each other by `u32` index; freed slots
//!   are reused, and the arena is compacted when more than half of it is free, so memory follows
//!   the size and the cost stays amortized O(1) per removal.
//! - The tree is a treap: a binary search tree on (score, member) that is also a heap on a
//!   per-node priority. Every node counts the nodes of its subtree, so rank → node and
//!   node → rank are one descent each. The priority is a 32-bit hash of the member under a
//!   randomly seeded hasher: independent of the order, so the expected depth is O(log N)
//!   whatever the scores, and clients cannot choose members that unbalance it.
//! - The same 32-bit hash, spread to 64 bits, is the hash index's hash, so growing the index
//!   never rehashes member bytes.
//!
//! Costs: lookup by member O(1); insert, remove, score change, rank, positioning by rank, by
//! score or by member bytes O(log N); walking k neighbours from a position O(k) amortized;
//! removing k consecutive nodes O(log N + k).
//!
//! Scores are never NaN; -0 and 0 compare equal, as in Valkey.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::bytes::CompactBytes;

const NIL: u32 = u32::MAX;
/// Compaction waits until this many slots are free (small sets are not worth it).
const COMPACT_MIN_FREE: usize = 64;

#[derive(Clone, Debug)]
struct Node {
    member: CompactBytes,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in the subtree rooted here; 0 marks a free slot.
    size: u32,
    /// The member's 32-bit hash: the treap priority and the index hash.
    hash: u32,
}

/// Orders two (score, member) keys.
#[inline]
fn compare(score_a: f64, member_a: &[u8], score_b: f64, member_b: &[u8]) -> Ordering {
    match score_a.partial_cmp(&score_b) {
        Some(Ordering::Equal) | None => member_a.cmp(member_b),
        Some(order) => order,
    }
}

/// The index hash of a node, from its stored 32-bit hash.
#[inline]
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Clone, Debug)]
pub struct Ordered {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Default for Ordered {
    fn default() -> Self {
        Ordered::with_capacity(0)
    }
}

impl Ordered {
    /// An empty set with room for `capacity` members.
    pub fn with_capacity(capacity: usize) -> Ordered {
        Ordered {
            nodes: Vec::with_capacity(capacity),
            free: Vec::new(),
            root: NIL,
            index: HashTable::with_capacity(capacity),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Builds a set from members in ascending (score, member) order, in O(N).
    pub fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a [u8], f64)>) -> Ordered {
        let entries = entries.into_iter();
        let mut ordered = Ordered::with_capacity(entries.size_hint().0);
        for (member, score) in entries {
            let hash = ordered.hash32(member);
            let id = ordered.alloc(member, score, hash);
            ordered.index.insert_unique(spread(hash), id, |&i| {
                spread(ordered.nodes[i as usize].hash)
            });
        }
        let order: Vec<u32> = (0..ordered.nodes.len() as u32).collect();
        ordered.root = ordered.build(&order);
        ordered
    }

    pub fn len(&self) -> usize {
        self.size(self.root)
    }

    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    #[inline]
    fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    #[inline]
    fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    #[inline]
    fn size(&self, id: u32) -> usize {
        if id == NIL {
            0
        } else {
            self.node(id).size as usize
        }
    }

    #[inline]
    fn update_size(&mut self, id: u32) {
        let node = self.node(id);
        let size = 1 + self.size(node.left) + self.size(node.right);
        self.node_mut(id).size = size as u32;
    }

    fn hash32(&self, member: &[u8]) -> u32 {
        (self.hasher.hash_one(member) >> 32) as u32
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = spread(self.hash32(member));
        self.index
            .find(hash, |&id| self.node(id).member.as_bytes() == member)
            .copied()
    }

    fn alloc(&mut self, member: &[u8], score: f64, hash: u32) -> u32 {
        let node = Node {
            member: CompactBytes::new(member),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            hash,
        };
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                assert!(self.nodes.len() < NIL as usize, "sorted set too large");
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Drops a node already unlinked from the tree and the index.
    fn release(&mut self, id: u32) {
        let node = self.node_mut(id);
        node.member = CompactBytes::new(b"");
        node.size = 0;
        node.left = NIL;
        node.right = NIL;
        self.free.push(id);
    }

    fn unindex(&mut self, id: u32) {
        let hash = spread(self.node(id).hash);
        if let Ok(entry) = self.index.find_entry(hash, |&x| x == id) {
            entry.remove();
        }
    }

    /// Compacts the arena when most of it is free.
    fn maybe_compact(&mut self) {
        if self.free.len() < COMPACT_MIN_FREE || self.free.len() * 2 < self.nodes.len() {
            return;
        }
        let mut order = Vec::with_capacity(self.len());
        self.collect_in_order(self.root, &mut order);
        let mut nodes = Vec::with_capacity(order.len());
        for &id in &order {
            let node = &mut self.nodes[id as usize];
            nodes.push(Node {
                member: std::mem::replace(&mut node.member, CompactBytes::new(b"")),
                score: node.score,
                left: NIL,
                right: NIL,
                size: 1,
                hash: node.hash,
            });
        }
        self.nodes = nodes;
        self.free = Vec::new();
        self.index = HashTable::with_capacity(order.len());
        for id in 0..self.nodes.len() as u32 {
            let hash = spread(self.node(id).hash);
            let nodes = &self.nodes;
            self.index
                .insert_unique(hash, id, |&i| spread(nodes[i as usize].hash));
        }
        let order: Vec<u32> = (0..self.nodes.len() as u32).collect();
        self.root = self.build(&order);
    }

    fn collect_in_order(&self, root: u32, out: &mut Vec<u32>) {
        let mut stack = Vec::new();
        let mut current = root;
        while current != NIL || !stack.is_empty() {
            while current != NIL {
                stack.push(current);
                current = self.node(current).left;
            }
            let id = stack.pop().expect("stack is not empty");
            out.push(id);
            current = self.node(id).right;
        }
    }

    /// Links nodes given in key order into a treap (a Cartesian tree on the priorities) and
    /// returns its root, in O(N).
    fn build(&mut self, order: &[u32]) -> u32 {
        let mut stack: Vec<u32> = Vec::new();
        for &id in order {
            let mut last = NIL;
            while let Some(&top) = stack.last() {
                if self.node(top).hash >= self.node(id).hash {
                    break;
                }
                stack.pop();
                self.update_size(top);
                last = top;
            }
            self.node_mut(id).left = last;
            self.node_mut(id).right = NIL;
            if let Some(&top) = stack.last() {
                self.node_mut(top).right = id;
            }
            stack.push(id);
        }
        // The bottom of the stack is the node no other node is above: the root.
        let root = stack.first().copied().unwrap_or(NIL);
        while let Some(top) = stack.pop() {
            self.update_size(top);
        }
        root
    }

    #[inline]
    fn before(&self, a: u32, b: u32) -> bool {
        let (a, b) = (self.node(a), self.node(b));
        compare(a.score, &a.member, b.score, &b.member) == Ordering::Less
    }

    /// Splits the tree at `root` into the nodes ordered before `pivot`'s key and the rest.
    fn split(&mut self, root: u32, pivot: u32) -> (u32, u32) {
        if root == NIL {
            return (NIL, NIL);
        }
        if self.before(root, pivot) {
            let (left, right) = self.split(self.node(root).right, pivot);
            self.node_mut(root).right = left;
            self.update_size(root);
            (root, right)
        } else {
            let (left, right) = self.split(self.node(root).left, pivot);
            self.node_mut(root).left = right;
            self.update_size(root);
            (left, root)
        }
    }

    /// Splits the tree at `root` into its first `count` nodes and the rest.
    fn split_at(&mut self, root: u32, count: usize) -> (u32, u32) {
        if root == NIL {
            return (NIL, NIL);
        }
        let left_size = self.size(self.node(root).left);
        if count <= left_size {
            let (left, right) = self.split_at(self.node(root).left, count);
            self.node_mut(root).left = right;
            self.update_size(root);
            (left, root)
        } else {
            let (left, right) = self.split_at(self.node(root).right, count - left_size - 1);
            self.node_mut(root).right = left;
            self.update_size(root);
            (root, right)
        }
    }

    /// Joins two trees whose nodes are all ordered `a` before `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).hash >= self.node(b).hash {
            let right = self.merge(self.node(a).right, b);
            self.node_mut(a).right = right;
            self.update_size(a);
            a
        } else {
            let left = self.merge(a, self.node(b).left);
            self.node_mut(b).left = left;
            self.update_size(b);
            b
        }
    }

    /// Links the detached node `id` into the tree at `root` and returns the new root.
    fn link(&mut self, root: u32, id: u32) -> u32 {
        if root == NIL {
            return id;
        }
        if self.node(id).hash > self.node(root).hash {
            let (left, right) = self.split(root, id);
            let node = self.node_mut(id);
            node.left = left;
            node.right = right;
            self.update_size(id);
            return id;
        }
        if self.before(id, root) {
            let left = self.link(self.node(root).left, id);
            self.node_mut(root).left = left;
        } else {
            let right = self.link(self.node(root).right, id);
            self.node_mut(root).right = right;
        }
        self.update_size(root);
        root
    }

    /// Unlinks node `id` from the tree at `root` (found by its key) and returns the new root.
    fn unlink(&mut self, root: u32, id: u32) -> u32 {
        if root == id {
            let node = self.node(id);
            let merged = self.merge(node.left, node.right);
            let node = self.node_mut(id);
            node.left = NIL;
            node.right = NIL;
            node.size = 1;
            return merged;
        }
        if self.before(id, root) {
            let left = self.unlink(self.node(root).left, id);
            self.node_mut(root).left = left;
        } else {
            let right = self.unlink(self.node(root).right, id);
            self.node_mut(root).right = right;
        }
        self.update_size(root);
        root
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.node(id).score)
    }

    /// Adds a member that is not in the set.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        debug_assert!(self.find(member).is_none());
        let hash = self.hash32(member);
        let id = self.alloc(member, score, hash);
        let nodes = &self.nodes;
        self.index
            .insert_unique(spread(hash), id, |&i| spread(nodes[i as usize].hash));
        self.root = self.link(self.root, id);
    }

    /// Changes the score of a member that is in the set.
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        let id = self.find(member).expect("member is in the set");
        self.root = self.unlink(self.root, id);
        self.node_mut(id).score = score;
        self.root = self.link(self.root, id);
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.node(id).score;
        self.root = self.unlink(self.root, id);
        self.unindex(id);
        self.release(id);
        self.maybe_compact();
        Some(score)
    }

    /// The 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let target = self.node(id);
        let mut rank = 0;
        let mut current = self.root;
        while current != NIL {
            let node = self.node(current);
            match compare(target.score, &target.member, node.score, &node.member) {
                Ordering::Less => current = node.left,
                Ordering::Equal => return Some((rank + self.size(node.left), target.score)),
                Ordering::Greater => {
                    rank += self.size(node.left) + 1;
                    current = node.right;
                }
            }
        }
        unreachable!("an indexed member is in the tree")
    }

    /// The member and score at `rank` (0-based, ascending; `rank < len`).
    pub fn get(&self, rank: usize) -> (&[u8], f64) {
        let mut rank = rank;
        let mut current = self.root;
        loop {
            let node = self.node(current);
            let left_size = self.size(node.left);
            match rank.cmp(&left_size) {
                Ordering::Less => current = node.left,
                Ordering::Equal => return (&node.member, node.score),
                Ordering::Greater => {
                    rank -= left_size + 1;
                    current = node.right;
                }
            }
        }
    }

    /// How many members, from the lowest, satisfy `before`; `before` must hold for a prefix
    /// of the order (every member below some point and none after it).
    pub fn count_prefix(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        let mut count = 0;
        let mut current = self.root;
        while current != NIL {
            let node = self.node(current);
            if before(&node.member, node.score) {
                count += self.size(node.left) + 1;
                current = node.right;
            } else {
                current = node.left;
            }
        }
        count
    }

    /// Walks the members from `rank` (0-based ascending) upward, or downward when `reverse`.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let mut stack = Vec::new();
        let mut rank = rank;
        let mut current = if rank < self.len() { self.root } else { NIL };
        while current != NIL {
            let node = self.node(current);
            let left_size = self.size(node.left);
            match rank.cmp(&left_size) {
                Ordering::Less => {
                    if !reverse {
                        stack.push(current);
                    }
                    current = node.left;
                }
                Ordering::Equal => {
                    stack.push(current);
                    break;
                }
                Ordering::Greater => {
                    if reverse {
                        stack.push(current);
                    }
                    rank -= left_size + 1;
                    current = node.right;
                }
            }
        }
        Iter {
            ordered: self,
            stack,
            reverse,
        }
    }

    /// Removes the `count` members from `rank` on, handing each to `each` in ascending order,
    /// or descending when `descending`.
    pub fn remove_ranks(
        &mut self,
        rank: usize,
        count: usize,
        descending: bool,
        mut each: impl FnMut(&[u8], f64),
    ) {
        let (before, rest) = self.split_at(self.root, rank);
        let (removed, after) = self.split_at(rest, count);
        self.root = self.merge(before, after);
        let mut ids = Vec::with_capacity(count);
        self.collect_in_order(removed, &mut ids);
        if descending {
            ids.reverse();
        }
        for id in ids {
            let node = self.node(id);
            each(&node.member, node.score);
            self.unindex(id);
            self.release(id);
        }
        self.maybe_compact();
    }
}

/// Members and scores in order from a position (see [`Ordered::iter_from`]).
pub struct Iter<'a> {
    ordered: &'a Ordered,
    /// The nodes still to visit whose subtrees on the walking side are already behind.
    stack: Vec<u32>,
    reverse: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        let id = self.stack.pop()?;
        let ordered = self.ordered;
        let node = ordered.node(id);
        let mut current = if self.reverse { node.left } else { node.right };
        while current != NIL {
            self.stack.push(current);
            let child = ordered.node(current);
            current = if self.reverse {
                child.right
            } else {
                child.left
            };
        }
        Some((&node.member, node.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Ordered {
        /// Checks the tree's invariants: order, heap, sizes, index.
        pub(crate) fn check(&self) {
            let mut ids = Vec::new();
            self.collect_in_order(self.root, &mut ids);
            assert_eq!(ids.len(), self.len());
            assert_eq!(self.index.len(), self.len());
            assert_eq!(self.nodes.len(), self.len() + self.free.len());
            for pair in ids.windows(2) {
                assert!(self.before(pair[0], pair[1]));
            }
            for &id in &ids {
                let node = self.node(id);
                assert_eq!(
                    node.size as usize,
                    1 + self.size(node.left) + self.size(node.right)
                );
                for child in [node.left, node.right] {
                    if child != NIL {
                        assert!(self.node(child).hash <= node.hash);
                    }
                }
                assert_eq!(self.find(&node.member), Some(id));
            }
        }
    }

    #[test]
    fn ranks_and_walks() {
        let mut set = Ordered::default();
        for i in 0..1000u32 {
            set.insert(format!("m{i}").as_bytes(), f64::from(i % 100));
        }
        set.check();
        assert_eq!(set.len(), 1000);
        let walked: Vec<f64> = set.iter_from(0, false).map(|(_, s)| s).collect();
        assert!(walked.windows(2).all(|w| w[0] <= w[1]));
        for rank in [0, 1, 499, 999] {
            let (member, score) = set.get(rank);
            assert_eq!(set.rank(member), Some((rank, score)));
            assert_eq!(set.iter_from(rank, false).next(), Some((member, score)));
            assert_eq!(set.iter_from(rank, true).count(), rank + 1);
        }
        assert_eq!(set.count_prefix(|_, s| s < 50.0), 500);
        let mut popped = Vec::new();
        set.remove_ranks(0, 600, false, |m, _| popped.push(m.to_vec()));
        assert_eq!(popped.len(), 600);
        set.check();
        assert_eq!(set.len(), 400);
        assert_eq!(set.get(0).1, 60.0);
    }

    /// Many random inserts, score changes and removals (with compactions on the way) against
    /// an ordered model.
    #[test]
    fn random_operations_keep_order_and_ranks() {
        use rand::{Rng, SeedableRng};
        use std::collections::BTreeSet;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut set = Ordered::default();
        // (score bits made orderable, member) for non-negative integer scores.
        let mut model: BTreeSet<(u64, Vec<u8>)> = BTreeSet::new();
        let mut scores: std::collections::HashMap<Vec<u8>, u64> = Default::default();
        for step in 0..40_000u32 {
            let member = format!("k{}", rng.random_range(0..5000u32)).into_bytes();
            let score = rng.random_range(0..100u64);
            match (scores.get(&member).copied(), rng.random_range(0..10)) {
                (None, _) => {
                    set.insert(&member, score as f64);
                    model.insert((score, member.clone()));
                    scores.insert(member, score);
                }
                (Some(old), 0..=5) => {
                    assert_eq!(set.remove(&member), Some(old as f64));
                    model.remove(&(old, member.clone()));
                    scores.remove(&member);
                }
                (Some(old), _) => {
                    set.set_score(&member, score as f64);
                    model.remove(&(old, member.clone()));
                    model.insert((score, member.clone()));
                    scores.insert(member, score);
                }
            }
            if step % 5000 == 0 {
                set.check();
            }
        }
        set.check();
        assert_eq!(set.len(), model.len());
        for (rank, (score, member)) in model.iter().enumerate().step_by(97) {
            assert_eq!(set.get(rank), (member.as_slice(), *score as f64));
            assert_eq!(set.rank(member), Some((rank, *score as f64)));
        }
        // Removing most members compacts the arena.
        let arena = set.nodes.len();
        let survivors: Vec<(u64, Vec<u8>)> = model.iter().skip(1).step_by(10).cloned().collect();
        let removed: BTreeSet<(u64, Vec<u8>)> = model
            .difference(&survivors.iter().cloned().collect())
            .cloned()
            .collect();
        for (_, member) in &removed {
            set.remove(member);
        }
        set.check();
        assert!(set.nodes.len() < arena / 2);
        let walked: Vec<(Vec<u8>, f64)> = set
            .iter_from(0, false)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        let expected: Vec<(Vec<u8>, f64)> = survivors
            .iter()
            .map(|(s, m)| (m.clone(), *s as f64))
            .collect();
        assert_eq!(walked, expected);
    }

    #[test]
    fn bulk_build_matches_inserts() {
        let entries: Vec<(Vec<u8>, f64)> = (0..300)
            .map(|i| (format!("k{i:03}").into_bytes(), 1.0))
            .collect();
        let set = Ordered::from_sorted(entries.iter().map(|(m, s)| (m.as_slice(), *s)));
        set.check();
        let walked: Vec<&[u8]> = set.iter_from(0, false).map(|(m, _)| m).collect();
        let expected: Vec<&[u8]> = entries.iter().map(|(m, _)| m.as_slice()).collect();
        assert_eq!(walked, expected);
    }
}
