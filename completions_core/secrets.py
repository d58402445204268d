"""A wrapper that keeps secrets out of reprs, logs, exceptions and telemetry."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import unquote

if TYPE_CHECKING:
    from completions_core.errors import ProviderError

__all__ = ["MASK", "Secret", "fingerprint", "scrub", "scrub_error"]


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


# --- scrubbing credentials out of upstream text --------------------------------------------------

#: What a scrubbed credential is replaced with.
MASK = "****"
#: Known secrets (or runs of one) shorter than this are not matched: they would match ordinary words.
_MIN_KNOWN = 8
#: Longest text scrubbed; anything after it is cut (an upstream error page is not worth more).
_MAX_TEXT = 4000
# A run of characters a key, a token or its URL-encoded form is made of (not "." or "=", so that
# "key=<key>." keeps its "key=" and its full stop).
_RUN = re.compile(r"[A-Za-z0-9_\-~+/%]+")
# Values that follow a credential-bearing name: headers (``Authorization: Bearer x``,
# ``'x-api-key': 'x'``), query strings (``?key=x``) and JSON fields (``"access_token": "x"``).
_NAMED = re.compile(
    r"""((?:proxy-)?authorization|x-api-key|x-goog-api-key|api[-_]?key|apikey|access[-_]?token|"""
    r"""refresh[-_]?token|id[-_]?token|client[-_]?secret|private[-_]?key|password|secret|token|key)"""
    r"""(["']?\s*[:=]\s*["']?)((?:bearer|basic)\s+)?[^\s"',;&)}\]]+""",
    re.IGNORECASE,
)
# A bearer credential, wherever it appears.
_SCHEME = re.compile(r"""\b(bearer)(\s+)[^\s"',;&)}\]]+""", re.IGNORECASE)
# Credentials recognisable by their shape alone.
_SHAPED = re.compile(
    r"(?:sk-[A-Za-z0-9_\-]{8,}"  # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), DashScope
    r"|AIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|ya29\.[0-9A-Za-z_\-.]+"  # Google OAuth2 access tokens
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"  # JWTs
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*(?:-----END [A-Z ]*PRIVATE KEY-----)?)",
    re.IGNORECASE,
)
# Long random-looking runs: hex of 32+ characters, or 40+ of base64 with digits and both cases.
_LONG = re.compile(r"[A-Za-z0-9_\-+/]{32,}={0,2}")


def _random_looking(run: str) -> bool:
    for body in run.rstrip("=").split("/"):  # a path of short segments is not a secret
        if len(body) >= 32 and all(ch in "0123456789abcdefABCDEF" for ch in body):
            if any(ch.isdigit() for ch in body) and any(ch.isalpha() for ch in body):
                return True
        elif len(body) >= 40 and any(ch.isdigit() for ch in body):
            if any(ch.islower() for ch in body) and any(ch.isupper() for ch in body):
                return True
    return False


def _grams(secret: str) -> tuple[int, set[str]]:
    """The length and set of overlapping pieces that identify ``secret`` (lower case)."""
    lowered = secret.lower()
    size = max(6, min(8, len(lowered) // 2))
    return size, {lowered[i : i + size] for i in range(len(lowered) - size + 1)}


def _resembles(run: str, size: int, grams: set[str]) -> bool:
    for candidate in {run.lower(), unquote(run).lower()}:
        if any(candidate[i : i + size] in grams for i in range(len(candidate) - size + 1)):
            return True
    return False


def scrub(text: str, secrets: Iterable[Union[str, Secret, None]] = ()) -> str:
    """``text`` with every credential masked; for upstream error text, before it leaves an adapter.

    Masks each of ``secrets`` (the key or token in use) in any case, URL-encoded, and in any
    near-miss form (a run of key characters sharing a 6-8 character piece with it: one changed
    character or a truncated copy still goes); then, known or not, values after a
    credential-bearing name (``Authorization:``, ``x-api-key:``, ``x-goog-api-key:``, ``key=``,
    ``"access_token":``...), after ``Bearer``, and anything shaped like a key or token
    (``sk-...``, ``sk-ant-...``, ``AIza...``, ``ya29....``, JWTs, PEM private keys, long hex or
    base64 runs). Text longer than 4000 characters is cut to its first 4000 (only its first 8000
    are looked at: the work is bounded whatever an upstream sends).
    """
    if not text:
        return text
    # Bounded work whatever an upstream sends: only the start is scrubbed, and kept.
    overlong = len(text) > _MAX_TEXT
    text = text[: 2 * _MAX_TEXT]
    known: list[tuple[int, set[str]]] = []
    for secret in secrets:
        raw = secret.reveal() if isinstance(secret, Secret) else secret
        if not raw:
            continue
        if len(raw) >= _MIN_KNOWN:
            # The whole secret first, in any case, also when it is made of short runs ("a.b.c").
            text = re.sub(re.escape(raw), MASK, text, flags=re.IGNORECASE)
        for piece in _RUN.findall(raw):
            # A key may hold characters no header allows (CR, LF, NUL): each run of it is a secret.
            if len(piece) >= _MIN_KNOWN:
                known.append(_grams(piece))
    if known:
        text = _RUN.sub(lambda m: MASK if any(_resembles(m.group(0), *pair) for pair in known) else m.group(0), text)
    text = _NAMED.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) or "") + MASK, text)
    text = _SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _SHAPED.sub(MASK, text)
    text = _LONG.sub(lambda m: MASK if _random_looking(m.group(0)) else m.group(0), text)
    if overlong or len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return text


def scrub_error(error: ProviderError, secrets: Iterable[Union[str, Secret, None]] = ()) -> ProviderError:
    """``error`` with its message scrubbed (see :func:`scrub`) in place; returned for ``raise``."""
    secrets = tuple(secrets)
    message = scrub(error.message, secrets)
    if message != error.message:
        error.message = message
        error.args = (message,)
    return error
