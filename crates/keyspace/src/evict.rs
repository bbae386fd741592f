//! Eviction's side of the keyspace: what each entry's access bits mean, and finding keys to
//! evict by sampling, as Valkey's approximated policies do.
//!
//! **Access bits.** Every entry has 24 bits of access metadata (`Entry::access`), read one of
//! two ways depending on the eviction policy:
//!
//! ```text
//! LRU (every policy but the *-lfu ones):  [ clock: seconds mod 2^24 (24 bits) ]
//! LFU (allkeys-lfu, volatile-lfu):        [ minutes mod 2^16 (16 bits) | counter (8 bits) ]
//! ```
//!
//! The LRU clock is the last access in seconds, wrapping about every 194 days; the idle time is
//! the clock's distance from it. The LFU counter is logarithmic: an access increments it with
//! probability `1 / ((counter - 5) * lfu-log-factor + 1)` (always while it is 5 or less), and it
//! loses one for every `lfu-decay-time` minutes since the access time kept beside it. A new key
//! starts at [`LFU_INIT_VAL`], so it can collect some accesses before it is a candidate.
//! Switching policy at run time does not convert the bits: they take a while to mean something
//! again, as in Valkey.
//!
//! Lookups ([`crate::SlotTable::get`]) record an access unless the calling thread turned that
//! off for the command it runs ([`set_touching`]): introspection such as TYPE, TTL or OBJECT,
//! and clients in CLIENT NO-TOUCH mode, leave the bits alone.
//!
//! **Sampling.** To evict, [`Evictor::evict_one`] picks a victim without any global lock: it
//! samples `maxmemory-samples` keys from a random slot table (locking only that one, and never
//! two at once) of each database, keeps the best candidates seen so far in a pool of
//! [`POOL_SIZE`] ordered by score (idle time, inverse frequency, or nearness of expiry), and
//! removes the best one that still exists. The random policies take a random key of a random
//! slot table, visiting databases in turn. Each worker has its own [`Evictor`], so workers evict
//! concurrently; a pool entry is only a hint, checked under its slot's lock before removal.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rand::Rng;

use crate::bytes::CompactBytes;
use crate::crc16::SLOT_COUNT;
use crate::db::Keyspace;
use crate::entry::{Entry, OwnedEntry};

/// The counter of a new key under LFU.
pub const LFU_INIT_VAL: u8 = 5;
/// Candidates the eviction pool keeps.
pub const POOL_SIZE: usize = 16;
/// The LRU clock's range: 24 bits of seconds.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// Whether the access bits hold an LFU counter (an LFU policy is selected).
static LFU: AtomicBool = AtomicBool::new(false);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// Whether lookups on this thread record an access (see [`set_touching`]).
    static TOUCHING: Cell<bool> = const { Cell::new(true) };
    /// A small generator for LFU's probabilistic increments (xorshift64*; never zero).
    static RANDOM: Cell<u64> = const { Cell::new(0) };
}

/// Makes the access bits mean an LFU counter (true) or an LRU clock (false).
pub fn set_lfu(on: bool) {
    LFU.store(on, Ordering::Relaxed);
}

#[inline]
pub fn is_lfu() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// `lfu-log-factor`.
pub fn set_lfu_log_factor(factor: u32) {
    LFU_LOG_FACTOR.store(factor, Ordering::Relaxed);
}

/// `lfu-decay-time`, in minutes (0: the counter never decays).
pub fn set_lfu_decay_time(minutes: u32) {
    LFU_DECAY_TIME.store(minutes, Ordering::Relaxed);
}

/// Turns access recording on lookups on or off for this thread; returns the previous setting,
/// for the caller to put back.
#[inline]
pub fn set_touching(on: bool) -> bool {
    TOUCHING.with(|touching| touching.replace(on))
}

// ---------------------------------------------------------------------------------------------
// LRU

/// The LRU clock at `now_ms`: seconds, 24 bits.
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(LRU_CLOCK_MAX)) as u32
}

