//! The large form of a sorted set (what Valkey calls `skiplist`): a hash index from member to
//! entry, and a counted B+ tree of the entries ordered by (score, member).
//!
//! - Entries (member, score) live in parallel vectors and are referred to by `u32` id; freed ids
//!   are reused, and everything is rebuilt compactly when more than half of them are free, so
//!   memory follows the size and the cost stays amortized O(1) per removal.
//! - The tree keeps up to [`FANOUT`] entries per leaf, scores inline (a descent compares scores
//!   without leaving the node; members are read only on equal scores), and leaves are linked
//!   both ways for walks. An inner node keeps, per child, the entry count of its subtree and
//!   its smallest key, so rank → entry and entry → rank are one descent each. With 32-way nodes
//!   a sorted set of a million members is four levels deep, the upper ones cache-resident, which
//!   is what makes ZADD and ZRANK cheap: a binary tree or a skiplist needs about twenty dependent
//!   memory reads per descent.
//! - Nodes never underflow by rule; an emptied node is removed, and a tree whose leaves fall
//!   below a quarter full on average is rebuilt (amortized O(1) per removal).
//!
//! Costs: lookup by member O(1); insert, remove, score change, rank, positioning by rank, by
//! score or by member bytes O(log N); walking k neighbours from a position O(k); removing k
//! consecutive entries O(k log N), or O(N) by rebuilding when k is most of the set.
//!
//! Scores are never NaN; -0 and 0 compare equal, as in Valkey.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::bytes::CompactBytes;

const NIL: u32 = u32::MAX;
/// Entries per leaf and children per inner node, at most.
const FANOUT: usize = 32;
/// How full `from_sorted` packs nodes, leaving room for inserts.
const BUILD_FILL: usize = FANOUT * 3 / 4;
/// Rebuilding for free ids waits until this many are free (small sets are not worth it).
const COMPACT_MIN_FREE: usize = 64;

/// Orders two (score, member) keys.
#[cfg(test)]
fn compare(score_a: f64, member_a: &[u8], score_b: f64, member_b: &[u8]) -> Ordering {
    match score_a.partial_cmp(&score_b) {
        Some(Ordering::Equal) | None => member_a.cmp(member_b),
        Some(order) => order,
    }
}

#[derive(Clone, Debug)]
struct Leaf {
    len: u32,
    prev: u32,
    next: u32,
    scores: [f64; FANOUT],
    ids: [u32; FANOUT],
}

impl Leaf {
    fn new() -> Leaf {
        Leaf {
            len: 0,
            prev: NIL,
            next: NIL,
            scores: [0.0; FANOUT],
            ids: [NIL; FANOUT],
        }
    }
}

#[derive(Clone, Debug)]
struct Inner {
    len: u32,
    /// Entries below each child.
    counts: [u32; FANOUT],
    children: [u32; FANOUT],
    /// The smallest key below each child: its score and entry id.
    min_scores: [f64; FANOUT],
    min_ids: [u32; FANOUT],
}

impl Inner {
    fn new() -> Inner {
        Inner {
            len: 0,
            counts: [0; FANOUT],
            children: [NIL; FANOUT],
            min_scores: [0.0; FANOUT],
            min_ids: [NIL; FANOUT],
        }
    }

    fn total(&self) -> usize {
        self.counts[..self.len as usize]
            .iter()
            .map(|&c| c as usize)
            .sum()
    }
}

/// A child split off by an insertion: its id, entry count and smallest key.
struct Split {
    node: u32,
    count: u32,
    min: (f64, u32),
}

