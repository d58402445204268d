"""Suite-wide secret leak check: no secret may appear in a log line or an error body.

Every secret the code handles is wrapped in :class:`~completions_core.redaction.Secret`, so the
check learns the secrets by watching ``Secret`` being built (proxy tokens, customer keys,
managed keys, service-account fields). It captures what an operator or a caller would see:
log records at INFO and above (standard logging and structlog events), HTTP error bodies and
``error`` records of every app wrapped with :func:`wrap_asgi` (structlog events once
:func:`structlog_processor` is in the chain; the repository's root conftest wires both into the
proxy). At the end of the session :func:`leaks` must be empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping
from typing import Any

from completions_core import redaction

__all__ = ["capture_text", "counts", "find_leaks", "install", "leaks", "structlog_processor", "wrap_asgi"]

_MIN_SECRET = 8  # shorter strings ("k", "x") would match by accident
_lock = threading.Lock()
_known: set[str] = set()
_captured: list[tuple[str, str]] = []
_installed = False


def capture_text(where: str, text: str) -> None:
    """Remember ``text`` as something a person would see."""
    with _lock:
        _captured.append((where, text))


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            capture_text(f"log {record.name}", record.getMessage() + " " + repr(record.__dict__.get("args")))
        except Exception:  # noqa: BLE001 - a bad log call must not break the check
            capture_text(f"log {record.name}", record.msg if isinstance(record.msg, str) else repr(record.msg))


def structlog_processor(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor that captures every event (put it first in the chain)."""
    capture_text("structlog", repr(event))
    return event


def install() -> None:
    """Start watching (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_init = redaction.Secret.__init__

    def watching_init(self: redaction.Secret, value: str) -> None:
        original_init(self, value)
        if isinstance(value, str) and len(value) >= _MIN_SECRET:
            with _lock:
                _known.add(value)

    redaction.Secret.__init__ = watching_init  # type: ignore[method-assign]
    handler = _Handler(level=logging.INFO)
    logging.getLogger().addHandler(handler)



def wrap_asgi(app: Any) -> Any:
    """An ASGI wrapper that captures error bodies and ``error`` stream records."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        status = 200

        async def watching_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if status >= 400 or b'"type":"error"' in body:
                    capture_text(f"http {scope.get('path')} {status}", body.decode("utf-8", "replace"))
            await send(message)

        await app(scope, receive, watching_send)

    return wrapped


def find_leaks(known: set[str], captured: list[tuple[str, str]]) -> list[str]:
    """Every captured text that holds one of ``known``, as ``where: secret-prefix`` lines."""
    return [
        f"{where}: contains a secret starting {secret[:4]!r}"
        for where, text in captured
        for secret in known
        if secret in text
    ]


def leaks() -> list[str]:
    """Every text captured so far that holds a secret seen so far."""
    with _lock:
        return find_leaks(set(_known), list(_captured))


def counts() -> tuple[int, int]:
    """(secrets known, texts captured): the check must have seen something to mean anything."""
    with _lock:
        return len(_known), len(_captured)