/// Milliseconds since an LRU access (second resolution), the clock wrapping at most once.
pub fn lru_idle_ms(access: u32, now_ms: u64) -> u64 {
    let clock = u64::from(lru_clock(now_ms));
    let access = u64::from(access & LRU_CLOCK_MAX);
    let seconds = if clock >= access {
        clock - access
    } else {
        clock + (u64::from(LRU_CLOCK_MAX) - access)
    };
    seconds * 1000
}

// ---------------------------------------------------------------------------------------------
// LFU

/// The LFU access time at `now_ms`: minutes, 16 bits.
#[inline]
pub fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// Minutes since `then` (16-bit minutes), the clock wrapping at most once.
pub fn lfu_elapsed(then: u32, now_ms: u64) -> u32 {
    let now = lfu_minutes(now_ms);
    if now >= then {
        now - then
    } else {
        65535 - then + now
    }
}

/// The counter after one access: incremented with probability `1 / ((counter - 5) * factor +
/// 1)`, where `random` is uniform in [0, 1); it saturates at 255.
pub fn lfu_log_incr(counter: u8, factor: u32, random: f64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let probability = 1.0 / (base * f64::from(factor) + 1.0);
    if random < probability {
        counter + 1
    } else {
        counter
    }
}

/// The counter of LFU access bits as of `now_ms`: one less per `decay_minutes` elapsed since
/// the access time (0 minutes: no decay). The bits themselves are not changed.
pub fn lfu_decayed(access: u32, now_ms: u64, decay_minutes: u32) -> u8 {
    let then = (access >> 8) & 0xFFFF;
    let counter = (access & 0xFF) as u8;
    if decay_minutes == 0 {
        return counter;
    }
    let periods = lfu_elapsed(then, now_ms) / decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// LFU access bits: the access time `now_ms` and `counter`.
#[inline]
pub fn lfu_bits(now_ms: u64, counter: u8) -> u32 {
    (lfu_minutes(now_ms) << 8) | u32::from(counter)
}

/// The counter shown by OBJECT FREQ: the decayed counter, with the current decay time.
pub fn frequency(access: u32, now_ms: u64) -> u8 {
    lfu_decayed(access, now_ms, LFU_DECAY_TIME.load(Ordering::Relaxed))
}

/// One access under LFU: decay, then a logarithmic increment, stamped with the current time.
fn lfu_access(access: u32, now_ms: u64) -> u32 {
    let counter = frequency(access, now_ms);
    let counter = lfu_log_incr(
        counter,
        LFU_LOG_FACTOR.load(Ordering::Relaxed),
        random_unit(),
    );
    lfu_bits(now_ms, counter)
}

/// A uniform number in [0, 1) from this thread's generator.
fn random_unit() -> f64 {
    RANDOM.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = rand::random::<u64>() | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

// ---------------------------------------------------------------------------------------------
// Access bits of entries

/// The access bits of a key created at `now_ms`.
#[inline]
pub fn fresh_access(now_ms: u64) -> u32 {
    if is_lfu() {
        lfu_bits(now_ms, LFU_INIT_VAL)
    } else {
        lru_clock(now_ms)
    }
}

/// Records an access in `access` at `now_ms`, by the current policy.
#[inline]
pub fn record_access(access: &mut u32, now_ms: u64) {
    *access = if is_lfu() {
        lfu_access(*access, now_ms)
    } else {
        lru_clock(now_ms)
    };
}

/// A lookup found `entry`: records the access unless this thread turned recording off.
#[inline]
pub(crate) fn on_lookup(entry: &mut Entry, now_ms: u64) {
    if TOUCHING.with(Cell::get) {
        entry.touch(now_ms);
    }
}

/// The access bits a value written over an existing key starts with: under LFU it keeps the
/// old key's frequency, as Valkey does; under LRU it was just accessed.
#[inline]
pub(crate) fn on_overwrite(new_access: &mut u32, old_access: u32) {
    if is_lfu() {
        *new_access = old_access;
    }
}

// ---------------------------------------------------------------------------------------------
// Policies and sampling

/// `maxmemory-policy`, in Valkey's order of CONFIG names (see [`Policy::NAMES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    /// The CONFIG names, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &[
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];

    /// The policy at `index` of [`Policy::NAMES`].
    pub fn from_index(index: usize) -> Policy {
        match index {
            0 => Policy::VolatileLru,
            1 => Policy::VolatileLfu,
            2 => Policy::VolatileRandom,
            3 => Policy::VolatileTtl,
            4 => Policy::AllkeysLru,
            5 => Policy::AllkeysLfu,
            6 => Policy::AllkeysRandom,
            _ => Policy::NoEviction,
        }
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    /// Only keys with a time to live are candidates.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn is_random(self) -> bool {
        matches!(self, Policy::VolatileRandom | Policy::AllkeysRandom)
    }

    /// How good a victim `entry` is (higher: evict sooner): idle time, inverse frequency, or
    /// how soon it expires.
    pub fn score(self, entry: &Entry, now_ms: u64) -> u64 {
        match self {
            Policy::VolatileLfu | Policy::AllkeysLfu => {
                255 - u64::from(frequency(entry.access, now_ms))
            }
            Policy::VolatileTtl => u64::MAX - entry.expire_at_ms().unwrap_or(u64::MAX),
            _ => lru_idle_ms(entry.access, now_ms),
        }
    }
}