#[derive(Clone, Debug)]
pub struct Ordered {
    members: Vec<CompactBytes>,
    scores: Vec<f64>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    leaves: Vec<Leaf>,
    free_leaves: Vec<u32>,
    inners: Vec<Inner>,
    free_inners: Vec<u32>,
    /// The root node: a leaf when `height` is 0, else an inner node.
    root: u32,
    height: u32,
    len: usize,
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
            members: Vec::with_capacity(capacity),
            scores: Vec::with_capacity(capacity),
            free: Vec::new(),
            index: HashTable::with_capacity(capacity),
            hasher: DefaultHashBuilder::default(),
            leaves: Vec::new(),
            free_leaves: Vec::new(),
            inners: Vec::new(),
            free_inners: Vec::new(),
            root: NIL,
            height: 0,
            len: 0,
        }
    }

    /// Builds a set from members in ascending (score, member) order, in O(N).
    pub fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a [u8], f64)>) -> Ordered {
        let entries = entries.into_iter();
        let mut ordered = Ordered::with_capacity(entries.size_hint().0);
        let mut ids = Vec::with_capacity(entries.size_hint().0);
        for (member, score) in entries {
            ids.push(ordered.alloc(member, score));
        }
        ordered.build(&ids);
        ordered
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn member(&self, id: u32) -> &[u8] {
        &self.members[id as usize]
    }

    fn hash_of(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        self.index
            .find(self.hash_of(member), |&id| self.member(id) == member)
            .copied()
    }

    /// Stores an entry and indexes it; the tree is the caller's.
    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let stored = CompactBytes::new(member);
        let id = match self.free.pop() {
            Some(id) => {
                self.members[id as usize] = stored;
                self.scores[id as usize] = score;
                id
            }
            None => {
                assert!(self.members.len() < NIL as usize, "sorted set too large");
                self.members.push(stored);
                self.scores.push(score);
                (self.members.len() - 1) as u32
            }
        };
        let hash = self.hash_of(member);
        let (members, hasher) = (&self.members, &self.hasher);
        self.index.insert_unique(hash, id, |&i| {
            hasher.hash_one(members[i as usize].as_bytes())
        });
        id
    }

    /// Forgets an entry already out of the tree.
    fn release(&mut self, id: u32) {
        let hash = self.hash_of(self.member(id));
        if let Ok(entry) = self.index.find_entry(hash, |&x| x == id) {
            entry.remove();
        }
        self.members[id as usize] = CompactBytes::new(b"");
        // NaN marks a free id: a live score never is one.
        self.scores[id as usize] = f64::NAN;
        self.free.push(id);
    }

    fn new_leaf(&mut self) -> u32 {
        match self.free_leaves.pop() {
            Some(id) => {
                self.leaves[id as usize] = Leaf::new();
                id
            }
            None => {
                self.leaves.push(Leaf::new());
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn new_inner(&mut self) -> u32 {
        match self.free_inners.pop() {
            Some(id) => {
                self.inners[id as usize] = Inner::new();
                id
            }
            None => {
                self.inners.push(Inner::new());
                (self.inners.len() - 1) as u32
            }
        }
    }

    #[inline]
    fn leaf(&self, id: u32) -> &Leaf {
        &self.leaves[id as usize]
    }

    #[inline]
    fn inner(&self, id: u32) -> &Inner {
        &self.inners[id as usize]
    }

    /// Links entries given in key order into a fresh tree, packing nodes to [`BUILD_FILL`].
    fn build(&mut self, ids: &[u32]) {
        self.leaves.clear();
        self.free_leaves.clear();
        self.inners.clear();
        self.free_inners.clear();
        self.len = ids.len();
        self.height = 0;
        if ids.is_empty() {
            self.root = NIL;
            return;
        }
        // (node, count, min score, min id) of the level being built.
        let mut level: Vec<(u32, u32, f64, u32)> = Vec::new();
        let mut previous = NIL;
        for chunk in ids.chunks(BUILD_FILL) {
            let id = self.new_leaf();
            let leaf = &mut self.leaves[id as usize];
            leaf.len = chunk.len() as u32;
            leaf.prev = previous;
            for (slot, &entry) in chunk.iter().enumerate() {
                leaf.ids[slot] = entry;
                leaf.scores[slot] = self.scores[entry as usize];
            }
            if previous != NIL {
                self.leaves[previous as usize].next = id;
            }
            previous = id;
            level.push((
                id,
                chunk.len() as u32,
                self.scores[chunk[0] as usize],
                chunk[0],
            ));
        }
        while level.len() > 1 {
            let mut upper = Vec::with_capacity(level.len().div_ceil(BUILD_FILL));
            for chunk in level.chunks(BUILD_FILL) {
                let id = self.new_inner();
                let inner = &mut self.inners[id as usize];
                inner.len = chunk.len() as u32;
                for (slot, &(child, count, score, min)) in chunk.iter().enumerate() {
                    inner.children[slot] = child;
                    inner.counts[slot] = count;
                    inner.min_scores[slot] = score;
                    inner.min_ids[slot] = min;
                }
                let count = chunk.iter().map(|c| c.1).sum();
                upper.push((id, count, chunk[0].2, chunk[0].3));
            }
            level = upper;
            self.height += 1;
        }
        self.root = level[0].0;
    }

    /// Rebuilds everything compactly: live ids renumbered without gaps, nodes packed. New ids
    /// keep the old ids' relative order, so a ZSCAN cursor (a bound on ids, see [`Ordered::scan`])
    /// still covers every member it had not reached. Ids released but still in the tree (a
    /// bulk removal) are left out.
    fn rebuild(&mut self) {
        let mut order: Vec<u32> = Vec::with_capacity(self.len);
        let mut walk = self.iter_from(0, false);
        while let Some(id) = walk.next_id() {
            if !self.scores[id as usize].is_nan() {
                order.push(id);
            }
        }
        let mut new_ids = vec![NIL; self.members.len()];
        let mut members = Vec::with_capacity(order.len());
        let mut scores = Vec::with_capacity(order.len());
        for ((new_id, member), &score) in new_ids
            .iter_mut()
            .zip(self.members.iter_mut())
            .zip(&self.scores)
        {
            if !score.is_nan() {
                *new_id = members.len() as u32;
                members.push(std::mem::replace(member, CompactBytes::new(b"")));
                scores.push(score);
            }
        }
        self.members = members;
        self.scores = scores;
        self.free.clear();
        self.index = HashTable::with_capacity(self.members.len());
        for id in 0..self.members.len() as u32 {
            let hash = self.hash_of(self.member(id));
            let (members, hasher) = (&self.members, &self.hasher);
            self.index.insert_unique(hash, id, |&i| {
                hasher.hash_one(members[i as usize].as_bytes())
            });
        }
        let ids: Vec<u32> = order.iter().map(|&old| new_ids[old as usize]).collect();
        self.build(&ids);
    }

    /// One ZSCAN step: visits the members whose ids are in the `count` ids below the cursor
    /// (0: the top) and returns the next cursor (0 when done). Ids of members present for the
    /// whole scan never change except by [`Ordered::rebuild`], which keeps their order, and new
    /// members take free or new ids, so every member present throughout is visited.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        let top = self.members.len();
        let end = match usize::try_from(cursor) {
            Ok(0) | Err(_) => top,
            Ok(cursor) => cursor.min(top),
        };
        let start = end.saturating_sub(count.max(1));
        for id in (start..end).rev() {
            let score = self.scores[id];
            if !score.is_nan() {
                visit(self.member(id as u32), score);
            }
        }
        start as u64
    }

    /// Rebuilds when most ids are free or the leaves are mostly empty.
    fn maybe_compact(&mut self) {
        let live_leaves = self.leaves.len() - self.free_leaves.len();
        let sparse = live_leaves * FANOUT > 4 * self.len + 4 * FANOUT;
        let holes =
            self.free.len() >= COMPACT_MIN_FREE && self.free.len() * 2 >= self.members.len();
        if sparse || holes {
            self.rebuild();
        }
    }

    /// Compares the key (`score`, `member`) with entry `id` stored with `id_score`.
    #[inline]
    fn compare_key(&self, score: f64, member: &[u8], id_score: f64, id: u32) -> Ordering {
        match score.partial_cmp(&id_score) {
            Some(Ordering::Equal) | None => member.cmp(self.member(id)),
            Some(order) => order,
        }
    }

    /// The child of an inner node whose range holds the key: the last whose smallest key is
    /// not above it (the first when the key is below them all).
    fn child_for(&self, inner: &Inner, score: f64, member: &[u8]) -> usize {
        let len = inner.len as usize;
        let mut low = 0;
        let mut high = len;
        while low < high {
            let mid = (low + high) / 2;
            if self.compare_key(score, member, inner.min_scores[mid], inner.min_ids[mid])
                != Ordering::Less
            {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low.saturating_sub(1)
    }

    /// The number of entries of a leaf ordered before the key.
    fn leaf_position(&self, leaf: &Leaf, score: f64, member: &[u8]) -> usize {
        let mut low = 0;
        let mut high = leaf.len as usize;
        while low < high {
            let mid = (low + high) / 2;
            if self.compare_key(score, member, leaf.scores[mid], leaf.ids[mid]) == Ordering::Greater
            {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The smallest key of a node.
    fn node_min(&self, node: u32, height: u32) -> (f64, u32) {
        if height == 0 {
            let leaf = self.leaf(node);
            (leaf.scores[0], leaf.ids[0])
        } else {
            let inner = self.inner(node);
            (inner.min_scores[0], inner.min_ids[0])
        }
    }

    fn node_count(&self, node: u32, height: u32) -> u32 {
        if height == 0 {
            self.leaf(node).len
        } else {
            self.inner(node).total() as u32
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.scores[id as usize])
    }

    /// Adds a member that is not in the set.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        debug_assert!(self.find(member).is_none());
        let id = self.alloc(member, score);
        self.link(id);
    }

    /// Puts entry `id` (stored, indexed) into the tree.
    fn link(&mut self, id: u32) {
        self.len += 1;
        if self.root == NIL {
            let leaf = self.new_leaf();
            self.root = leaf;
            self.height = 0;
        }
        let score = self.scores[id as usize];
        let member = self.members[id as usize].clone();
        if let Some(split) = self.insert_below(self.root, self.height, score, &member, id) {
            let old = self.root;
            let old_count = self.node_count(old, self.height);
            let old_min = self.node_min(old, self.height);
            let root = self.new_inner();
            let inner = &mut self.inners[root as usize];
            inner.len = 2;
            inner.children[0] = old;
            inner.counts[0] = old_count;
            (inner.min_scores[0], inner.min_ids[0]) = old_min;
            inner.children[1] = split.node;
            inner.counts[1] = split.count;
            (inner.min_scores[1], inner.min_ids[1]) = split.min;
            self.root = root;
            self.height += 1;
        }
    }

    fn insert_below(
        &mut self,
        node: u32,
        height: u32,
        score: f64,
        member: &[u8],
        id: u32,
    ) -> Option<Split> {
        if height == 0 {
            let position = self.leaf_position(self.leaf(node), score, member);
            return self.insert_in_leaf(node, position, score, id);
        }
        let child_index = self.child_for(self.inner(node), score, member);
        let child = self.inner(node).children[child_index];
        let split = self.insert_below(child, height - 1, score, member, id);
        let child_min = self.node_min(child, height - 1);
        let child_count = self.node_count(child, height - 1);
        let inner = &mut self.inners[node as usize];
        inner.counts[child_index] = child_count;
        (inner.min_scores[child_index], inner.min_ids[child_index]) = child_min;
        let split = split?;
        self.insert_child(node, child_index + 1, split)
    }

    /// Inserts an entry at `position` of a leaf, splitting a full one; the split-off right half
    /// is returned.
    fn insert_in_leaf(&mut self, node: u32, position: usize, score: f64, id: u32) -> Option<Split> {
        if (self.leaf(node).len as usize) < FANOUT {
            put_at(&mut self.leaves[node as usize], position, score, id);
            return None;
        }
        let right = self.new_leaf();
        let half = FANOUT / 2;
        let (left_leaf, right_leaf) = two_leaves(&mut self.leaves, node, right);
        right_leaf.len = (FANOUT - half) as u32;
        right_leaf.scores[..FANOUT - half].copy_from_slice(&left_leaf.scores[half..]);
        right_leaf.ids[..FANOUT - half].copy_from_slice(&left_leaf.ids[half..]);
        left_leaf.len = half as u32;
        right_leaf.next = left_leaf.next;
        right_leaf.prev = node;
        left_leaf.next = right;
        let after = right_leaf.next;
        if position <= half {
            put_at(left_leaf, position, score, id);
        } else {
            put_at(right_leaf, position - half, score, id);
        }
        if after != NIL {
            self.leaves[after as usize].prev = right;
        }
        let right_leaf = self.leaf(right);
        Some(Split {
            node: right,
            count: right_leaf.len,
            min: (right_leaf.scores[0], right_leaf.ids[0]),
        })
    }

    /// Inserts a child at `position` of an inner node, splitting a full one.
    fn insert_child(&mut self, node: u32, position: usize, child: Split) -> Option<Split> {
        if (self.inner(node).len as usize) < FANOUT {
            put_child(&mut self.inners[node as usize], position, child);
            return None;
        }
        let right = self.new_inner();
        let half = FANOUT / 2;
        let (left_inner, right_inner) = two_inners(&mut self.inners, node, right);
        let moved = FANOUT - half;
        right_inner.len = moved as u32;
        right_inner.counts[..moved].copy_from_slice(&left_inner.counts[half..]);
        right_inner.children[..moved].copy_from_slice(&left_inner.children[half..]);
        right_inner.min_scores[..moved].copy_from_slice(&left_inner.min_scores[half..]);
        right_inner.min_ids[..moved].copy_from_slice(&left_inner.min_ids[half..]);
        left_inner.len = half as u32;
        if position <= half {
            put_child(left_inner, position, child);
        } else {
            put_child(right_inner, position - half, child);
        }
        let right_inner = self.inner(right);
        Some(Split {
            node: right,
            count: right_inner.total() as u32,
            min: (right_inner.min_scores[0], right_inner.min_ids[0]),
        })
    }

    /// Changes the score of a member that is in the set.
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        let id = self.find(member).expect("member is in the set");
        self.unlink(id);
        self.scores[id as usize] = score;
        self.link(id);
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.scores[id as usize];
        self.unlink(id);
        self.release(id);
        self.maybe_compact();
        Some(score)
    }

    /// Takes entry `id` out of the tree (it stays stored and indexed).
    fn unlink(&mut self, id: u32) {
        let score = self.scores[id as usize];
        let member = self.members[id as usize].clone();
        self.remove_below(self.root, self.height, score, &member);
        self.len -= 1;
        if self.len == 0 {
            self.free_node(self.root, self.height);
            self.root = NIL;
            self.height = 0;
            return;
        }
        while self.height > 0 && self.inner(self.root).len == 1 {
            let only = self.inner(self.root).children[0];
            self.free_inners.push(self.root);
            self.root = only;
            self.height -= 1;
        }
    }

    fn free_node(&mut self, node: u32, height: u32) {
        if height == 0 {
            self.free_leaves.push(node);
        } else {
            self.free_inners.push(node);
        }
    }

    /// Removes the key from the subtree at `node`; an emptied child is dropped from its parent.
    fn remove_below(&mut self, node: u32, height: u32, score: f64, member: &[u8]) {
        if height == 0 {
            let leaf = self.leaf(node);
            let position = self.leaf_position(leaf, score, member);
            debug_assert!(position < leaf.len as usize);
            let leaf = &mut self.leaves[node as usize];
            let len = leaf.len as usize;
            leaf.scores.copy_within(position + 1..len, position);
            leaf.ids.copy_within(position + 1..len, position);
            leaf.len -= 1;
            return;
        }
        let child_index = self.child_for(self.inner(node), score, member);
        let child = self.inner(node).children[child_index];
        self.remove_below(child, height - 1, score, member);
        let child_count = self.node_count(child, height - 1);
        if child_count > 0 {
            let child_min = self.node_min(child, height - 1);
            let inner = &mut self.inners[node as usize];
            inner.counts[child_index] = child_count;
            (inner.min_scores[child_index], inner.min_ids[child_index]) = child_min;
            return;
        }
        if height == 1 {
            let (prev, next) = (self.leaf(child).prev, self.leaf(child).next);
            if prev != NIL {
                self.leaves[prev as usize].next = next;
            }
            if next != NIL {
                self.leaves[next as usize].prev = prev;
            }
        }
        self.free_node(child, height - 1);
        let inner = &mut self.inners[node as usize];
        let len = inner.len as usize;
        inner.counts.copy_within(child_index + 1..len, child_index);
        inner
            .children
            .copy_within(child_index + 1..len, child_index);
        inner
            .min_scores
            .copy_within(child_index + 1..len, child_index);
        inner.min_ids.copy_within(child_index + 1..len, child_index);
        inner.len -= 1;
    }

    /// The 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let score = self.scores[id as usize];
        let mut rank = 0;
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = self.inner(node);
            let child_index = self.child_for(inner, score, member);
            rank += inner.counts[..child_index]
                .iter()
                .map(|&c| c as usize)
                .sum::<usize>();
            node = inner.children[child_index];
        }
        Some((
            rank + self.leaf_position(self.leaf(node), score, member),
            score,
        ))
    }

    /// The leaf and position of the entry at `rank` (`rank < len`).
    fn locate(&self, rank: usize) -> (u32, usize) {
        let mut rank = rank;
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = self.inner(node);
            let mut child_index = 0;
            while rank >= inner.counts[child_index] as usize {
                rank -= inner.counts[child_index] as usize;
                child_index += 1;
            }
            node = inner.children[child_index];
        }
        (node, rank)
    }

    /// The member and score at `rank` (0-based, ascending; `rank < len`).
    pub fn get(&self, rank: usize) -> (&[u8], f64) {
        let (leaf, position) = self.locate(rank);
        let leaf = self.leaf(leaf);
        (self.member(leaf.ids[position]), leaf.scores[position])
    }

    /// How many members, from the lowest, satisfy `before`; `before` must hold for a prefix
    /// of the order (every member below some point and none after it).
    pub fn count_prefix(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        if self.root == NIL {
            return 0;
        }
        let mut count = 0;
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = self.inner(node);
            let len = inner.len as usize;
            // The last child whose smallest key satisfies `before` holds the boundary.
            let mut low = 0;
            let mut high = len;
            while low < high {
                let mid = (low + high) / 2;
                if before(self.member(inner.min_ids[mid]), inner.min_scores[mid]) {
                    low = mid + 1;
                } else {
                    high = mid;
                }
            }
            if low == 0 {
                return count;
            }
            count += inner.counts[..low - 1]
                .iter()
                .map(|&c| c as usize)
                .sum::<usize>();
            node = inner.children[low - 1];
        }
        let leaf = self.leaf(node);
        let in_leaf = (0..leaf.len as usize)
            .take_while(|&i| before(self.member(leaf.ids[i]), leaf.scores[i]))
            .count();
        count + in_leaf
    }

    /// Walks the members from `rank` (0-based ascending) upward, or downward when `reverse`.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let (leaf, position) = if rank < self.len {
            self.locate(rank)
        } else {
            (NIL, 0)
        };
        Iter {
            ordered: self,
            leaf,
            position,
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
        let mut removed: Vec<u32> = Vec::with_capacity(count);
        let mut walk = self.iter_from(rank, false);
        for _ in 0..count {
            let Some(id) = walk.next_id() else {
                break;
            };
            removed.push(id);
        }
        let ordered: Box<dyn Iterator<Item = &u32>> = if descending {
            Box::new(removed.iter().rev())
        } else {
            Box::new(removed.iter())
        };
        for &id in ordered {
            each(self.member(id), self.scores[id as usize]);
        }
        if removed.len() * 2 > self.len {
            for &id in &removed {
                self.release(id);
            }
            self.len -= removed.len();
            self.rebuild();
            return;
        }
        for id in removed {
            self.unlink(id);
            self.release(id);
        }
        self.maybe_compact();
    }
}

