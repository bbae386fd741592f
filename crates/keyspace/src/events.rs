//! What the keyspace itself does to keys, recorded for the server to report: a key found
//! expired and removed (on a lookup or by the active cycle), a key created, the expired fields
//! of a hash reclaimed (and the hash deleted when that emptied it).
//!
//! The keyspace has no server to tell, so it appends each event to a list of the calling
//! thread, which the caller drains with [`drain`] after its command (or before reporting events
//! of its own, so that the order stays the order things happened). Recording is off until the
//! server asks for a kind of event with [`set_recording`]; while off, a removal or an insert
//! pays one relaxed load.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::bytes::CompactBytes;

/// A kind of event the keyspace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyEvent {
    /// A key's time to live ran out and the key was removed.
    Expired = 1,
    /// A key that did not exist was created.
    Created = 2,
    /// Expired fields of a hash were reclaimed by the active cycle.
    FieldsExpired = 4,
    /// The active cycle deleted a hash that its expired fields left empty.
    EmptiedByFieldExpiry = 8,
}

/// Which kinds are recorded (a bit per [`KeyEvent`]).
static RECORDING: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static PENDING: RefCell<Vec<(u32, KeyEvent, CompactBytes)>> = const { RefCell::new(Vec::new()) };
}

/// Records the kinds for which `wanted` returns true from now on, the others no longer.
pub fn set_recording(wanted: impl Fn(KeyEvent) -> bool) {
    let mut bits = 0;
    for kind in [
        KeyEvent::Expired,
        KeyEvent::Created,
        KeyEvent::FieldsExpired,
        KeyEvent::EmptiedByFieldExpiry,
    ] {
        if wanted(kind) {
            bits |= kind as u8;
        }
    }
    RECORDING.store(bits, Ordering::Relaxed);
}

/// Whether any kind is recorded: the callers' fast path.
#[inline]
pub fn recording_any() -> bool {
    RECORDING.load(Ordering::Relaxed) != 0
}

#[inline]
pub(crate) fn recording(kind: KeyEvent) -> bool {
    RECORDING.load(Ordering::Relaxed) & kind as u8 != 0
}

/// Appends an event to this thread's list, if its kind is recorded.
#[inline]
pub(crate) fn record(db: u32, kind: KeyEvent, key: &[u8]) {
    if recording(kind) {
        record_slow(db, kind, key);
    }
}

#[cold]
fn record_slow(db: u32, kind: KeyEvent, key: &[u8]) {
    PENDING.with(|pending| {
        pending
            .borrow_mut()
            .push((db, kind, CompactBytes::new(key)))
    });
}

/// Hands this thread's recorded events to `each` (database, kind, key), oldest first, and
/// forgets them. Costs one relaxed load while nothing is recorded.
#[inline]
pub fn drain(each: impl FnMut(usize, KeyEvent, &[u8])) {
    if recording_any() {
        drain_slow(each);
    }
}

#[cold]
fn drain_slow(mut each: impl FnMut(usize, KeyEvent, &[u8])) {
    loop {
        let taken = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
        if taken.is_empty() {
            return;
        }
        for (db, kind, key) in &taken {
            each(*db as usize, *kind, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_the_kinds_asked_for_and_drains_in_order() {
        set_recording(|kind| kind == KeyEvent::Expired);
        record(3, KeyEvent::Created, b"a");
        record(3, KeyEvent::Expired, b"b");
        record(0, KeyEvent::Expired, b"c");
        let mut seen = Vec::new();
        drain(|db, kind, key| seen.push((db, kind, key.to_vec())));
        assert_eq!(
            seen,
            vec![
                (3, KeyEvent::Expired, b"b".to_vec()),
                (0, KeyEvent::Expired, b"c".to_vec())
            ]
        );
        let mut again = 0;
        drain(|_, _, _| again += 1);
        assert_eq!(again, 0);
        set_recording(|_| false);
    }
}
