"""Raw protocol tests, compared byte for byte with Valkey.

Each case sends raw bytes (whole, or cut into small pieces) on a fresh
connection to both servers and reads everything that comes back until the
server closes the connection or stays quiet for a moment.  The received
bytes and whether the connection was closed must be the same.  After every
case a client that was connected before it, and a new client, must still be
served.

The second half covers the limits, each on private servers started for the
test: unauthenticated request sizes with ``requirepass``,
``proto-max-bulk-len``, ``client-query-buffer-limit`` and ``maxclients``
(each set at start-up and with CONFIG SET), and the output buffer limit of
normal clients.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import ConnectionClosed, RespClient, encode_command

IDLE = 0.2  # seconds of silence that end a read when the server keeps the connection


def cmd(*args) -> bytes:
    return encode_command(*args)


def split(payload: bytes, mode: str, seed: int = 0) -> list[bytes]:
    """Cut a payload into the chunks that will be sent one by one."""
    if mode == "whole":
        return [payload]
    if mode == "bytes":
        return [payload[i:i + 1] for i in range(len(payload))]
    if mode == "small":
        r, out, i = random.Random(seed), [], 0
        while i < len(payload):
            n = r.randint(1, 7)
            out.append(payload[i:i + n])
            i += n
        return out
    if mode.startswith("chunks:"):
        n = int(mode.split(":")[1])
        return [payload[i:i + n] for i in range(0, len(payload), n)]
    raise ValueError(mode)


def exchange(server, chunks: list[bytes], idle: float = IDLE, rcvbuf=None) -> tuple[bytes, bool]:
    """Send the chunks, then read until close or silence: (received, closed)."""
    c = RespClient(server.host, server.port, rcvbuf=rcvbuf)
    try:
        try:
            for i, chunk in enumerate(chunks):
                c.send(chunk)
                if len(chunks) > 1 and i % 16 == 15:
                    # Give the server a chance to read a partial frame now and then.
                    time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close while we are still sending
        return c.read_until_close(idle=idle)
    finally:
        c.close()


_pool = ThreadPoolExecutor(max_workers=2)


def exchange_both(tern, valkey, chunks, **kw):
    """Run the same exchange on both servers at once (halves the idle waits)."""
    ft = _pool.submit(exchange, tern, chunks, **kw)
    fv = _pool.submit(exchange, valkey, chunks, **kw)
    return ft.result(), fv.result()


def compare_exchange(name, tern, valkey, chunks, **kw):
    """Run an exchange on both servers and require the same outcome.

    A read ends after IDLE seconds of silence, so a server stalled by a busy
    machine could look as if it had nothing more to say.  A mismatch is
    therefore tried once more with a much longer silence before it counts.
    """
    got_t, got_v = exchange_both(tern, valkey, chunks, **kw)
    if got_t != got_v:
        kw["idle"] = max(kw.get("idle", IDLE), 1.5)
        for server in (tern, valkey):
            with server.client() as c:
                c.call("FLUSHALL")
        got_t, got_v = exchange_both(tern, valkey, chunks, **kw)
    assert_same(name, got_t, got_v)
    return got_t, got_v


def assert_same(name, got_t, got_v):
    (bt, ct), (bv, cv) = got_t, got_v
    assert (bt, ct) == (bv, cv), (
        f"case {name}: replies differ\n"
        f"  tern:   closed={ct} {bt[:600]!r}{' ...' if len(bt) > 600 else ''}\n"
        f"  valkey: closed={cv} {bv[:600]!r}{' ...' if len(bv) > 600 else ''}")


def assert_serving(server, bystander: RespClient | None = None, password=None):
    """The server still answers a client connected before and a new one."""
    if bystander is not None:
        assert bystander.call("PING") == b"+PONG\r\n", f"{server}: existing client lost"
    with server.client() as c:
        if password:
            assert c.call("AUTH", password) == b"+OK\r\n"
        assert c.call("PING") == b"+PONG\r\n", f"{server}: new client not served"


# ---------------------------------------------------------------------------
# Protocol cases
# ---------------------------------------------------------------------------

def _pipeline(n: int, seed: int) -> bytes:
    """A mix of multibulk and inline commands with predictable replies."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        k = f"p{r.randint(0, 20)}"
        kind = r.randint(0, 6)
        if kind == 0:
            out.append(cmd("SET", k, f"v{i}"))
        elif kind == 1:
            out.append(cmd("GET", k))
        elif kind == 2:
            out.append(cmd("INCR", f"n{r.randint(0, 3)}"))
        elif kind == 3:
            out.append(f"APPEND {k} x{i}\r\n".encode())
        elif kind == 4:
            out.append(b"PING\r\n")
        elif kind == 5:
            out.append(cmd("MGET", k, "p1", "p2"))
        else:
            out.append(cmd("ECHO", "e" * r.randint(0, 300)))
    return b"".join(out)


