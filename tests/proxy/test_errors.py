"""Errors a caller sees: one JSON envelope everywhere, every error type documented, typos refused."""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from completions_core.errors import ERROR_STATUS
from completions_proxy.settings import Settings
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
BODY = {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}], "provider_kwargs": FAST}


@pytest.fixture
async def proxy() -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry(KeyedAdapter())) as running:
        yield running


async def _send(proxy: RunningProxy, method: str, path: str, body: Any = None,
                token: bool = True) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {proxy.token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, proxy.url + path, json=body, headers=headers) as resp:
            text = await resp.text()
            assert resp.headers.get("Content-Type", "").startswith("application/json"), (path, text[:200])
            return resp.status, json.loads(text), {k.lower(): v for k, v in resp.headers.items()}


def _is_envelope(body: Any, error_type: str) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("type") == error_type and bool(error.get("message"))


async def test_unknown_paths_and_wrong_methods_answer_in_the_json_envelope(proxy: RunningProxy) -> None:
    for path in ("/nope", "/v1/completion", "/v2/completions"):
        status, body, _ = await _send(proxy, "GET", path)
        assert status == 404 and _is_envelope(body, "not_found_error"), (path, body)
    for method, path in (("GET", "/v1/completions"), ("DELETE", "/v1/warm"), ("POST", "/healthz"),
                         ("PUT", "/metrics")):
        status, body, headers = await _send(proxy, method, path, token=False)
        assert status == 405 and _is_envelope(body, "method_not_allowed_error"), (method, path, body)
        assert headers.get("allow"), (method, path)


async def test_a_managed_key_the_proxy_lacks_is_503_as_documented(proxy: RunningProxy) -> None:
    request = dict(BODY, provider="keyed", credentials={"keyed": {"voicerun_managed": True}})
    status, body, _ = await _send(proxy, "POST", "/v1/completions", request)
    assert status == 503 and _is_envelope(body, "managed_key_unavailable_error")
    assert ERROR_STATUS["managed_key_unavailable_error"] == 503


async def test_a_misspelt_provider_kwargs_key_is_a_400_naming_the_installed_providers(proxy: RunningProxy) -> None:
    for kwargs, path in (
        ({"antropic": {"thinking": True}}, "provider_kwargs.antropic"),
        ({"embedded": {}, "opneai": {}}, "provider_kwargs.opneai"),
    ):
        status, body, _ = await _send(proxy, "POST", "/v1/completions", dict(BODY, provider_kwargs=kwargs))
        assert status == 400 and _is_envelope(body, "invalid_request_error"), body
        assert body["error"]["message"].startswith(path)
        assert "embedded, keyed" in body["error"]["message"]
    fallback = dict(BODY, fallbacks=[{"provider_kwargs": {"gemini": {}}}])
    status, body, _ = await _send(proxy, "POST", "/v1/completions", fallback)
    assert status == 400 and "fallbacks[0].provider_kwargs.gemini" in body["error"]["message"]
    status, _, _ = await _send(proxy, "POST", "/v1/completions", BODY)
    assert status == 200


async def test_an_unknown_top_level_field_lists_stream_options_and_credentials(proxy: RunningProxy) -> None:
    status, body, _ = await _send(proxy, "POST", "/v1/completions", dict(BODY, strem=True))
    assert status == 400
    allowed = body["error"]["message"].split("allowed fields: ", 1)[1].split(", ")
    assert {"stream", "stream_options", "credentials", "provider_kwargs", "fallbacks"} <= set(allowed)


@pytest.mark.parametrize("key", ["sk-abc\r\nX-Injected: 1", "sk-abc\ndef", "sk-\x00abc", "sk-ключ-abc", "sk-\x7fabc"])
async def test_a_customer_key_that_cannot_be_a_header_is_a_400_that_does_not_repeat_it(
    proxy: RunningProxy, key: str
) -> None:
    request = dict(BODY, provider="keyed", credentials={"keyed": {"api_key": key}})
    for path in ("/v1/completions", "/v1/warm"):
        status, body, _ = await _send(proxy, "POST", path, request if path != "/v1/warm" else
                                      {"provider": "keyed", "credentials": request["credentials"]})
        assert status == 400 and _is_envelope(body, "invalid_request_error"), (path, body)
        assert "credentials.keyed.api_key" in body["error"]["message"]
        assert key.strip() not in json.dumps(body) and "abc" not in body["error"]["message"]


async def test_credentials_are_bounded(proxy: RunningProxy) -> None:
    many = {f"p{i}": {"voicerun_managed": True} for i in range(20)}
    status, body, _ = await _send(proxy, "POST", "/v1/completions", dict(BODY, credentials=many))
    assert status == 400 and "(max_credentials)" in body["error"]["message"]
    huge = {"keyed": {"api_key": "k" * 20_000}}
    status, body, _ = await _send(proxy, "POST", "/v1/completions", dict(BODY, provider="keyed", credentials=huge))
    assert status == 400 and "(max_key_chars)" in body["error"]["message"]


async def test_the_attempts_header_stays_bounded_and_valid_json(proxy: RunningProxy) -> None:
    model = "\U0001f600" * 256  # the longest model name, each character 12 bytes once escaped
    failing = {"embedded": {"token_delay": 0, "first_token_delay": 0,
                            "error": {"type": "provider_error", "status": 500, "message": "down"}}}
    request = dict(BODY, model=model, provider_kwargs=failing, retry={"enabled": False},
                   fallbacks=[{"model": model + str(i)[:0]} for i in range(8)])
    status, body, headers = await _send(proxy, "POST", "/v1/completions", request)
    assert status == 502 and _is_envelope(body, "provider_error")
    for name, value in headers.items():
        assert len(value.encode("latin-1")) <= 4096, name
    attempts = json.loads(headers["x-completions-attempts"])
    assert attempts and all(a["model"].endswith("...") for a in attempts)
    # Nine targets, but one request makes at most COMPLETIONS_MAX_ATTEMPTS (default 8) attempts.
    assert len(attempts) + int(headers.get("x-completions-attempts-omitted", "0")) == Settings().max_attempts == 8


