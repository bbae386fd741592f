"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their opposites, PUBLISH, SPUBLISH, PUBSUB.

Scenarios drive several real connections (subscribers and publishers) against one server and
record the raw bytes each connection receives; the same scenario runs on Tern, started with
several worker threads so that subscribers and publishers sit on different threads, and on the
reference server, and the transcripts are compared byte for byte in RESP2 and RESP3.

To know when a subscriber has received everything a publish sent it, each subscriber ends a step
with a PING carrying a unique text and reads up to that PING's reply (PING is allowed in
subscribed mode in both protocols).

Where the reference's order comes from a hash table (UNSUBSCRIBE without arguments, PUBSUB
CHANNELS), the names are compared as sets (docs/compatibility.md).
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from difftools import help_matches
from harness import RespClient, decode, encode_command

WORKERS = 3


@pytest.fixture(scope="module")
def tern_mt():
    """A Tern server with several worker threads: consecutive connections land on different
    threads."""
    import harness

    server = harness.start_server("tern", {"worker-threads": WORKERS})
    yield server
    alive = server.alive()
    server.cleanup()
    assert alive, "tern died during the pub/sub tests"


_sync_ids = itertools.count()


class Conn:
    """A connection that records what it receives."""

    def __init__(self, server, proto: int):
        self.client = server.client(timeout=10)
        self.proto = proto
        if proto == 3:
            reply = self.client.call("HELLO", "3")
            assert reply.startswith(b"%"), reply

    def send(self, *args):
        self.client.send_command(*args)

    def call(self, *args) -> bytes:
        return self.client.call(*args)

    def frames_until_sync(self) -> list[bytes]:
        """PING with a unique text, then every frame up to its reply (excluded)."""
        token = f"sync-{next(_sync_ids)}"
        self.client.send_command("PING", token)
        frames = []
        while True:
            frame = self.client.read_reply()
            value = decode(frame)
            if value == [b"pong", token.encode()] or value == token.encode():
                return frames
            frames.append(frame)

    def close(self):
        self.client.close()


def normalize_unordered(frames: list[bytes]) -> tuple:
    """Confirmations of a mass unsubscribe: the names as a set, the counts in order."""
    decoded = [decode(f) for f in frames]
    labels = [d[0] for d in decoded]
    names = sorted(d[1] or b"" for d in decoded)
    counts = [d[2] for d in decoded]
    kinds = {f[:1] for f in frames}
    return ("unordered", kinds, labels, names, counts)


def run_scenario(server, proto: int, steps) -> list:
    """Runs ``steps``: each is (connection name, command args, flags). Connections are created
    on first use, in order of first appearance, after every connection named in the scenario's
    first line has been created (so the thread spread is the same on each run).

    After each command, the issuing connection reads its reply; then every subscriber that is
    still in subscribed mode syncs. Returns the transcript."""
    conns: dict[str, Conn] = {}
    transcript = []
    names = []
    for name, _, _ in steps:
        if name not in names:
            names.append(name)
    for name in names:
        conns[name] = Conn(server, proto)
    try:
        for name, args, flags in steps:
            conn = conns[name]
            if "read" in flags:
                transcript.append((name, "read", conn.client.read_reply()))
                continue
            if "noreply" in flags:
                conn.send(*args)
                continue
            if "unordered" in flags:
                # As many confirmations as the command produces: read up to the sync.
                conn.send(*args)
                frames = conn.frames_until_sync()
                transcript.append((name, args, normalize_unordered(frames)))
                continue
            if "set" in flags:
                reply = conn.call(*args)
                value = decode(reply)
                transcript.append((name, args, reply[:1], sorted(value)))
                continue
            reply = conn.call(*args)
            extra = conn.frames_until_sync() if "sync" in flags else []
            transcript.append((name, args, reply, extra))
            if "publish" in flags:
                for other in names:
                    if "subscriber" in other:
                        transcript.append((other, "received", conns[other].frames_until_sync()))
    finally:
        for conn in conns.values():
            conn.close()
    return transcript


def compare(tern, valkey, proto, steps):
    for server in (tern, valkey):
        with server.client() as c:
            c.call("FLUSHALL")
    got = run_scenario(tern, proto, steps)
    want = run_scenario(valkey, proto, steps)
    for index, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {index}: {w[:2]}\n  tern:   {g!r}\n  valkey: {w!r}"
    assert len(got) == len(want)


def s(name, line, *flags):
    return (name, line.split(), set(flags))


