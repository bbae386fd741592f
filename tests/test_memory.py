"""Memory accounting, maxmemory and the eviction policies.

* The MEMORY command's replies and errors, INFO memory's field names, MEMORY STATS's keys, the
  eviction directives and OBJECT FREQ/IDLETIME are compared with the reference server in
  RESP2 and RESP3.
* Out-of-memory refusals (noeviction, EXEC, scripts) are compared command by command.
* Each policy is checked on both servers for the class of keys it evicts: volatile policies
  never touch keys without a time to live, LRU keeps a recently read working set, LFU keeps
  frequently read keys, volatile-ttl takes the soonest expiring first.
* A writer pushing ten times the budget keeps `used_memory` within 5% above `maxmemory`, and
  CONFIG SET maxmemory brings memory down at once.
"""

from __future__ import annotations

import socket
import time

import pytest

import difftools
from harness import RespClient, decode, encode_command

MB = 1024 * 1024
KINDS = ["tern", "valkey"]


def info_fields(client, section: str) -> dict[str, str]:
    text = decode(client.call("INFO", section)).decode()
    fields = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    return fields


def used_memory(client) -> int:
    return int(info_fields(client, "memory")["used_memory"])


def evicted_keys(client) -> int:
    return int(info_fields(client, "stats")["evicted_keys"])


def fill(client, prefix: str, count: int, value_bytes: int, ttl: int | None = None,
         batch: int = 200):
    """SETs `count` keys `prefix:N` (pipelined); with `ttl`, EX ttl+N seconds (soonest first)."""
    value = b"x" * value_bytes
    commands = []
    for n in range(count):
        if ttl is None:
            commands.append(encode_command("SET", f"{prefix}:{n}", value))
        else:
            commands.append(encode_command("SET", f"{prefix}:{n}", value, "EX", ttl + n))
        if len(commands) == batch or n == count - 1:
            client.send(b"".join(commands))
            for reply in client.read_replies(len(commands)):
                assert reply == b"+OK\r\n", reply
            commands = []


def existing(client, prefix: str, count: int) -> int:
    found = 0
    for start in range(0, count, 500):
        keys = [f"{prefix}:{n}" for n in range(start, min(count, start + 500))]
        found += sum(1 for value in decode(client.call("MGET", *keys)) if value is not None)
    return found


# ---------------------------------------------------------------------------------------------
# Replies compared with the reference


