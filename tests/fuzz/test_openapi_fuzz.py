"""schemathesis against the real server (hypercorn, loopback): no 5xx, no hang, no traceback."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from completions_proxy.openapi import OPENAPI

# Fuzzing (schemathesis): slow, run by ./dev.sh test-all, tox -e slow and CI.
pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_dict(OPENAPI)
TOKEN = secrets.token_urlsafe(24)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    env = dict(
        os.environ,
        COMPLETIONS_PROXY_TOKENS=TOKEN,
        COMPLETIONS_PLUGINS="embedded",
        COMPLETIONS_EMBEDDED_TOKEN_DELAY="0",
        COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY="0",
        COMPLETIONS_LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}", "--drain-seconds", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: schemathesis.Case, server: str) -> None:
    response = case.call(base_url=server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text
    content_type = response.headers.get("content-type") or [""]
    if response.status_code >= 400 and str(content_type[0]).startswith("application/json"):
        error = response.json()["error"]
        assert error["message"] and error["type"]


@schema.include(operation_id="completions").parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_to_a_real_provider_makes_the_server_fail(case: schemathesis.Case, server: str) -> None:
    """The same, with every generated request aimed at the embedded provider, so that the
    engine, the adapter, the assembler and the sentence chunker all see the hostile input."""
    if isinstance(case.body, dict):
        case.body["provider"] = "embedded"
        # No fallbacks to other providers, and no provider_kwargs: they could script the embedded
        # provider to fail on purpose, and a provider failure is a documented 502/503/504.
        case.body.pop("fallbacks", None)
        case.body.pop("provider_kwargs", None)
    response = case.call(base_url=server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text