# Subscribers are named "...subscriber..." so that every publish syncs them.
SCENARIOS = {
    "channels": [
        s("subscriber1", "SUBSCRIBE news sport news"),
        s("subscriber2", "SUBSCRIBE sport"),
        s("subscriber3", "SUBSCRIBE weather"),
        s("publisher", "PUBLISH news hello", "publish"),
        s("publisher", "PUBLISH sport goal", "publish"),
        s("publisher", "PUBLISH nobody listens", "publish"),
        s("subscriber1", "UNSUBSCRIBE sport nothere"),
        s("publisher", "PUBLISH sport again", "publish"),
        s("subscriber2", "SUBSCRIBE news"),
        s("publisher", "PUBLISH news twice", "publish"),
        s("subscriber1", "UNSUBSCRIBE"),
        s("subscriber1", "UNSUBSCRIBE"),
        s("subscriber2", "UNSUBSCRIBE", "unordered"),
        s("publisher", "PUBLISH news after", "publish"),
    ],
    "patterns": [
        s("subscriber1", "PSUBSCRIBE n* [ab]x h?llo"),
        s("subscriber2", "PSUBSCRIBE n*"),
        s("subscriber2", "SUBSCRIBE news"),
        s("publisher", "PUBLISH news one", "publish"),
        s("publisher", "PUBLISH ax two", "publish"),
        s("publisher", "PUBLISH hallo three", "publish"),
        s("publisher", "PUBSUB NUMPAT"),
        s("subscriber1", "PUNSUBSCRIBE n* zz"),
        s("publisher", "PUBLISH news four", "publish"),
        s("publisher", "PUBSUB NUMPAT"),
        s("subscriber1", "PUNSUBSCRIBE", "unordered"),
        s("subscriber1", "PUNSUBSCRIBE"),
        s("subscriber2", "PUNSUBSCRIBE"),
        s("subscriber2", "UNSUBSCRIBE"),
        s("publisher", "PUBLISH news five", "publish"),
        s("publisher", "PUBSUB NUMPAT"),
    ],
    "shard": [
        s("subscriber1", "SSUBSCRIBE orders{1} orders{2}"),
        s("subscriber2", "SSUBSCRIBE orders{1}"),
        s("subscriber3", "PSUBSCRIBE orders*"),
        s("subscriber3", "SUBSCRIBE orders{1}"),
        s("publisher", "SPUBLISH orders{1} a", "publish"),
        s("publisher", "PUBLISH orders{1} b", "publish"),
        s("publisher", "SPUBLISH orders{2} c", "publish"),
        s("publisher", "PUBSUB SHARDNUMSUB orders{1} orders{2} orders{3}"),
        s("publisher", "PUBSUB NUMSUB orders{1} orders{2}"),
        s("subscriber1", "SUNSUBSCRIBE orders{1}"),
        s("subscriber1", "SUBSCRIBE plain"),
        s("subscriber1", "SUNSUBSCRIBE"),
        s("subscriber1", "SUNSUBSCRIBE"),
        s("publisher", "SPUBLISH orders{2} d", "publish"),
        s("subscriber2", "SUNSUBSCRIBE orders{1} orders{9}"),
        s("publisher", "PUBSUB SHARDNUMSUB orders{1}"),
    ],
    "subscribed_mode_errors": [
        s("subscriber1", "SUBSCRIBE a"),
        s("subscriber1", "GET k"),
        s("subscriber1", "SET k v"),
        s("subscriber1", "PUBLISH a x"),
        s("subscriber1", "PUBSUB NUMSUB a"),
        s("subscriber1", "ECHO x"),
        s("subscriber1", "DBSIZE"),
        s("subscriber1", "SELECT 1"),
        s("subscriber1", "NOSUCHCOMMAND x"),
        s("subscriber1", "GET"),
        s("subscriber1", "PING a b"),
        s("subscriber1", "PING"),
        s("subscriber1", "PING hello"),
        s("subscriber1", "SUBSCRIBE"),
        s("subscriber1", "SSUBSCRIBE sh"),
        s("subscriber1", "UNSUBSCRIBE a"),
        # Still subscribed to a shard channel: still in subscribed mode.
        s("subscriber1", "GET k"),
        s("subscriber1", "SUNSUBSCRIBE sh"),
        s("subscriber1", "GET k"),
        s("subscriber1", "PING"),
    ],
    "introspection": [
        s("subscriber1", "SUBSCRIBE alpha beta gamma"),
        s("subscriber2", "SUBSCRIBE beta"),
        s("subscriber2", "PSUBSCRIBE b* *"),
        s("subscriber3", "SSUBSCRIBE s1 s2"),
        s("publisher", "PUBSUB CHANNELS", "set"),
        s("publisher", "PUBSUB CHANNELS *a", "set"),
        s("publisher", "PUBSUB CHANNELS b*"),
        s("publisher", "PUBSUB CHANNELS nomatch*"),
        s("publisher", "PUBSUB SHARDCHANNELS", "set"),
        s("publisher", "PUBSUB SHARDCHANNELS s1"),
        s("publisher", "PUBSUB NUMSUB"),
        s("publisher", "PUBSUB NUMSUB alpha beta delta beta"),
        s("publisher", "PUBSUB SHARDNUMSUB"),
        s("publisher", "PUBSUB SHARDNUMSUB s1 s2 alpha"),
        s("publisher", "PUBSUB NUMPAT"),
        s("publisher", "PUBSUB CHANNELS a b"),
        s("publisher", "PUBSUB SHARDCHANNELS a b"),
        s("publisher", "PUBSUB NUMPAT x"),
        s("publisher", "PUBSUB NOSUCH"),
        s("publisher", "PUBSUB"),
        s("publisher", "PUBSUB HELP x"),
        s("publisher", "PUBLISH onlyone"),
        s("publisher", "SPUBLISH a b c"),
        s("publisher", "PSUBSCRIBE"),
        s("publisher", "SSUBSCRIBE"),
        s("publisher", "UNSUBSCRIBE"),
        s("publisher", "PUNSUBSCRIBE"),
        s("publisher", "SUNSUBSCRIBE"),
        # The last three left the publisher out of subscribed mode: it is a normal client.
        s("publisher", "GET k"),
        s("subscriber1", "UNSUBSCRIBE", "unordered"),
        s("publisher", "PUBSUB CHANNELS", "set"),
    ],
    "client_reply_off": [
        # Confirmations and messages are pushes: CLIENT REPLY does not silence them. (These
        # connections cannot sync with PING, whose reply is silenced: they read frame by frame.)
        s("quiet1", "CLIENT REPLY OFF", "noreply"),
        s("quiet1", "SUBSCRIBE quiet"),
        s("publisher", "PUBLISH quiet m"),
        s("quiet1", "-", "read"),
        s("quiet1", "UNSUBSCRIBE"),
        s("quiet1", "CLIENT REPLY ON"),
        s("quiet2", "CLIENT REPLY SKIP", "noreply"),
        s("quiet2", "PSUBSCRIBE q*"),
        s("publisher", "PUBLISH quiet n"),
        s("quiet2", "-", "read"),
        s("quiet2", "PUNSUBSCRIBE"),
    ],
    "publish_to_self": [
        # RESP2 cannot publish while subscribed; RESP3 can, and its own message follows the
        # reply.
        s("subscriber1", "SUBSCRIBE me"),
        s("subscriber1", "PSUBSCRIBE m*"),
        s("subscriber1", "PUBLISH me hi", "sync"),
        s("subscriber1", "SSUBSCRIBE shard"),
        s("subscriber1", "SPUBLISH shard hi", "sync"),
    ],
}


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(tern_mt, valkey, proto, name):
    compare(tern_mt, valkey, proto, SCENARIOS[name])