@pytest.mark.parametrize("proto", [2, 3])
def test_memory_command_replies(tern, valkey, proto):
    commands = [
        ("SET", "foo", "bar"),
        ("MEMORY", "USAGE", "nokey"),
        ("MEMORY", "USAGE", "foo", "SAMPLES"),
        ("MEMORY", "USAGE", "foo", "SAMPLES", "-1"),
        ("MEMORY", "USAGE", "foo", "SAMPLES", "x"),
        ("MEMORY", "USAGE", "foo", "bar"),
        ("MEMORY", "USAGE", "nokey", "SAMPLES", "0"),
        ("MEMORY", "USAGE"),
        ("MEMORY",),
        ("MEMORY", "foo"),
        ("MEMORY", "STATS", "extra"),
        ("MEMORY", "DOCTOR", "extra"),
        ("MEMORY", "PURGE"),
        ("MEMORY", "HELP"),
        ("OBJECT", "FREQ", "foo"),
        ("OBJECT", "FREQ", "nokey"),
        ("OBJECT", "IDLETIME", "nokey"),
        ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
        ("OBJECT", "IDLETIME", "foo"),
        ("OBJECT", "FREQ", "foo"),
        ("SET", "new", "value"),
        ("OBJECT", "FREQ", "new"),
        ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
        ("OBJECT", "FREQ", "new"),
    ]
    try:
        difftools.run_commands(tern, valkey, proto, commands, "MEMORY and OBJECT replies")
    finally:
        for server in (tern, valkey):
            with server.client() as c:
                c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_eviction_directives(tern, valkey):
    commands = [
        *[("CONFIG", "GET", name) for name in (
            "maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
            "maxmemory-clients", "lfu-log-factor", "lfu-decay-time")],
        ("CONFIG", "SET", "maxmemory-policy", "foo"),
        ("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"),
        ("CONFIG", "GET", "maxmemory-policy"),
        ("CONFIG", "SET", "maxmemory-samples", "0"),
        ("CONFIG", "SET", "maxmemory-samples", "65"),
        ("CONFIG", "SET", "maxmemory-samples", "abc"),
        ("CONFIG", "SET", "maxmemory-samples", "10"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "101"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "20"),
        ("CONFIG", "SET", "lfu-log-factor", "-1"),
        ("CONFIG", "SET", "lfu-decay-time", "-1"),
        ("CONFIG", "SET", "lfu-log-factor", "5", "lfu-decay-time", "2"),
        ("CONFIG", "GET", "lfu-log-factor"),
        ("CONFIG", "GET", "lfu-decay-time"),
        ("CONFIG", "SET", "maxmemory-clients", "101%"),
        ("CONFIG", "SET", "maxmemory-clients", "-5%"),
        ("CONFIG", "SET", "maxmemory-clients", "10.5%"),
        ("CONFIG", "SET", "maxmemory-clients", "50%"),
        ("CONFIG", "GET", "maxmemory-clients"),
        ("CONFIG", "SET", "maxmemory-clients", "0%"),
        ("CONFIG", "GET", "maxmemory-clients"),
        ("CONFIG", "SET", "maxmemory-clients", "1KB"),
        ("CONFIG", "GET", "maxmemory-clients"),
        ("CONFIG", "SET", "maxmemory", "-1"),
        ("CONFIG", "SET", "maxmemory", "1.5mb"),
        ("CONFIG", "SET", "maxmemory", "100%"),
        ("CONFIG", "SET", "maxmemory", "18446744073709551616"),
        ("CONFIG", "SET", "maxmemory", "18446744073709551615"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "1gb"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "0"),
    ]
    defaults = [("maxmemory", "0"), ("maxmemory-policy", "noeviction"),
                ("maxmemory-samples", "5"), ("maxmemory-eviction-tenacity", "10"),
                ("lfu-log-factor", "10"), ("lfu-decay-time", "1"), ("maxmemory-clients", "0")]
    try:
        difftools.run_commands(tern, valkey, 2, commands, "eviction directives")
    finally:
        for server in (tern, valkey):
            with server.client() as c:
                for name, value in defaults:
                    assert c.call("CONFIG", "SET", name, value) == b"+OK\r\n"


def test_info_memory_fields_match_the_reference(tern, valkey):
    with tern.client() as ct, valkey.client() as cv:
        assert list(info_fields(ct, "memory")) == list(info_fields(cv, "memory"))
        tern_memory = info_fields(ct, "memory")
        assert tern_memory["mem_allocator"].startswith("jemalloc-")
        assert int(tern_memory["used_memory"]) > 0
        assert tern_memory["maxmemory_policy"] == "noeviction"
        for name in ("evicted_keys", "evicted_clients"):
            assert name in info_fields(ct, "stats")


@pytest.mark.parametrize("proto", [2, 3])
def test_memory_stats_has_the_reference_keys_and_types(start_pair, proto):
    # Fresh servers: MEMORY STATS lists the databases used so far.
    tern, valkey = start_pair()

    def shape(server):
        with server.client() as c:
            if proto == 3:
                c.call("HELLO", "3")
            c.call("FLUSHALL")
            c.call("SET", "k", "v")
            raw = c.call("MEMORY", "STATS")
            value = decode(raw)
            pairs = value if proto == 3 else list(zip(value[::2], value[1::2]))
            # Each key with the type of its value (integer, double or bulk text, nested map).
            return [(name, type(value).__name__) for name, value in pairs], raw[:1]

    assert shape(tern) == shape(valkey)


def test_memory_doctor_and_malloc_stats_answer(tern):
    with tern.client() as c:
        doctor = decode(c.call("MEMORY", "DOCTOR"))
        assert doctor.startswith(b"Hi Sam") or doctor.startswith(b"Sam, I detected")
        report = decode(c.call("MEMORY", "MALLOC-STATS"))
        assert b"jemalloc" in report
        assert c.call("MEMORY", "PURGE") == b"+OK\r\n"


