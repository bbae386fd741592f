"""Keyspace notifications and exact key-change signals (WATCH).

A subscriber connection (PSUBSCRIBE '__key*__:*') watches while a second connection runs
commands; after each command the subscriber syncs with a PING carrying a unique text, and the
messages it received before the PONG are that command's notifications. The transcripts (each
command's reply and its notification frames) of Tern and the reference server are compared byte
for byte, with the subscriber in RESP2 and in RESP3.
"""

from __future__ import annotations

import itertools
import random
import time

import pytest

from harness import decode

_tokens = itertools.count()


@pytest.fixture(scope="module")
def pair():
    """Tern with several worker threads (the subscriber and the writer on different threads)
    and the reference server, debug commands enabled on both."""
    import harness

    tern = harness.start_server("tern", {"worker-threads": 3, "enable-debug-command": "yes"})
    valkey = harness.start_server("valkey", {"enable-debug-command": "yes"})
    yield tern, valkey
    alive = tern.alive()
    tern.cleanup()
    valkey.cleanup()
    assert alive, "tern died during the notification tests"


def sync(client) -> list[bytes]:
    """PING with a unique text; every frame received before its reply."""
    token = f"sync-{next(_tokens)}"
    client.send_command("PING", token)
    frames = []
    while True:
        frame = client.read_reply()
        value = decode(frame)
        if value == [b"pong", token.encode()] or value == token.encode():
            return frames
        frames.append(frame)


def transcript(server, proto, flags, commands, setup=()):
    """Runs `commands` on one connection under notify-keyspace-events `flags` and returns,
    per command, its reply and the notification frames the subscriber received."""
    with server.client() as admin:
        admin.call("FLUSHALL")
        admin.call("CONFIG", "SET", "notify-keyspace-events", flags)
        for command in setup:
            admin.call(*command)
    subscriber = server.client()
    writer = server.client()
    try:
        if proto == 3:
            assert subscriber.call("HELLO", "3").startswith(b"%")
            assert writer.call("HELLO", "3").startswith(b"%")
        subscriber.call("PSUBSCRIBE", "__key*__:*")
        sync(subscriber)
        out = []
        for command in commands:
            reply = writer.call(*command)
            out.append((command, reply, sync(subscriber)))
        return out
    finally:
        subscriber.close()
        writer.close()
        with server.client() as admin:
            admin.call("CONFIG", "SET", "notify-keyspace-events", "")


def compare(pair, proto, flags, commands, setup=()):
    tern, valkey = pair
    got = transcript(tern, proto, flags, commands, setup)
    want = transcript(valkey, proto, flags, commands, setup)
    for (command, got_reply, got_events), (_, want_reply, want_events) in zip(got, want):
        assert (got_reply, got_events) == (want_reply, want_events), (
            f"{command}\n  tern:   {got_reply!r} {got_events!r}\n"
            f"  valkey: {want_reply!r} {want_events!r}"
        )


def cmds(text: str) -> list[tuple[str, ...]]:
    return [tuple(line.split()) for line in text.strip().splitlines() if line.strip()]


