"""The one place where anthropic SDK (and transport) errors become ProviderErrors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from completions_core.errors import (
    ProviderError,
    broken_connection,
    retry_after_seconds,
    status_error_type,
    undecodable_body,
)

__all__ = ["map_error", "retry_after_seconds"]

# Anthropic's ``error.type`` -> our error_type (used when the HTTP status says nothing, e.g. an
# ``event: error`` inside a 200 stream).
_BY_BODY_TYPE = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "billing_error": "permission_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "request_too_large_error",
    "rate_limit_error": "rate_limit_error",
    "api_error": "provider_error",
    "overloaded_error": "overloaded_error",
    "timeout_error": "timeout_error",
}


def _body_error(body: Any) -> tuple[Optional[str], Optional[str]]:
    """(error.type, error.message) from an Anthropic or Google-style (Vertex) error body."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None, body.strip()[:500] or None
    if isinstance(body, list) and body:
        body = body[0]  # Vertex sometimes wraps the error in a list
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return None, None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    return kind, message


def _status_error(exc: Any, provider: str) -> ProviderError:
    status = int(exc.status_code)
    kind, message = _body_error(exc.body)
    headers = exc.response.headers
    # An ``event: error`` inside a stream that started with 200 (a 3xx is an answer, not followed).
    in_stream = status < 300
    if in_stream:
        error_type = _BY_BODY_TYPE.get(kind or "", "provider_error")
    else:
        error_type = status_error_type(status)
        if status >= 500 and error_type == "provider_error":
            # A 5xx without a fixed meaning: the body's error.type may say more (overloaded_error).
            error_type = _BY_BODY_TYPE.get(kind or "", "provider_error")
    retryable: Optional[bool] = None
    should_retry = headers.get("x-should-retry")
    if not in_stream and should_retry in ("true", "false"):
        retryable = should_retry == "true"
    # The provider's own words, verbatim: a bad request or an oversized one is the caller's to fix.
    text = message or f"{provider} answered HTTP {status}" + (f" ({kind})" if kind else "")
    return ProviderError(
        text,
        error_type,
        provider=provider,
        status_code=None if in_stream else status,
        retryable=retryable,
        retry_after=None if in_stream else retry_after_seconds(headers),
    )


def stream_error(event: Mapping[str, Any], provider: str) -> ProviderError:
    """The ProviderError for an ``event: error`` inside a stream that started with 200."""
    kind, message = _body_error(event)
    error_type = _BY_BODY_TYPE.get(kind or "", "provider_error")
    return ProviderError(message or f"{provider} failed mid-stream ({kind or 'error'})", error_type, provider=provider)




def map_error(exc: BaseException, provider: str) -> Optional[ProviderError]:
    """The ProviderError for an exception raised by the anthropic SDK or its transport.

    Returns None for anything else (a bug of ours must not pass for a provider failure).
    Messages never contain request headers (the API key travels in one).
    """
    import anthropic
    import httpx2

    undecodable = undecodable_body(exc, httpx2.DecodingError)
    if undecodable is not None:
        # A body compressed in a way that does not decode (corrupt, or a coding nothing here knows).
        return ProviderError(
            f"{provider} sent a body that could not be decoded ({undecodable})",
            "invalid_response_error",
            provider=provider,
        )
    broken = broken_connection(exc)
    if broken is not None and isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError)):
        # The aiohttp transport reports a refused or reset connection as a connect timeout.
        return ProviderError(f"could not reach {provider} ({broken})", "connection_error", provider=provider)
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, provider)
    if isinstance(exc, anthropic.APITimeoutError) or isinstance(exc, httpx2.TimeoutException):
        return ProviderError(f"{provider} did not answer in time", "timeout_error", provider=provider)
    if isinstance(exc, anthropic.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection failed"
        return ProviderError(f"could not reach {provider} ({cause})", "connection_error", provider=provider)
    if isinstance(exc, httpx2.TransportError):
        # Raised while reading a stream body: the SDK does not wrap errors after the headers.
        return ProviderError(
            f"the connection to {provider} broke ({type(exc).__name__})", "connection_error", provider=provider
        )
    if isinstance(exc, anthropic.APIResponseValidationError | json.JSONDecodeError):
        return ProviderError(
            f"{provider} sent a response that could not be read ({type(exc).__name__})",
            "invalid_response_error",
            provider=provider,
        )
    return None