SHAPES = {
    "string": [("SET", "key", "v")],
    "int": [("SET", "key", "12345")],
    "string100": [("SET", "key", "x" * 100)],
    "string10k": [("SET", "key", "x" * 10000)],
    "hash10": [("HSET", "key", *sum([[f"f{i}", f"v{i}"] for i in range(10)], []))],
    "hash1000": [("HSET", "key", *sum([[f"field:{i}", f"value:{i}"] for i in range(1000)], []))],
    "set10": [("SADD", "key", *range(10))],
    "set1000": [("SADD", "key", *[f"member:{i}" for i in range(1000)])],
    "zset10": [("ZADD", "key", *sum([[i, f"m{i}"] for i in range(10)], []))],
    "zset1000": [("ZADD", "key", *sum([[i, f"member:{i}"] for i in range(1000)], []))],
    "list10": [("RPUSH", "key", *range(10))],
    "list10000": [("RPUSH", "key", *[f"element:{i}" for i in range(10000)])],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_memory_usage_is_within_a_sane_factor_of_the_reference(tern, valkey, shape):
    usages = []
    for server in (tern, valkey):
        with server.client() as c:
            c.call("FLUSHALL")
            for command in SHAPES[shape]:
                assert not c.call(*command).startswith(b"-")
            usages.append(decode(c.call("MEMORY", "USAGE", "key")))
            # SAMPLES 0 counts every element; never less than the default sampling's order.
            assert decode(c.call("MEMORY", "USAGE", "key", "SAMPLES", "0")) > 0
    tern_bytes, valkey_bytes = usages
    assert valkey_bytes / 4 <= tern_bytes <= valkey_bytes * 4, usages


def test_memory_usage_grows_with_the_value(tern):
    with tern.client() as c:
        c.call("FLUSHALL")
        c.call("SET", "small", "x" * 10)
        c.call("SET", "big", "x" * 100_000)
        small = decode(c.call("MEMORY", "USAGE", "small"))
        big = decode(c.call("MEMORY", "USAGE", "big"))
        assert 100_000 <= big <= 140_000
        assert small < 200
        c.call("RPUSH", "list", *[f"e{i}" for i in range(20000)])
        listed = decode(c.call("MEMORY", "USAGE", "list", "SAMPLES", "0"))
        assert 20000 * 4 <= listed <= 20000 * 40


# ---------------------------------------------------------------------------------------------
# Out of memory: noeviction, EXEC, scripts


FUNCTIONS = """#!lua name=lib
server.register_function('f', function(k, a) return server.call('set', 'x', '1') end)
server.register_function{function_name='g', callback=function(k, a) return server.call('set', 'x', '1') end, flags={'allow-oom'}}
server.register_function{function_name='h', callback=function(k, a) return server.call('get', 'x') end, flags={'no-writes'}}
server.register_function{function_name='i', callback=function(k, a) return server.call('get', 'x') end}
"""


def oom_transcript(server, proto):
    c = server.client()
    admin = server.client()
    try:
        if proto == 3:
            c.call("HELLO", "3")
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        c.call("SET", "k", "v")
        c.call("FUNCTION", "LOAD", FUNCTIONS)
        out = [c.call("MULTI"), c.call("SET", "a", "1"), c.call("GET", "a")]
        # Memory runs out between queueing and EXEC.
        admin.call("CONFIG", "SET", "maxmemory", "1")
        for command in [
            ("EXEC",),
            ("SET", "a", "b"), ("GET", "k"), ("DEL", "zz"), ("INCR", "k"), ("LPUSH", "l", "a"),
            ("EXPIRE", "k", "100"), ("APPEND", "k", "x"), ("HSET", "h", "f", "v"),
            ("EVAL", "return redis.call('set','x','y')", "0"),
            ("EVAL", "return redis.call('get','k')", "0"),
            ("EVAL", "#!lua\nreturn redis.call('get','k')", "0"),
            ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"),
            ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','k','w')", "0"),
            ("EVAL", "redis.call('del','zz'); return redis.call('set','x','y')", "0"),
            ("EVAL", "return redis.pcall('set','x','y')", "0"),
            ("FCALL", "f", "0"), ("FCALL", "g", "0"), ("FCALL", "h", "0"), ("FCALL", "i", "0"),
            ("FCALL_RO", "h", "0"),
            ("MULTI",), ("GET", "k"), ("SET", "a", "b"), ("EXEC",),
            ("MULTI",), ("GET", "k"), ("PING",), ("EXPIRE", "k", "5"), ("EXEC",),
            ("MULTI",), ("EVAL", "return 1", "0"), ("EVAL", "#!lua\nreturn 1", "0"), ("EXEC",),
            ("MULTI",), ("EVAL", "return redis.call('set','q','1')", "0"), ("EXEC",),
            ("GET", "k"),
        ]:
            out.append(c.call(*command))
        admin.call("CONFIG", "SET", "maxmemory", "0")
        out.append(c.call("SET", "ok", "1"))
        return out
    finally:
        admin.call("CONFIG", "SET", "maxmemory", "0")
        c.call("FUNCTION", "FLUSH")
        c.close()
        admin.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_out_of_memory_refusals_match_the_reference(tern, valkey, proto):
    tern_replies = oom_transcript(tern, proto)
    valkey_replies = oom_transcript(valkey, proto)
    assert b"-OOM command not allowed when used memory > 'maxmemory'.\r\n" in tern_replies
    assert tern_replies == valkey_replies


@pytest.mark.parametrize("kind", KINDS)
def test_noeviction_refuses_writes_and_serves_reads(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "noeviction"})
    with server.client() as c:
        fill(c, "key", 3000, 1000)
        limit = used_memory(c) - MB
        assert c.call("CONFIG", "SET", "maxmemory", limit) == b"+OK\r\n"
        oom = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        assert c.call("SET", "new", "value") == oom
        assert c.call("SET", "key:1", "value") == oom
        assert c.call("RPUSH", "list", "a") == oom
        assert c.call("GET", "key:7") == b"$1000\r\n" + b"x" * 1000 + b"\r\n"
        assert decode(c.call("DBSIZE")) == 3000
        assert evicted_keys(c) == 0
        # Deleting is allowed, and frees memory for writes again.
        c.send(b"".join(encode_command("DEL", f"key:{n}") for n in range(2000)))
        assert all(r == b":1\r\n" for r in c.read_replies(2000))
        assert c.call("SET", "new", "value") == b"+OK\r\n"


