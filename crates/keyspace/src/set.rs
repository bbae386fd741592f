//! Sets: one value type in three shapes, named as Valkey names them.
//!
//! `OBJECT ENCODING` tells clients which internal form a set has, and Valkey's replies depend on
//! it too: an `intset` is kept sorted, so SMEMBERS, SSCAN and SUNION of integer sets come back in
//! ascending order, and a `listpack` keeps insertion order. Tern keeps the same three shapes so
//! those orders and the encoding names match:
//!
//! - `Intset`: a sorted, exactly sized array of `i64`, used while every member is an integer in
//!   Valkey's strict syntax and there are at most `set-max-intset-entries`. Lookups are binary
//!   searches.
//! - `Listpack`: a [`Pack`] of members in insertion order, while there are at most
//!   `set-max-listpack-entries` and none is longer than `set-max-listpack-value` bytes. Lookups
//!   scan the pack, which is short.
//! - `Hashtable`: an insertion-ordered hash set, so a random member is one index away (SPOP and
//!   SRANDMEMBER stay O(1) per member); removal swaps the last member into the hole.
//!
//! Conversions go only upward (intset → listpack → hashtable, or intset → hashtable), on the same
//! additions that convert in Valkey; removals never convert back. The one exception is Valkey's
//! own: SPOP with a count close to the size rebuilds a hashtable set from the members it keeps,
//! which may land in a listpack ([`SetValue::pop_many`]).
//!
//! The small shapes are one allocation each and are stored in the entry itself (no box), so a
//! ten-member set costs its key's entry plus one packed buffer. The thresholds are read from
//! [`crate::limits`] at each addition.

use indexmap::IndexSet;
use rand::Rng;

use crate::bytes::{CompactBytes, ThinSlice};
use crate::limits::{set_max_intset_entries, set_max_listpack_entries, set_max_listpack_value};
use crate::num::{format_i64, parse_i64};
use crate::pack::{Pack, PackIter};

type HashSet = IndexSet<CompactBytes, hashbrown::DefaultHashBuilder>;

#[derive(Clone, Debug)]
pub enum SetValue {
    Intset(ThinSlice<i64>),
    Listpack(Pack),
    Hashtable(Box<HashSet>),
}

/// One member as stored: an integer, or bytes.
pub use crate::pack::PackItem as Member;

impl PartialEq for SetValue {
    /// Equal when the encodings and the members are (order matters only where the encoding
    /// defines one).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SetValue::Intset(a), SetValue::Intset(b)) => a == b,
            (SetValue::Listpack(a), SetValue::Listpack(b)) => a == b,
            (SetValue::Hashtable(a), SetValue::Hashtable(b)) => {
                a.len() == b.len() && a.iter().all(|m| b.contains(m))
            }
            _ => false,
        }
    }
}

fn new_hashtable(capacity: usize) -> Box<HashSet> {
    Box::new(HashSet::with_capacity_and_hasher(
        capacity,
        Default::default(),
    ))
}

/// `numbers` with `number` inserted at `position`, exactly sized.
fn inserted(numbers: &[i64], position: usize, number: i64) -> ThinSlice<i64> {
    let mut grown = Vec::with_capacity(numbers.len() + 1);
    grown.extend_from_slice(&numbers[..position]);
    grown.push(number);
    grown.extend_from_slice(&numbers[position..]);
    grown.into()
}

/// `numbers` without the one at `position`, exactly sized.
fn removed(numbers: &[i64], position: usize) -> ThinSlice<i64> {
    let mut shrunk = Vec::with_capacity(numbers.len() - 1);
    shrunk.extend_from_slice(&numbers[..position]);
    shrunk.extend_from_slice(&numbers[position + 1..]);
    shrunk.into()
}

/// A set's members in iteration order.
pub enum SetIter<'a> {
    Intset(std::slice::Iter<'a, i64>),
    Listpack(PackIter<'a>),
    Hashtable(indexmap::set::Iter<'a, CompactBytes>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    #[inline]
    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Intset(numbers) => numbers.next().map(|n| Member::Int(*n)),
            SetIter::Listpack(items) => items.next(),
            SetIter::Hashtable(members) => members.next().map(|m| Member::Bytes(m)),
        }
    }
}

impl SetValue {
    /// An empty set that starts as an intset (the result of SINTERSTORE and its kin is built
    /// this way, member by member).
    pub fn empty() -> SetValue {
        SetValue::Intset(ThinSlice::default())
    }

