"""A guard that makes any attempt to reach a non-loopback address fail loudly during tests.

Tests talk to loopback replay servers only. :func:`install` patches the socket layer so that
resolving or connecting to anything else raises :class:`NonLoopbackConnectionError`, naming the
address. Patched: ``socket.socket.connect``/``connect_ex``, ``socket.create_connection`` and
``socket.getaddrinfo``. asyncio's ``loop.create_connection`` (and so httpx, aiohttp and the
provider SDKs) resolves through ``socket.getaddrinfo`` and connects through ``socket.socket``,
so it is covered too. Unix sockets and other non-IP families are left alone.

An SDK may catch the error and wrap it (the OpenAI SDK turns any exception into
``APIConnectionError``), so every blocked attempt is also recorded in :data:`violations`; the
pytest plugin from :func:`enable_for_session` fails the test that made one even if the error
was swallowed.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

__all__ = [
    "NonLoopbackConnectionError",
    "enable_for_session",
    "install",
    "installed",
    "is_loopback_host",
    "take_violations",
    "uninstall",
    "violations",
]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


class NonLoopbackConnectionError(RuntimeError):
    """A test tried to reach an address outside the loopback interface.

    Deliberately not an ``OSError``: connection code retries or falls back on ``OSError``, and
    this must stop the test instead.
    """

    def __init__(self, address: object, how: str) -> None:
        self.address = address
        super().__init__(
            f"tests must not reach the network: {how} to {address!r} blocked "
            "(only 127.0.0.0/8, ::1 and localhost are allowed)"
        )


#: Every blocked attempt since the last :func:`install` (or since the current test started).
violations: list[NonLoopbackConnectionError] = []

_lock = threading.Lock()
_originals: dict[str, Any] = {}


def is_loopback_host(host: object) -> bool:
    """Whether ``host`` (a name, an IP literal, bytes or None) stays on this machine."""
    if host is None:
        return True  # getaddrinfo(None, port) means the local host
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]")
    if name == "" or name.lower() in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name may resolve anywhere
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _block(address: object, how: str) -> NonLoopbackConnectionError:
    error = NonLoopbackConnectionError(address, how)
    with _lock:
        violations.append(error)
    return error


def _check_socket_address(sock: socket.socket, address: Any, how: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets, netlink...: not the network
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback_host(host):
        raise _block(address, how)


def _guarded_connect(original: Callable[..., Any], how: str) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        _check_socket_address(self, address, how)
        return original(self, address)

    connect.__wrapped__ = original  # type: ignore[attr-defined]
    return connect


def _guarded_create_connection(original: Callable[..., socket.socket]) -> Callable[..., Any]:
    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = address[0] if isinstance(address, tuple) and address else address
        if not is_loopback_host(host):
            raise _block(address, "socket.create_connection")
        return original(address, *args, **kwargs)

    create_connection.__wrapped__ = original  # type: ignore[attr-defined]
    return create_connection


def _guarded_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback_host(host):
            # anyio passes the IDNA-encoded name as bytes; name it as the user wrote it.
            name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            raise _block(name, "socket.getaddrinfo")
        return original(host, *args, **kwargs)

    getaddrinfo.__wrapped__ = original  # type: ignore[attr-defined]
    return getaddrinfo


def take_violations() -> list[NonLoopbackConnectionError]:
    """Return the blocked attempts recorded so far and forget them.

    A test that triggers the guard on purpose calls this, so that the session plugin does not
    fail it for the attempt it expected.
    """
    with _lock:
        taken = list(violations)
        violations.clear()
    return taken


def installed() -> bool:
    """Whether the guard is currently installed."""
    return bool(_originals)


def install() -> None:
    """Patch the socket layer (idempotent) and clear :data:`violations`."""
    with _lock:
        violations.clear()
        if _originals:
            return
        _originals.update(
            connect=socket.socket.connect,
            connect_ex=socket.socket.connect_ex,
            create_connection=socket.create_connection,
            getaddrinfo=socket.getaddrinfo,
        )
        socket.socket.connect = _guarded_connect(  # type: ignore[method-assign]
            _originals["connect"], "socket.connect"
        )
        socket.socket.connect_ex = _guarded_connect(  # type: ignore[method-assign]
            _originals["connect_ex"], "socket.connect_ex"
        )
        socket.create_connection = _guarded_create_connection(_originals["create_connection"])
        socket.getaddrinfo = _guarded_getaddrinfo(_originals["getaddrinfo"])


def uninstall() -> None:
    """Restore the original socket functions (idempotent)."""
    with _lock:
        if not _originals:
            return
        socket.socket.connect = _originals["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = _originals["connect_ex"]  # type: ignore[method-assign]
        socket.create_connection = _originals["create_connection"]
        socket.getaddrinfo = _originals["getaddrinfo"]
        _originals.clear()


class _NetGuardPlugin:
    """Fails a test that attempted a non-loopback connection, even if the error was caught."""

    def __init__(self) -> None:
        import pytest

        # Defined here so that importing this module does not need pytest.
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
            violations.clear()
            result = yield
            if violations:
                blocked = "; ".join(str(error) for error in violations)
                violations.clear()
                pytest.fail(f"{item.nodeid} tried to reach the network: {blocked}", pytrace=False)
            return result

        @pytest.hookimpl
        def pytest_unconfigure(config: pytest.Config) -> None:
            uninstall()

        self.pytest_runtest_call = pytest_runtest_call
        self.pytest_unconfigure = pytest_unconfigure


def enable_for_session(config: pytest.Config) -> None:
    """Install the guard for the whole pytest session; call it from ``pytest_configure``.

    ``tests/conftest.py``::

        from completions_core.testing import netguard

        def pytest_configure(config):
            netguard.enable_for_session(config)

    Safe to call from several conftests: the guard and its plugin are installed once.
    """
    install()
    if not config.pluginmanager.has_plugin("completions-netguard"):
        config.pluginmanager.register(_NetGuardPlugin(), "completions-netguard")
