"""Spans built from constructed records: tree shape, timing, attributes, status, trace context."""

from __future__ import annotations

import json
from typing import Any

import completions_otel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, StatusCode

from completions_core.records import AttemptRecord, CompletionRecord
from completions_core.usage import NormalizedUsage

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
START = 1_700_000_000.25


def _record(**overrides: Any) -> CompletionRecord:
    """A streamed request whose first attempt was rate-limited and whose fallback answered."""
    fields: dict[str, Any] = {
        "request_id": "req-42",
        "caller": "0123456789abcdef",
        "stream": True,
        "started_at": START,
        "requested_provider": "openai",
        "requested_model": "gpt-4o-mini",
        "provider": "anthropic",
        "model": "claude-haiku",
        "attempts": [
            AttemptRecord("openai", "gpt-4o-mini", target=0, outcome="error", error_type="rate_limit_error",
                          status=429, started_at=START + 0.001, latency_ms=120.0),
            AttemptRecord("anthropic", "claude-haiku", target=1, started_at=START + 0.125, latency_ms=800.5),
        ],
        "total_ms": 950.0,
        "time_to_first_token_ms": 310.0,
        "time_to_first_sentence_ms": 420.0,
        "overhead_ms": 3.5,
        "usage": {"input_tokens": 20, "output_tokens": 12},
        "normalized_usage": NormalizedUsage(input_tokens=30, output_tokens=12, cached_input_tokens=10),
        "finish_reason": "stop",
        "chunks": 9,
        "sentences": 2,
    }
    fields.update(overrides)
    return CompletionRecord(**fields)