    /// An empty hashtable set (SUNION and SDIFF collect into one unless every input is an
    /// intset, so their replies come in a hashtable's order then, as Valkey's do).
    pub fn empty_hashtable() -> SetValue {
        SetValue::Hashtable(new_hashtable(0))
    }

    /// An empty set sized for `size_hint` members of which `first` is one, in the encoding
    /// Valkey creates for it (SADD passes its member count, duplicates included).
    pub fn for_first(first: Option<&[u8]>, size_hint: usize) -> SetValue {
        if first.is_some_and(|m| parse_i64(m).is_some()) && size_hint <= set_max_intset_entries() {
            SetValue::Intset(ThinSlice::default())
        } else if size_hint <= set_max_listpack_entries() {
            SetValue::Listpack(Pack::new())
        } else {
            SetValue::Hashtable(new_hashtable(size_hint))
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Listpack(_) => "listpack",
            SetValue::Hashtable(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(members) => members.len(),
            SetValue::Listpack(members) => members.len(),
            SetValue::Hashtable(members) => members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(members) => {
                parse_i64(member).is_some_and(|n| members.binary_search(&n).is_ok())
            }
            SetValue::Listpack(members) => members.position(member).is_some(),
            SetValue::Hashtable(members) => members.contains(member),
        }
    }

    /// The member at `index` of the set's iteration order (`index < len`); O(index) for a
    /// listpack, O(1) otherwise.
    #[inline]
    pub fn get(&self, index: usize) -> Member<'_> {
        match self {
            SetValue::Intset(members) => Member::Int(members[index]),
            SetValue::Listpack(members) => members.get(index).expect("index below len"),
            SetValue::Hashtable(members) => {
                Member::Bytes(members.get_index(index).expect("index below len"))
            }
        }
    }

