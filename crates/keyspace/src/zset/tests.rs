//! The sorted set against a simple model (a `BTreeMap` from member to score, sorted by score on
//! demand), over random operation sequences that cross the listpack limits both ways.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::SeedableRng;

use super::*;

#[derive(Clone, Debug)]
enum Op {
    Add(Vec<u8>, f64, AddFlags),
    Remove(Vec<u8>),
    RemoveRanks(usize, usize),
    RemoveScores(f64, f64, bool, bool),
    Pop(usize, bool),
    /// Rebuilds the set from its entries, as the STORE commands do (may go back to listpack).
    Rebuild,
}

#[derive(Default)]
struct Model {
    scores: BTreeMap<Vec<u8>, f64>,
}

fn order(a: &(Vec<u8>, f64), b: &(Vec<u8>, f64)) -> Ordering {
    a.1.partial_cmp(&b.1)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.0.cmp(&b.0))
}

impl Model {
    fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
        let mut entries: Vec<(Vec<u8>, f64)> =
            self.scores.iter().map(|(m, s)| (m.clone(), *s)).collect();
        entries.sort_by(order);
        entries
    }

    fn add(&mut self, member: &[u8], score: f64, flags: AddFlags) -> AddOutcome {
        match self.scores.get(member).copied() {
            None if flags.xx => AddOutcome::Skipped,
            None => {
                self.scores.insert(member.to_vec(), score);
                AddOutcome::Added(score)
            }
            Some(_) if flags.nx => AddOutcome::Skipped,
            Some(current) => {
                let new = if flags.incr { current + score } else { score };
                if new.is_nan() {
                    return AddOutcome::NotANumber;
                }
                if (flags.lt && new >= current) || (flags.gt && new <= current) {
                    return AddOutcome::Skipped;
                }
                if new == current {
                    return AddOutcome::Unchanged(new);
                }
                self.scores.insert(member.to_vec(), new);
                AddOutcome::Updated(new)
            }
        }
    }
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (0u32..300).prop_map(|n| format!("m{n}").into_bytes()),
        2 => (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
        1 => Just(b"007".to_vec()),
        1 => Just(Vec::new()),
        1 => (60usize..70).prop_map(|n| vec![b'x'; n]),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-50i32..50).prop_map(f64::from),
        3 => (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.1),
        1 => Just(1e300),
    ]
}