BIG_VALUE = b"0123456789abcdef" * 65536  # 1 MiB

# (id, payload, split mode)
CASES = [
    # -- inline commands --------------------------------------------------------
    ("inline-ping", b"PING\r\n", "whole"),
    ("inline-lf-only", b"PING\nPING\r\nPING\n", "whole"),
    ("inline-args", b"ECHO hello\r\n", "whole"),
    ("inline-spaces", b"  PING   a  \r\n", "whole"),
    ("inline-tabs", b"ECHO\ta\tb\r\n", "whole"),
    ("inline-double-quotes", b'SET "a b" "c\\x41"\r\nGET "a b"\r\n', "whole"),
    ("inline-single-quotes", b"ECHO 'single quoted'\r\nECHO 'it''s'\r\n", "whole"),
    ("inline-escapes", b'ECHO "\\n\\t\\\\\\"q\\a\\b\\r"\r\n', "whole"),
    ("inline-hex-escapes", b'ECHO "\\x41\\x4a\\x00\\xff"\r\n', "whole"),
    ("inline-bad-hex", b'ECHO "\\x4g\\x"\r\n', "whole"),
    ("inline-single-quote-escape", b"ECHO 'a\\'b'\r\n", "whole"),
    ("inline-quote-glued", b'ECHO "a"b\r\nECHO a"b"\r\n', "whole"),
    ("inline-quote-then-args", b'ECHO "a"  "b"c d\r\n', "whole"),
    ("inline-empty-quotes", b'ECHO ""\r\nECHO \'\'\r\n', "whole"),
    ("inline-unbalanced-double", b'SET "a b\r\nPING\r\n', "whole"),
    ("inline-unbalanced-single", b"SET 'a\r\nPING\r\n", "whole"),
    ("inline-empty-lines", b"\r\n\r\n   \r\nPING\r\n\n", "whole"),
    ("inline-too-big", b"a" * 70000, "chunks:4096"),
    ("inline-high-bytes", b"ECHO \x80\xfe\r\n\x80\x81abc\r\nPING\r\n", "whole"),
    ("inline-control-garbage", b"\x01garbage\r\nPING\r\n", "whole"),
    ("inline-unknown", b"NOSUCH a b\r\n", "whole"),
    ("inline-case", b"pInG\r\n", "whole"),
    ("inline-split", b'SET "k 1" "v v"\r\nGET "k 1"\r\nECHO \'x y\'\r\n', "bytes"),
    # -- RESP types sent as requests ------------------------------------------
    ("bulk-as-inline", b"$4\r\nPING\r\n", "whole"),
    ("integer-as-inline", b":1\r\n", "whole"),
    ("simple-as-inline", b"+PING\r\n", "whole"),
    # -- multibulk headers ------------------------------------------------------
    ("mbulk-zero", b"*0\r\n*0\r\nPING\r\n", "whole"),
    ("mbulk-negative", b"*-10\r\n*1\r\n$4\r\nPING\r\n", "whole"),
    ("mbulk-minus-one", b"*-1\r\nPING\r\n", "whole"),
    ("mbulk-huge-valid", b"*1048577\r\n", "whole"),
    ("mbulk-int-max-plus-one", b"*2147483648\r\n", "whole"),
    ("mbulk-overflow", b"*9999999999999999999\r\n", "whole"),
    ("mbulk-not-number", b"*x\r\n", "whole"),
    ("mbulk-empty-number", b"*\r\n", "whole"),
    ("mbulk-leading-zero", b"*01\r\n$4\r\nPING\r\n", "whole"),
    ("mbulk-plus-sign", b"*+1\r\n$4\r\nPING\r\n", "whole"),
    ("mbulk-trailing-space", b"*1 \r\n$4\r\nPING\r\n", "whole"),
    ("mbulk-count-too-long", b"*" + b"1" * 70000, "chunks:4096"),
    # -- bulk headers -------------------------------------------------------------
    ("bulk-negative", b"*1\r\n$-5\r\n", "whole"),
    ("bulk-minus-one", b"*1\r\n$-1\r\n", "whole"),
    ("bulk-minus-zero", b"*1\r\n$-0\r\n", "whole"),
    ("bulk-over-512mb", b"*1\r\n$536870913\r\n", "whole"),
    ("bulk-overflow", b"*1\r\n$9999999999999999999\r\n", "whole"),
    ("bulk-not-number", b"*1\r\n$x\r\n", "whole"),
    ("bulk-empty-number", b"*1\r\n$\r\n", "whole"),
    ("bulk-plus-sign", b"*1\r\n$+4\r\nPING\r\n", "whole"),
    ("bulk-trailing-space", b"*1\r\n$4 \r\nPING\r\n", "whole"),
    ("bulk-length-too-long", b"*1\r\n$" + b"1" * 70000, "chunks:4096"),
    ("bulk-missing-dollar", b"*1\r\nfoo\r\n", "whole"),
    ("bulk-missing-dollar-colon", b"*2\r\n$4\r\nECHO\r\n:5\r\n", "whole"),
    ("bulk-missing-dollar-crlf", b"*1\r\n\r\n", "whole"),
    ("bulk-empty-command", b"*1\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n", "whole"),
    ("bulk-bad-crlf", b"*2\r\n$4\r\nPING\r\n$1\r\nab\r\n", "whole"),
    ("bulk-bad-crlf-end", b"*1\r\n$4\r\nPINGxx", "whole"),
    ("bulk-incomplete", b"*1\r\n$4\r\nPING", "whole"),
    ("bulk-binary-arg", cmd("ECHO", b"\x00\r\n\xff*1\r\n$4\r\n"), "whole"),
    # -- errors after good commands: replies up to the error, then close ------
    ("error-mid-pipeline", b"PING\r\n*1\r\n$x\r\nPING\r\n", "whole"),
    ("error-mid-pipeline-split", b"PING\r\nECHO a\r\n*2\r\n$4\r\nECHO\r\n$-3\r\nPING\r\n", "small"),
    # -- pipelines and fragmentation -------------------------------------------
    ("pipeline-500", _pipeline(500, 1), "whole"),
    ("pipeline-2000", _pipeline(2000, 2), "whole"),
    ("pipeline-bytewise", _pipeline(40, 3), "bytes"),
    ("pipeline-small-chunks", _pipeline(300, 4), "small"),
    ("pipeline-mixed-inline", b"PING\r\n" + cmd("SET", "a", "1") + b"GET a\r\n" + cmd("INCR", "a")
     + b"\r\nINCR a\r\n" + cmd("GET", "a"), "small"),
    ("big-value", cmd("SET", "big", BIG_VALUE) + cmd("STRLEN", "big") + cmd("GET", "big"),
     "chunks:1000"),
    ("big-value-whole", cmd("SET", "big", BIG_VALUE) + cmd("GETRANGE", "big", "-10", "-1"),
     "whole"),
    ("many-args", cmd("MSET", *[f"m{i}" for i in range(20000)])
     + cmd("MGET", *[f"m{i}" for i in range(0, 20000, 2)]), "chunks:60000"),
]