# ---------------------------------------------------------------------------------------------
# Which keys each policy evicts


def pressure(c, limit_bytes: int, prefix: str, count: int, value_bytes: int = 1000,
             ttl: int | None = None):
    """Sets maxmemory, then writes `count` more keys, which forces evictions."""
    assert c.call("CONFIG", "SET", "maxmemory", limit_bytes) == b"+OK\r\n"
    fill(c, prefix, count, value_bytes, ttl=ttl)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random",
                                    "volatile-ttl"])
def test_volatile_policies_never_evict_keys_without_ttl(start_server, kind, policy):
    server = start_server(kind, {"maxmemory-policy": policy})
    with server.client() as c:
        fill(c, "persistent", 2000, 1000)
        fill(c, "volatile", 2000, 1000, ttl=10_000)
        pressure(c, used_memory(c) - 512 * 1024, "more", 3000, ttl=10_000)
        assert existing(c, "persistent", 2000) == 2000
        assert evicted_keys(c) >= 2000
        assert used_memory(c) <= int(info_fields(c, "memory")["maxmemory"]) * 1.05
        # A limit no eviction can reach: every key with a time to live goes, then writes are
        # refused, and the keys without one are all still there.
        c.call("CONFIG", "SET", "maxmemory", 1)
        deadline = time.monotonic() + 10
        oom = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        while c.call("SET", "persistent:x", "y") != oom:
            assert time.monotonic() < deadline
        assert existing(c, "persistent", 2000) == 2000
        assert decode(c.call("DBSIZE")) == 2000 + decode(c.call("EXISTS", "persistent:x"))


@pytest.mark.parametrize("kind", KINDS)
def test_volatile_ttl_evicts_the_soonest_expiring(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "volatile-ttl", "maxmemory-samples": 10})
    with server.client() as c:
        # key:N expires in 10000 + N seconds: the low numbers are the soonest.
        fill(c, "key", 4000, 1000, ttl=10_000)
        pressure(c, used_memory(c) - 2 * MB, "persistent", 1000)
        survivors = [n for n in range(4000) if decode(c.call("EXISTS", f"key:{n}"))]
        evicted = 4000 - len(survivors)
        assert evicted >= 1000
        # The survivors are the latest expiring: nearly all from the top of the range.
        late = sum(1 for n in survivors if n >= evicted)
        assert late >= 0.9 * len(survivors), (evicted, late, len(survivors))
        assert existing(c, "persistent", 1000) == 1000


