"""Client-side caching: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and the
invalidation messages.

Argument errors and the introspection replies are compared with Valkey command
by command.  Invalidations need two connections: each scenario drives a tracking
client and a writer against one server and records everything the tracking
client received (pushes included, read up to the reply of a PING), and the same
scenario runs on Tern and on Valkey.
"""

from __future__ import annotations

import time

import pytest

from difftools import run_commands
from harness import decode


def c(line: str):
    return line.split()


CASES = {
    "errors": [c("CLIENT TRACKING"), c("CLIENT TRACKING maybe"), c("CLIENT TRACKING ON FOO"),
               c("CLIENT TRACKING ON PREFIX a"), c("CLIENT TRACKING ON OPTIN OPTOUT"),
               c("CLIENT TRACKING ON BCAST OPTIN"), c("CLIENT TRACKING ON BCAST OPTOUT"),
               c("CLIENT TRACKING ON REDIRECT"), c("CLIENT TRACKING ON REDIRECT x"),
               c("CLIENT TRACKING ON REDIRECT 987654"),
               c("CLIENT TRACKING ON BCAST PREFIX a PREFIX ab"),
               c("CLIENT TRACKING ON BCAST PREFIX ab PREFIX a"),
               c("CLIENT CACHING YES"), c("CLIENT CACHING maybe"), c("CLIENT CACHING"),
               c("CLIENT GETREDIR"), c("CLIENT TRACKINGINFO"), c("CLIENT GETREDIR x")],
    "modes": [c("CLIENT TRACKING ON"), c("CLIENT GETREDIR"), c("CLIENT TRACKINGINFO"),
              c("CLIENT TRACKING ON BCAST"), c("CLIENT TRACKING OFF"),
              c("CLIENT TRACKING ON BCAST PREFIX b"), c("CLIENT TRACKINGINFO"),
              c("CLIENT TRACKING ON BCAST PREFIX bc"), c("CLIENT TRACKING ON BCAST PREFIX c"),
              c("CLIENT TRACKINGINFO"), c("CLIENT TRACKING ON"), c("CLIENT TRACKING OFF"),
              c("CLIENT TRACKING ON OPTIN"), c("CLIENT CACHING YES"), c("CLIENT CACHING NO"),
              c("CLIENT TRACKINGINFO"), c("CLIENT TRACKING ON OPTOUT"),
              c("CLIENT TRACKING OFF"), c("CLIENT TRACKING ON OPTOUT NOLOOP"),
              c("CLIENT CACHING NO"), c("CLIENT CACHING YES"), c("CLIENT TRACKINGINFO"),
              c("CLIENT TRACKING OFF"), c("CLIENT TRACKINGINFO"), c("CLIENT GETREDIR")],
}


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_differential(tern, valkey, proto, name):
    run_commands(tern, valkey, proto, CASES[name], f"{name} RESP{proto}")