/// A key the pool holds as a candidate.
#[derive(Clone, Debug)]
struct Candidate {
    score: u64,
    db: usize,
    slot: usize,
    key: CompactBytes,
}

/// The best candidates seen, in ascending score (the best last), at most [`POOL_SIZE`].
#[derive(Default, Debug)]
struct Pool {
    entries: Vec<Candidate>,
}

impl Pool {
    /// Offers a sampled key: kept if the pool has room or it beats the worst one.
    fn offer(&mut self, score: u64, db: usize, slot: usize, key: &[u8]) {
        if self
            .entries
            .iter()
            .any(|c| c.db == db && c.slot == slot && *c.key == *key)
        {
            // Already a candidate: refresh its score.
            self.entries
                .retain(|c| !(c.db == db && c.slot == slot && *c.key == *key));
        }
        let position = self.entries.partition_point(|c| c.score < score);
        if self.entries.len() == POOL_SIZE {
            if position == 0 {
                return;
            }
            self.entries.remove(0);
            self.entries
                .insert(position - 1, candidate(score, db, slot, key));
        } else {
            self.entries
                .insert(position, candidate(score, db, slot, key));
        }
    }

    fn pop_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }
}

fn candidate(score: u64, db: usize, slot: usize, key: &[u8]) -> Candidate {
    Candidate {
        score,
        db,
        slot,
        key: CompactBytes::new(key),
    }
}

/// A key removed by eviction. Dropping `entry` frees the value.
pub struct Evicted {
    pub db: usize,
    pub key: CompactBytes,
    pub entry: OwnedEntry,
}

/// Population rounds one eviction tries before it concludes nothing can be evicted (keys may
/// vanish under it as other workers evict or delete them).
const POPULATE_ROUNDS_MAX: usize = 32;
/// Slot tables one database contributes per population round at most.
const SLOTS_PER_ROUND_MAX: usize = 16;

/// One worker's eviction state: its candidate pool and where the random policies go next.
#[derive(Default)]
pub struct Evictor {
    pool: Pool,
    next_db: usize,
}

impl Evictor {
    pub fn new() -> Evictor {
        Evictor::default()
    }

