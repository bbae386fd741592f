"""Self-tests of the RESP frame reader in harness.py (no server needed)."""

import socket
import threading

import pytest

from harness import (ConnectionClosed, Error, Incomplete, Map, Push, RespClient, decode,
                     encode_command, frame_end)

FRAMES = [
    (b"+OK\r\n", b"OK"),
    (b"-ERR bad thing\r\n", Error(b"ERR bad thing")),
    (b":-42\r\n", -42),
    (b"$5\r\nhe\r\nl\r\n", b"he\r\nl"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*0\r\n", []),
    (b"_\r\n", None),
    (b",3.5\r\n", 3.5),
    (b",inf\r\n", float("inf")),
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b"(12345678901234567890123\r\n", 12345678901234567890123),
    (b"!8\r\nSYNTAX x\r\n", Error(b"SYNTAX x")),
    (b"=8\r\ntxt:abcd\r\n", b"abcd"),
    (b"*2\r\n$1\r\na\r\n*2\r\n:1\r\n_\r\n", [b"a", [1, None]]),
    (b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n#t\r\n", [(b"a", 1), (b"b", [True])]),
    (b"~2\r\n+x\r\n+y\r\n", [b"x", b"y"]),
    (b">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n", [b"message", b"ch", b"hi"]),
    (b"|1\r\n+ttl\r\n:3\r\n+value\r\n", b"value"),
]


@pytest.mark.parametrize("raw,value", FRAMES, ids=[repr(f[0][:12]) for f in FRAMES])
def test_frame_end_and_decode(raw, value):
    assert frame_end(raw) == len(raw)
    assert frame_end(raw + b"+next\r\n") == len(raw)
    assert decode(raw) == value
    for cut in range(len(raw)):
        with pytest.raises(Incomplete):
            frame_end(raw[:cut])


def test_decode_types():
    assert isinstance(decode(b">1\r\n+x\r\n"), Push)
    assert isinstance(decode(b"%0\r\n"), Map)
    assert decode(b"=8\r\ntxt:abcd\r\n").format == b"txt"


def test_bad_bytes():
    with pytest.raises(ValueError):
        frame_end(b"?what\r\n")
    with pytest.raises(ValueError):
        frame_end(b"$2\r\nabcd\r\n")


def test_encode_command():
    assert encode_command("SET", b"k\x00", 5) == b"*3\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$1\r\n5\r\n"


def test_client_reads_split_frames_and_close():
    """Frames arriving byte by byte are reassembled; EOF is reported."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    payload = b"*2\r\n$3\r\nabc\r\n:7\r\n+PONG\r\n$10\r\nincomp"

    def serve():
        conn, _ = listener.accept()
        conn.recv(100)
        for i in range(len(payload)):
            conn.sendall(payload[i:i + 1])
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        with RespClient("127.0.0.1", listener.getsockname()[1], timeout=5) as c:
            assert c.call("PING") == b"*2\r\n$3\r\nabc\r\n:7\r\n"
            assert c.read_reply() == b"+PONG\r\n"
            with pytest.raises(ConnectionClosed) as info:
                c.read_reply()
            assert info.value.partial == b"$10\r\nincomp"
            assert c.closed
    finally:
        t.join()
        listener.close()