def test_pubsub_help(tern_mt, valkey):
    with tern_mt.client() as ct, valkey.client() as cv:
        rt, rv = ct.call("PUBSUB", "HELP"), cv.call("PUBSUB", "HELP")
        assert help_matches(rt, rv), (rt, rv)


@pytest.mark.parametrize("proto", [2, 3])
def test_pipelined_publish_and_subscribe(tern_mt, valkey, proto):
    """One write carrying subscriptions, publishes to itself (RESP3), PINGs and errors: the
    bytes received, in order, match (messages to itself come right after the PUBLISH reply,
    before the next command's reply)."""
    script = [["SUBSCRIBE", "p", "q"], ["PSUBSCRIBE", "p*"], ["PING"], ["GET", "k"],
              ["UNSUBSCRIBE", "q"], ["PING", "x"]]
    if proto == 3:
        script += [["PUBLISH", "p", "one"], ["PING"], ["PUBLISH", "p", "two"], ["ECHO", "e"],
                   ["SPUBLISH", "p", "no"]]
    script += [["PUNSUBSCRIBE"], ["UNSUBSCRIBE"], ["PING"]]
    payload = b"".join(encode_command(*args) for args in script)
    received = {}
    for server in (tern_mt, valkey):
        conn = Conn(server, proto)
        conn.client.send(payload)
        frames = conn.frames_until_sync()
        received[server.kind] = frames
        conn.close()
    assert received["tern"] == received["valkey"]