@pytest.mark.parametrize("kind", KINDS)
def test_allkeys_lru_keeps_a_recently_read_working_set(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "allkeys-lru", "maxmemory-samples": 10})
    with server.client() as c:
        fill(c, "key", 5000, 1000)
        # The LRU clock counts seconds: let the keys age, then read a working set of 500.
        time.sleep(2.2)
        hot = range(0, 5000, 10)
        for start in range(0, 5000, 1000):
            c.call("MGET", *[f"key:{n}" for n in hot if start <= n < start + 1000])
        # About 2000 of the 4500 idle keys have to go.
        pressure(c, used_memory(c) - MB, "new", 1000)
        assert evicted_keys(c) >= 1000
        kept = sum(1 for n in hot if decode(c.call("EXISTS", f"key:{n}")))
        cold_kept = existing(c, "key", 5000) - kept
        assert kept >= 0.95 * len(hot), (kept, cold_kept)
        assert cold_kept < 0.75 * 4500


@pytest.mark.parametrize("kind", KINDS)
def test_allkeys_lfu_keeps_frequently_read_keys(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "allkeys-lfu", "maxmemory-samples": 10})
    with server.client() as c:
        fill(c, "key", 5000, 1000)
        hot = [f"key:{n}" for n in range(0, 5000, 10)]
        for _ in range(30):
            c.send(b"".join(encode_command("GET", key) for key in hot))
            c.read_replies(len(hot))
        frequencies = [decode(c.call("OBJECT", "FREQ", key)) for key in hot[:50]]
        assert min(frequencies) > 5, frequencies
        # A key never read since it was written: the initial 5 (4 if a minute just turned).
        assert decode(c.call("OBJECT", "FREQ", "key:1")) in (4, 5)
        pressure(c, used_memory(c) - MB, "new", 1000)
        assert evicted_keys(c) >= 1000
        kept = sum(1 for key in hot if decode(c.call("EXISTS", key)))
        assert kept >= 0.95 * len(hot), kept


@pytest.mark.parametrize("kind", KINDS)
def test_allkeys_random_evicts_from_every_class(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "allkeys-random"})
    with server.client() as c:
        fill(c, "persistent", 2000, 1000)
        fill(c, "volatile", 2000, 1000, ttl=10_000)
        pressure(c, used_memory(c) - 2 * MB, "more", 2000)
        assert existing(c, "persistent", 2000) < 2000
        assert existing(c, "volatile", 2000) < 2000
        assert used_memory(c) <= int(info_fields(c, "memory")["maxmemory"]) * 1.05


# ---------------------------------------------------------------------------------------------
# Keeping the budget


@pytest.mark.parametrize("kind", KINDS)
def test_a_writer_pushing_ten_times_the_budget_stays_within_five_percent(start_server, kind):
    limit = 16 * MB
    server = start_server(kind, {"maxmemory-policy": "allkeys-lru"})
    with server.client() as writer, server.client() as observer:
        assert writer.call("CONFIG", "SET", "maxmemory", limit) == b"+OK\r\n"
        samples = []
        value = b"v" * 500
        written = 0
        n = 0
        while written < 10 * limit:
            writer.send(b"".join(encode_command("SET", f"key:{n + i}", value) for i in range(500)))
            replies = writer.read_replies(500)
            assert all(r == b"+OK\r\n" for r in replies), [r for r in replies if r != b"+OK\r\n"][:1]
            n += 500
            written += 500 * (len(value) + 16)
            samples.append(used_memory(observer))
        assert len(samples) > 100
        assert max(samples) <= limit * 1.05, (max(samples), limit)
        # And the budget is used, not wasted.
        assert samples[-1] >= limit * 0.8
        assert evicted_keys(observer) > 0


