"""Every failure of the openai SDK, mapped onto a :class:`ProviderError` in one place.

The provider's own message is kept (it is what the caller needs to fix a bad request); the
``error_type`` says what kind of failure it was and whether another attempt could help.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, Optional

from completions_core.errors import (
    ProviderError,
    broken_connection,
    retry_after_seconds,
    status_error_type,
    undecodable_body,
)
from completions_core.redaction import scrub_error

__all__ = ["map_error", "retry_after_seconds"]

# Error codes a provider sends inside a 429 that no retry can fix (billing, not load).
_PERMANENT_429_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


def _body_field(body: object, key: str) -> Optional[str]:
    if isinstance(body, Mapping):
        value = body.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _from_status(exc: Any, provider: str) -> ProviderError:
    status = int(exc.status_code)
    body = exc.body
    message = _body_field(body, "message") or f"{provider} answered HTTP {status}"
    error_type = status_error_type(status)
    retryable: Optional[bool] = None
    if error_type == "provider_error" and status == 409:
        retryable = True  # a conflict on the provider's side (e.g. a concurrent request): worth another try
    if error_type == "invalid_response_error":
        retryable = False
    if status == 429 and (exc.code in _PERMANENT_429_CODES or _body_field(body, "type") in _PERMANENT_429_CODES):
        retryable = False
    headers = exc.response.headers
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    return ProviderError(
        message,
        error_type,
        provider=provider,
        status_code=status,
        retryable=retryable,
        retry_after=retry_after_seconds(headers),
    )


def _from_stream_error(exc: Any, provider: str) -> ProviderError:
    # An error the provider sent inside a 200 stream ({"error": {...}} as a data event).
    from .response import stream_error

    body = dict(exc.body) if isinstance(exc.body, Mapping) else {}
    body["message"] = exc.message or body.get("message")
    return stream_error(body, provider)


def _is_aiohttp_error(exc: BaseException) -> bool:
    aiohttp = sys.modules.get("aiohttp")  # imported by the SDK's transport when it is in use
    return aiohttp is not None and isinstance(exc, aiohttp.ClientError)




def map_error(exc: BaseException, provider: str, secret: Optional[str] = None) -> Optional[ProviderError]:
    """The :class:`ProviderError` for an exception raised by the openai SDK, or None if it is not one.

    ``secret`` (the API key in use) and anything shaped like a credential is masked in the
    message (:func:`~completions_core.redaction.scrub`): a provider may echo request headers.
    """
    import httpx2
    import openai

    if isinstance(exc, ProviderError):
        return scrub_error(exc, [secret])
    error: ProviderError
    broken = broken_connection(exc)
    undecodable = undecodable_body(exc, httpx2.DecodingError)
    if undecodable is not None:
        # A body compressed in a way that does not decode (corrupt, or a coding nothing here knows).
        error = ProviderError(
            f"{provider} sent a body that could not be decoded ({undecodable})",
            "invalid_response_error",
            provider=provider,
        )
    elif broken is not None and isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        # The aiohttp transport reports a refused or reset connection as a connect *timeout*;
        # the cause chain tells the truth.
        error = ProviderError(f"could not reach {provider} ({broken})", "connection_error", provider=provider)
    elif isinstance(exc, openai.APIStatusError):
        error = _from_status(exc, provider)
    elif isinstance(exc, openai.APITimeoutError):
        error = ProviderError(f"{provider} did not answer in time", "timeout_error", provider=provider)
    elif isinstance(exc, openai.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection failed"
        error = ProviderError(f"could not reach {provider} ({cause})", "connection_error", provider=provider)
    elif isinstance(exc, openai.APIResponseValidationError):
        error = ProviderError(
            f"{provider} sent a response that does not fit the API schema", "invalid_response_error", provider=provider
        )
    elif isinstance(exc, openai.APIError):
        error = _from_stream_error(exc, provider)
    elif isinstance(exc, json.JSONDecodeError):
        error = ProviderError(
            f"{provider} sent malformed JSON ({exc.msg} at character {exc.pos})",
            "invalid_response_error",
            provider=provider,
        )
    elif isinstance(exc, httpx2.TimeoutException):
        error = ProviderError(f"{provider} did not answer in time", "timeout_error", provider=provider)
    elif isinstance(exc, httpx2.TransportError):
        error = ProviderError(
            f"the connection to {provider} failed ({type(exc).__name__})", "connection_error", provider=provider
        )
    elif isinstance(exc, openai.OpenAIError):
        error = ProviderError(f"{provider} client error: {exc}", "provider_error", provider=provider, retryable=False)
    elif _is_aiohttp_error(exc):
        # The SDK's aiohttp transport lets a few of aiohttp's own errors through (an answer whose
        # headers aiohttp refuses: one over its size limit); the prepared post maps them as these.
        error = ProviderError(
            f"the connection to {provider} failed ({type(exc).__name__})", "connection_error", provider=provider
        )
    else:
        return None
    return scrub_error(error, [secret])
