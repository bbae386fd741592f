//! What a command tells the rest of the server about a key it changed: the clients watching
//! the key (WATCH), the clients caching it (tracking), and keyspace notifications.
//!
//! Handlers call [`Ctx::key_event`] once per change, with Valkey's event class and name,
//! while they still hold the key's slot lock. Nothing here takes a slot lock.
//!
//! Keyspace notifications follow `notify-keyspace-events`: each event of an enabled class is
//! published as `__keyspace@<db>__:<key>` with the event as message (`K`) and as
//! `__keyevent@<db>__:<event>` with the key as message (`E`). While the directive is empty a
//! notification costs one relaxed load. Events the keyspace causes itself (a key expiring on a
//! lookup or in the active cycle, a key created, hash fields reclaimed) are recorded by the
//! keyspace (`tern_keyspace::events`) and reported from here: before any event of the command,
//! which keeps them in the order they happened, and when the command ends.

use tern_keyspace::events::{self, KeyEvent};

use crate::cmd::Ctx;
use crate::config::Directive;
use crate::server::Server;

/// Event classes: the letters of `notify-keyspace-events`.
pub mod class {
    /// `g`: commands that work on any type (DEL, EXPIRE, RENAME...).
    pub const GENERIC: u16 = 1 << 0;
    /// `$`
    pub const STRING: u16 = 1 << 1;
    /// `l`
    pub const LIST: u16 = 1 << 2;
    /// `s`
    pub const SET: u16 = 1 << 3;
    /// `h`
    pub const HASH: u16 = 1 << 4;
    /// `z`
    pub const ZSET: u16 = 1 << 5;
    /// `x`
    pub const EXPIRED: u16 = 1 << 6;
    /// `e`
    pub const EVICTED: u16 = 1 << 7;
    /// `t`
    pub const STREAM: u16 = 1 << 8;
    /// `m`
    pub const KEY_MISS: u16 = 1 << 9;
    /// `d`
    pub const MODULE: u16 = 1 << 10;
    /// `n`
    pub const NEW_KEY: u16 = 1 << 11;
    /// `A`: every class above but `m` and `n`.
    pub const ALL: u16 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u16 = 1 << 12;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u16 = 1 << 13;
}

/// The letters of `notify-keyspace-events` in the order Valkey shows them, with their classes.
const LETTERS: [(char, u16); 11] = [
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW_KEY),
];

/// Parses the value of `notify-keyspace-events` into class bits, with Valkey's error.
pub fn parse_flags(text: &str) -> Result<u16, String> {
    let mut flags = 0;
    for letter in text.chars() {
        flags |= match letter {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            _ => match LETTERS.iter().find(|(known, _)| *known == letter) {
                Some((_, bit)) => *bit,
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
        };
    }
    Ok(flags)
}

/// The value CONFIG GET shows for class bits: `A` for all the classes it stands for (which
/// then hides `n`, as Valkey does), else each class letter, then `K`, `E` and `m`.
pub fn show_flags(flags: u16) -> String {
    let mut text = String::new();
    if flags & class::ALL == class::ALL {
        text.push('A');
    } else {
        for (letter, bit) in LETTERS {
            if flags & bit != 0 {
                text.push(letter);
            }
        }
    }
    for (letter, bit) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & bit != 0 {
            text.push(letter);
        }
    }
    text
}

/// Tells the keyspace which of its own events to record for these class bits: none unless
/// notifications are published somewhere.
pub fn apply_flags(flags: u16) {
    let publishing = flags & (class::KEYSPACE | class::KEYEVENT) != 0;
    events::set_recording(|kind| {
        publishing
            && flags
                & match kind {
                    KeyEvent::Expired => class::EXPIRED,
                    KeyEvent::Created => class::NEW_KEY,
                    KeyEvent::FieldsExpired => class::HASH,
                    KeyEvent::EmptiedByFieldExpiry => class::GENERIC,
                }
                != 0
    });
}