/// Two distinct leaves, mutably.
fn two_leaves(leaves: &mut [Leaf], a: u32, b: u32) -> (&mut Leaf, &mut Leaf) {
    let (a, b) = (a as usize, b as usize);
    if a < b {
        let (low, high) = leaves.split_at_mut(b);
        (&mut low[a], &mut high[0])
    } else {
        let (low, high) = leaves.split_at_mut(a);
        (&mut high[0], &mut low[b])
    }
}

/// Two distinct inner nodes, mutably.
fn two_inners(inners: &mut [Inner], a: u32, b: u32) -> (&mut Inner, &mut Inner) {
    let (a, b) = (a as usize, b as usize);
    if a < b {
        let (low, high) = inners.split_at_mut(b);
        (&mut low[a], &mut high[0])
    } else {
        let (low, high) = inners.split_at_mut(a);
        (&mut high[0], &mut low[b])
    }
}

fn put_at(leaf: &mut Leaf, position: usize, score: f64, id: u32) {
    let len = leaf.len as usize;
    leaf.scores.copy_within(position..len, position + 1);
    leaf.ids.copy_within(position..len, position + 1);
    leaf.scores[position] = score;
    leaf.ids[position] = id;
    leaf.len += 1;
}

fn put_child(inner: &mut Inner, position: usize, child: Split) {
    let len = inner.len as usize;
    inner.counts.copy_within(position..len, position + 1);
    inner.children.copy_within(position..len, position + 1);
    inner.min_scores.copy_within(position..len, position + 1);
    inner.min_ids.copy_within(position..len, position + 1);
    inner.counts[position] = child.count;
    inner.children[position] = child.node;
    (inner.min_scores[position], inner.min_ids[position]) = child.min;
    inner.len += 1;
}

