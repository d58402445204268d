"""The telemetry record's dict form: built field by field, it must stay what ``dataclasses.asdict`` gives."""

from __future__ import annotations

import dataclasses
from typing import Any

from completions_core.records import AttemptRecord, CompletionRecord, usage_counts
from completions_core.usage import NormalizedUsage


def _reference(record: CompletionRecord) -> dict[str, Any]:
    """The form the record had when it was built with ``dataclasses.asdict``."""
    data = dataclasses.asdict(record)
    data["normalized_usage"] = dataclasses.asdict(record.normalized_usage)
    data["retries"] = record.retries
    data["fallbacks"] = record.fallbacks
    if record.content is None:
        data.pop("content")
    return data


def _full_record() -> CompletionRecord:
    record = CompletionRecord(
        request_id="req-1", caller="c-9", stream=True, started_at=1700000000.5, traceparent="00-ab-cd-01",
        tracestate="k=v",
    )
    record.outcome, record.error_type, record.status = "error", "rate_limit_error", 429
    record.requested_provider, record.requested_model = "openai", "gpt-4o"
    record.provider, record.model = "anthropic", "claude"
    record.attempts.extend([
        AttemptRecord("openai", "gpt-4o", 0, "error", "rate_limit_error", 429, 1.0, 12.5, "probe"),
        AttemptRecord("openai", "gpt-4o", 0, "error", "server_error", 500, 2.0, 3.0),
        AttemptRecord("anthropic", "claude", 1, "ok", None, 200, 3.0, 40.0, "half_open"),
    ])
    record.total_ms, record.time_to_first_token_ms, record.time_to_first_sentence_ms = 99.0, 10.0, 20.0
    record.overhead_ms = 1.5
    record.usage = {"input_tokens": 10, "details": {"cached": [1, {"x": 2}]}}
    record.normalized_usage = NormalizedUsage(10, 20, 3, 4, 5)
    record.finish_reason, record.chunks, record.sentences = "stop", 12, 3
    record.client_disconnected = True
    record.content = {"messages": [{"role": "user", "content": "hi"}], "answer": "hello"}
    return record


def test_as_dict_is_the_asdict_form_key_for_key_and_in_order() -> None:
    full = _full_record()
    empty = CompletionRecord(request_id="r", caller=None, stream=False, started_at=0.0)
    one = CompletionRecord(request_id="r", caller=None, stream=False, started_at=0.0)
    one.attempts.append(AttemptRecord("openai", "m"))
    for record in (full, empty, one):
        built, reference = record.as_dict(), _reference(record)
        assert built == reference
        assert list(built) == list(reference)
        assert [list(a) for a in built["attempts"]] == [list(a) for a in reference["attempts"]]
    assert full.as_dict()["retries"] == 1 and full.as_dict()["fallbacks"] == 1
    assert "content" not in empty.as_dict()


def test_as_dict_without_trace_is_the_full_form_less_its_trace_keys_in_order() -> None:
    full = _full_record()
    full.traceparent, full.tracestate = "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "k=v"
    empty = CompletionRecord(request_id="r", caller=None, stream=False, started_at=0.0)
    for record in (full, empty):
        expected = record.as_dict()
        expected.pop("traceparent")
        expected.pop("tracestate")
        built = record.as_dict(trace=False)
        assert built == expected
        assert list(built) == list(expected)


def test_as_dict_copies_nested_values() -> None:
    record = _full_record()
    data = record.as_dict()
    data["usage"]["details"]["cached"][1]["x"] = 99
    data["content"]["messages"].append("more")
    data["attempts"][0]["provider"] = "changed"
    assert record.usage == {"input_tokens": 10, "details": {"cached": [1, {"x": 2}]}}
    assert record.content is not None and len(record.content["messages"]) == 1
    assert record.attempts[0].provider == "openai"


def test_attempt_as_dict_and_usage_counts_match_asdict() -> None:
    attempt = AttemptRecord("google", "gemini", 2, "breaker_skipped", "overloaded_error", 503, 5.0, 0.5, "open")
    assert list(attempt.as_dict().items()) == list(dataclasses.asdict(attempt).items())
    usage = NormalizedUsage(1, 2, 3, 4, 5)
    assert list(usage_counts(usage).items()) == list(usage.as_dict().items())