@pytest.mark.parametrize("name,payload,mode", CASES, ids=[c[0] for c in CASES])
def test_protocol_case(tern, valkey, name, payload, mode):
    bystanders = [tern.client(), valkey.client()]
    try:
        for c in bystanders:
            assert c.call("FLUSHALL") == b"+OK\r\n"
        compare_exchange(name, tern, valkey, split(payload, mode, seed=len(payload)))
        assert_serving(tern, bystanders[0])
        assert_serving(valkey, bystanders[1])
    finally:
        for c in bystanders:
            c.close()


def test_protocol_errors_close_connection(valkey):
    """Self-check of the table: the error cases really close on Valkey."""
    for name, payload, mode in CASES:
        if name.startswith(("bulk-negative", "mbulk-not-number", "bulk-bad-crlf",
                            "inline-unbalanced", "inline-too-big")):
            data, closed = exchange(valkey, split(payload, mode))
            assert closed, name
            assert data.startswith(b"-ERR Protocol error: "), (name, data)


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

def run_cases(tern, valkey, cases, password=None):
    """Compare a list of (name, payload) exchanges on a server pair."""
    for name, payload in cases:
        compare_exchange(name, tern, valkey, [payload])
    assert_serving(tern, password=password)
    assert_serving(valkey, password=password)


