"""Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
BZMPOP and CLIENT UNBLOCK.

Argument errors and timeouts are compared with Valkey command by command.  The
waiting itself needs several connections: each scenario below drives a few
clients against one server and returns every reply it saw, in order, and the
same scenario is run on Tern and on Valkey.  Connections are given to Tern's
worker threads in turn, so consecutive clients of a scenario sit on different
threads.  A stress test checks that many consumers on many threads get every
pushed element exactly once.
"""

from __future__ import annotations

import threading
import time

import pytest

from difftools import run_commands
from harness import RespClient, decode


def c(line: str):
    return line.split()


CASES = {
    "errors": [c("BLPOP k -1"), c("BLPOP k abc"), c("BLPOP k 1e400"), c("BLPOP k inf"),
               c("BLPOP k nan"), c("BLPOP k 99999999999999999"), c("BRPOP k"),
               c("BLMOVE k d FOO LEFT x"), c("BLMOVE k d LEFT LEFT x"),
               c("BLMOVE k d LEFT RIGHT"), c("BRPOPLPUSH k d -5"), c("BRPOPLPUSH k d"),
               c("BLMPOP x 0 k LEFT"), c("BLMPOP x 1 k LEFT"), c("BLMPOP x 1 k FOO"),
               c("BLMPOP -1 1 k LEFT COUNT 0"), c("BLMPOP 0 1 k LEFT COUNT 2 COUNT 3"),
               c("BLMPOP 0 3 k LEFT"), c("BLMPOP 0 1 k"), c("CLIENT UNBLOCK x"),
               c("CLIENT UNBLOCK 1 FOO"), c("CLIENT UNBLOCK 999999 TIMEOUT"),
               c("CLIENT UNBLOCK 999999 ERROR"), c("CLIENT UNBLOCK")],
    "timeouts": [c("BLPOP k 0.05"), c("BRPOP k k2 0.01"), c("BLMOVE k d LEFT RIGHT 0.01"),
                 c("BRPOPLPUSH k d 0.01"), c("BLMPOP 0.01 2 k k2 RIGHT COUNT 3"),
                 c("BLPOP k 0x0.1p-4"), c("EXISTS k d")],
    "ready": [c("RPUSH k a b c"), c("BLPOP k 0"), c("BRPOP k 0"), c("BLPOP nx k 0"),
              c("RPUSH k x y z"), c("BLMOVE k d LEFT RIGHT 0"), c("BRPOPLPUSH k d 0"),
              c("LRANGE d 0 -1"), c("BLMPOP 0 2 nx d LEFT COUNT 5"), c("EXISTS d"),
              c("RPUSH k 1 2"), c("BLMOVE k k RIGHT LEFT 0"), c("LRANGE k 0 -1")],
    "zset": [c("BZMPOP x 0 k MIN"), c("BZMPOP x 1 k MIN"), c("BZMPOP x 1 k FOO"),
             c("BZMPOP -1 1 k MIN COUNT 0"), c("BZPOPMIN k x"), c("BZPOPMAX k -1"),
             c("BZPOPMIN k"), c("ZADD z 1 a 2 b 3 c"), c("BZPOPMIN nk z 0"),
             c("BZPOPMAX z 0"), c("BZMPOP 0 2 nk z MAX COUNT 5"), c("EXISTS z"),
             c("SET s v"), c("BZPOPMIN s 0"), c("BZMPOP 0 1 s MIN"), c("DEL s"),
             c("BZPOPMIN nk 0.01"), c("BZMPOP 0.01 1 nk MIN"), c("ZADD z 1.5 a -inf b"),
             c("BZMPOP 0 1 z MIN COUNT 1"), c("BZPOPMAX z 0"), c("RPUSH l x"),
             c("BZPOPMIN l 0")],
    "wrongtype": [c("SET s v"), c("BLPOP nx s 0"), c("BRPOP s 0"),
                  c("BLMOVE s d LEFT LEFT 0"), c("RPUSH src a"), c("BLMOVE src s LEFT LEFT 0"),
                  c("BRPOPLPUSH src s 0"), c("LRANGE src 0 -1"), c("BLMPOP 0 2 nx s LEFT")],
}


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_differential(tern, valkey, proto, name):
    for server in (tern, valkey):
        with server.client() as client:
            client.call("FLUSHALL")
    run_commands(tern, valkey, proto, CASES[name], f"{name} RESP{proto}")


# ---------------------------------------------------------------------------
# Scenarios with several connections
# ---------------------------------------------------------------------------

