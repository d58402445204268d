"""End to end: a real proxy on loopback, the plugin registered, spans for a request with a traceparent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import completions_otel
import pytest
from completions_embedded import EmbeddedAdapter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from completions_core import plugins
from completions_core.plugins import ProviderRegistry
from completions_proxy.testing import running_proxy

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


@pytest.fixture
def otel_plugin(monkeypatch: pytest.MonkeyPatch, provider: TracerProvider) -> Iterator[None]:
    monkeypatch.setattr(completions_otel, "_tracer_provider", provider)
    pm = plugins.get_plugin_manager()
    # Once the distribution is installed, its entry point has already registered the module (as
    # "otel"), and pluggy refuses the same object twice: register it only when it is not loaded.
    added = not pm.is_registered(completions_otel)
    if added:
        plugins.register_module(completions_otel, name="otel-test")
    try:
        yield
    finally:
        if added:
            plugins.unregister_module("otel-test")


def _registry() -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register(EmbeddedAdapter(), "completions_embedded")
    return registry


def _body() -> dict[str, Any]:
    fast = {"token_delay": 0, "first_token_delay": 0}
    return {
        "provider": "embedded",
        "model": "emb-primary",
        "messages": [{"role": "user", "content": "private words"}],
        "stream": True,
        "stream_options": {"chunk_by_sentence": True},
        "retry": {"enabled": False},
        "provider_kwargs": {"embedded": {**fast, "error": {"type": "rate_limit_error", "status": 429}}},
        "fallbacks": [{"model": "emb-backup", "provider_kwargs": {"embedded": fast}}],
    }


@pytest.mark.anyio
async def test_proxy_request_with_traceparent_exports_request_and_attempt_spans(
    otel_plugin: None, exporter: InMemorySpanExporter
) -> None:
    async with running_proxy(_registry()) as proxy, aiohttp.ClientSession() as session:
        headers = {
            "Authorization": f"Bearer {proxy.token}",
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
            "tracestate": "caller=1",
            "X-Request-ID": "req-otel-e2e",
        }
        async with session.post(proxy.url + "/v1/completions", json=_body(), headers=headers) as resp:
            assert resp.status == 200
            text = await resp.text()
    assert "private words" in text  # the embedded model echoes it: the spans below must not
    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.name == "completions.request"]
    attempts = sorted((s for s in spans if s.name == "completions.attempt"), key=lambda s: s.start_time or 0)
    assert request.kind is SpanKind.SERVER and request.parent is not None and request.context is not None
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert format(request.parent.span_id, "016x") == PARENT_ID
    assert request.context.trace_state.get("caller") == "1"
    attributes = dict(request.attributes or {})
    assert attributes["completions.request_id"] == "req-otel-e2e"
    assert attributes["gen_ai.provider.name"] == "embedded"
    assert attributes["gen_ai.request.model"] == "emb-primary"
    assert attributes["gen_ai.response.model"] == "emb-backup"
    assert attributes["completions.fallbacks"] == 1 and attributes["completions.retries"] == 0
    assert isinstance(attributes["gen_ai.usage.output_tokens"], int) and attributes["gen_ai.usage.output_tokens"] > 0
    assert isinstance(attributes["completions.time_to_first_token_ms"], float)
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert request.status.status_code is StatusCode.UNSET
    assert [a.attributes["gen_ai.request.model"] for a in attempts if a.attributes] == ["emb-primary", "emb-backup"]
    assert all(a.parent is not None and a.parent.span_id == request.context.span_id for a in attempts)
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert attempts[0].attributes is not None and attempts[0].attributes["error.type"] == "rate_limit_error"
    assert attempts[1].status.status_code is StatusCode.UNSET
    assert request.start_time is not None and request.end_time is not None
    assert all(request.start_time <= (a.start_time or 0) <= (a.end_time or 0) for a in attempts)
    assert "private words" not in repr([dict(s.attributes or {}) for s in spans])
