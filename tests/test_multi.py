"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

One-connection sequences are compared with Valkey byte for byte, in RESP2 and
RESP3: queueing, errors while queueing (EXECABORT), errors while running
(reported per command), blocking commands inside a transaction (they answer at
once), SELECT and HELLO inside one.  WATCH is driven by a second connection and
the same scenario is run on both servers.  The atomicity test runs writers and
readers on every worker thread of one Tern and checks that no reader ever sees a
transaction half done.
"""

from __future__ import annotations

import threading
import time

import pytest

from difftools import run_commands
from harness import decode
from test_blocking import run_scenario


def c(line: str):
    return line.split()


CASES = {
    "outside": [c("EXEC"), c("DISCARD"), c("UNWATCH"), c("WATCH"), c("EXEC x")],
    "queueing": [c("MULTI"), c("SET a 1"), c("INCR a"), c("GET a"), c("EXEC"), c("GET a")],
    "runtime-errors": [c("MULTI"), c("SET a x"), c("INCR a"), c("LPUSH a y"),
                       c("SET b 1 2"), c("HGETALL nohash"), c("EXEC"), c("GET a")],
    "queue-errors": [c("MULTI"), c("SET a 1"), c("NOSUCH x"), c("GET"), c("EXEC"),
                     c("EXISTS a")],
    "unknown-subcommand": [c("MULTI"), c("CLIENT NOSUCH"), c("EXEC")],
    "nested": [c("MULTI"), c("MULTI"), c("WATCH k"), c("PING"), c("EXEC")],
    "exec-arity": [c("MULTI"), c("PING"), c("EXEC now"), c("EXEC")],
    "discard": [c("MULTI"), c("SET d 1"), c("DISCARD"), c("EXISTS d"), c("EXEC"),
                c("MULTI"), c("DISCARD x"), c("EXEC")],
    "empty": [c("MULTI"), c("EXEC")],
    "blocking-inside": [c("RPUSH l a"), c("MULTI"), c("BLPOP l 0"), c("BLPOP l 0"),
                        c("BRPOPLPUSH l d 0"), c("BLMOVE l d LEFT RIGHT 0"),
                        c("BLMPOP 0 1 l LEFT"), c("BZPOPMIN z 0"), c("BZMPOP 0 1 z MIN"),
                        c("EXEC")],
    "select-inside": [c("MULTI"), c("SELECT 3"), c("SET s 1"), c("EXEC"), c("GET s"),
                      c("SELECT 0"), c("EXISTS s")],
    "watch-own-change": [c("SET w 1"), c("WATCH w"), c("SET w 2"), c("MULTI"), c("GET w"),
                         c("EXEC"), c("WATCH w"), c("MULTI"), c("GET w"), c("EXEC")],
    "unwatch": [c("SET w 1"), c("WATCH w"), c("UNWATCH"), c("SET w 2"), c("MULTI"),
                c("GET w"), c("EXEC")],
    "watch-unchanged": [c("WATCH a b c"), c("WATCH d"), c("MULTI"), c("PING"), c("EXEC")],
    "reset": [c("WATCH w"), c("MULTI"), c("SET w 1"), c("RESET"), c("EXEC"), c("GET w")],
}


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_differential(tern, valkey, proto, name):
    for server in (tern, valkey):
        with server.client() as client:
            client.call("FLUSHALL")
    run_commands(tern, valkey, proto, CASES[name], f"{name} RESP{proto}")


@pytest.mark.parametrize("proto", [2, 3])
def test_hello_inside_changes_the_protocol_of_later_replies(tern, valkey, proto):
    """HELLO queued in a transaction: the replies after it use the new protocol.  The
    connection id inside HELLO's reply differs between servers and is masked."""
    transcripts = []
    for server in (tern, valkey):
        with server.client() as client:
            if proto == 3:
                client.call("HELLO", "3")
            client_id = decode(client.call("CLIENT", "ID"))
            replies = [client.call(*args) for args in
                       (c("MULTI"), c("HELLO 2"), c("HGETALL nohash"), c("HELLO 3"),
                        c("HGETALL nohash"), c("EXEC"))]
            marker = b"id\r\n:%d\r\n" % client_id
            transcripts.append([r.replace(marker, b"id\r\n:ID\r\n") for r in replies])
    assert transcripts[0] == transcripts[1]


