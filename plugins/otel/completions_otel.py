"""OpenTelemetry tracing for the completions proxy: a span per request and one per attempt.

This plugin is the example of a non-provider plugin. It uses nothing but the ``record_completion``
hook: when a request has finished, the proxy hands over its :class:`CompletionRecord`, and the
plugin turns it into spans after the fact, with the start and end times the record carries.

- ``completions.request`` (kind SERVER): the whole request, a child of the caller's span when the
  caller sent a W3C ``traceparent`` (and ``tracestate``);
- ``completions.attempt`` (kind CLIENT): one child per call to a provider, in order, retries and
  fallbacks included;
- ``completions.breaker_skipped``: an event on the request span for each target the circuit
  breaker skipped (no call was made, so no attempt span). An attempt made although its breaker
  was not closed (its probe, or a target with no fallback left) carries ``completions.breaker``.

Attributes follow the OpenTelemetry GenAI semantic conventions where they apply (``gen_ai.*``,
``error.type``, ``http.response.status_code``); the rest are ``completions.*``. Spans never carry
message content (``record.content`` is ignored even when the operator opted into content logging)
and the record never carries a key.

The tracer comes from the global tracer provider, so exporters are configured the usual
OpenTelemetry way; without an SDK (the API's no-op provider) the hook returns at once.
"""

from __future__ import annotations

import functools
from typing import Optional

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from completions_core.hookspecs import hookimpl
from completions_core.records import AttemptRecord, CompletionRecord

__all__ = [
    "ATTEMPT_SPAN",
    "BREAKER_SKIPPED_EVENT",
    "REQUEST_SPAN",
    "gen_ai_provider_name",
    "record_completion",
    "record_spans",
]

REQUEST_SPAN = "completions.request"
ATTEMPT_SPAN = "completions.attempt"
BREAKER_SKIPPED_EVENT = "completions.breaker_skipped"

# The proxy's provider names where the GenAI conventions have a well-known value of their own;
# any other name (embedded, alibaba, a third-party plugin's) is used as it is.
_GEN_AI_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "anthropic_vertex": "gcp.vertex_ai",
}

_PROPAGATOR = TraceContextTextMapPropagator()

_tracer_provider: Optional[TracerProvider] = None
"""A provider to use instead of the global one (tests; a host that keeps several providers)."""


