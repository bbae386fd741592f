"""Entries gaining and losing an expiry: every kind of value, keys of every length.

A key stores its expiry only while it has one, so giving a key a time to live, changing it and
taking it away move the key's bytes around.  These cases run the same commands on Tern and on
Valkey and compare every reply byte for byte (RESP2 and RESP3): values, encodings, expiry times
and key names must come through each move unchanged.  Absolute times are far in the future
(2100), so nothing expires during a case and expiry times compare exactly.
"""

from __future__ import annotations

import time

import pytest

from difftools import run_commands

FAR_MS = 4102444800123  # 2100-01-01, milliseconds
I64_MAX = 2**63 - 1


def c(line: str):
    return line.split()


# (name, commands that create the key "k", a command that reads it whole, a write that keeps
# the key's expiry)
KINDS = [
    ("int", [c("SET k 12345")], c("GET k"), c("INCRBY k 5")),
    ("embstr", [c("SET k sixteen-bytes-val")], c("GET k"), c("SETRANGE k 0 S")),
    ("raw", [["SET", "k", "x" * 200]], c("GET k"), c("APPEND k tail")),
    ("intset", [c("SADD k 3 1 2")], c("SMEMBERS k"), c("SADD k 4")),
    ("set-listpack", [c("SADD k a b c")], c("SMEMBERS k"), c("SREM k b")),
    ("set-hashtable", [["SADD", "k", *[f"m{i}" for i in range(200)]]], c("SCARD k"),
     c("SADD k extra")),
    ("list", [c("RPUSH k a b c")], c("LRANGE k 0 -1"), c("LPUSH k z")),
    ("quicklist", [["RPUSH", "k", *[f"{i:0100d}" for i in range(200)]]], c("LRANGE k 0 5"),
     c("RPOP k")),
    ("zset", [c("ZADD k 1 a 2 b")], c("ZRANGE k 0 -1 WITHSCORES"), c("ZINCRBY k 5 a")),
    ("zset-skiplist", [["ZADD", "k", *[x for i in range(200) for x in (str(i), f"m{i}")]]],
     c("ZRANGE k 0 4 WITHSCORES"), c("ZREM k m3")),
    ("hash", [c("HSET k f1 v1 f2 v2")], c("HGETALL k"), c("HSET k f3 v3")),
    ("hash-hashtable", [["HSET", "k", *[x for i in range(600) for x in (f"f{i}", str(i))]]],
     c("HLEN k"), c("HDEL k f7")),
]


def expiry_flips(create, read, keep_write):
    yield from create
    yield c("OBJECT ENCODING k")
    yield read
    yield ["PEXPIREAT", "k", str(FAR_MS)]
    yield read
    yield c("PEXPIRETIME k")
    yield ["PEXPIREAT", "k", str(FAR_MS + 1)]
    yield c("PEXPIRETIME k")
    yield c("PERSIST k")
    yield read
    yield c("PEXPIRETIME k")
    yield c("PERSIST k")
    yield ["PEXPIREAT", "k", str(FAR_MS)]
    yield keep_write
    yield read
    yield c("PEXPIRETIME k")
    yield c("TYPE k")
    yield c("OBJECT ENCODING k")
    yield ["RENAME", "k", "renamed"]
    yield c("PEXPIRETIME renamed")
    yield c("OBJECT ENCODING renamed")
    yield ["COPY", "renamed", "copied"]
    yield c("PEXPIRETIME copied")
    yield c("PERSIST renamed")
    yield c("PEXPIRETIME copied")
    yield c("PEXPIRETIME renamed")
    yield c("DBSIZE")


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("kind", KINDS, ids=[k[0] for k in KINDS])
def test_expiry_comes_and_goes_on_every_kind_of_value(tern, valkey, kind, proto):
    name, create, read, keep_write = kind
    run_commands(tern, valkey, proto, list(expiry_flips(create, read, keep_write)), name)


# Around the lengths where a key moves from a short to a long form, and a few others.
KEY_LENGTHS = [0, 1, 15, 16, 17, 31, 32, 100, 4095, 4096, 4097, 70000]


def key_of(length: int, mark: str = "") -> str:
    return (mark + "".join(chr(97 + i % 26) for i in range(length)))[:length] if length else ""