impl Ctx<'_> {
    /// The command changed `key` in the client's database; `event` is Valkey's event name.
    #[inline]
    pub fn key_event(&self, class: u16, event: &'static str, key: &[u8]) {
        key_event(
            self.server,
            self.client.db,
            class,
            event,
            key,
            self.client.id(),
        );
    }

    /// The command changed `key` in database `db` (MOVE, COPY ... DB, SWAPDB).
    #[inline]
    pub fn key_event_in(&self, db: usize, class: u16, event: &'static str, key: &[u8]) {
        key_event(self.server, db, class, event, key, self.client.id());
    }
}

/// A change to `key` in `db` made by client `by` (0: by the server itself): its watchers and
/// the clients caching it, then its notification.
#[inline]
pub fn key_event(server: &Server, db: usize, class: u16, event: &'static str, key: &[u8], by: u64) {
    modified(server, db, key, by);
    notify(server, db, class, event, key);
}

/// A change to `key` in `db` without a notification of its own: watchers and caching clients.
#[inline]
pub fn modified(server: &Server, db: usize, key: &[u8], by: u64) {
    server.watches.touch(db, key);
    server.tracking.invalidate(server, key, by);
}

/// The class bits of `notify-keyspace-events` (0 while it is empty).
#[inline]
fn flags(server: &Server) -> u16 {
    server.config.int(Directive::NotifyKeyspaceEvents) as u16
}

/// A keyspace notification alone, for events that are not a change a watcher sees (a key
/// expiring or evicted, a lookup that missed).
#[inline]
pub fn notify(server: &Server, db: usize, class: u16, event: &'static str, key: &[u8]) {
    let flags = flags(server);
    if flags & class == 0 {
        return;
    }
    flush(server);
    publish(server, flags, db, event, key);
}

/// Reports the events the keyspace recorded on this thread since the last call. Costs one
/// relaxed load while none are recorded.
#[inline]
pub fn flush(server: &Server) {
    events::drain(|db, kind, key| match kind {
        KeyEvent::Expired => notify_recorded(server, db, class::EXPIRED, "expired", key),
        KeyEvent::Created => notify_recorded(server, db, class::NEW_KEY, "new", key),
        KeyEvent::FieldsExpired => {
            modified(server, db, key, 0);
            notify_recorded(server, db, class::HASH, "hexpired", key);
        }
        KeyEvent::EmptiedByFieldExpiry => {
            modified(server, db, key, 0);
            notify_recorded(server, db, class::GENERIC, "del", key);
        }
    });
}

/// A notification of a recorded event (no further draining: [`flush`] is running).
fn notify_recorded(server: &Server, db: usize, class: u16, event: &str, key: &[u8]) {
    let flags = flags(server);
    if flags & class != 0 {
        publish(server, flags, db, event, key);
    }
}

#[cold]
fn publish(server: &Server, flags: u16, db: usize, event: &str, key: &[u8]) {
    if flags & class::KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        deliver(server, &channel, event.as_bytes());
    }
    if flags & class::KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        deliver(server, channel.as_bytes(), key);
    }
}

fn deliver(server: &Server, channel: &[u8], message: &[u8]) {
    crate::pubsub::publish(server, channel, message);
}

impl Drop for Ctx<'_> {
    /// A command ends: what the keyspace recorded while it ran is reported.
    #[inline]
    fn drop(&mut self) {
        flush(self.server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_show_in_valkey_order() {
        let show = |text: &str| show_flags(parse_flags(text).unwrap());
        assert_eq!(show("KEA"), "AKE");
        assert_eq!(show("Kx"), "xK");
        assert_eq!(show("mn"), "nm");
        assert_eq!(show("KEg$lshzxetdnm"), "AKEm");
        assert_eq!(show(""), "");
        // `A` hides `n` in the text but keeps it among the classes.
        assert_ne!(parse_flags("nA").unwrap() & class::NEW_KEY, 0);
        assert_eq!(parse_flags("A").unwrap() & class::NEW_KEY, 0);
        assert_eq!(
            parse_flags("kea").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }
}