def test_concurrent_writers_on_several_workers_keep_the_budget(start_server):
    """Writers on different worker threads evict concurrently, each from its own pool, and
    together stay within the budget."""
    import threading

    limit = 16 * MB
    server = start_server("tern", {"maxmemory-policy": "allkeys-lfu", "worker-threads": 2})
    errors = []

    def write(index):
        try:
            with server.client() as c:
                value = b"w" * 700
                # 4 writers x 250 x 200 keys of 700 bytes: about ten times the budget.
                for round_ in range(250):
                    c.send(b"".join(encode_command("SET", f"w{index}:{round_}:{n}", value)
                                    for n in range(200)))
                    for reply in c.read_replies(200):
                        assert reply == b"+OK\r\n", reply
        except Exception as error:  # reported by the main thread
            errors.append(error)

    with server.client() as observer:
        assert observer.call("CONFIG", "SET", "maxmemory", limit) == b"+OK\r\n"
        writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for writer in writers:
            writer.start()
        samples = []
        while any(writer.is_alive() for writer in writers):
            samples.append(used_memory(observer))
        for writer in writers:
            writer.join()
        assert not errors, errors[:1]
        assert max(samples) <= limit * 1.05, (max(samples), limit)
        assert evicted_keys(observer) > 150_000


@pytest.mark.parametrize("kind", KINDS)
def test_config_set_maxmemory_lowers_memory_at_once(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "allkeys-random"})
    with server.client() as c:
        fill(c, "key", 30_000, 1000)
        before = used_memory(c)
        assert before > 30 * MB
        limit = 10 * MB
        started = time.monotonic()
        assert c.call("CONFIG", "SET", "maxmemory", limit) == b"+OK\r\n"
        while used_memory(c) > limit * 1.05:
            assert time.monotonic() - started < 5, used_memory(c)
            time.sleep(0.01)
        assert decode(c.call("DBSIZE")) < 15_000
        assert evicted_keys(c) > 15_000


# ---------------------------------------------------------------------------------------------
# Evictions seen by others


@pytest.mark.parametrize("kind", KINDS)
def test_eviction_is_a_deletion_for_watchers_and_notifications(start_server, kind):
    server = start_server(kind, {"maxmemory-policy": "allkeys-random",
                                 "notify-keyspace-events": "Ee"})
    with server.client() as c, server.client() as watcher, server.client() as subscriber, \
            server.client() as tracker:
        c.call("SET", "big", "x" * (4 * MB))
        assert subscriber.call("SUBSCRIBE", "__keyevent@0__:evicted").startswith(b"*3")
        assert tracker.call("HELLO", "3").startswith(b"%")
        assert tracker.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
        assert tracker.call("STRLEN", "big") == b":4194304\r\n"
        assert watcher.call("WATCH", "big") == b"+OK\r\n"
        assert watcher.call("MULTI") == b"+OK\r\n"
        assert watcher.call("GET", "big") == b"+QUEUED\r\n"
        # The only key goes as soon as the limit drops below memory in use.
        assert c.call("CONFIG", "SET", "maxmemory", used_memory(c) - 2 * MB) == b"+OK\r\n"
        message = decode(subscriber.read_reply())
        assert message == [b"message", b"__keyevent@0__:evicted", b"big"]
        assert watcher.call("EXEC") == b"*-1\r\n"
        # The caching client is told to drop it.
        assert decode(tracker.read_reply()) == [b"invalidate", [b"big"]]
        assert evicted_keys(c) == 1
        assert decode(c.call("EXISTS", "big")) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_clients_past_maxmemory_clients_are_evicted(start_server, kind):
    server = start_server(kind, {"maxmemory-clients": "1mb"})
    with server.client() as admin:
        protected = RespClient(server.host, server.port)
        protected.call("CLIENT", "NO-EVICT", "ON")
        greedy = socket.create_connection((server.host, server.port))
        closed = False

        def send(data: bytes) -> bool:
            # The server may close the connection while the client is still sending.
            try:
                greedy.sendall(data)
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True

        # A bulk string announced at 8 MB and sent in part: the query buffer grows.
        closed = send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8388608\r\n" + b"x" * (3 * MB))
        deadline = time.monotonic() + 5
        while int(info_fields(admin, "stats")["evicted_clients"]) == 0:
            assert time.monotonic() < deadline, "the greedy client was not evicted"
            closed = closed or send(b"x" * 65536)
            time.sleep(0.01)
        if not closed:
            greedy.settimeout(5)
            try:
                closed = greedy.recv(1) == b""
            except ConnectionResetError:
                closed = True
        assert closed
        assert int(info_fields(admin, "stats")["evicted_clients"]) == 1
        assert protected.call("PING") == b"+PONG\r\n"
        assert admin.call("PING") == b"+PONG\r\n"
        protected.close()
        greedy.close()