# Every kind of change, and commands that change nothing (they must send nothing).
FIXED = cmds("""
SET k v
SET k v NX
SET k v XX GET
SET k v EX 100
SET k v KEEPTTL
SET gone v EXAT 1
SET k v EXAT 1
SETNX k v
SETNX k w
GETSET k 1
MSET a 1 b 2
MSETNX a 1 c 3
MSETNX x 1 y 2
APPEND k x
INCR n
DECRBY n 5
INCRBYFLOAT n 1.5
SETRANGE k 0 zz
SETRANGE k 0 ""
SETRANGE missing 0 ""
GETEX k EX 100
GETEX k PERSIST
GETEX k PERSIST
GETEX k
GETEX k EXAT 1
GETDEL a
GETDEL a
DEL b nokey c x
EXPIRE y 100
EXPIRE y 100 NX
EXPIRE y 200 GT
EXPIRE nokey 100
PERSIST y
PERSIST y
EXPIRE y 0
SET r 1
RENAME r s
RENAME s s
SET t 1
RENAMENX s t
RENAMENX s u
COPY u v
COPY u v
COPY u v REPLACE
COPY u v DB 1
MOVE u 2
MOVE u 2
LPUSH l a b c
RPUSH l d
LPUSHX l e
RPUSHX nol e
LPOP l
RPOP l 2
LPOP l 0
LSET l 0 z
LINSERT l BEFORE z y
LINSERT l BEFORE nope y
LREM l 0 nope
LREM l 1 z
LTRIM l 0 100
RPUSH l a b
LMOVE l l2 LEFT RIGHT
RPOPLPUSH l l2
LMOVE l2 l2 LEFT LEFT
LMPOP 2 nol l2 RIGHT COUNT 5
RPUSH l a b c
LTRIM l 5 10
SADD s1 a b c
SADD s1 a
SREM s1 zz
SREM s1 a
SMOVE s1 s2 b
SMOVE s1 s2 zz
SMOVE s2 s2 b
SMOVE s1 s2 c
SADD s3 a
SPOP s3
SADD s3 a b
SPOP s3 0
SPOP s3 5
SADD s4 a b c
SADD s5 c d
SINTERSTORE d s4 s5
SINTERSTORE d s4 nokey
SINTERSTORE d s4 nokey
SUNIONSTORE d s4 s5
SDIFFSTORE d s4 s5
SDIFFSTORE d s4 s4
ZADD z 1 a 2 b
ZADD z 1 a
ZADD z 3 a
ZADD z NX 5 a
ZADD z XX 5 q
ZADD z INCR 1 a
ZADD z NX INCR 1 a
ZINCRBY z 1 b
ZREM z zz
ZREM z b
ZADD z 1 x 2 y 3 w
ZREMRANGEBYRANK z 0 0
ZREMRANGEBYSCORE z 100 200
ZREMRANGEBYSCORE z 2 2
ZREMRANGEBYLEX z [a [a
ZPOPMIN z
ZPOPMAX z 5
ZPOPMIN nz
ZADD z 1 a 2 b
ZADD z2 1 b
ZRANGESTORE d2 z 0 -1
ZRANGESTORE d2 z 5 6
ZUNIONSTORE d3 2 z z2
ZINTERSTORE d3 2 z z2
ZDIFFSTORE d3 2 z z
ZDIFFSTORE d3 2 z z
ZMPOP 1 z MIN
ZMPOP 1 z MAX COUNT 4
HSET h a 1 b 2
HSET h a 1
HMSET h a 2
HSETNX h a 1
HSETNX h c 1
HDEL h zz
HDEL h c
HINCRBY h a 1
HINCRBYFLOAT h a 1.5
HEXPIRE h 100 FIELDS 1 a
HEXPIRE h 100 NX FIELDS 1 a
HEXPIRE h 100 FIELDS 1 zz
HPERSIST h FIELDS 2 a b
HPERSIST h FIELDS 1 a
HEXPIREAT h 1 FIELDS 1 a
HSET h a 1 c 3
HGETEX h EX 100 FIELDS 1 a
HGETEX h PERSIST FIELDS 1 a
HGETEX h FIELDS 1 a
HGETEX h EXAT 1 FIELDS 1 a
HSETEX h FIELDS 1 d 4
HSETEX h EX 100 FIELDS 1 d 4
HSETEX h FNX EX 100 FIELDS 1 d 4
HSETEX h KEEPTTL FIELDS 1 d 5
HGETDEL h FIELDS 2 b nope
HGETDEL h FIELDS 3 c d nope
HSET h2 a 1
HEXPIRE h2 0 FIELDS 2 a nope
HSETEX h3 EXAT 1 FIELDS 1 a 1
RPUSH sl 3 1 2
SORT sl STORE so
SORT sl LIMIT 5 5 STORE so
SORT sl LIMIT 5 5 STORE so
GET nokey
EXISTS nokey k
""")


@pytest.mark.parametrize("proto", [2, 3])
def test_fixed_sequence_all_classes(pair, proto):
    compare(pair, proto, "KEA", FIXED)


@pytest.mark.parametrize("proto", [2, 3])
def test_fixed_sequence_with_new_keys(pair, proto):
    compare(pair, proto, "KEAn", FIXED)


@pytest.mark.parametrize("proto", [2, 3])
def test_keymiss_on_reads(pair, proto):
    # Misses of single-key reads, of the multi-key algebra (STORE forms included), COPY's
    # source and SORT.
    commands = cmds("""
GET nokey
SET k v
GET k
EXISTS nokey k
STRLEN nokey
LRANGE nokey 0 -1
SMEMBERS nokey
ZRANGE nokey 0 -1
HGET nokey a
HGETALL nokey
TTL nokey
TYPE nokey
SADD s1 a b
ZADD z1 1 a
RPUSH l1 x y
SINTER s1 nos
SINTERSTORE d s1 nos
SUNIONSTORE d nos s1
SDIFFSTORE d s1 nos
SINTERCARD 2 s1 nos
SMOVE nos s1 a
ZUNIONSTORE d 2 z1 noz
ZINTER 2 z1 noz
ZDIFFSTORE d 2 noz z1
ZRANGESTORE d noz 0 -1
COPY nos d4
COPY s1 d5
COPY nos d6 DB 2
SORT nol
SORT l1 BY w_* GET o_* GET #
SORT nol STORE d7
LMOVE nol l1 LEFT LEFT
MGET nokey k nokey2
GETDEL nokey
LMPOP 2 nol nol2 LEFT
""")
    compare(pair, proto, "KEm", commands)


