"""Core's building blocks for adapters that talk HTTP themselves: ``status_error`` and ``transport_errors``."""

from __future__ import annotations

import aiohttp
import pytest
from multidict import CIMultiDict

from completions_core.errors import ProviderError, status_error, transport_errors


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, "invalid_request_error", False),
        (401, "authentication_error", False),
        (404, "not_found_error", False),
        (429, "rate_limit_error", True),
        (500, "provider_error", True),
        (529, "overloaded_error", True),
        (418, "invalid_request_error", False),
        (302, "invalid_response_error", True)  # a broken upstream answer: worth another try,
    ],
)
def test_status_error_types_a_status_like_the_core_table(status: int, error_type: str, retryable: bool) -> None:
    error = status_error(status, "upstream said no", provider="acme")
    assert (error.error_type, error.status_code, error.provider, error.message) == (
        error_type,
        status,
        "acme",
        "upstream said no",
    )
    assert error.retryable is retryable


def test_status_error_reads_retry_after_and_falls_back_to_the_status_when_no_message() -> None:
    error = status_error(429, "  ", provider="acme", headers=CIMultiDict({"Retry-After": "3"}))
    assert error.message == "HTTP 429"
    assert error.retry_after == 3.0
    assert status_error(503, None, provider="acme").retry_after is None
    assert status_error(504, "slow", provider="acme", overrides={504: "timeout_error"}).error_type == "timeout_error"


@pytest.mark.parametrize(
    ("raised", "error_type"),
    [
        (TimeoutError(), "timeout_error"),
        (ConnectionRefusedError(111, "refused"), "connection_error"),
        (OSError("network unreachable"), "connection_error"),
        (aiohttp.ServerDisconnectedError(), "connection_error"),
        (aiohttp.ServerTimeoutError(), "timeout_error"),
    ],
)
def test_transport_errors_name_the_failure_and_only_its_type(raised: Exception, error_type: str) -> None:
    with pytest.raises(ProviderError) as caught:
        with transport_errors("acme"):
            raise raised
    assert caught.value.error_type == error_type
    assert caught.value.provider == "acme"
    assert caught.value.retryable
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_connection_refused_reported_as_a_timeout_is_a_connection_error() -> None:
    with pytest.raises(ProviderError) as caught:
        with transport_errors("acme"):
            try:
                raise ConnectionResetError(104, "reset")
            except ConnectionResetError as exc:
                raise TimeoutError("connect timed out") from exc
    assert caught.value.error_type == "connection_error"
    assert "ConnectionResetError" in caught.value.message


def test_other_exceptions_and_provider_errors_pass_unchanged() -> None:
    original = ProviderError("kept", "rate_limit_error", provider="acme")
    with pytest.raises(ProviderError) as caught:
        with transport_errors("acme"):
            raise original
    assert caught.value is original
    with pytest.raises(KeyError):
        with transport_errors("acme"):
            raise KeyError("a bug, not a transport failure")