/// Members and scores in order from a position (see [`Ordered::iter_from`]).
pub struct Iter<'a> {
    ordered: &'a Ordered,
    leaf: u32,
    position: usize,
    reverse: bool,
}

impl Iter<'_> {
    /// The next entry's id.
    fn next_id(&mut self) -> Option<u32> {
        if self.leaf == NIL {
            return None;
        }
        let leaf = self.ordered.leaf(self.leaf);
        let id = leaf.ids[self.position];
        if self.reverse {
            if self.position > 0 {
                self.position -= 1;
            } else {
                self.leaf = leaf.prev;
                if self.leaf != NIL {
                    self.position = self.ordered.leaf(self.leaf).len as usize - 1;
                }
            }
        } else if self.position + 1 < leaf.len as usize {
            self.position += 1;
        } else {
            self.leaf = leaf.next;
            self.position = 0;
        }
        Some(id)
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        let id = self.next_id()?;
        let ordered = self.ordered;
        Some((ordered.member(id), ordered.scores[id as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Ordered {
        /// Checks the tree's invariants: order, counts, smallest keys, links, index.
        pub(crate) fn check(&self) {
            let mut ids = Vec::new();
            if self.root != NIL {
                self.check_node(self.root, self.height, &mut ids);
            }
            assert_eq!(ids.len(), self.len());
            assert_eq!(self.index.len(), self.len());
            assert_eq!(self.members.len(), self.len() + self.free.len());
            for pair in ids.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                assert_eq!(
                    compare(
                        self.scores[a as usize],
                        self.member(a),
                        self.scores[b as usize],
                        self.member(b)
                    ),
                    Ordering::Less
                );
            }
            for &id in &ids {
                assert_eq!(self.find(self.member(id)), Some(id));
            }
            let walked: Vec<u32> = {
                let mut walk = self.iter_from(0, false);
                std::iter::from_fn(|| walk.next_id()).collect()
            };
            assert_eq!(walked, ids);
        }

        /// Collects a subtree's ids in order; returns its count and smallest key.
        fn check_node(&self, node: u32, height: u32, ids: &mut Vec<u32>) -> (usize, (f64, u32)) {
            if height == 0 {
                let leaf = self.leaf(node);
                assert!(leaf.len > 0 && leaf.len as usize <= FANOUT);
                for i in 0..leaf.len as usize {
                    assert_eq!(leaf.scores[i], self.scores[leaf.ids[i] as usize]);
                    ids.push(leaf.ids[i]);
                }
                return (leaf.len as usize, (leaf.scores[0], leaf.ids[0]));
            }
            let inner = self.inner(node);
            assert!(inner.len > 0 && inner.len as usize <= FANOUT);
            let mut total = 0;
            for i in 0..inner.len as usize {
                let (count, min) = self.check_node(inner.children[i], height - 1, ids);
                assert_eq!(count, inner.counts[i] as usize);
                assert_eq!(min.1, inner.min_ids[i]);
                assert_eq!(min.0, inner.min_scores[i]);
                total += count;
            }
            (total, (inner.min_scores[0], inner.min_ids[0]))
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
        let arena = set.members.len();
        let survivors: Vec<(u64, Vec<u8>)> = model.iter().skip(1).step_by(10).cloned().collect();
        let removed: BTreeSet<(u64, Vec<u8>)> = model
            .difference(&survivors.iter().cloned().collect())
            .cloned()
            .collect();
        for (_, member) in &removed {
            set.remove(member);
        }
        set.check();
        assert!(set.members.len() < arena / 2);
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

    /// A scan returns every member present throughout, while others come and go and the set is
    /// rebuilt under it.
    #[test]
    fn scan_survives_changes_and_rebuilds() {
        let mut set = Ordered::default();
        for i in 0..3000u32 {
            set.insert(format!("m{i}").as_bytes(), f64::from(i % 7));
        }
        let mut found = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = set.scan(cursor, 25, |member, _| {
                found.insert(member.to_vec());
            });
            steps += 1;
            // Remove most of the odd members (forcing rebuilds) and add new ones.
            for i in (steps * 13 % 2)..3000 {
                if i % 2 == 1 && (i + steps) % 3 != 0 {
                    set.remove(format!("m{i}").as_bytes());
                }
            }
            for i in 0..20 {
                set.insert(format!("new{steps}-{i}").as_bytes(), 1.0);
            }
            if cursor == 0 {
                break;
            }
        }
        set.check();
        assert!(steps > 10);
        for i in (0..3000).step_by(2) {
            assert!(found.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
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