# ---------------------------------------------------------------------------
# WATCH against another connection, and blocked clients woken by a transaction
# ---------------------------------------------------------------------------

def other_writes_watched_key(s):
    a, b = s.client(), s.client()
    s.call(a, "SET", "k", "1")
    s.call(a, "WATCH", "k")
    s.call(b, "SET", "k", "2")
    s.call(a, "MULTI")
    s.call(a, "GET", "k")
    s.call(a, "EXEC")


def other_writes_another_key(s):
    a, b = s.client(), s.client()
    s.call(a, "WATCH", "k")
    s.call(b, "SET", "other", "2")
    s.call(a, "MULTI")
    s.call(a, "INCR", "k")
    s.call(a, "EXEC")


def other_deletes_watched_key(s):
    a, b = s.client(), s.client()
    s.call(a, "RPUSH", "list", "x")
    s.call(a, "WATCH", "list", "unrelated")
    s.call(b, "DEL", "list")
    s.call(a, "MULTI")
    s.call(a, "LLEN", "list")
    s.call(a, "EXEC")


def watch_in_other_database(s):
    a, b = s.client(), s.client()
    s.call(a, "WATCH", "k")
    s.call(b, "SELECT", "1")
    s.call(b, "SET", "k", "2")
    s.call(a, "MULTI")
    s.call(a, "GET", "k")
    s.call(a, "EXEC")


def watched_key_expires(s):
    """A watched key that expires (found expired by another client, or by the active
    cycle) does not make EXEC fail in Valkey 9."""
    a, b = s.client(), s.client()
    s.call(a, "SET", "e1", "1", "PX", "50")
    s.call(a, "SET", "e2", "1", "PX", "50")
    s.call(a, "WATCH", "e1", "e2")
    time.sleep(0.3)
    s.call(b, "GET", "e1")
    s.call(a, "MULTI")
    s.call(a, "INCR", "e1")
    s.call(a, "EXEC")


def transaction_wakes_waiter(s):
    waiter, writer = s.client(), s.client()
    s.block(waiter, "BLPOP", "q", "0")
    s.call(writer, "MULTI")
    s.call(writer, "RPUSH", "q", "one", "two")
    s.call(writer, "LLEN", "q")
    s.call(writer, "EXEC")
    s.receive(waiter)
    s.call(writer, "LRANGE", "q", "0", "-1")


def script_in_transaction_wakes_waiter_after_exec(s):
    """A script queued in a transaction pushes; the waiter is served after EXEC, so the
    transaction's own later LLEN still sees the element."""
    waiter, writer = s.client(), s.client()
    s.block(waiter, "BLPOP", "q", "0")
    s.call(writer, "MULTI")
    s.call(writer, "EVAL", "return redis.call('RPUSH', KEYS[1], 'x')", "1", "q")
    s.call(writer, "LLEN", "q")
    s.call(writer, "EXEC")
    s.receive(waiter)
    s.call(writer, "LLEN", "q")


SCENARIOS = [other_writes_watched_key, other_writes_another_key, other_deletes_watched_key,
             watch_in_other_database, watched_key_expires, transaction_wakes_waiter,
             script_in_transaction_wakes_waiter_after_exec]


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenarios(tern, valkey, proto, scenario):
    assert run_scenario(tern, proto, scenario) == run_scenario(valkey, proto, scenario)


# ---------------------------------------------------------------------------
# Atomicity across worker threads
# ---------------------------------------------------------------------------