def test_unauthenticated_limits(start_pair):
    tern, valkey = start_pair({"requirepass": "secret"})
    cases = [
        ("unauth-mbulk-11", b"*11\r\n"),
        ("unauth-mbulk-10", b"*10\r\n"),
        ("unauth-mbulk-huge", b"*1048577\r\n"),
        ("unauth-bulk-16385", b"*1\r\n$16385\r\n"),
        ("unauth-bulk-16384", b"*1\r\n$16384\r\n"),
        ("unauth-ping", b"PING\r\n"),
        ("unauth-get", cmd("GET", "a")),
        ("unauth-big-inline", b"X" * 20000 + b"\r\n"),
        ("auth-wrong", b"AUTH x\r\nAUTH default x\r\nAUTH a b c\r\nGET a\r\n"),
        ("auth-then-big-mbulk", b"AUTH secret\r\n*1048577\r\n"),
        ("auth-then-big-bulk", b"AUTH default secret\r\n*1\r\n$16385\r\n"),
        ("auth-then-command", b"AUTH secret\r\nSET a 1\r\nGET a\r\n"),
        ("hello-noauth", b"HELLO 3\r\n"),
        ("hello-wrongpass", b"HELLO 3 AUTH default nope\r\nPING\r\n"),
        ("auth-no-password-set-arity", b"AUTH\r\n"),
    ]
    run_cases(tern, valkey, cases, password="secret")
    # The limit is on the request, not the connection: a second oversized
    # request from an authenticated client is fine.
    with tern.client() as c:
        assert c.call("AUTH", "secret") == b"+OK\r\n"
        assert c.call("ECHO", "x" * 20000) == b"$20000\r\n" + b"x" * 20000 + b"\r\n"


def _bulk_limit_cases():
    return [
        ("bulk-over-limit", b"*1\r\n$1048577\r\n"),
        ("bulk-at-limit", b"*1\r\n$1048576\r\n"),
        ("set-at-limit", cmd("SET", "a", b"x" * 1048576) + cmd("STRLEN", "a")),
        ("setrange-over-limit", cmd("SETRANGE", "b", "1048576", "x")),
        ("append-over-limit", cmd("SET", "c", b"y" * 1048000) + cmd("APPEND", "c", b"z" * 1000)),
    ]


def test_proto_max_bulk_len_startup(start_pair):
    tern, valkey = start_pair({"proto-max-bulk-len": "1mb"})
    for c in (tern, valkey):
        with c.client() as cl:
            assert cl.call("CONFIG", "GET", "proto-max-bulk-len") == \
                cmd("proto-max-bulk-len", "1048576"), c
    run_cases(tern, valkey, _bulk_limit_cases())


def test_proto_max_bulk_len_config_set(start_pair):
    tern, valkey = start_pair()
    for args in [("CONFIG", "SET", "proto-max-bulk-len", "1000"),
                 ("CONFIG", "SET", "proto-max-bulk-len", "abc"),
                 ("CONFIG", "SET", "proto-max-bulk-len", "1mb"),
                 ("CONFIG", "GET", "proto-max-bulk-len")]:
        with tern.client() as ct, valkey.client() as cv:
            rt, rv = ct.call(*args), cv.call(*args)
            assert rt == rv, (args, rt, rv)
    run_cases(tern, valkey, _bulk_limit_cases())


def _query_buffer_check(tern, valkey):
    for server in (tern, valkey):
        with server.client() as c:
            assert c.call("SET", "keep", "me") == b"+OK\r\n"
    bystanders = [tern.client(), valkey.client()]
    try:
        # Well under the limit: served.
        small = cmd("SET", "a", b"s" * 400_000) + cmd("STRLEN", "a")
        compare_exchange("query-under-limit", tern, valkey, [small])
        # Over the limit: the connection is closed without a reply.
        big = cmd("SET", "b", b"b" * 2_500_000)
        _, got_v = compare_exchange("query-over-limit", tern, valkey,
                                    split(big, "chunks:65536"), idle=1.0)
        assert got_v == (b"", True), got_v
        # A long inline request without a newline is refused too (by the
        # inline size check, before the query buffer limit).
        compare_exchange("query-inline-over-limit", tern, valkey,
                         split(b"x" * 2_000_000, "chunks:65536"), idle=1.0)
        for server, by in zip((tern, valkey), bystanders):
            assert_serving(server, by)
            assert by.call("GET", "keep") == b"$2\r\nme\r\n", f"{server}: data lost"
            assert by.call("EXISTS", "b") == b":0\r\n"
    finally:
        for c in bystanders:
            c.close()


def test_client_query_buffer_limit_startup(start_pair):
    tern, valkey = start_pair({"client-query-buffer-limit": "1mb"})
    _query_buffer_check(tern, valkey)


