"""The three errors the client raises about the proxy.

A request the client refuses before sending anything raises
:class:`completions_core.errors.InvalidRequestError` (a ``ValueError``, also exported from
``primfunctions.completions``): its ``path`` names the field, e.g. ``messages[2].role``.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["CompletionsNotConfiguredError", "CompletionsProviderNotConfiguredError", "CompletionsProxyError"]


class CompletionsNotConfiguredError(Exception):
    """``configure(url, token)`` was never called in this process."""


class CompletionsProviderNotConfiguredError(Exception):
    """A provider in the request (primary or fallback) was not registered with ``configure_provider``."""


class CompletionsProxyError(Exception):
    """The proxy answered with an error, or a stream ended with one.

    ``status_code`` is the HTTP status for errors before a stream started (and for
    non-streaming calls); it is None for mid-stream errors.
    """

    def __init__(self, message: str, error_type: str, status_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status_code = status_code

    def __str__(self) -> str:
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{self.error_type}: {self.message}{status}"

    def __repr__(self) -> str:
        return (
            f"CompletionsProxyError(message={self.message!r}, error_type={self.error_type!r}, "
            f"status_code={self.status_code!r})"
        )
