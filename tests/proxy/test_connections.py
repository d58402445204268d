"""The real server's connections: listen backlog, and no socket kept after its client has gone."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypercorn.asyncio.run import worker_serve

from completions_proxy.cli import DEFAULT_BACKLOG, hypercorn_config, main

TCP_LISTEN = 10  # the kernel's TCP_LISTEN state, as TCP_INFO reports it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _args(*argv: str) -> object:
    from completions_proxy.cli import _parser

    return _parser().parse_args(list(argv))


def test_the_default_backlog_and_keep_alive_reach_hypercorns_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLETIONS_BACKLOG", raising=False)
    monkeypatch.delenv("COMPLETIONS_HTTP_KEEP_ALIVE_SECONDS", raising=False)
    config = hypercorn_config(_args())  # type: ignore[arg-type]
    assert config.backlog == DEFAULT_BACKLOG == 2048
    assert config.keep_alive_timeout == 75


def test_flags_and_environment_set_the_backlog_and_keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_BACKLOG", "512")
    monkeypatch.setenv("COMPLETIONS_HTTP_KEEP_ALIVE_SECONDS", "30")
    config = hypercorn_config(_args())  # type: ignore[arg-type]
    assert (config.backlog, config.keep_alive_timeout) == (512, 30)
    config = hypercorn_config(_args("--backlog", "4096", "--keep-alive-timeout", "5"))  # type: ignore[arg-type]
    assert (config.backlog, config.keep_alive_timeout) == (4096, 5)


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--backlog", "0"], "--backlog"), (["--backlog", "many"], "--backlog"),
     (["--keep-alive-timeout", "0"], "--keep-alive-timeout")],
)
def test_a_bad_backlog_or_keep_alive_stops_with_a_message(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err


def _listen_backlog(port: int) -> int:
    """The backlog of this process's socket listening on ``port`` (TCP_INFO's tcpi_sacked)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(fd)))
        except OSError:
            continue
        with sock:
            try:
                if sock.type != socket.SOCK_STREAM or sock.getsockname()[1] != port:
                    continue
            except (OSError, IndexError, TypeError):
                continue
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            if info[0] != TCP_LISTEN:
                continue
            # struct tcp_info: 8 bytes of u8 fields, then u32 rto, ato, snd_mss, rcv_mss,
            # unacked, sacked; on a listening socket sacked is the listen queue's maximum.
            return int(struct.unpack_from("6I", info, 8)[5])
    raise AssertionError(f"no listening socket on port {port}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads TCP_INFO (Linux)")
def test_hypercorn_listens_with_the_configured_backlog() -> None:
    port = _free_port()
    config = hypercorn_config(_args("--bind", f"127.0.0.1:{port}", "--backlog", "1500"))  # type: ignore[arg-type]
    seen: list[int] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        return None

    async def inspect_then_stop() -> None:
        seen.append(_listen_backlog(port))  # hypercorn awaits this once it listens

    asyncio.run(worker_serve(app, config, shutdown_trigger=inspect_then_stop))  # type: ignore[arg-type]
    assert seen == [1500]


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def _request(port: int, body: bytes, token: str) -> bytes:
    return (
        f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends a RST
    sock.close()


def _wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Poll ``condition`` (the server's state in /proc) until it holds, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/<pid>/fd")
def test_connections_whose_client_reset_or_closed_them_are_closed_at_once() -> None:
    """Not after the keep-alive timer: here 600 s, far beyond this test's wait."""
    port, token = _free_port(), secrets.token_urlsafe(24)
    # The embedded provider answers at once (its default pacing would make each whole exchange
    # below take a second); the long stream sets its own pace so it is still running at the reset.
    env = dict(os.environ, COMPLETIONS_PROXY_TOKENS=token, COMPLETIONS_PLUGINS="embedded", COMPLETIONS_LOG_FORMAT="json",
               COMPLETIONS_EMBEDDED_TOKEN_DELAY="0", COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY="0")
    process = subprocess.Popen(
        [sys.executable, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}", "--keep-alive-timeout", "600"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    clients: list[socket.socket] = []
    try:
        # The readiness probe's keep-alive connection stays open to the end and is counted in
        # ``idle``: a probe closed here would leave the server's socket to a race with the count.
        for _ in range(600):
            assert process.poll() is None, "the proxy exited during start-up"
            try:
                probe = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                time.sleep(0.05)
                continue
            clients.append(probe)
            probe.settimeout(10)
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if probe.recv(100).startswith(b"HTTP/1.1 200"):
                break
        idle = _sockets(process.pid)
        probes = len(clients)
        short = b'{"provider":"embedded","model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}'
        long = (b'{"provider":"embedded","model":"m","stream":true,"messages":[{"role":"user","content":"x"}],'
                b'"provider_kwargs":{"embedded":{"text":"' + b"word " * 400 + b'","token_delay":0.05}}}')
        for i in range(45):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 3 == 0:  # a whole exchange on a keep-alive connection, then a reset
                sock.sendall(_request(port, short, token))
                received = b""
                while not received.endswith(b"0\r\n\r\n"):
                    piece = sock.recv(65536)
                    assert piece, "the server closed a keep-alive connection"
                    received += piece
                assert received.startswith(b"HTTP/1.1 200")
            elif i % 3 == 1:  # a reset in the middle of a stream
                sock.sendall(_request(port, long, token))
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            clients.append(sock)  # the rest: connected, never sent a byte
        _wait_until(lambda: _sockets(process.pid) >= idle + 45)  # every connection accepted
        assert _sockets(process.pid) >= idle + 45
        for i, sock in enumerate(clients[probes:]):
            if i % 2:
                _reset(sock)
            else:
                sock.close()  # an orderly close (FIN)
        # Every connection's socket is closed well before the 600 s keep-alive timer.
        _wait_until(lambda: _sockets(process.pid) <= idle)
        assert _sockets(process.pid) <= idle
        assert process.poll() is None
    finally:
        for sock in clients:
            sock.close()
        process.terminate()
        process.wait(timeout=30)