async def test_a_megabyte_model_name_is_a_400_and_never_comes_back_in_a_header(proxy: RunningProxy) -> None:
    status, body, headers = await _send(proxy, "POST", "/v1/completions", dict(BODY, model="m" * 1_000_000))
    assert status == 400 and "(max_model_chars)" in body["error"]["message"]
    assert sum(len(v) for v in headers.values()) < 4096
    assert len(json.dumps(body)) < 1000


async def test_a_client_that_disconnects_mid_body_is_one_quiet_line(proxy: RunningProxy) -> None:
    port = int(proxy.url.rsplit(":", 1)[1])
    with structlog.testing.capture_logs() as events:
        for path in ("/v1/warm", "/v1/completions"):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {proxy.token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"provider\": ".encode()
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        for _ in range(200):
            if sum(1 for e in events if e.get("event") in ("client_disconnected", "completion")) >= 2:
                break
            await asyncio.sleep(0.01)
    quiet = [e for e in events if e.get("event") == "client_disconnected"]
    assert {e["path"] for e in quiet} == {"/v1/warm", "/v1/completions"}
    assert all(e["log_level"] == "info" for e in quiet)
    assert not [e for e in events if e["log_level"] in ("error", "critical", "exception")]


def _error_types_in_code() -> set[str]:
    """Every error type the proxy's code can answer with (from the calls that build errors)."""
    builders = {"ProviderError", "InvalidRequestError", "error_response", "ErrorChunk", "stop"}
    found: set[str] = set()
    sources = [*(ROOT / "completions_proxy").glob("*.py"), *(ROOT / "completions_core").glob("*.py")]
    sources += [p for p in ROOT.glob("providers/*/**/*.py") if "tests" not in p.relative_to(ROOT).parts]
    sources += [p for p in ROOT.glob("plugins/*/*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # A default such as ``def stop(self, message, error_type="unavailable_error")``.
                arguments = [*node.args.args, *node.args.kwonlyargs]
                defaults = [*([None] * (len(node.args.args) - len(node.args.defaults))), *node.args.defaults,
                            *node.args.kw_defaults]
                for argument, default in zip(arguments, defaults, strict=True):
                    if argument.arg == "error_type" and isinstance(default, ast.Constant) and default.value:
                        found.add(str(default.value))
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name not in builders:
                continue
            values = [kw.value for kw in node.keywords if kw.arg == "error_type"]
            if name != "InvalidRequestError" and len(node.args) >= 2:
                values.append(node.args[1])
            found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def test_every_error_type_in_the_code_has_a_status_and_a_row_in_the_protocol_table() -> None:
    in_code = _error_types_in_code()
    assert {"managed_key_unavailable_error", "request_timeout_error", "unavailable_error"} <= in_code
    missing = in_code - set(ERROR_STATUS)
    assert not missing, f"error types without a status in ERROR_STATUS: {sorted(missing)}"
    table = (ROOT / "docs" / "protocol.md").read_text().split("## Errors", 1)[1]
    documented: dict[str, int] = {}
    for status, types in re.findall(r"^\| (\d{3}) \| (.+) \|$", table, flags=re.M):
        for error_type in re.findall(r"`(\w+_error)`", types):
            documented[error_type] = int(status)
    assert documented == ERROR_STATUS


class _Broken(KeyedAdapter):
    """A provider whose client cannot be built: a bug, as far as the proxy can tell."""

    name = "broken"
    requires_key = False

    def client_config(self, request: Any, credential: Any) -> Any:
        raise RuntimeError("secret detail that must not reach the caller")


async def test_a_bug_is_a_500_in_the_envelope_naming_only_the_exception_type() -> None:
    async with running_proxy(registry(_Broken())) as proxy:
        status, body, _ = await _send(proxy, "POST", "/v1/warm", {"provider": "broken"})
    assert status == 500 and _is_envelope(body, "internal_error")
    assert body["error"]["message"] == "internal error (RuntimeError)"


async def test_not_ready_is_a_503_that_also_carries_the_envelope() -> None:
    async with running_proxy(registry()) as proxy:
        proxy.state.draining = True
        status, body, _ = await _send(proxy, "GET", "/readyz", token=False)
    assert status == 503 and body["status"] == "unavailable" and _is_envelope(body, "unavailable_error")


async def test_a_deadline_header_out_of_bounds_is_a_400_naming_it(proxy: RunningProxy) -> None:
    async with aiohttp.ClientSession() as session:
        for name, value in (("X-Completions-First-Token-Timeout", "1e300"), ("X-Completions-Idle-Timeout", "nan"),
                            ("X-Completions-Hedge-After", "-1"), ("X-Completions-Hedge-After", "soon")):
            headers = {"Authorization": f"Bearer {proxy.token}", name: value}
            async with session.post(proxy.url + "/v1/completions", json=dict(BODY, stream=True),
                                    headers=headers) as resp:
                body = await resp.json()
                assert resp.status == 400 and name in body["error"]["message"], (name, value, body)
                assert "(max_timeout)" in body["error"]["message"]
            headers[name] = "3600"
            async with session.post(proxy.url + "/v1/completions", json=dict(BODY, stream=True),
                                    headers=headers) as resp:
                assert resp.status == 200
                await resp.read()
