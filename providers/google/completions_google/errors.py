"""Every failure google-genai can raise, mapped onto :class:`ProviderError` in one place.

Gemini answers errors as ``{"error": {"code", "message", "status", "details": [...]}}``, where
``details`` may carry a ``google.rpc.ErrorInfo`` (``reason``: ``API_KEY_INVALID``...) and a
``google.rpc.RetryInfo`` (``retryDelay``: ``"34s"``). The key itself must never leave this module
inside a message: :func:`scrub` removes it (and anything shaped like it) from every text we keep.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Optional

from completions_core.errors import ProviderError, status_error_type
from completions_core.redaction import Secret, scrub_error
from completions_core.redaction import scrub as scrub_text

__all__ = ["PROVIDER", "invalid_request", "map_error", "scrub", "unreadable"]

PROVIDER = "google"

_MAX_MESSAGE = 1000

# Reasons in ErrorInfo that mean "the key is wrong", even though Gemini answers them with 400.
_BAD_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_NOT_FOUND"})
_TOO_LARGE = re.compile(r"payload size exceeds|request entity too large|too large", re.IGNORECASE)
# Gemini's own meaning for a status, on top of core's table: 499 is CANCELLED (the server gave up
# on the call), not the caller's mistake.
_STATUS_OVERRIDES = {499: "provider_error"}


def scrub(text: str, secret: Optional[Secret] = None) -> str:
    """``text`` with the API key (in any case, near-miss or URL-encoded form) and anything shaped
    like a credential masked: core's :func:`completions_core.redaction.scrub`."""
    return scrub_text(text, [secret])


def invalid_request(message: str) -> ProviderError:
    """A request Gemini cannot be sent, refused before any network call."""
    return ProviderError(message, "invalid_request_error", provider=PROVIDER, retryable=False)


def map_error(exc: BaseException, secret: Optional[Secret] = None) -> Optional[ProviderError]:
    """The :class:`ProviderError` for an exception from google-genai or its transport.

    Returns None for an exception this module does not recognise (a bug, not a provider
    failure), which the caller re-raises so the proxy reports it as an internal error.
    """
    mapped = _map(exc, secret)
    # Every text kept from upstream goes through the scrubber once more, whatever built it.
    return None if mapped is None else scrub_error(mapped, [secret])


def _map(exc: BaseException, secret: Optional[Secret]) -> Optional[ProviderError]:
    from google.genai import errors as genai_errors

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        return _api_error(exc, secret)
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        # Its text quotes the raw body, which may be long; the first line says enough.
        detail = scrub(str(exc).split("\n", 1)[0][:300], secret)
        return ProviderError(f"Gemini sent a response that is not valid JSON ({detail})", "invalid_response_error",
                             provider=PROVIDER)
    if isinstance(exc, json.JSONDecodeError):
        # google-genai parses a 200 body itself: malformed, truncated or not JSON at all (HTML).
        return ProviderError(
            f"Gemini sent a response that is not valid JSON ({exc.msg} at character {exc.pos})",
            "invalid_response_error",
            provider=PROVIDER,
        )
    return _transport_error(exc, secret)


def unreadable(exc: BaseException) -> ProviderError:
    """A 200 answer google-genai decoded into something that is not a Gemini response."""
    return ProviderError(
        f"Gemini sent a response that could not be read ({type(exc).__name__})",
        "invalid_response_error",
        provider=PROVIDER,
    )


def _transport_error(exc: BaseException, secret: Optional[Secret]) -> Optional[ProviderError]:
    import httpx2

    detail = scrub(str(exc), secret)
    name = type(exc).__name__
    described = f"{name}: {detail}" if detail else name
    if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
        return ProviderError(f"Gemini did not answer in time ({described})", "timeout_error", provider=PROVIDER)
    if isinstance(exc, httpx2.DecodingError) or _undecodable_payload(exc):
        # A body compressed in a way that does not decode (httpx2's reading, or aiohttp's).
        return ProviderError(
            "Gemini sent a body that could not be decoded (its content-encoding)",
            "invalid_response_error",
            provider=PROVIDER,
        )
    if isinstance(exc, httpx2.TransportError):
        return ProviderError(f"could not talk to Gemini ({described})", "connection_error", provider=PROVIDER)
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a core dependency
        aiohttp = None  # type: ignore[assignment]
    # Only reachable when google-genai's aiohttp transport is in use (this adapter forces httpx2),
    # kept so the mapping does not depend on that choice.
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return ProviderError(f"could not talk to Gemini ({described})", "connection_error", provider=PROVIDER)
    if isinstance(exc, ConnectionError):
        return ProviderError(f"could not talk to Gemini ({described})", "connection_error", provider=PROVIDER)
    return None