    /// Chooses a victim by `policy` and removes it. None when no key can be evicted (none at
    /// all, or none with a time to live under a volatile policy). Locks one slot at a time.
    pub fn evict_one(
        &mut self,
        keyspace: &Keyspace,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Option<Evicted> {
        match policy {
            Policy::NoEviction => None,
            _ if policy.is_random() => self.evict_random(keyspace, policy, rng),
            _ => self.evict_pooled(keyspace, policy, samples.max(1), now_ms, rng),
        }
    }

    fn evict_pooled(
        &mut self,
        keyspace: &Keyspace,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Option<Evicted> {
        let volatile = policy.volatile_only();
        for _ in 0..POPULATE_ROUNDS_MAX {
            let mut any_keys = false;
            for (index, db) in keyspace.used_dbs() {
                let mut sampled = 0;
                for _ in 0..SLOTS_PER_ROUND_MAX {
                    let Some(slot) = random_nonempty_slot(db, volatile, rng) else {
                        break;
                    };
                    any_keys = true;
                    let table = db.lock(slot);
                    let slot_keys = table.len();
                    let pool = &mut self.pool;
                    sampled += table.sample(rng.random(), samples, volatile, |key, entry| {
                        pool.offer(policy.score(entry, now_ms), index, slot, key);
                    });
                    drop(table);
                    // Enough samples, or keys so sparse a slot holds fewer than asked: the
                    // database is small, and more slots would mostly find nothing new.
                    if sampled >= samples || slot_keys >= samples {
                        break;
                    }
                }
            }
            if !any_keys {
                return None;
            }
            while let Some(best) = self.pool.pop_best() {
                let mut table = keyspace.db(best.db).lock(best.slot);
                let live = table
                    .peek(&best.key)
                    .is_some_and(|entry| !volatile || entry.expire_at_ms().is_some());
                if live {
                    let entry = table.remove(&best.key)?;
                    return Some(Evicted {
                        db: best.db,
                        key: best.key,
                        entry,
                    });
                }
                // A ghost: gone since it was sampled.
            }
        }
        None
    }

    fn evict_random(
        &mut self,
        keyspace: &Keyspace,
        policy: Policy,
        rng: &mut impl Rng,
    ) -> Option<Evicted> {
        let volatile = policy.volatile_only();
        let count = keyspace.db_count();
        for _ in 0..count {
            self.next_db = (self.next_db + 1) % count;
            let index = self.next_db;
            let db = keyspace.db(index);
            if !db.is_used() {
                continue;
            }
            let Some(slot) = random_nonempty_slot(db, volatile, rng) else {
                continue;
            };
            let mut table = db.lock(slot);
            let mut chosen = None;
            table.sample(rng.random(), 1, volatile, |key, _| {
                chosen = Some(CompactBytes::new(key))
            });
            if let Some(key) = chosen {
                let entry = table.remove(&key)?;
                return Some(Evicted {
                    db: index,
                    key,
                    entry,
                });
            }
        }
        None
    }
}

/// Random probes for a slot with keys before [`random_nonempty_slot`] scans instead.
const SLOT_PROBES_MAX: usize = 256;

/// A random slot of a used database holding keys (with a time to live, for `volatile`), by
/// the lock-free counts. Probing at random keeps every such slot about equally likely (a scan
/// from a random start would favour the slots that follow long empty runs, and keys in the
/// others would seldom be sampled); only a nearly empty database falls back to a scan.
fn random_nonempty_slot(db: &crate::Db, volatile: bool, rng: &mut impl Rng) -> Option<usize> {
    let holds = |slot: usize| {
        let slot = db.slot(slot);
        if volatile {
            slot.volatile_len() > 0
        } else {
            !slot.is_empty()
        }
    };
    for _ in 0..SLOT_PROBES_MAX {
        let slot = rng.random_range(0..SLOT_COUNT);
        if holds(slot) {
            return Some(slot);
        }
    }
    let start = rng.random_range(0..SLOT_COUNT);
    (0..SLOT_COUNT)
        .map(|offset| (start + offset) % SLOT_COUNT)
        .find(|&slot| holds(slot))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::table::ExpireUpdate;
    use crate::{key_slot, StrValue, Value};

    const MINUTE: u64 = 60_000;

    #[test]
    fn lfu_increments_are_certain_up_to_the_initial_value_then_logarithmic() {
        // At or below LFU_INIT_VAL the probability is 1, whatever the draw.
        assert_eq!(lfu_log_incr(0, 10, 0.999), 1);
        assert_eq!(lfu_log_incr(5, 10, 0.999), 6);
        // At 6 with factor 10: p = 1 / (1 * 10 + 1).
        assert_eq!(lfu_log_incr(6, 10, 1.0 / 11.0 - 1e-9), 7);
        assert_eq!(lfu_log_incr(6, 10, 1.0 / 11.0 + 1e-9), 6);
        // Factor 0: every access counts.
        assert_eq!(lfu_log_incr(100, 0, 0.999), 101);
        // Saturation.
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_on_average() {
        // About 1M accesses with factor 10 reach about 255 only with factor 0; with 10 the
        // counter after n accesses is near 5 + sqrt(2n/10) (the expected hits of 1/(10c+1)).
        let mut counter = LFU_INIT_VAL;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for _ in 0..10_000 {
            counter = lfu_log_incr(counter, 10, rng.random::<f64>());
        }
        // sqrt(2 * 10000 / 10) = 44.7
        assert!((40..=56).contains(&counter), "counter {counter}");
        let mut counter = LFU_INIT_VAL;
        for _ in 0..100 {
            counter = lfu_log_incr(counter, 1, rng.random::<f64>());
        }
        // sqrt(2 * 100) = 14.1
        assert!((14..=24).contains(&counter), "counter {counter}");
    }

    #[test]
    fn lfu_counter_decays_one_per_period() {
        let now = 1_000 * MINUTE;
        let bits = lfu_bits(now, 20);
        assert_eq!(lfu_decayed(bits, now, 1), 20);
        assert_eq!(lfu_decayed(bits, now + 59_999, 1), 20);
        assert_eq!(lfu_decayed(bits, now + 3 * MINUTE, 1), 17);
        assert_eq!(lfu_decayed(bits, now + 3 * MINUTE, 2), 19);
        assert_eq!(lfu_decayed(bits, now + 30 * MINUTE, 1), 0);
        // No decay at all with a decay time of 0.
        assert_eq!(lfu_decayed(bits, now + 300 * MINUTE, 0), 20);
        // The 16-bit minute clock wraps once; as in Valkey, a wrap counts one minute less.
        let late = 65_530 * MINUTE;
        let bits = lfu_bits(late, 9);
        assert_eq!(lfu_decayed(bits, late + 10 * MINUTE, 1), 0);
        assert_eq!(lfu_decayed(bits, late + 7 * MINUTE, 1), 3);
    }

    #[test]
    fn lru_idle_time_wraps_with_the_24_bit_clock() {
        let now = 5_000_000 * 1000;
        assert_eq!(lru_idle_ms(lru_clock(now), now + 7_500), 7_000);
        let before_wrap = u64::from(LRU_CLOCK_MAX) * 1000;
        let access = lru_clock(before_wrap - 10_000);
        // As in Valkey, a wrap of the clock counts one second less.
        assert_eq!(lru_idle_ms(access, before_wrap + 20_000), 29_000);
    }

    #[test]
    fn pool_keeps_the_best_sixteen_in_order() {
        let mut pool = Pool::default();
        for score in 0..40u64 {
            pool.offer(score * 7 % 40, 0, 0, format!("k{score}").as_bytes());
        }
        assert_eq!(pool.entries.len(), POOL_SIZE);
        let scores: Vec<u64> = pool.entries.iter().map(|c| c.score).collect();
        assert_eq!(scores, (24..40).collect::<Vec<u64>>());
        // A key offered again is not kept twice.
        pool.offer(39, 0, 0, b"k37");
        assert_eq!(pool.entries.iter().filter(|c| &*c.key == b"k37").count(), 1);
        assert_eq!(pool.pop_best().map(|c| c.score), Some(39));
    }

    fn string(now_ms: u64) -> OwnedEntry {
        OwnedEntry::new(Value::Str(StrValue::Int(1)), now_ms)
    }

    fn fill(keyspace: &Keyspace, count: usize, volatile_every: usize, now_ms: u64) {
        for n in 0..count {
            let key = format!("key:{n}");
            let expire = if volatile_every > 0 && n.is_multiple_of(volatile_every) {
                ExpireUpdate::At(now_ms + 1_000_000 + n as u64)
            } else {
                ExpireUpdate::Clear
            };
            keyspace
                .db(0)
                .lock_key(key.as_bytes())
                .insert(key.as_bytes(), string(now_ms), expire);
        }
    }

    #[test]
    fn volatile_policies_never_evict_keys_without_a_ttl() {
        let keyspace = Keyspace::new(2);
        let now = 10_000_000;
        fill(&keyspace, 2000, 10, now);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let mut evictor = Evictor::new();
            let evicted = evictor
                .evict_one(&keyspace, policy, 5, now, &mut rng)
                .expect("a volatile key");
            assert!(evicted.entry.expire_at_ms().is_some(), "{policy:?}");
        }
        // Evict every volatile key: then nothing more.
        let mut evictor = Evictor::new();
        let mut count = 3;
        while evictor
            .evict_one(&keyspace, Policy::VolatileRandom, 5, now, &mut rng)
            .is_some()
        {
            count += 1;
        }
        assert_eq!(count, 200);
        assert_eq!(keyspace.db(0).len(), 1800);
        assert_eq!(keyspace.db(0).volatile_len(), 0);
    }

    #[test]
    fn volatile_ttl_prefers_the_soonest_expiry() {
        let keyspace = Keyspace::new(1);
        let now = 10_000_000;
        fill(&keyspace, 3000, 1, now);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut evictor = Evictor::new();
        let mut total = 0u64;
        for _ in 0..300 {
            let evicted = evictor
                .evict_one(&keyspace, Policy::VolatileTtl, 5, now, &mut rng)
                .unwrap();
            total += evicted.entry.expire_at_ms().unwrap() - now - 1_000_000;
        }
        // Keys expire 0..3000 ms apart in key order; random picks would average 1500.
        assert!(total / 300 < 1000, "mean rank {}", total / 300);
    }

    #[test]
    fn lru_evicts_the_idle_keys_first() {
        let keyspace = Keyspace::new(1);
        let old = 10_000_000;
        fill(&keyspace, 2000, 0, old);
        let now = old + 3_600_000;
        // Half the keys accessed now.
        for n in (0..2000).step_by(2) {
            let key = format!("key:{n}");
            keyspace
                .db(0)
                .lock_key(key.as_bytes())
                .get(key.as_bytes(), now);
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        let mut evictor = Evictor::new();
        let mut recent = 0;
        for _ in 0..500 {
            let evicted = evictor
                .evict_one(&keyspace, Policy::AllkeysLru, 5, now, &mut rng)
                .unwrap();
            let n: usize = std::str::from_utf8(&evicted.key[4..])
                .unwrap()
                .parse()
                .unwrap();
            recent += usize::from(n.is_multiple_of(2));
        }
        assert!(recent <= 5, "{recent} recently read keys evicted");
        assert_eq!(keyspace.db(0).len(), 1500);
        // The remaining keys' slots still agree with their keys.
        keyspace.db(0).scan(0, usize::MAX, now, |key, _| {
            assert!(key_slot(key) < SLOT_COUNT);
        });
    }

    #[test]
    fn nothing_to_evict_in_an_empty_keyspace() {
        let keyspace = Keyspace::new(3);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        let mut evictor = Evictor::new();
        for policy in [
            Policy::AllkeysLru,
            Policy::AllkeysRandom,
            Policy::VolatileTtl,
        ] {
            assert!(evictor
                .evict_one(&keyspace, policy, 5, 0, &mut rng)
                .is_none());
        }
    }
}