def _spans(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """(the request span, its attempt spans in start order)."""
    spans = exporter.get_finished_spans()
    requests = [s for s in spans if s.name == completions_otel.REQUEST_SPAN]
    assert len(requests) == 1
    attempts = sorted((s for s in spans if s.name == completions_otel.ATTEMPT_SPAN), key=lambda s: s.start_time or 0)
    assert len(spans) == 1 + len(attempts)
    return requests[0], attempts


def test_request_span_is_the_parent_of_one_attempt_span_per_attempt_in_order(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(), provider)
    request, attempts = _spans(exporter)
    assert request.kind is SpanKind.SERVER
    assert [a.kind for a in attempts] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert request.context is not None
    for attempt in attempts:
        assert attempt.parent is not None and attempt.parent.span_id == request.context.span_id
        assert attempt.context is not None and attempt.context.trace_id == request.context.trace_id
    assert [a.attributes["completions.attempt"] for a in attempts if a.attributes] == [0, 1]
    assert [a.attributes["completions.provider"] for a in attempts if a.attributes] == ["openai", "anthropic"]


def test_span_times_come_from_the_record(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    completions_otel.record_spans(_record(), provider)
    request, (first, second) = _spans(exporter)
    assert request.start_time == 1_700_000_000_250_000_000
    assert request.end_time == 1_700_000_000_250_000_000 + 950_000_000
    # An epoch time in a float resolves about 0.24 us, so starts are compared to the microsecond;
    # durations are exact.
    assert first.start_time is not None and abs(first.start_time - 1_700_000_000_251_000_000) < 1_000
    assert first.end_time == first.start_time + 120_000_000
    assert second.start_time is not None and abs(second.start_time - 1_700_000_000_375_000_000) < 1_000
    assert second.end_time == second.start_time + 800_500_000


def test_attempt_without_a_start_time_starts_with_its_request(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(attempts=[AttemptRecord("embedded", "emb", latency_ms=5.0)]), provider)
    request, (attempt,) = _spans(exporter)
    assert attempt.start_time == request.start_time
    assert attempt.end_time == 1_700_000_000_255_000_000


def test_request_span_carries_gen_ai_and_completions_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(), provider)
    request, _ = _spans(exporter)
    attributes = dict(request.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == "claude-haiku"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 30
    assert attributes["gen_ai.usage.output_tokens"] == 12
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 10
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes
    assert attributes["completions.request_id"] == "req-42"
    assert attributes["completions.stream"] is True
    assert attributes["completions.time_to_first_token_ms"] == 310.0
    assert attributes["completions.time_to_first_sentence_ms"] == 420.0
    assert attributes["completions.overhead_ms"] == 3.5
    assert attributes["completions.retries"] == 0
    assert attributes["completions.fallbacks"] == 1
    assert attributes["completions.attempts"] == 2
    assert attributes["completions.requested_provider"] == "openai"
    assert attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes


def test_attempt_spans_carry_provider_model_and_outcome(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(), provider)
    _, (first, second) = _spans(exporter)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert first.attributes["completions.outcome"] == "error"
    assert first.attributes["http.response.status_code"] == 429
    assert second.attributes["gen_ai.request.model"] == "claude-haiku"
    assert second.attributes["completions.target"] == 1
    assert second.attributes["completions.outcome"] == "ok"


def test_usage_is_counted_once_on_the_request_span(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    completions_otel.record_spans(_record(), provider)
    _, attempts = _spans(exporter)
    for attempt in attempts:
        assert not [key for key in attempt.attributes or {} if key.startswith("gen_ai.usage.")]


def test_retries_are_counted_when_an_attempt_repeats_its_target(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attempts = [
        AttemptRecord("openai", "gpt-4o-mini", outcome="error", error_type="timeout_error", started_at=START),
        AttemptRecord("openai", "gpt-4o-mini", started_at=START + 0.5),
    ]
    completions_otel.record_spans(_record(attempts=attempts), provider)
    request, _ = _spans(exporter)
    assert request.attributes is not None
    assert request.attributes["completions.retries"] == 1 and request.attributes["completions.fallbacks"] == 0


def test_failed_attempt_has_error_status_and_error_type(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(), provider)
    _, (failed, answered) = _spans(exporter)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "rate_limit_error"
    assert failed.attributes is not None and failed.attributes["error.type"] == "rate_limit_error"
    assert answered.status.status_code is StatusCode.UNSET
    assert answered.attributes is not None and "error.type" not in answered.attributes


def test_failed_request_has_error_status_and_error_type(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    record = _record(
        outcome="error", error_type="rate_limit_error", status=429, provider=None, model=None,
        usage=None, finish_reason=None, attempts=_record().attempts[:1],
    )
    completions_otel.record_spans(record, provider)
    request, _ = _spans(exporter)
    assert request.status.status_code is StatusCode.ERROR
    assert request.status.description == "rate_limit_error"
    attributes = dict(request.attributes or {})
    assert attributes["error.type"] == "rate_limit_error"
    assert attributes["http.response.status_code"] == 429
    assert attributes["gen_ai.provider.name"] == "openai"  # who was asked, since nobody answered
    assert "gen_ai.usage.input_tokens" not in attributes and "gen_ai.response.model" not in attributes


def test_rejected_request_is_not_a_server_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    record = _record(outcome="invalid_request", error_type="invalid_request_error", status=400, attempts=[],
                     provider=None, model=None, usage=None, finish_reason=None)
    completions_otel.record_spans(record, provider)
    request, attempts = _spans(exporter)
    assert attempts == []
    assert request.status.status_code is StatusCode.UNSET
    assert request.attributes is not None and request.attributes["error.type"] == "invalid_request_error"


def test_request_span_is_a_child_of_the_callers_traceparent(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(traceparent=TRACEPARENT, tracestate="vendor=abc"), provider)
    request, attempts = _spans(exporter)
    assert request.context is not None and request.parent is not None
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert format(request.parent.span_id, "016x") == PARENT_ID
    assert request.parent.is_remote
    assert request.context.trace_state.get("vendor") == "abc"
    assert all(a.context is not None and format(a.context.trace_id, "032x") == TRACE_ID for a in attempts)


@pytest.mark.parametrize("traceparent", ["garbage", f"00-{'0' * 32}-{PARENT_ID}-01", f"00-{TRACE_ID}-zz-01"])
def test_malformed_traceparent_starts_a_new_trace(
    traceparent: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(traceparent=traceparent), provider)
    request, _ = _spans(exporter)
    assert request.parent is None
    assert request.context is not None and format(request.context.trace_id, "032x") != TRACE_ID


def test_without_traceparent_each_request_is_its_own_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    completions_otel.record_spans(_record(), provider)
    completions_otel.record_spans(_record(request_id="req-43"), provider)
    requests = [s for s in exporter.get_finished_spans() if s.name == completions_otel.REQUEST_SPAN]
    assert all(s.parent is None for s in requests)
    assert len({s.context.trace_id for s in requests if s.context is not None}) == 2


def test_spans_never_carry_content_even_when_the_record_has_it(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    content = {"messages": [{"role": "user", "content": "private words"}], "answer": "a private answer"}
    completions_otel.record_spans(_record(content=content), provider)
    request, attempts = _spans(exporter)
    for span in [request, *attempts]:
        dumped = json.dumps(dict(span.attributes or {}), default=str)
        assert "private" not in dumped
        assert not [key for key in span.attributes or {} if "content" in key or "message" in key]
        assert not span.events


@pytest.mark.parametrize(
    ("provider_name", "expected"),
    [("openai", "openai"), ("anthropic", "anthropic"), ("google", "gcp.gemini"),
     ("anthropic_vertex", "gcp.vertex_ai"), ("embedded", "embedded"), ("alibaba", "alibaba")],
)
def test_provider_names_map_to_gen_ai_well_known_values(provider_name: str, expected: str) -> None:
    assert completions_otel.gen_ai_provider_name(provider_name) == expected


def _forbid_work(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    def forbidden(*args: Any) -> Any:
        raise AssertionError("work done for a span nobody records")

    for name in names:
        monkeypatch.setattr(completions_otel, name, forbidden)


def test_with_a_no_op_provider_nothing_is_parsed_or_built(monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_work(monkeypatch, "_parent_context", "_request_attributes", "_attempt_span")
    completions_otel.record_spans(_record(traceparent=TRACEPARENT), NoOpTracerProvider())


def test_hook_without_a_configured_sdk_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The premise: no test in this repository sets the process-wide provider.
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    _forbid_work(monkeypatch, "_parent_context", "_request_attributes", "_attempt_span")
    completions_otel.record_completion(_record(traceparent=TRACEPARENT))


def test_unsampled_request_builds_and_exports_nothing(
    monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    dropping = TracerProvider(sampler=ALWAYS_OFF)
    dropping.add_span_processor(SimpleSpanProcessor(exporter))
    _forbid_work(monkeypatch, "_request_attributes", "_attempt_span")
    completions_otel.record_spans(_record(), dropping)
    assert exporter.get_finished_spans() == ()


def test_hook_uses_the_module_provider_override(
    monkeypatch: pytest.MonkeyPatch, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    monkeypatch.setattr(completions_otel, "_tracer_provider", provider)
    completions_otel.record_completion(_record())
    request, attempts = _spans(exporter)
    assert request.attributes is not None and request.attributes["completions.request_id"] == "req-42"
    assert len(attempts) == 2


def test_breaker_skipped_target_is_an_event_on_the_request_span_not_an_attempt_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attempts = [
        AttemptRecord("openai", "gpt-4o-mini", target=0, outcome="breaker_skipped", error_type="unavailable_error",
                      started_at=START + 0.001, breaker="open"),
        AttemptRecord("anthropic", "claude-haiku", target=1, started_at=START + 0.002, latency_ms=300.0,
                      breaker="probe"),
    ]
    completions_otel.record_spans(_record(attempts=attempts), provider)
    request, spans = _spans(exporter)
    assert [s.attributes["completions.provider"] for s in spans if s.attributes] == ["anthropic"]
    assert spans[0].attributes is not None and spans[0].attributes["completions.breaker"] == "probe"
    events = [e for e in request.events if e.name == completions_otel.BREAKER_SKIPPED_EVENT]
    assert len(events) == 1
    event = events[0]
    assert event.attributes is not None
    assert event.attributes["completions.provider"] == "openai"
    assert event.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert event.attributes["completions.breaker"] == "open"
    assert event.attributes["completions.attempt"] == 0
    assert event.timestamp == completions_otel._ns(START + 0.001)
