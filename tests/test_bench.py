"""``tern bench`` against real servers.

Each run is short (about 2 s at most) and goes to the session's ``tern`` and
``valkey`` servers on 127.0.0.1 (or a private server for the AUTH test).  The
checks read the ``--json`` document: requests were made, nothing failed that
should not have, the percentiles are ordered, and the report files exist.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import harness

PERCENTILES = ["min_us", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us"]


def bench(server, *args, timeout=60, check=True):
    """Run ``tern bench`` against ``server`` and return the completed process."""
    argv = [harness.tern_binary(), "bench", "-h", server.host, "-p", str(server.port), "-q",
            *map(str, args)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{argv}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def bench_json(server, tmp_path, *args):
    out = tmp_path / "bench.json"
    proc = bench(server, "--json", out, *args)
    return json.loads(out.read_text()), proc


def assert_ordered(latency):
    values = [latency[k] for k in PERCENTILES]
    assert values == sorted(values), latency
    assert latency["count"] > 0
    assert latency["p50_us"] > 0


def assert_clean_run(run):
    assert run["requests"] > 0
    assert run["errors"] == 0, run["errors_by_kind"]
    assert run["ops_per_sec"] > 0
    assert_ordered(run["latency"])
    for command in run["commands"]:
        assert command["requests"] > 0, command
        assert command["errors"] == 0
        assert_ordered(command["latency"])
    assert sum(c["requests"] for c in run["commands"]) == run["requests"]
    assert run["client_cpu"]["ns_per_request"] > 0


@pytest.fixture(params=["tern", "valkey"])
def server(request):
    return request.getfixturevalue(request.param)


def tern_binary_required():
    if harness.tern_as_valkey():
        pytest.skip("tern bench needs the tern binary")


@pytest.fixture(autouse=True)
def _needs_tern_binary():
    tern_binary_required()


def test_set_get_for_two_seconds(server, tmp_path):
    doc, proc = bench_json(server, tmp_path, "--duration", 2, "--ratio", "1:1",
                           "--connections", 20, "--server-pid", server.proc.pid)
    assert doc["mode"] == "single"
    run = doc["result"]
    assert_clean_run(run)
    assert [c["name"] for c in run["commands"]] == ["SET", "GET"]
    assert 1.9 < run["elapsed_s"] < 4
    # One point per second, and the timeline adds up to the total.
    assert len(run["timeline"]) >= 2
    assert sum(p["ops"] for p in run["timeline"]) == run["requests"]
    assert run["server_cpu"]["ns_per_request"] > 0
    # The full configuration is in the document.
    assert doc["config"]["connections"] == 20
    assert doc["resolved"]["commands"][0]["template"] == "SET __key__ __data__"
    assert "p99" in proc.stdout and "client CPU" in proc.stdout


def test_templates_pipeline_and_resp3(server, tmp_path):
    server.redis(protocol=2).flushall()
    doc, _ = bench_json(server, tmp_path, "--requests", 20000, "--pipeline", 16,
                        "--threads", 2, "--connections", 5, "--resp3",
                        "--command", "INCR counter:__key__", "--command", "GET counter:__key__",
                        "--command-ratio", "1:2", "--keyspace", 100,
                        "--distribution", "zipf:1.1")
    run = doc["result"]
    assert_clean_run(run)
    assert run["requests"] == 20000
    incr, get = run["commands"]
    assert (incr["name"], get["name"]) == ("INCR", "GET")
    assert 0.25 < incr["requests"] / 20000 < 0.42
    # Every INCR landed: the counters add up to the number of INCRs.
    r = server.redis(protocol=2)
    total = sum(int(r.get(k)) for k in r.scan_iter("counter:*"))
    assert total == incr["requests"]


def test_fixed_rate_is_met(server, tmp_path):
    doc, _ = bench_json(server, tmp_path, "--rate", 2000, "--duration", 2,
                        "--connections", 10, "--ratio", "1:3")
    run = doc["result"]
    assert_clean_run(run)
    assert abs(run["requests"] - 4000) <= 40, run["requests"]
    assert run["unsent"] == 0
    # At 2000 req/s on loopback nothing should queue for long.
    assert run["latency"]["p50_us"] < 5000


def test_error_replies_are_counted_by_kind(server, tmp_path):
    doc, _ = bench_json(server, tmp_path, "--requests", 500, "--command", "GET")
    run = doc["result"]
    assert run["requests"] == 500
    assert run["errors"] == 500
    assert run["errors_by_kind"] == {"ERR": 500}
    assert run["commands"][0]["errors"] == 500


def test_report_directory(tern, tmp_path):
    out = tmp_path / "report"
    bench(tern, "--duration", 1, "--report", out, "--data-size", "10-200",
          "--distribution", "hot:90%:10")
    for name in ["throughput.svg", "latency-over-time.svg", "latency-distribution.svg"]:
        text = (out / name).read_text()
        assert text.startswith("<svg") and len(text) > 2000, name
        assert f'src="{name}"' in (out / "index.html").read_text()


def test_compare_tern_with_valkey(tern, valkey, tmp_path):
    out = tmp_path / "cmp.json"
    report = tmp_path / "cmp"
    bench(tern, "--compare", f"{valkey.host}:{valkey.port}", "--rounds", 2,
          "--duration", 0.5, "--connections", 10, "--label", "tern", "--label", "valkey",
          "--server-pid", tern.proc.pid, "--server-pid", valkey.proc.pid,
          "--json", out, "--report", report)
    doc = json.loads(out.read_text())
    assert doc["mode"] == "compare"
    assert [e["label"] for e in doc["endpoints"]] == ["tern", "valkey"]
    assert len(doc["rounds"]) == 4
    # Alternating order: A B, then B A.
    assert [r["endpoint"] for r in doc["rounds"]] == [0, 1, 1, 0]
    for r in doc["rounds"]:
        assert_clean_run(r["run"])
    for key in ["ops_per_sec", "p99_us", "server_cpu_ns_per_request"]:
        a, b = (e["median"][key] for e in doc["endpoints"])
        assert doc["ratio"][key] == pytest.approx(a / b)
    assert (report / "rounds.svg").exists() and (report / "index.html").exists()


def test_smoke_burst_scenario(valkey, tmp_path):
    out = tmp_path / "burst.json"
    proc = bench(valkey, "--scenario", "smoke-burst", "--duration", 0.4, "--connections", 2,
                 "--json", out)
    doc = json.loads(out.read_text())
    assert doc["mode"] == "scenario"
    assert [s["factor"] for s in doc["steps"]] == [1, 2, 5, 10]
    assert [s["connections_per_thread"] for s in doc["steps"]] == [2, 4, 10, 20]
    for s in doc["steps"]:
        assert_clean_run(s["run"])
    assert "bend" in proc.stdout


def test_auth(start_server, tmp_path):
    server = start_server("valkey", {"requirepass": "sesame"})
    doc, _ = bench_json(server, tmp_path, "--requests", 1000, "--auth", "sesame")
    assert_clean_run(doc["result"])
    doc, _ = bench_json(server, tmp_path, "--requests", 1000, "--auth", "sesame", "--resp3")
    assert_clean_run(doc["result"])
    # Without the password every request is refused, and said so.
    doc, _ = bench_json(server, tmp_path, "--requests", 100)
    assert doc["result"]["errors_by_kind"] == {"NOAUTH": 100}


def test_command_line(tern):
    proc = bench(tern, "--help")
    assert "--host" in proc.stdout and "--distribution" in proc.stdout
    proc = bench(tern, "--distribution", "pareto", check=False)
    assert proc.returncode != 0 and "unknown distribution" in proc.stderr
    proc = subprocess.run([harness.tern_binary(), "bench", "-p", "1", "-n", "10", "-q"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "cannot connect" in proc.stderr
    proc = bench(tern, "--scenario", "list")
    assert "smoke-burst" in proc.stdout


MULTI5 = ("MULTI ; INCR a:__key__ ; INCR b:__key__ ; SET c:__key__ __data__ ; GET a:__key__ ; "
          "DEL d:__key__ ; EXEC")


def commandstats(server):
    """``{command: calls}`` from INFO commandstats."""
    info = server.redis(protocol=2).info("commandstats")
    return {name.removeprefix("cmdstat_"): fields["calls"] for name, fields in info.items()}


@pytest.mark.parametrize("resp3", [False, True])
def test_a_transaction_template_is_one_request(server, tmp_path, resp3):
    r = server.redis(protocol=2)
    r.flushall()
    r.config_resetstat()
    n = 3000
    doc, _ = bench_json(server, tmp_path, "--requests", n, "--pipeline", 4, "--threads", 2,
                        "--connections", 3, "--keyspace", 50, "--data-size", 7,
                        "--command", MULTI5, *(["--resp3"] if resp3 else []))
    run = doc["result"]
    assert_clean_run(run)
    # One request per transaction, not one per command.
    assert run["requests"] == n
    [command] = run["commands"]
    assert command["name"] == "MULTI;..;EXEC"
    assert command["requests"] == n
    assert doc["resolved"]["commands"][0]["replies"] == 7
    # The server ran exactly n transactions of five commands each.
    calls = commandstats(server)
    for name in ("multi", "exec", "get", "set", "del"):
        assert calls[name] == n, (name, calls)
    assert calls["incr"] == 2 * n
    # Every INCR of both counters landed, and the values were written whole.
    assert sum(int(r.get(k)) for k in r.scan_iter("a:*")) == n
    assert sum(int(r.get(k)) for k in r.scan_iter("b:*")) == n
    values = [r.get(k) for k in r.scan_iter("c:*")]
    assert values and all(len(v) == 7 for v in values)
    assert not list(r.scan_iter("d:*"))


def test_an_error_inside_a_sequence_fails_that_request_once(server, tmp_path):
    r = server.redis(protocol=2)
    r.flushall()
    r.set("str", "x")
    # LPUSH to a string is refused (the reply after it still comes), and SET then succeeds.
    doc, _ = bench_json(server, tmp_path, "--requests", 400, "--connections", 4,
                        "--command", "LPUSH str __data__ ; SET s:__key__ 1 ; ECHO ';'")
    run = doc["result"]
    assert run["requests"] == 400
    assert run["errors"] == 400
    assert run["errors_by_kind"] == {"WRONGTYPE": 400}
    assert run["commands"][0]["name"] == "LPUSH;SET;ECHO"
    assert doc["resolved"]["commands"][0]["replies"] == 3
    assert len(list(r.scan_iter("s:*"))) > 0
