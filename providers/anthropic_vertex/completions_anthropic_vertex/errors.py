"""Errors of the Vertex-specific part: Google's token endpoint and the caller's Vertex settings.

Everything else (the Messages API's errors) is mapped by :mod:`completions_anthropic.errors`.
"""

from __future__ import annotations

import re
from typing import Optional

from completions_core.errors import InvalidRequestError, ProviderError

__all__ = ["TokenEndpointError", "invalid", "managed_unavailable", "map_token_error"]

# An OAuth2 error code ("invalid_grant") at the start of google-auth's RefreshError text.
_OAUTH_ERROR = re.compile(r"[a-z_]{3,40}(?=:)")


class TokenEndpointError(Exception):
    """Google's token endpoint answered 429 or 5xx; ``status`` is its HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Google's token endpoint answered HTTP {status}")
        self.status = status


def invalid(message: str, path: str) -> InvalidRequestError:
    """An ``InvalidRequestError`` about the request field at ``path``."""
    return InvalidRequestError(message, path)


def managed_unavailable() -> ProviderError:
    """The managed service account could not be read (the operator's problem)."""
    # The operator's problem, not the caller's: say so without naming the file or its content.
    return ProviderError(
        "the managed Vertex service account could not be loaded; ask the operator, or register your own "
        'with configure_provider("anthropic_vertex", api_key=<service-account JSON>)',
        "authentication_error",
        provider="anthropic_vertex",
        retryable=False,
    )


def map_token_error(exc: BaseException, provider: str) -> Optional[ProviderError]:
    """A google-auth token failure as a ProviderError; ``None`` for any other exception."""
    from google.auth import exceptions as google_errors

    if isinstance(exc, google_errors.RefreshError):
        # Its text quotes the token endpoint's answer, which is safe, but keep only the
        # OAuth error code: nothing of the key or token may surface.
        first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        match = _OAUTH_ERROR.match(first)
        code = match.group(0) if match else "refresh failed"
        return ProviderError(
            f"Google refused the service account's token request ({code})",
            "authentication_error",
            provider=provider,
            retryable=bool(getattr(exc, "retryable", False)),
        )
    if isinstance(exc, TokenEndpointError):
        return ProviderError(
            str(exc),
            "rate_limit_error" if exc.status == 429 else "provider_error",
            provider=provider,
            retryable=True,
        )
    if isinstance(exc, google_errors.TransportError):
        return ProviderError(
            "could not reach Google's token endpoint", "connection_error", provider=provider
        )
    return None
