"""Real clients and server behaviour.

* redis-py in RESP2 and RESP3 (``protocol=3``): commands, pipelines, binary
  values, expiry, authentication.
* ``redis-cli`` as a subprocess: argument mode, stdin mode, ``--no-raw``,
  ``-3``, ``--pipe`` mass insertion; its output is compared with what it
  prints for Valkey.
* ``redis-benchmark -q -n 2000 -t set,get``.
* AUTH / requirepass / HELLO 3 AUTH, CLIENT SETNAME/GETNAME/ID/LIST/INFO
  (field names compared with Valkey), INFO sections, CONFIG GET/SET, SCAN and
  KEYS over 10k keys, active expiry, SIGTERM, bad start-up directives,
  configuration file, MONITOR.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import redis

import harness
from harness import READY_LINE, decode, encode_command

REDIS_CLI = shutil.which("redis-cli")
REDIS_BENCHMARK = shutil.which("redis-benchmark")
needs_cli = pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
needs_benchmark = pytest.mark.skipif(REDIS_BENCHMARK is None,
                                     reason="redis-benchmark is not installed")


@pytest.fixture
def r2(tern):
    client = tern.redis(protocol=2)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(tern):
    client = tern.redis(protocol=3)
    client.flushall()
    yield client
    client.close()


# ---------------------------------------------------------------------------
# redis-py
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_basics(tern, proto):
    r = tern.redis(protocol=proto)
    r.flushall()
    assert r.ping() is True
    assert r.set("a", "1") is True
    assert r.get("a") == b"1"
    assert r.incr("a") == 2
    assert r.incrby("a", 40) == 42
    assert r.decr("a") == 41
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.append("s", "hello") == 5
    assert r.append("s", " world") == 11
    assert r.getrange("s", 0, 4) == b"hello"
    assert r.setrange("s", 6, "WORLD") == 11
    assert r.get("s") == b"hello WORLD"
    assert r.strlen("s") == 11
    assert r.mset({"m1": "x", "m2": "y"}) is True
    assert r.mget("m1", "missing", "m2") == [b"x", None, b"y"]
    assert r.msetnx({"m1": "z", "m3": "w"}) is False
    assert r.setnx("m3", "w") is True
    assert r.getset("m3", "v") == b"w"
    assert r.getdel("m3") == b"v"
    assert r.exists("m1", "m2", "m3") == 2
    assert r.delete("m1", "m2") == 2
    assert r.type("a") == b"string"
    assert r.rename("a", "b") is True
    assert r.copy("b", "c") is True
    assert r.get("c") == b"41"
    assert r.dbsize() == 4
    assert r.echo("hi") == b"hi"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("s")
    assert r.get("missing") is None
    r.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_pipeline(tern, proto):
    r = tern.redis(protocol=proto)
    r.flushall()
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"key:{i}", i)
        p.incr(f"key:{i}")
    expected = []
    for i in range(1000):
        expected += [True, i + 1]
    assert p.execute() == expected
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.get(f"key:{i}")
    assert p.execute() == [str(i + 1).encode() for i in range(1000)]
    # An error in the middle of a pipeline does not stop the rest.
    p = r.pipeline(transaction=False)
    p.set("s", "x").incr("s").get("s")
    out = p.execute(raise_on_error=False)
    assert out[0] is True and isinstance(out[1], redis.ResponseError) and out[2] == b"x"
    r.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_binary_values(tern, proto):
    r = tern.redis(protocol=proto)
    r.flushall()
    every_byte = bytes(range(256))
    r.set(b"bin\x00key\r\n", every_byte)
    assert r.get(b"bin\x00key\r\n") == every_byte
    big = os.urandom(1 << 20)
    r.set("big", big)
    assert r.get("big") == big
    assert r.strlen("big") == 1 << 20
    r.set("", "empty key")
    assert r.get("") == b"empty key"
    r.set("empty", b"")
    assert r.get("empty") == b""
    r.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_expiry(tern, proto):
    r = tern.redis(protocol=proto)
    r.flushall()
    r.set("a", "1", ex=100)
    assert 99 <= r.ttl("a") <= 100
    r.set("b", "1", px=100_000)
    assert 99_000 <= r.pttl("b") <= 100_000
    assert r.expire("c", 10) is False
    r.set("c", "1")
    assert r.ttl("c") == -1
    assert r.ttl("missing") == -2
    assert r.expire("c", 100) is True
    assert r.persist("c") is True
    assert r.ttl("c") == -1
    r.set("d", "1", exat=4102444800)
    assert r.expiretime("d") == 4102444800
    r.set("e", "1", px=50)
    time.sleep(0.15)
    assert r.get("e") is None
    assert r.exists("e") == 0
    r.set("f", "1")
    assert r.pexpire("f", 1) is True
    time.sleep(0.05)
    assert r.get("f") is None
    r.close()


def test_redis_py_decode_responses(tern):
    r = tern.redis(protocol=3, decode_responses=True)
    r.flushall()
    r.set("greeting", "h\u00e9llo \u2603")
    assert r.get("greeting") == "h\u00e9llo \u2603"
    assert r.strlen("greeting") == len("h\u00e9llo \u2603".encode())
    r.close()


# ---------------------------------------------------------------------------
# redis-cli and redis-benchmark
# ---------------------------------------------------------------------------

def cli(server, *args, stdin: bytes | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([REDIS_CLI, "-h", server.host, "-p", str(server.port), *args],
                          input=stdin, capture_output=True, timeout=timeout)


CLI_COMMANDS = [
    ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["GET", "missing"], ["MGET", "a", "missing"],
    ["SET", "f", "1.5"], ["INCRBYFLOAT", "f", "1"], ["OBJECT", "ENCODING", "a"],
    ["ECHO", "hello world"], ["NOSUCH", "x"], ["SET", "a"], ["EXISTS", "a", "f"],
    ["MSET", "x", "ohmytext", "y", "mynewtext"], ["LCS", "x", "y", "IDX", "WITHMATCHLEN"],
    ["TTL", "a"], ["DEL", "a"], ["PING"],
]


@needs_cli
@pytest.mark.parametrize("mode", [[], ["--no-raw"], ["-3"], ["-3", "--no-raw"]],
                         ids=["raw", "no-raw", "resp3-raw", "resp3-no-raw"])
def test_redis_cli_matches_valkey(tern, valkey, mode):
    outputs = []
    for server in (tern, valkey):
        assert cli(server, "FLUSHALL").returncode == 0
        per_command = [cli(server, *mode, *args) for args in CLI_COMMANDS]
        cli(server, "FLUSHALL")
        script = "".join(" ".join(f'"{a}"' for a in args) + "\n" for args in CLI_COMMANDS)
        piped = cli(server, *mode, stdin=script.encode())
        outputs.append(([(p.returncode, p.stdout) for p in per_command],
                        (piped.returncode, piped.stdout)))
    for i, args in enumerate(CLI_COMMANDS):
        assert outputs[0][0][i] == outputs[1][0][i], (args, outputs[0][0][i], outputs[1][0][i])
    assert outputs[0][1] == outputs[1][1]


@needs_cli
def test_redis_cli_pipe_mass_insert(tern):
    assert cli(tern, "FLUSHALL").stdout.strip() == b"OK"
    n = 20000
    payload = b"".join(encode_command("SET", f"mass:{i}", f"value-{i}") for i in range(n))
    proc = cli(tern, "--pipe", stdin=payload, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode() + proc.stderr.decode()
    assert f"errors: 0, replies: {n}" in out, out
    assert cli(tern, "DBSIZE").stdout.strip() == str(n).encode()
    assert cli(tern, "GET", "mass:12345").stdout.strip() == b"value-12345"


@needs_cli
def test_redis_cli_resp3(tern):
    cli(tern, "FLUSHALL")
    proc = cli(tern, "-3", "HELLO", "3")
    assert proc.returncode == 0
    assert b"proto" in proc.stdout
    proc = cli(tern, "-3", "--no-raw", "GET", "missing")
    assert proc.stdout.strip() == b"(nil)"
    proc = cli(tern, "-3", "SET", "k", "v")
    assert proc.stdout.strip() == b"OK"


@needs_benchmark
def test_redis_benchmark(tern):
    proc = subprocess.run([REDIS_BENCHMARK, "-h", tern.host, "-p", str(tern.port),
                           "-q", "-n", "2000", "-t", "set,get"],
                          capture_output=True, timeout=120)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    # With -q each test ends in a "NAME: N requests per second" line
    # (progress lines before it are separated by carriage returns).
    lines = out.replace("\r", "\n")
    for test in ("SET", "GET"):
        assert re.search(rf"^{test}: [\d.]+ requests per second", lines, re.M), out
    assert "ERR" not in out and "rror" not in out, out


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------

def test_requirepass(start_server):
    server = start_server("tern", {"requirepass": "s3cret"})
    for proto in (2, 3):
        # RESP2: the command gets -NOAUTH; RESP3: the HELLO handshake does.
        anon = server.redis(protocol=proto)
        with pytest.raises(redis.AuthenticationError):
            anon.get("a")
        anon.close()
    with pytest.raises(redis.AuthenticationError):
        server.redis(password="wrong").ping()
    for proto in (2, 3):
        ok = server.redis(password="s3cret", protocol=proto)
        assert ok.set("a", "1") and ok.get("a") == b"1"
        ok.close()
        named = server.redis(username="default", password="s3cret", protocol=proto)
        assert named.ping() is True
        named.close()


def test_hello_auth_matches_valkey(start_pair):
    tern, valkey = start_pair({"requirepass": "pw"})
    replies = []
    for server in (tern, valkey):
        with server.client() as c:
            raw = c.call("HELLO", "3", "AUTH", "default", "pw")
            assert raw.startswith(b"%"), (server, raw)
            fields = decode(raw).as_dict()
            assert fields[b"proto"] == 3
            assert c.call("GET", "a") == b"_\r\n"  # authenticated, and RESP3 null
            replies.append([k for k, _ in decode(raw)])
            bad = c.call("HELLO", "3", "AUTH", "default", "nope")
            replies.append(bad)
            replies.append(c.call("HELLO", "4"))
            replies.append(c.call("HELLO", "2", "SETNAME", "bad name"))
    assert replies[:4] == replies[4:], replies


# ---------------------------------------------------------------------------
# CLIENT
# ---------------------------------------------------------------------------

def _field_names(line: bytes) -> list[bytes]:
    return [kv.split(b"=", 1)[0] for kv in line.split(b" ") if kv]


def test_client_name_and_id(tern, valkey):
    for server in (tern, valkey):
        with server.client() as c, server.client() as other:
            assert c.call("CLIENT", "GETNAME") == b"$-1\r\n"
            assert c.call("CLIENT", "SETNAME", "worker-1") == b"+OK\r\n"
            assert c.call("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
            my_id = decode(c.call("CLIENT", "ID"))
            other_id = decode(other.call("CLIENT", "ID"))
            assert isinstance(my_id, int) and other_id > my_id
            assert c.call("CLIENT", "SETNAME", "") == b"+OK\r\n"
            assert c.call("CLIENT", "GETNAME") == b"$-1\r\n"
    # Error texts, byte for byte.
    for args in (["CLIENT", "SETNAME", "bad name"], ["CLIENT", "SETNAME", "bad\nname"],
                 ["CLIENT", "SETNAME"], ["CLIENT", "NOSUCH"], ["CLIENT", "GETNAME", "x"],
                 ["CLIENT", "ID", "x"], ["CLIENT"]):
        with tern.client() as ct, valkey.client() as cv:
            assert ct.call(*args) == cv.call(*args), args


def test_client_list_and_info(tern, valkey):
    names = {}
    for server in (tern, valkey):
        with server.client() as c, server.client() as other:
            c.call("CLIENT", "SETNAME", "lister")
            other.call("CLIENT", "SETNAME", "other")
            my_id = decode(c.call("CLIENT", "ID"))
            listing = decode(c.call("CLIENT", "LIST"))
            assert isinstance(listing, bytes) and listing.endswith(b"\n")
            lines = listing.rstrip(b"\n").split(b"\n")
            assert len(lines) >= 2
            mine = [ln for ln in lines if ln.startswith(b"id=%d " % my_id)]
            assert len(mine) == 1, listing
            assert b" name=lister " in mine[0]
            assert b" cmd=client|list " in mine[0]
            assert any(b" name=other " in ln for ln in lines)
            info = decode(c.call("CLIENT", "INFO"))
            assert info.count(b"\n") == 1 and info.startswith(b"id=%d " % my_id)
            by_id = decode(c.call("CLIENT", "LIST", "ID", str(my_id)))
            assert by_id.count(b"\n") == 1 and b" name=lister " in by_id
            names[server.kind] = (_field_names(mine[0]), _field_names(info.strip()))
    assert names["tern"][0] == names["valkey"][0], "CLIENT LIST field names differ"
    assert names["tern"][1] == names["valkey"][1], "CLIENT INFO field names differ"


# ---------------------------------------------------------------------------
# INFO and CONFIG
# ---------------------------------------------------------------------------

def _sections(text: bytes) -> list[bytes]:
    return [ln[2:].lower() for ln in text.split(b"\r\n") if ln.startswith(b"# ")]


def test_info(tern):
    with tern.client() as c:
        c.call("FLUSHALL")
        c.call("SET", "a", "1")
        c.call("SET", "s", "x")
        assert c.call("INCR", "s").startswith(b"-ERR")  # counted in errorstats
        text = decode(c.call("INFO"))
        assert isinstance(text, bytes)
        for ln in text.split(b"\r\n"):
            assert ln == b"" or ln.startswith(b"# ") or b":" in ln, ln
        sections = _sections(text)
        for name in (b"server", b"clients", b"memory", b"stats", b"replication", b"cpu",
                     b"keyspace"):
            assert name in sections, (name, sections)
        assert b"\r\nredis_version:7.2.4\r\n" in text
        assert re.search(rb"\r\ndb0:keys=\d+,expires=\d+", text)
        everything = decode(c.call("INFO", "everything"))
        for name in (b"commandstats", b"errorstats", b"latencystats"):
            assert name in _sections(everything), name
            one = decode(c.call("INFO", name))
            assert _sections(one) == [name], (name, one[:200])
        assert b"cmdstat_set:calls=" in decode(c.call("INFO", "commandstats"))
        assert b"errorstat_ERR:count=" in decode(c.call("INFO", "errorstats"))
        assert b"latency_percentiles_usec_set:" in decode(c.call("INFO", "latencystats"))
        several = decode(c.call("INFO", "server", "clients"))
        assert _sections(several) == [b"server", b"clients"]


# Only directives Tern implements (maxmemory arrives with eviction).
CONFIG_STEPS = [
    ["CONFIG", "GET", "proto-max-bulk-len"],
    ["CONFIG", "SET", "proto-max-bulk-len", "100mb"],
    ["CONFIG", "GET", "proto-max-bulk-len"],
    ["CONFIG", "SET", "proto-max-bulk-len", "abc"],
    ["CONFIG", "SET", "loglevel", "verbose"],
    ["CONFIG", "GET", "loglevel"],
    ["CONFIG", "SET", "loglevel", "sometimes"],
    ["CONFIG", "SET", "protected-mode", "maybe"],
    ["CONFIG", "SET", "timeout", "30"],
    ["CONFIG", "GET", "timeout"],
    ["CONFIG", "SET", "timeout", "-1"],
    ["CONFIG", "GET", "maxclients"],
    ["CONFIG", "GET", "port"],
    ["CONFIG", "SET", "hz", "20"],
    ["CONFIG", "GET", "hz"],
    ["CONFIG", "SET", "hz", "1000"],
    ["CONFIG", "GET", "hz"],
    ["CONFIG", "SET", "active-expire-effort", "11"],
    ["CONFIG", "SET", "databases", "4"],
    ["CONFIG", "SET", "nosuchdirective", "1"],
    ["CONFIG", "GET", "nosuchdirective"],
    ["CONFIG", "SET", "timeout"],
    ["CONFIG", "GET"],
    ["CONFIG", "NOSUCH"],
    ["CONFIG", "SET", "client-query-buffer-limit", "2mb", "timeout", "5"],
    ["CONFIG", "GET", "client-query-buffer-limit", "timeout"],
    ["CONFIG", "SET", "timeout", "1", "timeout", "2"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
]


def _config_names(raw: bytes):
    """The reply type byte and the directive names of a CONFIG GET reply."""
    value = decode(raw)
    if raw.startswith(b"%"):
        return raw[:1], [k for k, _ in value]
    return raw[:1], value[::2]


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_config_get_set(start_pair, proto):
    tern, valkey = start_pair()
    with tern.client() as ct, valkey.client() as cv:
        if proto == 3:
            ct.call("HELLO", "3"), cv.call("HELLO", "3")
        for args in CONFIG_STEPS:
            rt, rv = ct.call(*args), cv.call(*args)
            if args == ["CONFIG", "GET", "port"]:
                # The port differs by construction: compare the shape only.
                rt, rv = _config_names(rt), _config_names(rv)
            assert rt == rv, (args, rt, rv)


# ---------------------------------------------------------------------------
# SCAN and KEYS
# ---------------------------------------------------------------------------

N_SCAN_KEYS = 10_000


def _load_keys(server):
    r = server.redis(protocol=2)
    r.flushall()
    p = r.pipeline(transaction=False)
    for i in range(N_SCAN_KEYS):
        p.set(f"k:{i}", i)
    for i in range(100):
        p.set(f"other:{i}", i)
    p.set("k:*", "star")
    p.execute()
    return r


def _scan_all(r, **kwargs) -> list[bytes]:
    seen, cursor, rounds = [], 0, 0
    while True:
        cursor, keys = r.scan(cursor, **kwargs)
        seen += keys
        rounds += 1
        assert rounds < 100_000, "SCAN does not terminate"
        if cursor == 0:
            return seen


@pytest.fixture(scope="module")
def loaded_pair(tern, valkey):
    clients = _load_keys(tern), _load_keys(valkey)
    yield clients
    for c in clients:
        c.flushall()
        c.close()


def _expect(pattern: str) -> set[bytes]:
    import fnmatch

    every = [f"k:{i}" for i in range(N_SCAN_KEYS)] + [f"other:{i}" for i in range(100)] + ["k:*"]
    return {k.encode() for k in every if fnmatch.fnmatchcase(k, pattern)}


@pytest.mark.parametrize("kwargs", [
    {}, {"count": 1}, {"count": 100}, {"count": 5000},
    {"match": "k:1*"}, {"match": "k:1*", "count": 1000}, {"match": "other:?"},
    {"match": "nomatch*", "count": 500}, {"_type": "string", "count": 200},
    {"_type": "list", "count": 1000}, {"match": "k:99*", "_type": "string"},
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "plain")
def test_scan_returns_every_key_once(loaded_pair, kwargs):
    r = loaded_pair[0]
    seen = _scan_all(r, **kwargs)
    expected = _expect(kwargs.get("match", "*")) if kwargs.get("_type") != "list" else set()
    assert set(seen) == expected, (len(set(seen)), len(expected))
    assert len(seen) == len(set(seen)), f"{len(seen) - len(set(seen))} keys returned twice"


@pytest.mark.parametrize("pattern", ["*", "k:1?", "k:[12]0", "k:\\*", "*:99*", "other:*",
                                     "[a-k]:1", "k:1[^0-5]", "k:10??", "nomatch", "k:*", "*9"])
def test_keys_matches_valkey(loaded_pair, pattern):
    rt, rv = loaded_pair
    assert sorted(rt.keys(pattern)) == sorted(rv.keys(pattern))


def test_scan_errors_match_valkey(tern, valkey):
    for args in (["SCAN"], ["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "x"],
                 ["SCAN", "0", "MATCH"], ["SCAN", "0", "FOO", "1"], ["SCAN", "-1"],
                 ["SCAN", "18446744073709551616"], ["KEYS"], ["SCAN", "0", "TYPE", "nosuchtype"]):
        with tern.client() as ct, valkey.client() as cv:
            ct.call("FLUSHALL"), cv.call("FLUSHALL")
            assert ct.call(*args) == cv.call(*args), args


# ---------------------------------------------------------------------------
# Expiry, shutdown, start-up, MONITOR
# ---------------------------------------------------------------------------

def test_active_expiry(tern):
    with tern.client() as c:
        c.call("FLUSHALL")
        for i in range(10):
            c.call("SET", f"stay:{i}", "x")
        for i in range(300):
            c.call("SET", f"gone:{i}", "x", "PX", "100")
        assert decode(c.call("DBSIZE")) == 310
        # Only DBSIZE from now on: the keys are never touched again, so they
        # can only go away through the active expiry cycle.
        deadline = time.monotonic() + 2.5
        size = None
        while time.monotonic() < deadline:
            size = decode(c.call("DBSIZE"))
            if size == 10:
                break
            time.sleep(0.05)
        assert size == 10, f"{size - 10} expired keys still counted after 2.5 s"


def test_sigterm_clean_exit(start_server):
    server = start_server("tern")
    with server.client() as c:
        c.call("SET", "a", "1")
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("server did not exit within 10 s of SIGTERM")
    assert code == 0, f"exit code {code}\n{server.log_tail()}"


@pytest.mark.parametrize("directive", [["--nosuchdirective", "yes"],
                                       ["--maxclients", "notanumber"],
                                       ["--port"]],
                         ids=["unknown-directive", "bad-value", "missing-value"])
def test_bad_startup_directive(directive, tmp_path):
    argv = harness.program_argv("tern") + ["--port", str(harness.free_port()),
                                           "--bind", "127.0.0.1", "--save", ""] + directive
    proc = subprocess.run(argv, capture_output=True, timeout=20, cwd=tmp_path)
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode != 0, output
    assert READY_LINE.decode() not in output
    name = directive[0].lstrip("-")
    if name != "port":
        assert name in output, f"error message does not name the directive:\n{output}"


def test_ready_line_and_config_file(start_server, tmp_path):
    conf = tmp_path / "tern.conf"
    conf.write_text("# test configuration\nproto-max-bulk-len 12mb\nhz 15\n\ntimeout 7\n")
    server = start_server("tern", config_file=conf)
    assert READY_LINE in server.log_bytes()
    with server.client() as c:
        assert c.call("CONFIG", "GET", "proto-max-bulk-len") == encode_command("proto-max-bulk-len", "12582912")
        assert c.call("CONFIG", "GET", "hz") == encode_command("hz", "15")
        assert c.call("CONFIG", "GET", "timeout") == encode_command("timeout", "7")


MONITOR_LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) 127\.0\.0\.1:(\d+)\] (.*)\r\n$')


def test_monitor(tern):
    with tern.client() as mon, tern.client() as c:
        assert mon.call("MONITOR") == b"+OK\r\n"
        port = c.sock.getsockname()[1]
        c.call("SET", "foo", "bar")
        c.call("SELECT", "2")
        c.call("SET", "q", 'x"y\n\x01')
        c.call("GET", "foo")
        c.call("SELECT", "0")
        lines = [mon.read_reply() for _ in range(5)]
        expected = [
            (b"0", b'"SET" "foo" "bar"'),
            (b"2", b'"SELECT" "2"'),
            (b"2", b'"SET" "q" "x\\"y\\n\\x01"'),
            (b"2", b'"GET" "foo"'),
            (b"0", b'"SELECT" "0"'),
        ]
        now = time.time()
        for line, (db, args) in zip(lines, expected):
            m = MONITOR_LINE.match(line)
            assert m, line
            assert abs(int(m.group(1)) - now) < 60, line
            assert m.group(3) == db and int(m.group(4)) == port and m.group(5) == args, line
        # As in Valkey, a monitor sees its own commands after its reply.
        mon.send_command("PING")
        assert mon.read_reply() == b"+PONG\r\n"
        m = MONITOR_LINE.match(mon.read_reply())
        assert m and m.group(5) == b'"PING"' and int(m.group(4)) == mon.sock.getsockname()[1]
