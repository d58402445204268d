"""Hypothesis on the wire codec: any JSON is either a valid request or a clear InvalidRequestError."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from completions_core.codec import (
    chunk_from_wire,
    decode_request,
    deserialize_conversation,
    request_to_wire,
    serialize_conversation,
)
from completions_core.errors import InvalidRequestError

# Fuzzing (hypothesis): slow, run by ./dev.sh test-all, tox -e slow and CI.
pytestmark = pytest.mark.slow

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
roles = st.sampled_from(["user", "assistant", "system", "tool", "bot", None]) | json_values
message = st.fixed_dictionaries(
    {"role": roles},
    optional={
        "content": json_values,
        "tool_call_id": st.text(max_size=5),
        "name": st.text(max_size=5),
        "vr_id": st.text(max_size=70),
        "tool_calls": st.lists(st.fixed_dictionaries({"id": st.text(max_size=4)}, optional={
            "function": st.fixed_dictionaries({"name": st.text(max_size=5)}, optional={"arguments": json_values}),
            "thought_signature": st.text(max_size=12)}), max_size=2),
        "cache_breakpoint": st.one_of(st.none(), st.fixed_dictionaries({"ttl": st.sampled_from(["5m", "1h", "2h"])})),
        "thought_signature": st.text(max_size=12),
    },
)
request = st.fixed_dictionaries(
    {"provider": st.one_of(st.sampled_from(["openai", "google"]), json_values),
     "model": st.one_of(st.just("m"), json_values),
     "messages": st.one_of(st.lists(message, max_size=4), json_values)},
    optional={
        "temperature": json_values,
        "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
            {"name": st.text(max_size=5)}, optional={"parameters": json_values, "strict": json_values})}), max_size=3),
        "tool_choice": json_values,
        "timeout": json_values,
        "max_tokens": json_values,
        "retry": st.one_of(json_values, st.fixed_dictionaries({}, optional={"max_retries": json_values})),
        "fallbacks": st.lists(st.dictionaries(st.sampled_from(["provider", "model", "timeout", "x"]), json_values,
                                              max_size=2), max_size=3),
        "provider_kwargs": json_values,
        "response_schema": json_values,
        "unexpected": json_values,
    },
)


@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
@given(request)
def test_any_json_request_is_accepted_or_refused_with_a_clear_error(body: dict[str, Any]) -> None:
    try:
        normalized = decode_request(body)
    except InvalidRequestError as exc:
        assert exc.message and exc.status_code == 400
        return
    again = decode_request(request_to_wire(normalized))
    assert request_to_wire(again) == request_to_wire(normalized)
    assert again == normalized


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(message, max_size=5))
def test_conversation_round_trip_is_lossless_whenever_it_decodes(messages: list[dict[str, Any]]) -> None:
    try:
        conversation = deserialize_conversation(messages)
    except InvalidRequestError:
        return
    assert deserialize_conversation(serialize_conversation(conversation)) == conversation


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(
    st.sampled_from(["content_delta", "content_sentence", "tool_call", "finish_reason", "usage", "response", "error"]),
    st.dictionaries(st.sampled_from(["delta", "sentence", "tool_call", "finish_reason", "response", "usage", "error"]),
                    json_values | st.fixed_dictionaries({}, optional={"message": json_values, "id": json_values,
                                                                      "function": json_values})),
)
def test_chunk_decoding_refuses_malformed_records_only_with_value_error(kind: str, record: dict[str, Any]) -> None:
    # The client turns ValueError into CompletionsProxyError; any other exception would escape.
    try:
        chunk_from_wire({**record, "type": kind})
    except ValueError as exc:
        assert str(exc)