# Each class letter alone, K or E alone: only that class, on that channel kind.
@pytest.mark.parametrize(
    "flags", ["Kg", "E$", "Kl", "Es", "Kh", "Ez", "Kx", "Ed", "Kn", "Ee", "g", "KE", "AK", "Ex$lz"]
)
def test_class_flags_filter(pair, flags):
    compare(pair, 2, flags, FIXED)


def random_commands(seed: int, count: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    keys = ["k1", "k2", "k3", "k4"]
    members = ["a", "b", "c", "1", "2"]
    k = lambda: rng.choice(keys)  # noqa: E731
    m = lambda: rng.choice(members)  # noqa: E731
    makers = [
        lambda: ("SET", k(), m()),
        lambda: ("SET", k(), m(), rng.choice(["NX", "XX"])),
        lambda: ("INCR", k()),
        lambda: ("APPEND", k(), m()),
        lambda: ("DEL", k(), k()),
        lambda: ("EXPIRE", k(), rng.choice(["100", "0", "-1"])),
        lambda: ("PERSIST", k()),
        lambda: ("RENAME", k(), k()),
        lambda: ("COPY", k(), k()),
        lambda: ("LPUSH", k(), m(), m()),
        lambda: ("RPOP", k()),
        lambda: ("LREM", k(), "0", m()),
        lambda: ("LMOVE", k(), k(), "LEFT", "RIGHT"),
        lambda: ("LTRIM", k(), "1", "-1"),
        lambda: ("SADD", k(), m(), m()),
        lambda: ("SREM", k(), m()),
        lambda: ("SMOVE", k(), k(), m()),
        lambda: ("SUNIONSTORE", k(), k(), k()),
        lambda: ("SINTERSTORE", k(), k(), k()),
        lambda: ("ZADD", k(), str(rng.randint(0, 3)), m()),
        lambda: ("ZINCRBY", k(), "1", m()),
        lambda: ("ZREM", k(), m()),
        lambda: ("ZPOPMIN", k()),
        lambda: ("ZUNIONSTORE", k(), "2", k(), k()),
        lambda: ("HSET", k(), m(), m()),
        lambda: ("HDEL", k(), m()),
        lambda: ("HINCRBY", k(), m(), "1"),
        lambda: ("HSETNX", k(), m(), m()),
        lambda: ("GETDEL", k()),
        lambda: ("SORT", k(), "ALPHA", "STORE", k()),
    ]
    return [rng.choice(makers)() for _ in range(count)]


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequence(pair, proto, seed):
    compare(pair, proto, "KEAn", random_commands(seed, 250))


def test_config_set_get(pair):
    values = ["KEA", "A", "AKE", "Ag", "g", "$lshzxetdnm", "KEg$lshzxetdnm", "Kx", "Em", "mn",
              "nA", "", "xyz", "KEA ", "kea", "AA", "KK", "Elshz"]
    for server_replies in (
        [_config_replies(server, values) for server in pair],
    ):
        got, want = server_replies
        assert got == want


def _config_replies(server, values):
    out = []
    with server.client() as c:
        out.append(c.call("CONFIG", "GET", "notify-keyspace-events"))
        for value in values:
            out.append(c.call("CONFIG", "SET", "notify-keyspace-events", value))
            out.append(c.call("CONFIG", "GET", "notify-keyspace-events"))
        out.append(c.call("CONFIG", "SET", "notify-keyspace-events", ""))
    return out


def test_n_under_a_still_reports_new_keys(pair):
    # "nA" shows as "A" but keeps the new-key class, as the reference does.
    compare(pair, 2, "KEnA", cmds("SET a 1\nSET a 2\nRPUSH l x"))


@pytest.mark.parametrize("proto", [2, 3])
def test_lazy_expiry_events(pair, proto):
    tern, valkey = pair
    setup = [("DEBUG", "SET-ACTIVE-EXPIRE", "0")]
    commands = cmds("""
SET k v PX 30
SET g v PX 30
SET e v PX 30
HSET h a 1 b 2
HPEXPIRE h 30 FIELDS 1 a
RPUSH l x
PEXPIRE l 30
DEBUG SLEEP 0.1
GET k
SET g w
EXISTS e
HSET h a 3
RPUSH l y
""")
    try:
        compare(pair, proto, "KEAn", commands, setup)
    finally:
        for server in pair:
            with server.client() as c:
                c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_active_expiry_events(pair):
    """Keys and hash fields reclaimed by the active cycle: the same messages (their order
    between keys depends on each server's table order, so compared as sets)."""
    results = []
    for server in pair:
        with server.client() as admin:
            admin.call("FLUSHALL")
            admin.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        subscriber = server.client()
        try:
            subscriber.call("PSUBSCRIBE", "__key*__:*")
            with server.client() as writer:
                for key in ["x1", "x2", "x3"]:
                    writer.call("SET", key, "v", "PX", "20")
                writer.call("HSET", "hh", "a", "1", "b", "2")
                writer.call("HPEXPIRE", "hh", "20", "FIELDS", "2", "a", "b")
                writer.call("HSET", "hk", "a", "1", "b", "2")
                writer.call("HPEXPIRE", "hk", "20", "FIELDS", "1", "a")
            frames = sync(subscriber)
            wanted = {b"x1", b"x2", b"x3"}
            deadline = time.monotonic() + 5
            seen = []
            while time.monotonic() < deadline:
                seen += [decode(frame) for frame in sync(subscriber)]
                expired = {m[3] for m in seen if m[2] == b"__keyevent@0__:expired"}
                hexpired = {m[3] for m in seen if m[2] == b"__keyevent@0__:hexpired"}
                if expired == wanted and hexpired == {b"hh", b"hk"}:
                    break
                time.sleep(0.05)
            del frames
            results.append(sorted(tuple(m[2:]) for m in seen))
        finally:
            subscriber.close()
            with server.client() as admin:
                admin.call("CONFIG", "SET", "notify-keyspace-events", "")
    got, want = results
    assert got == want
    assert (b"__keyevent@0__:del", b"hh") in want


# WATCH exactness: (setup, command run by another client after WATCH k). EXEC's result shows
# whether the command counted as a change of k.
WATCH_CASES = [
    ("SADD k x", "SADD k x"),
    ("SADD k x", "SADD k y"),
    ("SADD k x", "SREM k nope"),
    ("SADD k x", "SREM k x"),
    ("", "DEL k"),
    ("SET k 1", "DEL k"),
    ("SET k 1", "SET k 2 NX"),
    ("SET k 1", "SET k 1"),
    ("", "SET k 1 XX"),
    ("SET k 1", "EXPIRE k 100 XX"),
    ("SET k 1", "EXPIRE k 100"),
    ("SET k 1", "PERSIST k"),
    ("SET k 1", "GETEX k"),
    ("SET k 1", "APPEND k x"),
    ("SET k 1", "SETRANGE k 0 \"\""),
    ("RPUSH k a", "LREM k 0 b"),
    ("RPUSH k a", "LTRIM k 0 -1"),
    ("RPUSH k a", "LINSERT k BEFORE zz b"),
    ("", "RPUSHX k a"),
    ("ZADD k 1 a", "ZADD k 1 a"),
    ("ZADD k 1 a", "ZADD k 2 a"),
    ("ZADD k 1 a", "ZREMRANGEBYSCORE k 5 6"),
    ("HSET k a 1", "HSET k a 1"),
    ("HSET k a 1", "HDEL k b"),
    ("HSET k a 1", "HPERSIST k FIELDS 1 a"),
    ("SET k 1", "RENAME k j"),
    ("SET j 1", "RENAME j k"),
    ("SET k 1", "MOVE k 1"),
    ("SET k 1", "COPY k j"),
    ("SET j 1", "COPY j k"),
    ("SET k 1", "FLUSHDB"),
    ("SET j 1", "FLUSHDB"),
    ("SET k 1", "FLUSHALL"),
    ("", "SWAPDB 0 1"),
    ("SET k 1", "SWAPDB 0 1"),
    ("SADD s a", "SINTERSTORE k s nokey"),
    ("SET k 1", "SINTERSTORE k s nokey"),
    ("RPUSH l 1", "SORT l LIMIT 5 5 STORE k"),
    ("SET k 1", "TOUCH k"),
]


def watch_results(server, case):
    setup, command = case
    with server.client() as admin:
        admin.call("FLUSHALL")
        for line in setup.splitlines():
            if line:
                admin.call(*line.split())
        with server.client() as watcher:
            assert watcher.call("WATCH", "k") == b"+OK\r\n"
            admin.call(*[a if a != '""' else "" for a in command.split()])
            watcher.call("MULTI")
            watcher.call("PING")
            return watcher.call("EXEC")


@pytest.mark.parametrize("case", WATCH_CASES, ids=[f"{s}|{c}" for s, c in WATCH_CASES])
def test_watch_is_exact(pair, case):
    tern, valkey = pair
    assert watch_results(tern, case) == watch_results(valkey, case)