def gen_ai_provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` value for one of the proxy's provider names."""
    return _GEN_AI_PROVIDERS.get(provider, provider)


@functools.lru_cache(maxsize=8)
def _tracer(provider: TracerProvider) -> Tracer:
    return trace.get_tracer("completions_otel", tracer_provider=provider)


def _ns(seconds: float) -> int:
    """Epoch seconds as integer nanoseconds, without losing the fraction to float rounding."""
    whole = int(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1e9)


def _parent_context(record: CompletionRecord) -> Context:
    """The caller's trace context, or an empty one (a new trace) when absent or malformed."""
    if not record.traceparent:
        return Context()
    carrier = {"traceparent": record.traceparent}
    if record.tracestate:
        carrier["tracestate"] = record.tracestate
    return _PROPAGATOR.extract(carrier)


def _put(attributes: dict[str, AttributeValue], key: str, value: Optional[AttributeValue]) -> None:
    if value is not None:
        attributes[key] = value


def _request_attributes(record: CompletionRecord) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "completions.request_id": record.request_id,
        "completions.stream": record.stream,
        "completions.outcome": record.outcome,
        "completions.attempts": len(record.attempts),
        "completions.retries": record.retries,
        "completions.fallbacks": record.fallbacks,
        "completions.total_ms": record.total_ms,
        "completions.overhead_ms": record.overhead_ms,
        "completions.chunks": record.chunks,
        "completions.sentences": record.sentences,
        "completions.client_disconnected": record.client_disconnected,
        "http.response.status_code": record.status,
    }
    _put(attributes, "completions.caller", record.caller)
    _put(attributes, "completions.time_to_first_token_ms", record.time_to_first_token_ms)
    _put(attributes, "completions.time_to_first_sentence_ms", record.time_to_first_sentence_ms)
    _put(attributes, "completions.requested_provider", record.requested_provider)
    if record.provider:
        attributes["completions.provider"] = record.provider
    _put(attributes, "gen_ai.response.model", record.model)
    if record.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [record.finish_reason]
    if record.outcome != "ok":
        attributes["error.type"] = record.error_type or record.outcome
    if record.usage is not None:
        # Usage lives on the request span only: backends that sum gen_ai.usage.* over spans then
        # count each request once, however many attempts it took.
        usage = record.normalized_usage
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        if usage.cached_input_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
        if usage.cache_write_tokens:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    return attributes


def _request_status(record: CompletionRecord) -> Optional[Status]:
    # Only a failure on the proxy's side (every attempt failed, or the stream broke) is an error
    # of this server span; a rejected request or a caller that went away is not.
    if record.outcome == "error":
        return Status(StatusCode.ERROR, record.error_type or "error")
    return None


def _attempt_attributes(index: int, attempt: AttemptRecord) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": gen_ai_provider_name(attempt.provider),
        "gen_ai.request.model": attempt.model,
        "completions.provider": attempt.provider,
        "completions.attempt": index,
        "completions.target": attempt.target,
        "completions.outcome": attempt.outcome,
        "completions.latency_ms": attempt.latency_ms,
    }
    _put(attributes, "http.response.status_code", attempt.status)
    _put(attributes, "completions.breaker", attempt.breaker)
    if attempt.outcome == "error":
        attributes["error.type"] = attempt.error_type or "error"
    return attributes


def _attempt_span(tracer: Tracer, parent: Context, index: int, attempt: AttemptRecord, fallback_ns: int) -> None:
    # An attempt built without a start time is placed at the start of its request.
    start = _ns(attempt.started_at) if attempt.started_at > 0 else fallback_ns
    span = tracer.start_span(
        ATTEMPT_SPAN,
        context=parent,
        kind=SpanKind.CLIENT,
        attributes=_attempt_attributes(index, attempt),
        start_time=start,
    )
    if attempt.outcome == "error":
        span.set_status(Status(StatusCode.ERROR, attempt.error_type or "error"))
    span.end(end_time=start + round(attempt.latency_ms * 1e6))


def _skipped_event(span: Span, index: int, attempt: AttemptRecord, fallback_ns: int) -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.provider.name": gen_ai_provider_name(attempt.provider),
        "gen_ai.request.model": attempt.model,
        "completions.provider": attempt.provider,
        "completions.attempt": index,
        "completions.target": attempt.target,
    }
    _put(attributes, "completions.breaker", attempt.breaker)
    when = _ns(attempt.started_at) if attempt.started_at > 0 else fallback_ns
    span.add_event(BREAKER_SKIPPED_EVENT, attributes=attributes, timestamp=when)


def record_spans(record: CompletionRecord, tracer_provider: Optional[TracerProvider] = None) -> None:
    """Emit the request span and its attempt spans for ``record`` (global provider by default)."""
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    # No SDK configured (the API's proxy or no-op provider): every span would be a no-op, so skip
    # even parsing the caller's trace context. Samplers that drop a span are handled below.
    if isinstance(provider, (ProxyTracerProvider, NoOpTracerProvider)):
        return
    tracer = _tracer(provider)
    parent = _parent_context(record)
    start = _ns(record.started_at)
    requested_model = record.requested_model or (record.attempts[0].model if record.attempts else None)
    answered_by = record.provider or record.requested_provider
    # Only what a sampler may want goes in at the start; the rest is built once we know someone
    # records the span, which keeps an unsampled request cheap.
    sampling: dict[str, AttributeValue] = {"gen_ai.operation.name": "chat"}
    _put(sampling, "gen_ai.provider.name", gen_ai_provider_name(answered_by) if answered_by else None)
    _put(sampling, "gen_ai.request.model", requested_model)
    span = tracer.start_span(REQUEST_SPAN, context=parent, kind=SpanKind.SERVER, attributes=sampling, start_time=start)
    end = start + round(record.total_ms * 1e6)
    if not span.is_recording():
        span.end(end_time=end)
        return
    span.set_attributes(_request_attributes(record))
    status = _request_status(record)
    if status is not None:
        span.set_status(status)
    inside = trace.set_span_in_context(span, parent)
    for index, attempt in enumerate(record.attempts):
        if attempt.outcome == "breaker_skipped":
            _skipped_event(span, index, attempt, start)
        else:
            _attempt_span(tracer, inside, index, attempt, start)
    span.end(end_time=end)


@hookimpl
def record_completion(record: CompletionRecord) -> None:
    """Turn a finished request's record into OpenTelemetry spans."""
    record_spans(record, _tracer_provider)
