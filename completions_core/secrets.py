"""A wrapper that keeps secrets out of reprs, logs, exceptions and telemetry."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

__all__ = ["Secret", "fingerprint"]


class Secret:
    """Holds a secret string; every way of printing it shows ``'****'``.

    Call :meth:`reveal` only at the point where the value leaves the process for its rightful
    destination (an SDK client's constructor).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

    def __bool__(self) -> bool:
        return bool(self._value)


def fingerprint(value: str | Secret, *, salt: bytes = b"completions-proxy") -> str:
    """A short non-reversible id of a secret (keyed BLAKE2b), for logs and cache keys."""
    raw = value.reveal() if isinstance(value, Secret) else value
    return hashlib.blake2b(raw.encode(), key=salt[:64], digest_size=8).hexdigest()
