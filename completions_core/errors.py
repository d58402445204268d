"""Error types shared by adapters, the proxy and the codec.

An adapter maps every SDK error onto :class:`ProviderError` in one place; the proxy maps a
``ProviderError`` onto an HTTP status and an ``error_type`` (see docs/protocol.md). The error
types are stable strings that callers can match on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Optional

__all__ = [
    "ERROR_STATUS",
    "broken_connection",
    "undecodable_body",
    "retry_after_seconds",
    "status_error",
    "status_error_type",
    "transport_errors",
    "InvalidRequestError",
    "ProviderError",
    "RETRYABLE_ERROR_TYPES",
    "STATUS_ERROR_TYPES",
]

# error_type -> HTTP status the proxy answers with when the whole request fails with it. Every
# error type the proxy can return is here (a test derives them from the code and checks this
# table and the one in docs/protocol.md).
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "provider_not_configured_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "unknown_provider_error": 404,
    "method_not_allowed_error": 405,
    "request_timeout_error": 408,
    "request_too_large_error": 413,
    "rate_limit_error": 429,
    "invalid_response_error": 502,
    "provider_error": 502,
    "connection_error": 502,
    "overloaded_error": 503,
    "unavailable_error": 503,
    "managed_key_unavailable_error": 503,
    "timeout_error": 504,
    "internal_error": 500,
}

# Failures worth another attempt against the same provider (auth is not: the key will not change,
# but it does move on to the next fallback, see the engine).
RETRYABLE_ERROR_TYPES = frozenset(
    {"rate_limit_error", "provider_error", "connection_error", "overloaded_error", "timeout_error",
     "invalid_response_error"}
)


# A provider's HTTP status -> error_type, for the statuses whose meaning is fixed by HTTP (or by
# common use among model APIs: 529 is "overloaded"). Every adapter starts from this table; a plugin
# passes its own ``overrides`` to :func:`status_error_type` for a status its provider uses otherwise.
STATUS_ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "permission_error",  # payment required: billing, which no retry fixes
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "provider_error",  # a conflict on the provider's side (e.g. a concurrent request)
    413: "request_too_large_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def status_error_type(status: int, overrides: Optional[Mapping[int, str]] = None) -> str:
    """The error_type for a provider's HTTP ``status``: ``overrides``, then the core table, then the class.

    Other 5xx are ``provider_error``, other 4xx ``invalid_request_error``; anything else (a 1xx or
    3xx reaching an adapter: a redirect not followed, a broken upstream) is ``invalid_response_error``.
    """
    if overrides and status in overrides:
        return overrides[status]
    if status in STATUS_ERROR_TYPES:
        return STATUS_ERROR_TYPES[status]
    if status >= 500:
        return "provider_error"
    if status >= 400:
        return "invalid_request_error"
    return "invalid_response_error"


class InvalidRequestError(ValueError):
    """A request the proxy refuses before calling any provider; ``path`` says where the problem is."""

    def __init__(self, message: str, path: str = "", *, error_type: str = "invalid_request_error") -> None:
        self.path = path
        self.error_type = error_type
        self.message = f"{path}: {message}" if path else message
        super().__init__(self.message)

    @property
    def status_code(self) -> int:
        """The HTTP status the proxy answers with."""
        return ERROR_STATUS.get(self.error_type, 400)


class ProviderError(Exception):
    """A normalized provider failure.

    ``status_code`` is the provider's own HTTP status when it answered (None for connection
    errors and timeouts); ``retry_after`` is its Retry-After in seconds when it sent one.
    """

    def __init__(
        self,
        message: str,
        error_type: str,
        *,
        provider: str = "",
        status_code: Optional[int] = None,
        retryable: Optional[bool] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.provider = provider
        self.status_code = status_code
        self.retryable = error_type in RETRYABLE_ERROR_TYPES if retryable is None else retryable
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        """The HTTP status the proxy answers with when this error ends the request."""
        if self.error_type == "invalid_request_error" and self.status_code in (400, 404, 409, 413, 422):
            return self.status_code
        return ERROR_STATUS.get(self.error_type, 502)

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, error_type={self.error_type!r}, provider={self.provider!r}, "
            f"status_code={self.status_code!r}, retryable={self.retryable!r})"
        )


def broken_connection(exc: BaseException) -> Optional[str]:
    """The type name of a refused, reset or closed connection in ``exc``'s cause chain, if any.

    SDK transports (the aiohttp ones in particular) may report such a failure as a connect
    *timeout*; adapters use this to report it as the ``connection_error`` it is.
    """
    import aiohttp

    seen: Optional[BaseException] = exc
    for _ in range(8):
        if seen is None:
            return None
        broken = isinstance(seen, (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, ConnectionError))
        if broken and not isinstance(seen, TimeoutError):
            return type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return None


def undecodable_body(exc: BaseException, decoding_error: type[Exception]) -> Optional[str]:
    """What went wrong when ``exc`` is a body that could not be decoded, else None: the HTTP
    client's ``decoding_error`` (httpx2's ``DecodingError``: a stream read), the SDK's error it
    caused (a whole body read), or text that is not UTF-8 (a content-encoding the client does not
    know passes the compressed bytes on). Adapters report it as ``invalid_response_error``."""
    for error in (exc, exc.__cause__):
        if isinstance(error, decoding_error):
            return str(error) or type(error).__name__
    return "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else None


def status_error(
    status: int,
    message: Optional[str],
    *,
    provider: str,
    headers: Optional[Mapping[str, str]] = None,
    overrides: Optional[Mapping[int, str]] = None,
) -> ProviderError:
    """The :class:`ProviderError` for an HTTP error answer: its type from :func:`status_error_type`,
    the provider's own ``message`` (or ``HTTP <status>``), and its Retry-After from ``headers``.

    For adapters that talk HTTP themselves; scrub ``message`` first if the provider may echo a key
    (:func:`completions_core.redaction.scrub`).
    """
    return ProviderError(
        (message if isinstance(message, str) and message.strip() else None) or f"HTTP {status}",
        status_error_type(status, overrides),
        provider=provider,
        status_code=status,
        retry_after=retry_after_seconds(headers) if headers is not None else None,
    )


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Report a timeout or a broken connection raised inside the block as the :class:`ProviderError`
    it is (``timeout_error``, ``connection_error``), naming only the exception's type.

    A connection refused or reset that a transport reports as a timeout is a ``connection_error``
    (:func:`broken_connection`); a :class:`ProviderError` and every other exception pass unchanged.
    """
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        broken = broken_connection(exc)
        if broken is not None:
            message = f"could not reach {provider} ({broken})"
            raise ProviderError(message, "connection_error", provider=provider) from None
        if isinstance(exc, TimeoutError):
            raise ProviderError(f"{provider} did not answer in time", "timeout_error", provider=provider) from None
        if isinstance(exc, OSError) or _client_connection_error(exc):
            message = f"could not reach {provider} ({type(exc).__name__})"
            raise ProviderError(message, "connection_error", provider=provider) from None
        raise


def _client_connection_error(exc: BaseException) -> bool:
    import aiohttp

    return isinstance(exc, aiohttp.ClientConnectionError)


def _finite(seconds: float) -> Optional[float]:
    # "inf" and "nan" parse as floats; an upstream must not make a turn wait for ever.
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after_seconds(headers: Mapping[str, str]) -> Optional[float]:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), if sent."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return _finite(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _finite(float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
