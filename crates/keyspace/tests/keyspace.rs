//! Behaviour of the keyspace through its public API: expiry bookkeeping, scans, swaps.

use std::collections::HashSet;

use tern_keyspace::{key_slot, ExpireUpdate, Keyspace, OwnedEntry, StrValue, Value};

fn string(text: &str) -> OwnedEntry {
    OwnedEntry::new(Value::Str(StrValue::for_key(text.as_bytes(), 1, false)), 0)
}

#[test]
fn lazy_expiry_and_volatile_counts() {
    let keyspace = Keyspace::new(2);
    let db = keyspace.db(0);
    {
        let mut table = db.lock_key(b"a");
        table.insert(b"a", string("1"), ExpireUpdate::At(1000));
        assert_eq!(table.volatile_len(), 1);
        // Replacing with KEEPTTL keeps the expiry; a plain write clears it.
        table.insert(b"a", string("2"), ExpireUpdate::Keep);
        assert_eq!(table.volatile_len(), 1);
        assert!(table.get(b"a", 1000).is_some(), "alive at its expiry time");
        assert!(table.get(b"a", 1001).is_none(), "gone after it");
        assert_eq!(table.volatile_len(), 0);
        assert_eq!(table.len(), 0);
    }
    assert_eq!(db.len(), 0);
}

#[test]
fn active_expiry_removes_only_expired_keys() {
    let keyspace = Keyspace::new(1);
    let db = keyspace.db(0);
    for i in 0..1000 {
        let key = format!("k{i}");
        let expire = if i % 2 == 0 {
            ExpireUpdate::At(10)
        } else {
            ExpireUpdate::Clear
        };
        db.lock_key(key.as_bytes())
            .insert(key.as_bytes(), string("v"), expire);
    }
    assert_eq!((db.len(), db.volatile_len()), (1000, 500));
    let removed: usize = (0..tern_keyspace::SLOT_COUNT)
        .map(|slot| db.expire_slot(slot, 11).1)
        .sum();
    assert_eq!(removed, 500);
    assert_eq!((db.len(), db.volatile_len()), (500, 0));
}

#[test]
fn one_big_slot_expires_in_bounded_steps() {
    let keyspace = Keyspace::new(1);
    let db = keyspace.db(0);
    let slot = key_slot(b"{tag}");
    // 3000 keys in one slot: two in three expire at 10, the others later or never.
    for i in 0..3000 {
        let key = format!("{{tag}}{i}");
        let expire = match i % 3 {
            0 => ExpireUpdate::Clear,
            1 => ExpireUpdate::At(10),
            _ => ExpireUpdate::At(if i % 2 == 0 { 10 } else { 1_000 }),
        };
        db.lock_key(key.as_bytes())
            .insert(key.as_bytes(), string("v"), expire);
    }
    let volatile = db.volatile_len();
    assert_eq!(volatile, 2000);
    let (mut from, mut steps, mut checked, mut expired) = (0, 0, 0, 0);
    loop {
        let scan = db.expire_slot_step(slot, from, 100, 11);
        steps += 1;
        // A step stops after the group in which it reached its bound (a group holds 9).
        assert!(scan.checked < 100 + 9, "{scan:?}");
        checked += scan.checked;
        expired += scan.expired;
        match scan.next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert!(steps >= 20, "{steps} steps");
    assert_eq!(checked, volatile);
    assert_eq!(expired, 1500);
    assert_eq!((db.len(), db.volatile_len()), (1500, 500));
    // A pass from the start stops once it has met every key with an expiry.
    let scan = db.expire_slot_step(slot, 0, usize::MAX, 11);
    assert_eq!((scan.checked, scan.expired, scan.next), (500, 0, None));
    let scan = db.expire_slot_step(slot, 0, usize::MAX, 1_001);
    assert_eq!((scan.checked, scan.expired), (500, 500));
    assert_eq!(db.volatile_len(), 0);
    assert_eq!(
        db.expire_slot_step(slot, 0, 100, 2_000),
        Default::default(),
        "nothing to do"
    );
}

#[test]
fn scan_visits_every_key_once_while_others_come_and_go() {
    let keyspace = Keyspace::new(1);
    let db = keyspace.db(0);
    let stable: HashSet<Vec<u8>> = (0..5000).map(|i| format!("s{i}").into_bytes()).collect();
    for key in &stable {
        db.lock_key(key)
            .insert(key, string("v"), ExpireUpdate::Clear);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        cursor = db.scan(cursor, 10, 0, |key, _| seen.push(key.to_vec()));
        // Churn between calls: keys added and removed must not disturb the stable ones.
        let churn = format!("c{round}");
        db.lock_key(churn.as_bytes())
            .insert(churn.as_bytes(), string("v"), ExpireUpdate::Clear);
        if round > 0 {
            let old = format!("c{}", round - 1);
            db.lock_key(old.as_bytes()).remove(old.as_bytes());
        }
        round += 1;
        if cursor == 0 {
            break;
        }
    }
    let stable_seen: Vec<_> = seen.iter().filter(|key| key[0] == b's').collect();
    let unique: HashSet<_> = stable_seen.iter().collect();
    assert_eq!(stable_seen.len(), stable.len(), "no duplicates");
    assert_eq!(unique.len(), stable.len(), "no misses");
}

#[test]
fn swap_and_flush() {
    let keyspace = Keyspace::new(3);
    keyspace
        .db(0)
        .lock_key(b"x")
        .insert(b"x", string("0"), ExpireUpdate::Clear);
    keyspace
        .db(2)
        .lock_key(b"y")
        .insert(b"y", string("2"), ExpireUpdate::At(99));
    keyspace.swap(0, 2);
    assert!(keyspace.db(0).lock_key(b"y").get(b"y", 0).is_some());
    assert!(keyspace.db(2).lock_key(b"x").get(b"x", 0).is_some());
    assert_eq!(keyspace.db(0).volatile_len(), 1);
    let detached = keyspace.flush_all();
    assert_eq!(detached.keys(), 2);
    assert_eq!(keyspace.db(0).len() + keyspace.db(2).len(), 0);
    assert_eq!(keyspace.db(0).volatile_len(), 0);
    // The emptied slots take keys again; what was taken out is freed when dropped.
    keyspace
        .db(0)
        .lock_key(b"x")
        .insert(b"x", string("1"), ExpireUpdate::Clear);
    drop(detached);
    assert_eq!(keyspace.db(0).len(), 1);
    assert_eq!(keyspace.db(0).flush().keys(), 1);
    assert_eq!(keyspace.db(0).flush().keys(), 0);
}

#[test]
fn lock_keys_orders_and_dedups() {
    let keyspace = Keyspace::new(1);
    let keys: [&[u8]; 4] = [b"a", b"b", b"{a}x", b"c"];
    let guards = keyspace.db(0).lock_keys(keys);
    let slots: Vec<usize> = guards.iter().map(|(slot, _)| *slot).collect();
    let mut expected: Vec<usize> = keys.iter().map(|key| key_slot(key)).collect();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(slots, expected);
}