def test_no_reader_sees_half_a_transaction(start_server):
    """Writers move units between keys in different slots inside MULTI/EXEC, ten moves a
    transaction (the total stays 1000); readers on every worker read all keys, in a transaction or with MGET.
    Any torn view shows a wrong total."""
    server = start_server("tern", [("worker-threads", "2")])
    keys = ["acct:%d" % i for i in range(6)]
    with server.client() as setup:
        setup.call("MSET", *[x for k in keys for x in (k, "0")])
        setup.call("SET", keys[0], "1000")
    errors = []
    stop = threading.Event()

    def writer(seed):
        import random
        from harness import encode_command
        rng = random.Random(seed)
        with server.client() as client:
            for _ in range(200):
                batch = []
                for _ in range(4):
                    batch.append(("MULTI",))
                    for _ in range(10):
                        a, b = rng.sample(keys, 2)
                        batch += [("DECRBY", a, "7"), ("INCRBY", b, "7")]
                    batch.append(("EXEC",))
                client.send(b"".join(encode_command(*args) for args in batch))
                replies = client.read_replies(len(batch))
                for exec_reply in replies[21::22]:
                    if not exec_reply.startswith(b"*20\r\n"):
                        errors.append(("exec", exec_reply))

    def reader(use_multi):
        with server.client() as client:
            while not stop.is_set():
                if use_multi:
                    client.call("MULTI")
                    for k in keys:
                        client.call("GET", k)
                    values = decode(client.call("EXEC"))
                else:
                    values = decode(client.call("MGET", *keys))
                total = sum(int(v) for v in values)
                if total != 1000:
                    errors.append(("torn", values))

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    readers = [threading.Thread(target=reader, args=(i % 2 == 0,)) for i in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    with server.client() as client:
        values = decode(client.call("MGET", *keys))
    assert sum(int(v) for v in values) == 1000


def test_redis_py_watch_retry_loop(start_server):
    """redis-py's optimistic-locking helper: concurrent increments through WATCH/MULTI on
    two worker threads lose nothing."""
    server = start_server("tern", [("worker-threads", "2")])
    counter = "counter"

    def work():
        r = server.redis(protocol=2)

        def increment(pipe):
            value = int(pipe.get(counter) or 0)
            pipe.multi()
            pipe.set(counter, value + 1)

        for _ in range(150):
            r.transaction(increment, counter)
        r.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = server.redis(protocol=2)
    assert int(r.get(counter)) == 600
    r.close()


def client_fields(line: bytes) -> dict:
    fields = dict(f.split("=", 1) for f in line.decode().strip().split(" ") if "=" in f)
    return {k: fields[k] for k in ("flags", "multi", "watch", "redir")}


@pytest.mark.parametrize("proto", [2, 3])
def test_client_list_shows_transactions_and_watches(tern, valkey, proto):
    """CLIENT INFO / LIST: flag x and multi=N inside a transaction (also as seen by EXEC's own
    CLIENT INFO), watch=N, and flag d once a watched key changed."""
    seen = []
    for server in (tern, valkey):
        with server.client() as a, server.client() as b:
            if proto == 3:
                a.call("HELLO", "3")
            fields = [client_fields(decode(a.call("CLIENT", "INFO")))]
            a.call("WATCH", "wa", "wb")
            fields.append(client_fields(decode(a.call("CLIENT", "INFO"))))
            b.call("SET", "wa", "1")
            a_id = decode(a.call("CLIENT", "ID"))
            listed = decode(b.call("CLIENT", "LIST", "ID", str(a_id)))
            fields.append(client_fields(listed))
            a.call("MULTI")
            a.call("SET", "x", "1")
            a.call("CLIENT", "INFO")
            replies = decode(a.call("EXEC"))
            fields.append(replies if replies is None else client_fields(replies[1]))
            a.call("CLIENT", "TRACKING", "ON", "BCAST")
            fields.append(client_fields(decode(a.call("CLIENT", "INFO"))))
            seen.append(fields)
    assert seen[0] == seen[1]