class Session:
    """The clients of one scenario and the transcript of what they received."""

    def __init__(self, server, proto):
        self.server = server
        self.proto = proto
        self.clients = []
        self.transcript = []

    def client(self):
        client = self.server.client(timeout=5)
        if self.proto == 3:
            client.call("HELLO", "3")
        self.clients.append(client)
        return client

    def call(self, client, *args):
        self.transcript.append(client.call(*args))

    def block(self, client, *args):
        """Sends a blocking command and waits until the server has parked it."""
        client.send_command(*args)
        waited = len([c for c in self.clients if getattr(c, "blocked", False)]) + 1
        client.blocked = True
        with self.server.client() as admin:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                info = decode(admin.call("INFO", "clients")).decode()
                fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
                if int(fields["blocked_clients"]) >= waited:
                    return
                time.sleep(0.005)
        raise AssertionError(f"{args} did not block")

    def receive(self, client):
        self.transcript.append(client.read_reply())
        client.blocked = False

    def nothing_pending(self, client):
        client.settimeout(0.1)
        try:
            data = client.sock.recv(1 << 16)
        except TimeoutError:
            data = b""
        client.settimeout(5)
        self.transcript.append(b"(nothing)" if not data else data)

    def close(self):
        for client in self.clients:
            client.close()


def fifo(s):
    a, b, c, pusher = s.client(), s.client(), s.client(), s.client()
    s.block(a, "BLPOP", "q", "0")
    s.block(b, "BRPOP", "q", "0")
    s.block(c, "BLPOP", "q", "0")
    s.call(pusher, "RPUSH", "q", "one", "two")
    s.receive(a)
    s.receive(b)
    s.nothing_pending(c)
    s.call(pusher, "LPUSH", "q", "three")
    s.receive(c)
    s.call(pusher, "EXISTS", "q")


def several_keys(s):
    a, pusher = s.client(), s.client()
    s.block(a, "BLPOP", "k1", "k2", "k3", "0")
    s.call(pusher, "RPUSH", "k3", "x", "y")
    s.receive(a)
    s.call(pusher, "LRANGE", "k3", "0", "-1")
    s.block(a, "BLMPOP", "0", "2", "k1", "k2", "RIGHT", "COUNT", "5")
    s.call(pusher, "RPUSH", "k2", "a", "b", "c")
    s.receive(a)
    s.call(pusher, "EXISTS", "k2")