def test_order_per_publisher_across_workers(tern_mt):
    """Subscribers on every worker thread get each publisher's messages in publish order, and
    every message exactly once."""
    subscribers = [Conn(tern_mt, 2 + (i % 2)) for i in range(2 * WORKERS)]
    for i, sub in enumerate(subscribers):
        sub.call("SUBSCRIBE", "ordered") if i % 3 else sub.call("PSUBSCRIBE", "ord*")
    publishers = [tern_mt.client() for _ in range(WORKERS)]
    count = 300

    def publish(index, client):
        payload = b"".join(encode_command("PUBLISH", "ordered", f"{index}:{n}")
                           for n in range(count))
        client.send(payload)
        replies = client.read_replies(count)
        assert all(r == b":%d\r\n" % len(subscribers) for r in replies), replies[:3]

    threads = [threading.Thread(target=publish, args=(i, c)) for i, c in enumerate(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sub in subscribers:
        frames = sub.frames_until_sync()
        assert len(frames) == count * len(publishers)
        last = {}
        for frame in frames:
            payload = decode(frame)[-1].decode()
            publisher, n = map(int, payload.split(":"))
            assert n == last.get(publisher, -1) + 1, f"out of order: {payload} after {last}"
            last[publisher] = n
    for c in publishers:
        c.close()
    for sub in subscribers:
        sub.close()


def pubsub_info(server) -> dict:
    with server.client() as c:
        info = decode(c.call("INFO")).decode()
    return {line.split(":")[0]: line.split(":")[1] for line in info.split("\r\n")
            if line.startswith("pubsub")}


def quiesce(server):
    """Waits until the subscribers of earlier tests are gone (a close is handled
    asynchronously)."""
    assert wait_for(lambda: pubsub_info(server)["pubsub_clients"] == "0")


def client_fields(server, client_id) -> dict:
    with server.client() as c:
        text = decode(c.call("CLIENT", "LIST", "ID", str(client_id)))
    fields = dict(kv.split("=", 1) for kv in text.decode().split())
    return {k: fields[k] for k in ("flags", "sub", "psub", "ssub")}


@pytest.mark.parametrize("proto", [2, 3])
def test_client_list_and_info_fields(tern_mt, valkey, proto):
    seen = {}
    for server in (tern_mt, valkey):
        quiesce(server)
        conn = Conn(server, proto)
        client_id = decode(conn.call("CLIENT", "ID"))
        stages = [client_fields(server, client_id)]
        for args in (["SUBSCRIBE", "a", "b"], ["PSUBSCRIBE", "x*"], ["SSUBSCRIBE", "s"]):
            conn.call(*args)
            stages.append(client_fields(server, client_id))
        with server.client() as c:
            info = decode(c.call("INFO")).decode()
            stats = {line.split(":")[0]: line.split(":")[1] for line in info.split("\r\n")
                     if line.startswith("pubsub")}
            listed = decode(c.call("CLIENT", "LIST", "TYPE", "pubsub")).decode()
            stages.append(("type pubsub", [f.split()[0] == f"id={client_id}"
                                           for f in listed.splitlines()]))
            stages.append(stats)
        conn.call("RESET")
        stages.append(client_fields(server, client_id))
        with server.client() as c:
            info = decode(c.call("INFO")).decode()
            stages.append({line.split(":")[0]: line.split(":")[1] for line in info.split("\r\n")
                           if line.startswith("pubsub")})
            stages.append(decode(c.call("CLIENT", "LIST", "TYPE", "pubsub")))
        conn.close()
        seen[server.kind] = stages
    assert seen["tern"] == seen["valkey"]


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("how", ["close", "reset", "quit", "kill"])
def test_subscriptions_dropped(tern_mt, how):
    sub = Conn(tern_mt, 2)
    sub.call("SUBSCRIBE", "gone")
    sub.call("PSUBSCRIBE", "gone*")
    sub.call("SSUBSCRIBE", "sgone")
    with tern_mt.client() as c:
        assert decode(c.call("PUBSUB", "NUMSUB", "gone")) == [b"gone", 1]
        if how == "close":
            sub.close()
        elif how == "reset":
            assert sub.call("RESET") == b"+RESET\r\n"
            assert sub.call("ECHO", "back") == b"$4\r\nback\r\n"
        elif how == "quit":
            assert sub.call("QUIT") == b"+OK\r\n"
        else:
            assert decode(c.call("CLIENT", "KILL", "TYPE", "pubsub")) >= 1

        def empty():
            return (decode(c.call("PUBSUB", "NUMSUB", "gone")) == [b"gone", 0]
                    and decode(c.call("PUBSUB", "NUMPAT")) == 0
                    and decode(c.call("PUBSUB", "SHARDNUMSUB", "sgone")) == [b"sgone", 0])

        assert wait_for(empty)
        assert c.call("PUBLISH", "gone", "x") == b":0\r\n"
        assert c.call("SPUBLISH", "sgone", "x") == b":0\r\n"
        info = decode(c.call("INFO", "stats")).decode()
        assert "pubsub_patterns:0\r\n" in info and "pubsubshard_channels:0\r\n" in info
    sub.close()


@pytest.mark.parametrize("kind", ["tern", "valkey"])
def test_subscribed_clients_survive_idle_timeout(start_server, kind):
    directives = {"timeout": 1}
    if kind == "tern":
        directives["worker-threads"] = 2
    server = start_server(kind, directives)
    sub = Conn(server, 2)
    sub.call("SUBSCRIBE", "quiet")
    idle = server.client()
    time.sleep(2.5)
    assert idle.is_closed(wait=1.0)
    with server.client() as c:
        assert c.call("PUBLISH", "quiet", "still") == b":1\r\n"
    assert decode(sub.client.read_reply()) == [b"message", b"quiet", b"still"]
    sub.close()


# ---------------------------------------------------------------------------
# The output buffer limit of the pubsub class
# ---------------------------------------------------------------------------

def test_output_buffer_limit_config(tern_mt, valkey):
    for value in ("pubsub 1mb 256kb 10", "pubsub 0 0 0", "normal 0 0 0 pubsub 32mb 8mb 60",
                  "pubsub 1 2", "pubsub 1gb 2gb 3"):
        got = [c.call("CONFIG", "SET", "client-output-buffer-limit", value)
               for c in (tern_mt.client(), valkey.client())]
        assert got[0] == got[1], (value, got)
        got = [c.call("CONFIG", "GET", "client-output-buffer-limit")
               for c in (tern_mt.client(), valkey.client())]
        assert got[0] == got[1], (value, got)


def output_limit_run(server, limit: str, wait_soft: float | None):
    """A subscriber that never reads, one that reads everything, and a normal client. Returns
    what happened to each."""
    with server.client() as admin:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", limit)
        admin.call("CONFIG", "RESETSTAT")
    slow = RespClient(server.host, server.port, rcvbuf=4096)
    assert slow.call("SUBSCRIBE", "firehose").startswith(b"*3")
    fast = server.client()
    assert fast.call("SUBSCRIBE", "firehose").startswith(b"*3")
    normal = server.client()
    publisher = server.client()
    received = [0]
    done = threading.Event()

    def read_fast():
        while not done.is_set() or received[0] < expected[0]:
            try:
                fast.read_reply()
            except Exception:
                return
            received[0] += 1

    expected = [0]
    reader = threading.Thread(target=read_fast, daemon=True)
    reader.start()
    message = "x" * 16384
    total = 0
    for burst in range(40):
        publisher.send(b"".join(encode_command("PUBLISH", "firehose", message) for _ in range(25)))
        replies = publisher.read_replies(25)
        total += sum(decode(r) for r in replies)
        expected[0] += 25
        assert normal.call("SET", "k", str(burst)) == b"+OK\r\n"
    if wait_soft:
        time.sleep(wait_soft)
        publisher.call("PUBLISH", "firehose", "one more")
        expected[0] += 1
    done.set()
    reader.join(timeout=20)
    data, closed = slow.read_until_close(idle=1.0, limit=30)
    with server.client() as admin:
        info = decode(admin.call("INFO", "stats")).decode()
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")
    disconnections = int(info.split("client_output_buffer_limit_disconnections:")[1]
                         .split("\r\n")[0])
    outcome = {
        "slow closed": closed,
        "slow got everything": len(data) >= 1000 * 16384,
        "fast got everything": received[0] == expected[0],
        "normal works": normal.call("GET", "k") == b"$2\r\n39\r\n",
        "fast still subscribed": fast.call("PING", "ok") == b"*2\r\n$4\r\npong\r\n$2\r\nok\r\n",
        "disconnections": disconnections,
    }
    for c in (slow, fast, normal, publisher):
        c.close()
    return outcome


# The soft limit counts whole seconds of the clock, more than its seconds after the output was
# first seen over it: waiting 2.5 s always gets past a 1-second limit.
@pytest.mark.parametrize("limit,wait_soft", [("pubsub 2mb 0 0", None),
                                             ("pubsub 0 1mb 1", 2.5)])
def test_output_buffer_limit_disconnects_only_the_slow_subscriber(tern_mt, valkey, limit,
                                                                   wait_soft):
    got = output_limit_run(tern_mt, limit, wait_soft)
    want = output_limit_run(valkey, limit, wait_soft)
    assert want == {"slow closed": True, "slow got everything": False,
                    "fast got everything": True, "normal works": True,
                    "fast still subscribed": True, "disconnections": 1}, want
    assert got == want


def one_big_message_run(server, seconds: int):
    """A message past the soft limit to a subscriber that does not read, then nothing more:
    the server checks the limit again by itself and closes the subscriber once the limit's
    seconds have passed."""
    with server.client() as admin:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", f"pubsub 0 1mb {seconds}")
        admin.call("CONFIG", "RESETSTAT")
    slow = RespClient(server.host, server.port, rcvbuf=4096)
    slow.call("SUBSCRIBE", "big")
    with server.client() as publisher:
        # 8 MB: more than the kernel takes from the server for a reader that does not read.
        assert publisher.call("PUBLISH", "big", "z" * (8 << 20)) == b":1\r\n"
    time.sleep(seconds + 1.6)
    data, closed = slow.read_until_close(idle=0.5, limit=10)
    with server.client() as admin:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")
        info = decode(admin.call("INFO", "stats")).decode()
    slow.close()
    disconnections = int(info.split("client_output_buffer_limit_disconnections:")[1]
                         .split("\r\n")[0])
    return {"closed": closed, "got it": len(data) >= 8 << 20,
            "disconnections": disconnections}


@pytest.mark.parametrize("seconds", [0, 1])
def test_soft_limit_is_checked_without_new_output(tern_mt, valkey, seconds):
    want = one_big_message_run(valkey, seconds)
    assert want == {"closed": True, "got it": False, "disconnections": 1}, want
    assert one_big_message_run(tern_mt, seconds) == want


def test_soft_limit_needs_its_time(tern_mt):
    """Over the soft limit for less than its seconds: still connected."""
    with tern_mt.client() as admin:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 64kb 60")
    slow = RespClient(tern_mt.host, tern_mt.port, rcvbuf=4096)
    slow.call("SUBSCRIBE", "soft")
    with tern_mt.client() as publisher:
        for _ in range(10):
            publisher.send(b"".join(encode_command("PUBLISH", "soft", "y" * 65536)
                                    for _ in range(10)))
            assert publisher.read_replies(10) == [b":1\r\n"] * 10
        with tern_mt.client() as admin:
            admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")
    assert not slow.is_closed(wait=0.3)
    slow.close()


# ---------------------------------------------------------------------------
# A real client
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_pubsub(tern_mt, proto):
    r = tern_mt.redis(protocol=proto)
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    p.ssubscribe("shard")

    def next_message():
        for _ in range(100):
            message = p.get_message(timeout=0.1)
            if message is not None:
                return message
        raise AssertionError("no message")

    confirmations = [next_message() for _ in range(3)]
    assert sorted(m["type"] for m in confirmations) == ["psubscribe", "ssubscribe", "subscribe"]
    assert r.publish("news", "hello") == 2
    got = [next_message(), next_message()]
    assert {(m["type"], m["channel"], m["data"]) for m in got} == {
        ("message", b"news", b"hello"), ("pmessage", b"news", b"hello")}
    assert r.spublish("shard", "s") == 1
    shard_message = p.get_sharded_message(timeout=2.0)
    assert shard_message["type"] == "smessage" and shard_message["data"] == b"s"
    assert r.pubsub_numsub("news") == [(b"news", 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b"news"]
    p.unsubscribe("news")
    p.punsubscribe()
    p.sunsubscribe()
    for _ in range(3):
        next_message()
    assert r.publish("news", "nobody") == 0
    p.close()
    r.close()
