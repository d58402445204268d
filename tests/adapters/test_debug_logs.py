"""At DEBUG level no log record shows a secret: not the proxy token, not a customer key.

Issue 14, item 10: ``hpack`` logged the decoded headers of HTTP/2 requests (the proxy token) and
``httpcore2`` the headers sent upstream (customer keys). ``configure_logging`` now holds every
such third-party logger at WARNING whatever the root level; this runs real requests (HTTP/1.1 and
h2c) through a real proxy with the root logger at DEBUG and reads every record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from completions_core.plugins import ProviderRegistry
from completions_core.testing.replay import Body, ReplayServer
from completions_proxy.telemetry import QUIET_LOGGERS
from completions_proxy.testing import running_proxy
from tests.adapters.harness import Case

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

OPENAI_KEY = "cust-openai-Vb7Nq2Xw9Lk4Rt6Ym1Hc8Zp3"
GOOGLE_KEY = "cust-gemini-Jd5Ws8Pq1Tn7Yb3Mx6Kc2Rf9"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call still counts as text
            message = str(record.msg)
        self.texts.append(f"{record.name}: {message} {record.args!r}")


@contextmanager
def debug_capture() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _pieces(secret: str) -> set[str]:
    return {secret[i : i + 8].lower() for i in range(len(secret) - 7)}


def _leaks(texts: list[str], *secrets: str) -> list[str]:
    return [text[:160] for text in texts for secret in secrets for piece in _pieces(secret) if piece in text.lower()]


async def _h2c_post(url: str, token: str, body: dict[str, object]) -> tuple[str, int]:
    import httpx2

    # HTTP/2 with prior knowledge over cleartext: hpack decodes every header, the token included.
    async with httpx2.AsyncClient(http1=False, http2=True) as client:
        response = await client.post(
            url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=20
        )
        return response.http_version, response.status_code


async def _h11_post(url: str, token: str, body: dict[str, object]) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(
            url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            await response.read()
            return response.status


def _body(case: Case, key: str) -> dict[str, object]:
    return {
        "provider": case.provider, "model": case.model, "stream": False,
        "messages": [{"role": "user", "content": "hi"}], "credentials": {case.provider: {"api_key": key}},
    }  # fmt: skip


async def _serve_requests(capture_hpack: bool) -> tuple[list[str], str, list[str]]:
    async with ReplayServer() as server:
        openai_case, google_case = Case("openai", server), Case("google", server)
        registry = ProviderRegistry()
        registry.register(openai_case.adapter())
        registry.register(google_case.adapter())
        with debug_capture() as capture:
            async with running_proxy(registry) as proxy:
                if capture_hpack:  # the control: what an unpinned hpack logger does
                    logging.getLogger("hpack").setLevel(logging.DEBUG)
                for case in (openai_case, google_case, openai_case, google_case):
                    server.enqueue(Body(json.dumps(case.good_body()), content_type="application/json"),
                                   method="POST", path=case.path(False))  # fmt: skip
                assert await _h11_post(proxy.url, proxy.token, _body(openai_case, OPENAI_KEY)) == 200
                assert await _h11_post(proxy.url, proxy.token, _body(google_case, GOOGLE_KEY)) == 200
                versions = [
                    await _h2c_post(proxy.url, proxy.token, _body(openai_case, OPENAI_KEY)),
                    await _h2c_post(proxy.url, proxy.token, _body(google_case, GOOGLE_KEY)),
                ]
                token = proxy.token
        server.assert_all_used()
        sent = [r.headers.get("authorization", "") + r.headers.get("x-goog-api-key", "") for r in server.requests]
    assert versions == [("HTTP/2", 200), ("HTTP/2", 200)]
    assert OPENAI_KEY in sent[0] and GOOGLE_KEY in sent[1]  # the keys really went upstream
    return capture.texts, token, sent


async def test_no_secret_in_any_log_record_at_debug_level() -> None:
    texts, token, _ = await _serve_requests(capture_hpack=False)
    assert texts, "expected DEBUG records from the proxy's own run"
    assert _leaks(texts, token, OPENAI_KEY, GOOGLE_KEY) == []
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name


async def test_the_control_an_unpinned_hpack_logger_shows_the_proxy_token() -> None:
    # Proves the capture above can see a leak: with hpack back at DEBUG, the token is in its records.
    texts, token, _ = await _serve_requests(capture_hpack=True)
    assert _leaks(texts, token), "hpack at DEBUG should have logged the Authorization header"
    logging.getLogger("hpack").setLevel(logging.WARNING)
