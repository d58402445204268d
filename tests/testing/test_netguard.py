"""The loopback-only network guard: what it blocks, what it lets through, how it reports."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from completions_core.testing import netguard
from completions_core.testing.netguard import NonLoopbackConnectionError

PUBLIC_IP = "93.184.216.34"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _guarded() -> Iterator[None]:
    """Every test here runs with the guard on, and leaves it as it found it.

    A test that triggers the guard on purpose must call ``netguard.take_violations()`` itself:
    the session plugin checks for violations before fixtures are torn down.
    """
    was_installed = netguard.installed()
    netguard.install()
    yield
    netguard.take_violations()
    if not was_installed:
        netguard.uninstall()


def test_connect_to_a_public_ip_is_blocked_and_names_the_address() -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackConnectionError, match=r"93\.184\.216\.34"):
        sock.connect((PUBLIC_IP, 80))
    assert [error.address for error in netguard.take_violations()] == [(PUBLIC_IP, 80)]


def test_connect_ex_to_a_public_ip_is_blocked() -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackConnectionError):
        sock.connect_ex((PUBLIC_IP, 80))
    assert len(netguard.take_violations()) == 1


def test_create_connection_to_a_hostname_is_blocked() -> None:
    with pytest.raises(NonLoopbackConnectionError, match=r"example\.com"):
        socket.create_connection(("example.com", 80))
    assert [error.address for error in netguard.take_violations()] == [("example.com", 80)]


def test_resolving_a_public_name_is_blocked() -> None:
    with pytest.raises(NonLoopbackConnectionError, match=r"socket\.getaddrinfo to 'example\.com'"):
        socket.getaddrinfo("example.com", 80)
    assert [error.address for error in netguard.take_violations()] == ["example.com"]


def test_the_error_is_not_an_oserror_so_nothing_retries_it() -> None:
    assert not issubclass(NonLoopbackConnectionError, OSError)


@pytest.mark.anyio
async def test_asyncio_connection_to_a_public_name_is_blocked() -> None:
    with pytest.raises(NonLoopbackConnectionError, match=r"example\.com"):
        await asyncio.open_connection("example.com", 80)
    assert [error.address for error in netguard.take_violations()] == ["example.com"]


@pytest.mark.anyio
async def test_asyncio_connection_to_a_public_ip_is_blocked() -> None:
    # An IP literal skips getaddrinfo in asyncio: the socket.connect patch catches it.
    with pytest.raises(NonLoopbackConnectionError, match=r"93\.184\.216\.34"):
        await asyncio.open_connection(PUBLIC_IP, 80)
    assert [error.address for error in netguard.take_violations()] == [(PUBLIC_IP, 80)]


@pytest.mark.anyio
async def test_an_sdk_pointed_at_a_public_host_fails_with_the_guard_error() -> None:
    async with openai.AsyncOpenAI(base_url="http://example.com/v1", api_key="k", max_retries=0) as client:
        with pytest.raises(NonLoopbackConnectionError, match=r"example\.com"):
            await client.models.list()
    assert [error.address for error in netguard.take_violations()] == ["example.com"]


def test_loopback_ipv4_is_allowed() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as conn:
            assert conn.getpeername() == listener.getsockname()
    assert netguard.take_violations() == []


def test_localhost_resolves() -> None:
    assert socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]
)
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert netguard.is_loopback_host(host)


@pytest.mark.parametrize("host", [PUBLIC_IP, "example.com", "0.0.0.0", "10.0.0.1", "::ffff:8.8.8.8", "2606:4700::1111"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not netguard.is_loopback_host(host)


def test_unix_sockets_still_work(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            assert client.getpeername() == path


def test_uninstall_restores_the_socket_functions() -> None:
    netguard.uninstall()
    try:
        assert not netguard.installed()
        assert not hasattr(socket.getaddrinfo, "__wrapped__")
        assert not hasattr(socket.socket.connect, "__wrapped__")
    finally:
        netguard.install()
    assert hasattr(socket.getaddrinfo, "__wrapped__")


@pytest.mark.slow
def test_session_plugin_fails_a_test_that_swallowed_the_error(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from completions_core.testing import netguard

            def pytest_configure(config):
                netguard.enable_for_session(config)
            """
        )
    )
    (tmp_path / "test_sneaky.py").write_text(
        textwrap.dedent(
            """
            import socket

            def test_swallows():
                try:
                    socket.getaddrinfo("example.com", 443)
                except Exception:
                    pass

            def test_stays_local():
                socket.getaddrinfo("localhost", 443)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "test_swallows tried to reach the network" in result.stdout