def key_moves():
    for index, length in enumerate(KEY_LENGTHS):
        key = key_of(length)
        other = key_of(KEY_LENGTHS[(index + 1) % len(KEY_LENGTHS)], "R")
        copy = "C" + key
        yield ["SET", key, "sixteen-bytes-val"]
        yield ["GET", key]
        yield ["PEXPIREAT", key, str(FAR_MS + length)]
        yield ["GET", key]
        yield ["PEXPIRETIME", key]
        yield ["PERSIST", key]
        yield ["PEXPIRETIME", key]
        yield ["EXISTS", key]
        yield ["PEXPIREAT", key, str(FAR_MS + length + 1)]
        yield ["SET", key, "x" * 120, "KEEPTTL"]
        yield ["PEXPIRETIME", key]
        yield ["OBJECT", "ENCODING", key]
        yield ["RENAME", key, other]
        yield ["EXISTS", key]
        yield ["PEXPIRETIME", other]
        yield ["STRLEN", other]
        yield ["COPY", other, copy]
        yield ["PEXPIRETIME", copy]
        yield ["MOVE", copy, "1"]
        yield ["SELECT", "1"]
        yield ["PEXPIRETIME", copy]
        yield ["PERSIST", copy]
        yield ["GET", copy]
        yield ["FLUSHDB"]
        yield ["SELECT", "0"]
        yield ["SET", other, "v"]
        yield ["PEXPIRETIME", other]
        yield ["DEL", other]
        yield ["DBSIZE"]


@pytest.mark.parametrize("proto", [2, 3])
def test_keys_of_every_length_keep_name_value_and_expiry(tern, valkey, proto):
    run_commands(tern, valkey, proto, list(key_moves()), "key lengths")


def extremes():
    yield c("SET k v")
    yield ["PEXPIREAT", "k", str(I64_MAX)]
    yield c("PEXPIRETIME k")
    yield c("EXPIRETIME k")
    yield c("GET k")
    yield ["PEXPIREAT", "k", str(I64_MAX + 1)]
    yield ["EXPIREAT", "k", str(I64_MAX // 1000)]
    yield c("PEXPIRETIME k")
    yield ["SET", "k", "w", "PXAT", str(FAR_MS)]
    yield c("PEXPIRETIME k")
    yield c("GETEX k PERSIST")
    yield c("PEXPIRETIME k")
    yield ["GETEX", "k", "PXAT", str(FAR_MS + 7)]
    yield c("PEXPIRETIME k")
    yield c("SET k 10 KEEPTTL")
    yield c("INCR k")
    yield c("PEXPIRETIME k")
    yield c("OBJECT ENCODING k")
    yield c("SET k 10")
    yield c("PEXPIRETIME k")
    yield c("PEXPIREAT k 1")
    yield c("EXISTS k")


@pytest.mark.parametrize("proto", [2, 3])
def test_expiry_extremes(tern, valkey, proto):
    run_commands(tern, valkey, proto, list(extremes()), "extremes")


def expires_count(server) -> int:
    client = server.client()
    try:
        info = client.call("INFO", "keyspace").decode()
    finally:
        client.close()
    for line in info.split("\r\n"):
        if line.startswith("db0:"):
            fields = dict(part.split("=") for part in line[4:].split(","))
            return int(fields["expires"])
    return 0


def many_keys(count: int):
    for i in range(count):
        yield ["SET", f"key:{i:012d}", "sixteen-bytes-val"]
    for i in range(0, count, 3):
        yield ["PEXPIREAT", f"key:{i:012d}", str(FAR_MS + i)]
    for i in range(0, count, 6):
        yield ["PERSIST", f"key:{i:012d}"]
    for i in range(0, count, 5):
        yield ["RENAME", f"key:{i:012d}", f"moved:{i}"]
    for i in range(0, count, 7):
        yield ["SET", f"key:{i:012d}", "again", "KEEPTTL"]
    yield c("DBSIZE")
    for i in range(0, count, 3):
        yield ["PEXPIRETIME", f"key:{i:012d}"]
        yield ["PEXPIRETIME", f"moved:{i}"]
        yield ["GET", f"key:{i:012d}"]


def test_many_keys_gain_and_lose_expiries(tern, valkey):
    """Thousands of keys, the tables growing while their buckets move: the same replies, and
    the same count of keys with an expiry (INFO keyspace) on both servers."""
    run_commands(tern, valkey, 2, list(many_keys(3000)), "many keys")
    assert expires_count(tern) == expires_count(valkey) > 0


def test_active_expiry_reclaims_keys_that_gained_an_expiry(start_server):
    """Keys given an expiry after they were written (their buckets moved) are found and removed
    by the active cycle, with nobody looking them up."""
    server = start_server("tern")
    client = server.client()
    for i in range(500):
        assert client.call("SET", f"k{i}", "sixteen-bytes-val") == b"+OK\r\n"
    for i in range(0, 500, 2):
        assert client.call("PEXPIRE", f"k{i}", "100") == b":1\r\n"
    for i in range(0, 500, 4):
        assert client.call("PERSIST", f"k{i}") == b":1\r\n"
    assert expires_count(server) == 125
    deadline = time.monotonic() + 5
    while expires_count(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expires_count(server) == 0
    assert client.call("DBSIZE") == b":375\r\n"
    assert client.call("EXISTS", "k2") == b":0\r\n"
    assert client.call("GET", "k4") == b"$17\r\nsixteen-bytes-val\r\n"
    client.close()