def _undecodable_payload(exc: BaseException) -> bool:
    """Whether aiohttp failed to decode the body's content-encoding (its stream session decodes)."""
    try:
        from aiohttp.http_exceptions import ContentEncodingError
    except ImportError:  # pragma: no cover - aiohttp is a core dependency
        return False
    return isinstance(exc, ContentEncodingError) or isinstance(exc.__cause__, ContentEncodingError)


def _api_error(exc: Any, secret: Optional[Secret]) -> ProviderError:
    code = exc.code if isinstance(exc.code, int) else 0
    error = _error_body(exc.details, exc.message)
    status = _text(error.get("status")) or _text(exc.status)
    message = _text(error.get("message")) or _text(exc.message)
    reasons, retry_delay = _details(error.get("details"))
    text = scrub(f"{status}: {message}" if status and message else message or status or "", secret)
    if len(text) > _MAX_MESSAGE:
        # A load balancer's HTML page, not a Gemini error: its start is enough.
        text = text[:_MAX_MESSAGE] + "…"
    if not text:
        text = f"Gemini answered HTTP {code}"
    error_type = _error_type(code, status, message, reasons)
    retry_after = retry_delay if retry_delay is not None else _retry_after_header(getattr(exc, "response", None))
    return ProviderError(text, error_type, provider=PROVIDER, status_code=code or None, retry_after=retry_after)


def _error_type(code: int, status: str, message: str, reasons: list[str]) -> str:
    if any(reason in _BAD_KEY_REASONS for reason in reasons):
        return "authentication_error"
    if code == 413 or (code == 400 and _TOO_LARGE.search(message)):
        return "request_too_large_error"
    if code == 400 and status == "FAILED_PRECONDITION":
        # "User location is not supported", "enable billing": the account, not the request.
        return "permission_error"
    # No code at all (an API error with only a message): the request is what to look at.
    return status_error_type(code, _STATUS_OVERRIDES) if code else "invalid_request_error"


def _error_body(details: Any, message: Any) -> Mapping[str, Any]:
    """The ``error`` object, also when the transport left the body as raw text.

    google-genai's aiohttp transport does not parse an error body labelled
    ``text/event-stream`` (Gemini does that for streaming requests) and hands over
    ``{"message": "<raw JSON>", "status": "Bad Request"}`` instead.
    """
    if isinstance(details, list) and len(details) == 1:
        details = details[0]
    if isinstance(details, Mapping):
        inner = details.get("error")
        if isinstance(inner, Mapping):
            return inner
    if isinstance(message, str) and message.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and len(parsed) == 1:
            parsed = parsed[0]
        if isinstance(parsed, Mapping) and isinstance(parsed.get("error"), Mapping):
            inner = parsed["error"]
            assert isinstance(inner, Mapping)
            return inner
    # google-genai's own stand-in for a body that is not JSON: {"message": text, "status": reason}.
    return {}


def _details(raw: Any) -> tuple[list[str], Optional[float]]:
    """ErrorInfo reasons and the RetryInfo delay (seconds) from an error's ``details``."""
    reasons: list[str] = []
    delay: Optional[float] = None
    if not isinstance(raw, list):
        return reasons, delay
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("@type", ""))
        if kind.endswith("google.rpc.ErrorInfo") and isinstance(item.get("reason"), str):
            reasons.append(item["reason"])
        elif kind.endswith("google.rpc.RetryInfo"):
            delay = _duration(item.get("retryDelay"))
    return reasons, delay


def _duration(value: Any) -> Optional[float]:
    """A protobuf Duration in JSON ("34s", "1.5s") or {"seconds", "nanos"}, in seconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = float(value[:-1])
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if isinstance(value, Mapping):
        try:
            return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def _retry_after_header(response: Any) -> Optional[float]:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get("retry-after")
    except Exception:  # noqa: BLE001 - a header lookup must never hide the real error
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