def test_client_query_buffer_limit_config_set(start_pair):
    tern, valkey = start_pair()
    for args in [("CONFIG", "SET", "client-query-buffer-limit", "1000"),
                 ("CONFIG", "SET", "client-query-buffer-limit", "1mb"),
                 ("CONFIG", "GET", "client-query-buffer-limit")]:
        with tern.client() as ct, valkey.client() as cv:
            rt, rv = ct.call(*args), cv.call(*args)
            assert rt == rv, (args, rt, rv)
    _query_buffer_check(tern, valkey)


def _fill(server, n: int) -> list[RespClient]:
    """Open ``n`` clients that are all served.

    Connections closed just before (the start-up probe, a previous attempt)
    may not have been reaped yet, so a refusal here is retried a few times.
    """
    for _attempt in range(20):
        held, served = [], 0
        try:
            for _ in range(n):
                c = server.client()
                held.append(c)
                if c.call("PING") == b"+PONG\r\n":
                    served += 1
        except (ConnectionClosed, ConnectionResetError):
            pass
        if served == n:
            return held
        for c in held:
            c.close()
        time.sleep(0.1)
    raise AssertionError(f"{server}: could not open {n} clients")


def _maxclients_check(server, limit: int) -> tuple[bytes, bool]:
    """Fill the server up to ``limit`` clients and try one more."""
    held = _fill(server, limit)
    try:
        extra = server.client()
        got = extra.read_until_close(idle=1.0)
        extra.close()
        # Once one client leaves there is room again.
        held.pop().close()
        held += _fill(server, 1)
        for c in held:
            assert c.call("PING") == b"+PONG\r\n", f"{server}: existing client lost"
        return got
    finally:
        for c in held:
            c.close()


def test_maxclients_startup(start_pair):
    tern, valkey = start_pair({"maxclients": "3"})
    got_v = _maxclients_check(valkey, 3)
    assert got_v == (b"-ERR max number of clients reached\r\n", True)
    assert _maxclients_check(tern, 3) == got_v


def test_maxclients_config_set(start_pair):
    tern, valkey = start_pair()
    results = []
    for server in (tern, valkey):
        with server.client() as admin:
            assert admin.call("CONFIG", "SET", "maxclients", "3") == b"+OK\r\n", server
            assert admin.call("CONFIG", "GET", "maxclients") == cmd("maxclients", "3")
            # The admin connection counts: two more fit.
            results.append(_maxclients_check(server, 2))
            assert admin.call("CONFIG", "SET", "maxclients", "10000") == b"+OK\r\n"
    assert results[1] == (b"-ERR max number of clients reached\r\n", True)
    assert results[0] == results[1]


def _output_buffer_check(server):
    """A client that pipelines large GETs and never reads gets disconnected."""
    value = b"v" * 100_000
    n_gets = 200  # 20 MB of replies against a 1 MB limit
    with server.client() as c:
        assert c.call("SET", "big", value) == b"+OK\r\n"
        assert c.call("SET", "small", "ok") == b"+OK\r\n"
    bystander = server.client()
    # A small receive buffer keeps the kernel from absorbing the replies.
    offender = RespClient(server.host, server.port, rcvbuf=65536)
    try:
        try:
            offender.send(cmd("GET", "big") * n_gets)
        except (BrokenPipeError, ConnectionResetError):
            pass
        time.sleep(0.5)
        # Others keep working while (and after) the offender is cut off.
        assert bystander.call("GET", "small") == b"$2\r\nok\r\n", server
        assert_serving(server, bystander)
        received, closed = offender.read_until_close(idle=2.0, limit=20)
        assert closed, f"{server}: offender was not disconnected"
        assert len(received) < n_gets * len(value), f"{server}: every reply was delivered"
        assert bystander.call("STRLEN", "big") == b":100000\r\n"
    finally:
        offender.close()
        bystander.close()


def test_output_buffer_limit_config_set(start_server):
    for kind in ("valkey", "tern"):
        server = start_server(kind)
        with server.client() as c:
            assert c.call("CONFIG", "SET", "client-output-buffer-limit",
                          "normal 1mb 0 0") == b"+OK\r\n", server
        _output_buffer_check(server)


def test_output_buffer_limit_startup(start_server):
    for kind in ("valkey", "tern"):
        server = start_server(kind, {"client-output-buffer-limit": "normal 1mb 0 0"})
        with server.client() as c:
            reply = c.call("CONFIG", "GET", "client-output-buffer-limit")
            assert b"normal 1048576 0 0" in reply, (server, reply)
        _output_buffer_check(server)