class Session:
    def __init__(self, server):
        self.server = server
        self.clients = []
        self.transcript = []

    def client(self, proto=3):
        client = self.server.client(timeout=5)
        if proto == 3:
            client.call("HELLO", "3")
        self.clients.append(client)
        return client

    def call(self, client, *args):
        self.transcript.append(client.call(*args))

    def received(self, client):
        """Everything the client was sent, up to the reply of a PING sent now."""
        time.sleep(0.05)
        client.send_command("PING")
        frames = []
        while True:
            frame = client.read_reply()
            frames.append(frame)
            if frame in (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"):
                break
        self.transcript.append(frames)

    def close(self):
        for client in self.clients:
            client.close()


def default_mode(s):
    t, w = s.client(), s.client()
    s.call(w, "SET", "k", "v")
    s.call(t, "CLIENT", "TRACKING", "ON")
    s.call(t, "GET", "k")
    s.call(t, "MGET", "m1", "m2")
    s.call(w, "SET", "k", "1")
    s.received(t)
    s.call(w, "SET", "k", "2")          # not read again since: no second message
    s.received(t)
    s.call(w, "MSET", "m1", "x", "m2", "y")
    s.received(t)
    s.call(t, "GET", "k")
    s.call(t, "SET", "k", "self")       # its own change is announced too
    s.received(t)


def noloop(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON", "NOLOOP")
    s.call(t, "GET", "k")
    s.call(t, "SET", "k", "mine")
    s.received(t)
    s.call(t, "GET", "k")
    s.call(w, "SET", "k", "theirs")
    s.received(t)


def flush_invalidates_everything(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON")
    s.call(t, "GET", "k")
    s.call(w, "FLUSHALL")
    s.received(t)
    s.call(w, "FLUSHDB")
    s.received(t)


def broadcast(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p", "PREFIX", "q:")
    s.call(w, "MSET", "p1", "1", "p2", "2", "r", "3", "q:x", "4")
    s.received(t)
    s.call(w, "SET", "other", "1")
    s.received(t)
    s.call(t, "GET", "p1")
    s.call(t, "SET", "p3", "mine")
    s.received(t)


def broadcast_everything_noloop(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP")
    s.call(t, "SET", "a", "mine")
    s.call(w, "SET", "b", "theirs")
    s.received(t)


def optin_optout(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON", "OPTIN")
    s.call(t, "GET", "o1")
    s.call(t, "CLIENT", "CACHING", "YES")
    s.call(t, "GET", "o2")
    s.call(t, "GET", "o3")
    s.call(w, "MSET", "o1", "1", "o2", "2", "o3", "3")
    s.received(t)
    s.call(t, "CLIENT", "TRACKING", "OFF")
    s.call(t, "CLIENT", "TRACKING", "ON", "OPTOUT")
    s.call(t, "GET", "u1")
    s.call(t, "CLIENT", "CACHING", "NO")
    s.call(t, "GET", "u2")
    s.call(w, "MSET", "u1", "1", "u2", "2")
    s.received(t)


def tracking_off_stops_messages(s):
    t, w = s.client(), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON")
    s.call(t, "GET", "k")
    s.call(t, "CLIENT", "TRACKING", "OFF")
    s.call(w, "SET", "k", "1")
    s.received(t)


def resp2_without_redirect_hears_nothing(s):
    t, w = s.client(proto=2), s.client()
    s.call(t, "CLIENT", "TRACKING", "ON")
    s.call(t, "GET", "k")
    s.call(w, "SET", "k", "1")
    s.received(t)


SCENARIOS = [default_mode, noloop, flush_invalidates_everything, broadcast,
             broadcast_everything_noloop, optin_optout, tracking_off_stops_messages,
             resp2_without_redirect_hears_nothing]


def run_scenario(server, scenario):
    with server.client() as admin:
        admin.call("FLUSHALL")
    session = Session(server)
    try:
        scenario(session)
    finally:
        session.close()
    return session.transcript


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenarios(tern, valkey, scenario):
    assert run_scenario(tern, scenario) == run_scenario(valkey, scenario)


def redirect_to_resp3(server):
    """The tracking client redirects to another RESP3 connection, whose id differs between
    servers: the transcript refers to it by name."""
    s = Session(server)
    try:
        target, t, w = s.client(), s.client(), s.client()
        target_id = decode(target.call("CLIENT", "ID"))
        s.call(t, "CLIENT", "TRACKING", "ON", "REDIRECT", str(target_id))
        s.transcript.append(decode(t.call("CLIENT", "GETREDIR")) == target_id)
        s.call(t, "GET", "k")
        s.call(w, "SET", "k", "1")
        s.received(target)
        s.received(t)
        target.close()
        s.clients.remove(target)
        time.sleep(0.1)
        info = t.call("CLIENT", "TRACKINGINFO")
        s.transcript.append(info.replace(str(target_id).encode(), b"ID"))
        s.call(t, "GET", "k")
        s.call(w, "SET", "k", "2")
        s.received(t)
        marker = b":" + str(target_id).encode() + b"\r\n"

        def named(x):
            if isinstance(x, bytes):
                return x.replace(marker, b":ID\r\n")
            if isinstance(x, list):
                return [named(f) for f in x]
            return x

        return [named(x) for x in s.transcript]
    finally:
        s.close()


def test_redirect(tern, valkey):
    for server in (tern, valkey):
        with server.client() as admin:
            admin.call("FLUSHALL")
    assert redirect_to_resp3(tern) == redirect_to_resp3(valkey)


def test_table_limit_evicts_and_invalidates(start_server):
    server = start_server("tern", [("tracking-table-max-keys", "2")])
    s = Session(server)
    try:
        t = s.client()
        t.call("CLIENT", "TRACKING", "ON")
        for key in ("a", "b", "c"):
            t.call("GET", key)
        s.received(t)
        frames = s.transcript[-1]
        # One key was dropped from the table to stay within two, and announced.
        assert len(frames) == 2 and frames[0].startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n")
        with server.client() as admin:
            info = decode(admin.call("INFO", "stats")).decode()
        assert "tracking_total_keys:2" in info
    finally:
        s.close()


def redirect_to_resp2_subscriber(server):
    """RESP2 clients hear invalidations through a connection subscribed to
    __redis__:invalidate: the tracking client redirects there."""
    s = Session(server)
    try:
        listener, t, w = s.client(proto=2), s.client(proto=2), s.client()
        listener_id = decode(listener.call("CLIENT", "ID"))
        s.call(listener, "SUBSCRIBE", "__redis__:invalidate")
        s.call(t, "CLIENT", "TRACKING", "ON", "REDIRECT", str(listener_id))
        s.call(t, "GET", "k")
        s.call(t, "MGET", "k2", "k3")
        s.call(w, "MSET", "k", "1", "k2", "2")
        s.received(listener)
        s.call(w, "FLUSHDB")
        s.received(listener)
        s.received(t)
        return s.transcript
    finally:
        s.close()


def test_redirect_to_resp2_subscriber(tern, valkey):
    for server in (tern, valkey):
        with server.client() as admin:
            admin.call("FLUSHALL")
    assert redirect_to_resp2_subscriber(tern) == redirect_to_resp2_subscriber(valkey)