    /// Every member in iteration order: ascending for an intset, insertion order for a listpack.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            SetValue::Intset(members) => SetIter::Intset(members.iter()),
            SetValue::Listpack(members) => SetIter::Listpack(members.iter()),
            SetValue::Hashtable(members) => SetIter::Hashtable(members.iter()),
        }
    }

    /// Adds a member; returns whether it was new. Converts upward when Valkey would.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(members) => {
                if let Some(number) = parse_i64(member) {
                    let Err(position) = members.binary_search(&number) else {
                        return false;
                    };
                    *members = inserted(members, position, number);
                    if members.len() > set_max_intset_entries() {
                        self.convert_to_hashtable(0);
                    }
                    return true;
                }
                if members.len() < set_max_listpack_entries()
                    && member.len() <= set_max_listpack_value()
                {
                    let texts: Vec<Vec<u8>> = members
                        .iter()
                        .map(|number| format_i64(*number, &mut [0; 20]).to_vec())
                        .collect();
                    let texts = texts.iter().map(Vec::as_slice);
                    *self = SetValue::Listpack(Pack::from_items(texts.chain([member])));
                } else {
                    self.convert_to_hashtable(1);
                    self.insert(member);
                }
                true
            }
            SetValue::Listpack(members) => {
                if members.position(member).is_some() {
                    return false;
                }
                if members.len() < set_max_listpack_entries()
                    && member.len() <= set_max_listpack_value()
                {
                    members.push_back(member);
                } else {
                    self.convert_to_hashtable(1);
                    self.insert(member);
                }
                true
            }
            SetValue::Hashtable(members) => {
                if members.contains(member) {
                    return false;
                }
                members.insert(CompactBytes::new(member))
            }
        }
    }

    fn convert_to_hashtable(&mut self, extra: usize) {
        let mut table = new_hashtable(self.len() + extra);
        for member in self.iter() {
            table.insert(CompactBytes::new(member.bytes(&mut [0; 20])));
        }
        *self = SetValue::Hashtable(table);
    }

    /// Removes a member; returns whether it was there. Never changes the encoding.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(members) => {
                match parse_i64(member).and_then(|n| members.binary_search(&n).ok()) {
                    Some(position) => {
                        *members = removed(members, position);
                        true
                    }
                    None => false,
                }
            }
            SetValue::Listpack(members) => match members.position(member) {
                Some(position) => {
                    members.remove(position);
                    true
                }
                None => false,
            },
            SetValue::Hashtable(members) => members.swap_remove(member),
        }
    }

    fn remove_index(&mut self, index: usize) -> Vec<u8> {
        match self {
            SetValue::Intset(members) => {
                let number = members[index];
                *members = removed(members, index);
                format_i64(number, &mut [0; 20]).to_vec()
            }
            SetValue::Listpack(members) => {
                let member = members.get(index).expect("index below len").to_vec();
                members.remove(index);
                member
            }
            SetValue::Hashtable(members) => members
                .swap_remove_index(index)
                .expect("index below len")
                .to_vec(),
        }
    }

    /// One SSCAN step: visits members and returns the next cursor (0 when done). An intset or a
    /// listpack is visited whole. A hashtable is read downward from the top position in steps
    /// of `count` positions: removal moves only the last member into the hole, and additions
    /// go to the end, so a member present for the whole scan is visited at least once.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'a>)) -> u64 {
        let SetValue::Hashtable(members) = self else {
            self.iter().for_each(visit);
            return 0;
        };
        let len = members.len();
        let end = match usize::try_from(cursor) {
            Ok(0) | Err(_) => len,
            Ok(cursor) => cursor.min(len),
        };
        let start = end.saturating_sub(count.max(1));
        for index in (start..end).rev() {
            visit(Member::Bytes(
                members.get_index(index).expect("index below len"),
            ));
        }
        start as u64
    }

    /// A uniformly random member of a non-empty set.
    pub fn random_member(&self, rng: &mut impl Rng) -> Member<'_> {
        self.get(rng.random_range(0..self.len()))
    }

    /// Removes and returns a uniformly random member of a non-empty set.
    pub fn pop(&mut self, rng: &mut impl Rng) -> Vec<u8> {
        let index = rng.random_range(0..self.len());
        self.remove_index(index)
    }

    /// Removes and returns `count` distinct random members, `0 < count < len` (SPOP with a
    /// count). As Valkey does, when few members would remain (five times fewer than are taken)
    /// the set is rebuilt from the ones it keeps: an intset or a listpack keeps its encoding
    /// and order, a hashtable is recreated from the kept members as a new set sized for them
    /// (a listpack when they fit one, whatever they are), in random order.
    pub fn pop_many(&mut self, count: usize, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        let len = self.len();
        debug_assert!(count > 0 && count < len);
        let remaining = len - count;
        if remaining * 5 > count {
            return (0..count).map(|_| self.pop(rng)).collect();
        }
        let mut keep = vec![false; len];
        let kept_order = rand::seq::index::sample(rng, len, remaining);
        for index in kept_order.iter() {
            keep[index] = true;
        }
        let popped: Vec<Vec<u8>> = self
            .iter()
            .zip(&keep)
            .filter(|(_, keep)| !**keep)
            .map(|(member, _)| member.to_vec())
            .collect();
        let rebuilt = match self {
            SetValue::Listpack(members) => {
                let kept: Vec<Vec<u8>> = members
                    .iter()
                    .zip(&keep)
                    .filter(|(_, keep)| **keep)
                    .map(|(member, _)| member.to_vec())
                    .collect();
                *members = Pack::from_items(kept.iter().map(Vec::as_slice));
                return popped;
            }
            SetValue::Intset(members) => {
                let kept: Vec<i64> = members
                    .iter()
                    .zip(&keep)
                    .filter(|(_, keep)| **keep)
                    .map(|(number, _)| *number)
                    .collect();
                *members = kept.into();
                return popped;
            }
            SetValue::Hashtable(_) => {
                let mut rebuilt = SetValue::for_first(None, remaining);
                for index in kept_order.iter() {
                    rebuilt.insert(self.get(index).bytes(&mut [0; 20]));
                }
                rebuilt
            }
        };
        *self = rebuilt;
        popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::HashSet as ModelSet;

    /// The encoding the model expects after a history of additions, tracked alongside: the
    /// level only goes up on additions (0 intset, 1 listpack, 2 hashtable).
    fn level(name: &str) -> u8 {
        match name {
            "intset" => 0,
            "listpack" => 1,
            _ => 2,
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop,
        PopMany(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0i64..700).prop_map(|n| n.to_string().into_bytes()),
            (-5i64..5).prop_map(|n| n.to_string().into_bytes()),
            Just(b"007".to_vec()),
            Just(b"-0".to_vec()),
            "[a-d]{1,3}".prop_map(String::into_bytes),
            (60usize..70).prop_map(|n| vec![b'x'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Remove),
            1 => Just(Op::Pop),
            1 => (1usize..400).prop_map(Op::PopMany),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 1..1500), seed in any::<u64>()) {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut set: Option<SetValue> = None;
            let mut model: ModelSet<Vec<u8>> = ModelSet::new();
            for op in ops {
                match op {
                    Op::Add(m) => {
                        let value = set.get_or_insert_with(|| SetValue::for_first(Some(&m), 1));
                        let before = level(value.encoding_name());
                        prop_assert_eq!(value.insert(&m), model.insert(m.clone()));
                        let after = level(value.encoding_name());
                        prop_assert!(after >= before);
                    }
                    Op::Remove(m) => {
                        if let Some(value) = set.as_mut() {
                            let name = value.encoding_name();
                            prop_assert_eq!(value.remove(&m), model.remove(&m));
                            prop_assert_eq!(value.encoding_name(), name);
                        }
                    }
                    Op::Pop => {
                        if let Some(value) = set.as_mut() {
                            let popped = value.pop(&mut rng);
                            prop_assert!(model.remove(&popped));
                        }
                    }
                    Op::PopMany(count) => {
                        if let Some(value) = set.as_mut() {
                            if count < value.len() {
                                let popped = value.pop_many(count, &mut rng);
                                prop_assert_eq!(popped.len(), count);
                                for m in popped {
                                    prop_assert!(model.remove(&m));
                                }
                            }
                        }
                    }
                }
                if set.as_ref().is_some_and(SetValue::is_empty) {
                    set = None;
                }
                let value = match set.as_ref() {
                    Some(value) => value,
                    None => {
                        prop_assert!(model.is_empty());
                        continue;
                    }
                };
                prop_assert_eq!(value.len(), model.len());
                let members: Vec<Vec<u8>> = value.iter().map(|m| m.to_vec()).collect();
                let unique: ModelSet<Vec<u8>> = members.iter().cloned().collect();
                prop_assert_eq!(&unique, &model);
                prop_assert_eq!(unique.len(), members.len());
                for m in &model {
                    prop_assert!(value.contains(m));
                }
                match value {
                    SetValue::Intset(numbers) => {
                        prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]));
                        prop_assert!(numbers.len() <= set_max_intset_entries());
                    }
                    SetValue::Listpack(list) => {
                        prop_assert!(list.len() <= set_max_listpack_entries());
                        prop_assert!(list.iter().all(|m| m.text_len() <= set_max_listpack_value()));
                    }
                    SetValue::Hashtable(_) => {}
                }
            }
        }
    }

    #[test]
    fn conversions_follow_valkey() {
        let build = |members: &[&str]| {
            let mut set = SetValue::for_first(Some(members[0].as_bytes()), members.len());
            for m in members {
                set.insert(m.as_bytes());
            }
            set
        };
        assert_eq!(build(&["3", "1", "2"]).encoding_name(), "intset");
        let mixed = build(&["3", "1", "a"]);
        assert_eq!(mixed.encoding_name(), "listpack");
        let order: Vec<Vec<u8>> = mixed.iter().map(|m| m.to_vec()).collect();
        assert_eq!(order, vec![b"1".to_vec(), b"3".to_vec(), b"a".to_vec()]);
        assert_eq!(build(&["a", "1"]).encoding_name(), "listpack");
        assert_eq!(build(&["1", &"x".repeat(65)]).encoding_name(), "hashtable");
        assert_eq!(build(&["1", &"x".repeat(64)]).encoding_name(), "listpack");
        let ints: Vec<String> = (0..513).map(|n| n.to_string()).collect();
        let refs: Vec<&str> = ints.iter().map(String::as_str).collect();
        assert_eq!(build(&refs[..512]).encoding_name(), "intset");
        let mut set = build(&refs[..512]);
        set.insert(b"512");
        assert_eq!(set.encoding_name(), "hashtable");
        let words: Vec<String> = (0..129).map(|n| format!("m{n}")).collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut set = build(&refs[..128]);
        assert_eq!(set.encoding_name(), "listpack");
        set.insert(b"m128");
        assert_eq!(set.encoding_name(), "hashtable");
        set.remove(b"m1");
        assert_eq!(set.encoding_name(), "hashtable");
    }
}