def move_chain(s):
    mover, reader, pusher = s.client(), s.client(), s.client()
    s.block(mover, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    s.block(reader, "BRPOP", "dst", "0")
    s.call(pusher, "RPUSH", "src", "a", "b")
    s.receive(mover)
    s.receive(reader)
    s.call(pusher, "LRANGE", "src", "0", "-1")
    s.call(pusher, "EXISTS", "dst")


def woken_by_other_writes(s):
    a, b, pusher = s.client(), s.client(), s.client()
    s.block(a, "BLPOP", "via-move", "0")
    s.block(b, "BRPOPLPUSH", "via-rename", "out", "0")
    s.call(pusher, "RPUSH", "tmp", "m")
    s.call(pusher, "LMOVE", "tmp", "via-move", "LEFT", "LEFT")
    s.receive(a)
    s.call(pusher, "RPUSH", "tmp2", "r1", "r2")
    s.call(pusher, "RENAME", "tmp2", "via-rename")
    s.receive(b)
    s.call(pusher, "LRANGE", "out", "0", "-1")
    s.call(pusher, "LRANGE", "via-rename", "0", "-1")


def wrong_type_keeps_waiting(s):
    a, writer = s.client(), s.client()
    s.block(a, "BLPOP", "w", "0")
    s.call(writer, "SET", "w", "string")
    s.nothing_pending(a)
    s.call(writer, "DEL", "w")
    s.call(writer, "SADD", "w", "member")
    s.nothing_pending(a)
    s.call(writer, "DEL", "w")
    s.call(writer, "RPUSH", "w", "finally")
    s.receive(a)


def wrong_type_on_another_key(s):
    a, writer = s.client(), s.client()
    s.block(a, "BLPOP", "first", "second", "0")
    s.call(writer, "SET", "first", "string")
    s.call(writer, "RPUSH", "second", "x")
    s.receive(a)
    s.call(writer, "LLEN", "second")


def unblock(s):
    a, admin = s.client(), s.client()
    a_id = decode(a.call("CLIENT", "ID"))
    s.block(a, "BLPOP", "u", "0")
    s.call(admin, "CLIENT", "UNBLOCK", str(a_id), "ERROR")
    s.receive(a)
    s.block(a, "BLMOVE", "u", "d", "LEFT", "LEFT", "0")
    s.call(admin, "CLIENT", "UNBLOCK", str(a_id))
    s.receive(a)
    s.call(admin, "CLIENT", "UNBLOCK", str(a_id), "TIMEOUT")
    s.block(a, "BLMPOP", "0", "1", "u", "LEFT")
    s.call(admin, "CLIENT", "UNBLOCK", str(a_id), "timeout")
    s.receive(a)
    s.call(a, "PING")


def pipelined_after_block(s):
    a, pusher = s.client(), s.client()
    a.send(b"BLPOP p 0\r\nPING\r\nLLEN p\r\n")
    a.blocked = True
    time.sleep(0.1)
    s.call(pusher, "RPUSH", "p", "x", "y")
    s.receive(a)
    s.receive(a)
    s.receive(a)


def closed_waiter_loses_nothing(s):
    a, b, pusher = s.client(), s.client(), s.client()
    s.block(a, "BLPOP", "c", "0")
    s.block(b, "BLPOP", "c", "0")
    a.close()
    time.sleep(0.1)
    s.call(pusher, "RPUSH", "c", "1", "2")
    s.receive(b)
    s.call(pusher, "LRANGE", "c", "0", "-1")


def sorted_sets(s):
    low, high, many, writer = s.client(), s.client(), s.client(), s.client()
    s.block(low, "BZPOPMIN", "z", "0")
    s.block(high, "BZPOPMAX", "z", "0")
    s.block(many, "BZMPOP", "0", "2", "y", "z", "MAX", "COUNT", "10")
    s.call(writer, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    s.receive(low)
    s.receive(high)
    s.receive(many)
    s.call(writer, "EXISTS", "z")
    s.block(low, "BZPOPMIN", "w", "0")
    s.call(writer, "RPUSH", "w", "not-a-zset")
    s.nothing_pending(low)
    s.call(writer, "DEL", "w")
    s.call(writer, "ZADD", "src", "5", "m")
    s.call(writer, "ZUNIONSTORE", "w", "1", "src", "WEIGHTS", "2")
    s.receive(low)


def timeout_then_push(s):
    a, pusher = s.client(), s.client()
    s.call(a, "BLPOP", "t", "0.1")
    s.call(pusher, "RPUSH", "t", "late")
    s.call(pusher, "LLEN", "t")


SCENARIOS = [fifo, several_keys, move_chain, woken_by_other_writes, wrong_type_keeps_waiting,
             wrong_type_on_another_key, unblock, pipelined_after_block,
             closed_waiter_loses_nothing, sorted_sets, timeout_then_push]


def run_scenario(server, proto, scenario):
    with server.client() as admin:
        admin.call("FLUSHALL")
    session = Session(server, proto)
    try:
        scenario(session)
    finally:
        session.close()
    return session.transcript


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario(tern, valkey, proto, scenario):
    expected = run_scenario(valkey, proto, scenario)
    got = run_scenario(tern, proto, scenario)
    assert got == expected


def test_timeout_has_sub_second_precision(tern):
    # Never early; late only by scheduling (the margin is generous for loaded machines).
    with tern.client() as client:
        for timeout in (0.05, 0.25):
            started = time.monotonic()
            assert client.call("BLPOP", "never", str(timeout)) == b"*-1\r\n"
            elapsed = time.monotonic() - started
            assert timeout <= elapsed < timeout + 0.5, elapsed


def test_info_counts_waiting_clients(tern):
    with tern.client() as a, tern.client() as admin:
        a.send_command("BLPOP", "i1", "i2", "0")
        deadline = time.monotonic() + 5
        info = {}
        while time.monotonic() < deadline:
            text = decode(admin.call("INFO", "clients")).decode()
            info = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
            if info["blocked_clients"] == "1":
                break
            time.sleep(0.01)
        assert info["blocked_clients"] == "1"
        assert info["total_blocking_keys"] == "2"
        listing = decode(admin.call("CLIENT", "LIST")).decode()
        waiting = [line for line in listing.splitlines() if "cmd=blpop" in line]
        assert len(waiting) == 1 and " flags=b " in waiting[0], listing
        admin.call("RPUSH", "i2", "x")
        assert decode(a.read_reply()) == [b"i2", b"x"]
        text = decode(admin.call("INFO", "clients")).decode()
        assert "blocked_clients:0" in text


def test_many_consumers_on_many_threads_get_every_element_once(start_server):
    server = start_server("tern", [("io-threads", "4")])
    consumers = 12
    per_producer = 1500
    producers = 3
    received = []
    lock = threading.Lock()

    def consume():
        with server.client(timeout=10) as client:
            while True:
                reply = decode(client.call("BLPOP", "jobs", "other", "2"))
                if reply is None:
                    return
                with lock:
                    received.append(reply[1])

    def produce(index):
        with server.client() as client:
            for n in range(per_producer):
                client.call("RPUSH", "jobs", f"{index}:{n}")

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    threads += [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    expected = {f"{i}:{n}".encode() for i in range(producers) for n in range(per_producer)}
    assert len(received) == len(expected)
    assert set(received) == expected
    with server.client() as client:
        assert client.call("EXISTS", "jobs") == b":0\r\n"
