"""Errors in the OpenAI shape: ``{"error": {"message", "type", "param", "code"}}``.

The HTTP status is the native route's (docs/protocol.md), so an OpenAI SDK's retry logic does the
right thing: 408, 429 and 5xx are retried, other 4xx are not. ``code`` is the proxy's own
``error_type`` (the stable names of docs/protocol.md), except where OpenAI has a well-known code
that SDK users already match on (``invalid_api_key``, ``model_not_found``,
``unsupported_parameter``).
"""

from __future__ import annotations

from typing import Any, Optional

from starlette.responses import Response

from completions_core.errors import ERROR_STATUS, InvalidRequestError, ProviderError
from completions_proxy.openai_compat.translate import UnsupportedParameter
from completions_proxy.responses import json_response

__all__ = ["error_body", "invalid_request_response", "openai_error_response", "provider_failure_response"]

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def _openai_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(
    message: str, error_type: str, status: int, *, param: Optional[str] = None, code: Optional[str] = None
) -> dict[str, Any]:
    """The OpenAI error object for a failure of the proxy's ``error_type`` answered with ``status``."""
    return {
        "error": {
            "message": message,
            "type": _openai_type(status),
            "param": param or None,
            "code": code or error_type,
        }
    }


def openai_error_response(
    message: str,
    error_type: str,
    status: Optional[int] = None,
    *,
    headers: Optional[dict[str, str]] = None,
    param: Optional[str] = None,
    code: Optional[str] = None,
) -> Response:
    """A JSON error response in the OpenAI shape."""
    status = status or ERROR_STATUS.get(error_type, 500)
    return json_response(error_body(message, error_type, status, param=param, code=code), status, headers)


def invalid_request_response(exc: InvalidRequestError, headers: dict[str, str]) -> Response:
    """A request refused before any provider was called (400, 404 for an unknown model or provider)."""
    code: Optional[str] = None
    if isinstance(exc, UnsupportedParameter):
        code = "unsupported_parameter"
    elif exc.error_type in ("not_found_error", "unknown_provider_error") and exc.path.endswith("model"):
        code = "model_not_found"
    elif exc.error_type == "unknown_provider_error":
        code = "model_not_found"
    return openai_error_response(
        exc.message, exc.error_type, exc.status_code, headers=headers, param=_param(exc.path), code=code
    )


def _param(path: str) -> Optional[str]:
    """The caller's name for a field of the translated request."""
    if not path:
        return None
    head, dot, tail = path.rpartition(".")
    if tail == "provider":
        return f"{head}{dot}model"
    if path.startswith("response_schema"):
        return "response_format.json_schema.schema" + path[len("response_schema") :]
    return path


def provider_failure_response(exc: ProviderError, headers: dict[str, str]) -> Response:
    """Every attempt failed before anything was sent: the error with its real status (and Retry-After)."""
    out = dict(headers)
    if exc.retry_after is not None and exc.error_type == "rate_limit_error":
        out["Retry-After"] = str(max(1, round(exc.retry_after)))
    # A provider's 404 on a chat request is its model that does not exist.
    code = "model_not_found" if exc.error_type == "not_found_error" else None
    body = error_body(exc.message, exc.error_type, exc.http_status, code=code)
    if exc.provider:
        body["error"]["provider"] = exc.provider
    if exc.status_code is not None:
        body["error"]["provider_status"] = exc.status_code
    return json_response(body, exc.http_status, out)