fn flags() -> impl Strategy<Value = AddFlags> {
    (0u8..8, any::<bool>()).prop_map(|(kind, incr)| {
        let mut flags = AddFlags {
            incr,
            ..AddFlags::default()
        };
        match kind {
            1 => flags.nx = true,
            2 => flags.xx = true,
            3 => flags.gt = true,
            4 => flags.lt = true,
            5 => {
                flags.xx = true;
                flags.gt = true;
            }
            _ => {}
        }
        flags
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (member(), score(), flags()).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        5 => member().prop_map(Op::Remove),
        1 => (0usize..200, 0usize..200).prop_map(|(a, b)| Op::RemoveRanks(a, b)),
        1 => (score(), score(), any::<bool>(), any::<bool>())
            .prop_map(|(a, b, x, y)| Op::RemoveScores(a, b, x, y)),
        1 => (1usize..60, any::<bool>()).prop_map(|(n, h)| Op::Pop(n, h)),
        1 => Just(Op::Rebuild),
    ]
}

fn range(min: f64, max: f64, min_exclusive: bool, max_exclusive: bool) -> ScoreRange {
    ScoreRange {
        min,
        max,
        min_exclusive,
        max_exclusive,
    }
}

fn owned(entries: Vec<Scored<'_>>) -> Vec<(Vec<u8>, f64)> {
    entries.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

fn same(a: &[(Vec<u8>, f64)], b: &[(Vec<u8>, f64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1 == y.1)
}

/// Checks every read of `set` against the model's sorted entries.
fn check_reads(set: &ZSetValue, model: &Model) -> Result<(), TestCaseError> {
    let sorted = model.sorted();
    prop_assert_eq!(set.len(), sorted.len());
    prop_assert!(same(&owned(set.iter().collect()), &sorted));
    if let ZSetValue::Skiplist(ordered) = set {
        ordered.check();
    }
    for (rank, (member, score)) in sorted.iter().enumerate().step_by(7) {
        prop_assert_eq!(set.score(member), Some(*score));
        prop_assert_eq!(set.rank(member), Some((rank, *score)));
    }
    prop_assert_eq!(set.score(b"absent"), None);
    let len = sorted.len();
    if len > 0 {
        let (start, end) = (len / 4, len - 1 - len / 5);
        prop_assert!(same(
            &owned(set.by_rank(start, end, false)),
            &sorted[start..=end]
        ));
        let reversed: Vec<_> = sorted.iter().rev().cloned().collect();
        prop_assert!(same(
            &owned(set.by_rank(start, end, true)),
            &reversed[start..=end]
        ));
    }
    for (min, max, offset, limit) in [(-10.0, 10.0, 0, -1), (-5.0, 30.0, 3, 4), (0.0, 0.0, 0, 2)] {
        for (min_ex, max_ex) in [(false, false), (true, false), (false, true)] {
            let r = range(min, max, min_ex, max_ex);
            let inside: Vec<(Vec<u8>, f64)> = sorted
                .iter()
                .filter(|(_, s)| r.above_min(*s) && r.below_max(*s))
                .cloned()
                .collect();
            prop_assert_eq!(set.count_by_score(&r), inside.len());
            let take = if limit < 0 {
                usize::MAX
            } else {
                limit as usize
            };
            let forward: Vec<_> = inside.iter().skip(offset).take(take).cloned().collect();
            prop_assert!(same(
                &owned(set.by_score(&r, offset as i64, limit, false)),
                &forward
            ));
            let backward: Vec<_> = inside
                .iter()
                .rev()
                .skip(offset)
                .take(take)
                .cloned()
                .collect();
            prop_assert!(same(
                &owned(set.by_score(&r, offset as i64, limit, true)),
                &backward
            ));
        }
    }
    Ok(())
}

/// The encoding the model expects: a listpack only while every insertion kept it small.
fn expected_skiplist(was_skiplist: bool, model: &Model) -> bool {
    was_skiplist
        || model.scores.len() > limits::zset_max_listpack_entries()
        || model
            .scores
            .keys()
            .any(|m| m.len() > limits::zset_max_listpack_value())
}

fn rebuilt(set: &ZSetValue) -> ZSetValue {
    let entries = owned(set.iter().collect());
    let refs: Vec<(&[u8], f64)> = entries.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
    ZSetValue::from_sorted(&refs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_a_model(ops in proptest::collection::vec(op(), 1..600)) {
        let mut set: Option<ZSetValue> = None;
        let mut model = Model::default();
        let mut skiplist = false;
        for op in ops {
            match op {
                Op::Add(member, score, flags) => {
                    let value = set.get_or_insert_with(|| ZSetValue::for_size(1, member.len()));
                    let outcome = value.add(&member, score, flags);
                    prop_assert_eq!(outcome, model.add(&member, score, flags));
                    skiplist = expected_skiplist(skiplist, &model);
                }
                Op::Remove(member) => {
                    if let Some(value) = set.as_mut() {
                        prop_assert_eq!(value.remove(&member), model.scores.remove(&member).is_some());
                    }
                }
                Op::RemoveRanks(a, b) => {
                    if let Some(value) = set.as_mut() {
                        let len = value.len();
                        let (start, end) = (a.min(b).min(len - 1), a.max(b).min(len - 1));
                        for (member, _) in &model.sorted()[start..=end] {
                            model.scores.remove(member);
                        }
                        prop_assert_eq!(value.remove_by_rank(start, end), end - start + 1);
                    }
                }
                Op::RemoveScores(min, max, min_ex, max_ex) => {
                    if let Some(value) = set.as_mut() {
                        let r = range(min, max, min_ex, max_ex);
                        let before = model.scores.len();
                        model.scores.retain(|_, s| !(r.above_min(*s) && r.below_max(*s)));
                        prop_assert_eq!(value.remove_by_score(&r), before - model.scores.len());
                    }
                }
                Op::Pop(count, highest) => {
                    if let Some(value) = set.as_mut() {
                        let mut expected = model.sorted();
                        if highest {
                            expected.reverse();
                        }
                        expected.truncate(count);
                        for (member, _) in &expected {
                            model.scores.remove(member);
                        }
                        prop_assert!(same(&value.pop(count, highest), &expected));
                    }
                }
                Op::Rebuild => {
                    if let Some(value) = set.as_mut() {
                        *value = rebuilt(value);
                        skiplist = expected_skiplist(false, &model);
                    }
                }
            }
            if set.as_ref().is_some_and(ZSetValue::is_empty) {
                set = None;
                skiplist = false;
            }
            let Some(value) = set.as_ref() else {
                prop_assert!(model.scores.is_empty());
                continue;
            };
            prop_assert_eq!(value.encoding_name(), if skiplist { "skiplist" } else { "listpack" });
            check_reads(value, &model)?;
        }
    }

    /// Lex ranges over members of one score agree with a filter of the sorted members, in both
    /// encodings.
    #[test]
    fn lex_ranges_match(members in proptest::collection::btree_set("[a-e]{0,3}", 1..200),
                        bounds in proptest::collection::vec(("[-+(\\[][a-e]{0,2}", "[-+(\\[][a-e]{0,2}", -2i64..4, -1i64..5), 10)) {
        let members: Vec<Vec<u8>> = members.into_iter().map(String::into_bytes).collect();
        let entries: Vec<(&[u8], f64)> = members.iter().map(|m| (m.as_slice(), 0.0)).collect();
        let small = ZSetValue::Listpack(match ZSetValue::from_sorted(&entries[..entries.len().min(100)]) {
            ZSetValue::Listpack(pack) => pack,
            ZSetValue::Skiplist(_) => unreachable!("100 short members fit a listpack"),
        });
        let large = ZSetValue::Skiplist(Box::new(Ordered::from_sorted(entries.iter().copied())));
        for value in [&small, &large] {
            let all: Vec<Vec<u8>> = value.iter().map(|(m, _)| m.to_vec()).collect();
            for (min, max, offset, limit) in &bounds {
                let Some(r) = LexRange::parse(min.as_bytes(), max.as_bytes()) else { continue };
                let inside: Vec<Vec<u8>> = all.iter().filter(|m| r.above_min(m) && r.below_max(m)).cloned().collect();
                prop_assert_eq!(value.count_by_lex(&r), inside.len());
                if *offset >= 0 {
                    let take = if *limit < 0 { usize::MAX } else { *limit as usize };
                    let expected: Vec<Vec<u8>> = inside.iter().skip(*offset as usize).take(take).cloned().collect();
                    let got: Vec<Vec<u8>> = value.by_lex(&r, *offset, *limit, false).iter().map(|(m, _)| m.to_vec()).collect();
                    prop_assert_eq!(got, expected);
                }
                let mut copy = value.clone();
                prop_assert_eq!(copy.remove_by_lex(&r), inside.len());
                prop_assert_eq!(copy.len(), all.len() - inside.len());
            }
        }
    }
}

#[test]
fn conversions_follow_valkey() {
    let mut set = ZSetValue::for_size(3, 5);
    assert_eq!(set.encoding_name(), "listpack");
    for i in 0..128 {
        set.add(
            format!("m{i}").as_bytes(),
            f64::from(i),
            AddFlags::default(),
        );
    }
    assert_eq!(set.encoding_name(), "listpack");
    set.add(b"m0", 5.0, AddFlags::default());
    assert_eq!(set.encoding_name(), "listpack");
    set.add(b"m128", 5.0, AddFlags::default());
    assert_eq!(set.encoding_name(), "skiplist");
    set.remove(b"m128");
    assert_eq!(set.encoding_name(), "skiplist");
    assert_eq!(rebuilt(&set).encoding_name(), "listpack");
    assert_eq!(ZSetValue::for_size(129, 1).encoding_name(), "skiplist");
    assert_eq!(ZSetValue::for_size(1, 65).encoding_name(), "skiplist");
    let mut long = ZSetValue::for_size(1, 64);
    long.add(&[b'x'; 64], 1.0, AddFlags::default());
    assert_eq!(long.encoding_name(), "listpack");
    long.add(&[b'y'; 65], 1.0, AddFlags::default());
    assert_eq!(long.encoding_name(), "skiplist");
    let mut hinted = ZSetValue::for_size(1, 1);
    hinted.add(b"a", 1.0, AddFlags::default());
    hinted.prepare_growth(129, 1);
    assert_eq!(hinted.encoding_name(), "skiplist");
}

#[test]
fn listpack_stores_scores_as_valkey_does() {
    let mut set = ZSetValue::for_size(1, 1);
    for (member, score) in [(&b"a"[..], -0.0), (b"b", 1.5), (b"c", 1e20), (b"d", 7.0)] {
        set.add(member, score, AddFlags::default());
    }
    let ZSetValue::Listpack(pack) = &set else {
        panic!("small set")
    };
    let texts: Vec<Vec<u8>> = pack.iter().map(|item| item.to_vec()).collect();
    let expected: Vec<&[u8]> = vec![b"a", b"0", b"b", b"1.5", b"d", b"7", b"c", b"1e+20"];
    assert_eq!(texts, expected);
    assert!(matches!(pack.get(5), Some(PackItem::Int(7))));
    assert!(set.score(b"a").is_some_and(|s| s.is_sign_positive()));
}

#[test]
fn negative_offsets_per_encoding() {
    let entries: Vec<(Vec<u8>, f64)> = (0..10).map(|i| (vec![b'a' + i], f64::from(i))).collect();
    let refs: Vec<(&[u8], f64)> = entries.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
    let small = ZSetValue::from_sorted(&refs);
    let large = ZSetValue::Skiplist(Box::new(Ordered::from_sorted(refs.iter().copied())));
    let r = range(2.0, 6.0, false, false);
    // A listpack walks off its end; a skiplist counts back from the top of the range.
    assert!(small.by_score(&r, -1, -1, false).is_empty());
    let members = |v: Vec<Scored<'_>>| v.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        members(large.by_score(&r, -1, -1, false)),
        vec![b"g".to_vec()]
    );
    assert_eq!(
        members(large.by_score(&r, -2, -1, false)),
        vec![b"f".to_vec(), b"g".to_vec()]
    );
    assert_eq!(
        members(large.by_score(&r, -1, -1, true)),
        vec![b"c".to_vec()]
    );
    assert!(large.by_score(&r, -6, -1, false).is_empty());
}

#[test]
fn random_picks() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    for size in [10usize, 300] {
        let entries: Vec<(Vec<u8>, f64)> = (0..size)
            .map(|i| (format!("m{i:04}").into_bytes(), i as f64))
            .collect();
        let refs: Vec<(&[u8], f64)> = entries.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        let set = ZSetValue::from_sorted(&refs);
        let (member, score) = set.random_entry(&mut rng);
        assert_eq!(set.score(&member.to_vec()), Some(score));
        let picks = set.random_distinct(size / 2, &mut rng);
        let mut seen: Vec<Vec<u8>> = picks.iter().map(|(m, _)| m.to_vec()).collect();
        if set.encoding_name() == "listpack" {
            assert!(seen.windows(2).all(|w| w[0] < w[1]));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), size / 2);
    }
}
