"""Every number, list and name a caller sets is bounded by the codec, and each 400 names its limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from completions_core.codec import decode_request, stream_options_from_wire
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parents[2]
L = DEFAULT_LIMITS


def _request(**extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


def _refused(value: dict[str, Any]) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        decode_request(value)
    return caught.value


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# (request fields, the path the error names, the limit it names)
OVER_THE_LIMIT: list[tuple[dict[str, Any], str, str]] = [
    ({"retry": {"max_retries": L.max_retries + 1}}, "retry.max_retries", "max_retries"),
    ({"retry": {"max_retries": 10**15}}, "retry.max_retries", "max_retries"),
    ({"retry": {"max_retries": 10**5000}}, "retry.max_retries", "max_retries"),
    ({"retry": {"retry_delay": 1e300}}, "retry.retry_delay", "max_retry_delay"),
    ({"retry": {"retry_delay": 10**400}}, "retry.retry_delay", "max_retry_delay"),
    ({"retry": {"retry_delay": L.max_retry_delay + 0.5}}, "retry.retry_delay", "max_retry_delay"),
    ({"retry": {"backoff_multiplier": 1e9}}, "retry.backoff_multiplier", "max_backoff_multiplier"),
    ({"timeout": 1e300}, "timeout", "max_timeout"),
    ({"timeout": 0.001}, "timeout", "min_timeout"),
    ({"temperature": 1e308}, "temperature", "max_temperature"),
    ({"max_tokens": 2**63}, "max_tokens", "max_output_tokens"),
    ({"model": "m" * (L.max_model_chars + 1)}, "model", "max_model_chars"),
    ({"model": "m" * 1_000_000}, "model", "max_model_chars"),
    ({"provider": "p" * (L.max_provider_chars + 1)}, "provider", "max_provider_chars"),
    ({"messages": [{"role": "user", "content": "x"}] * (L.max_messages + 1)}, "messages", "max_messages"),
    ({"fallbacks": [{"model": "n"}] * (L.max_fallbacks + 1)}, "fallbacks", "max_fallbacks"),
    ({"fallbacks": [{"retry": {"max_retries": 11}}]}, "fallbacks[0].retry.max_retries", "max_retries"),
    ({"fallbacks": [{"timeout": 7200}]}, "fallbacks[0].timeout", "max_timeout"),
    (
        {"tools": [{"function": {"name": f"t{i}"}} for i in range(L.max_tools + 1)]},
        "tools",
        "max_tools",
    ),
    (
        {"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": {}}}] * (L.max_tool_calls + 1)}]},
        "messages[0].tool_calls",
        "max_tool_calls",
    ),
    (
        {"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "index": 10**12, "function": {"name": "f", "arguments": {}}}]}]},
        "messages[0].tool_calls[0].index",
        "max_tool_call_index",
    ),
    (
        {"messages": [{"role": "assistant", "content": "x", "provider_state": {"a": _nested(L.max_depth + 2)}}]},
        "messages[0].provider_state",
        "max_depth",
    ),
]


@pytest.mark.parametrize(("extra", "path", "limit"), OVER_THE_LIMIT, ids=[c[2] + ":" + c[1] for c in OVER_THE_LIMIT])
def test_a_value_over_its_limit_is_refused_naming_the_limit_and_the_path(
    extra: dict[str, Any], path: str, limit: str
) -> None:
    error = _refused(_request(**extra))
    assert error.path == path
    assert f"({limit})" in error.message
    assert len(error.message) < 400  # the caller's huge value is never echoed back


def test_the_extreme_allowed_values_are_accepted() -> None:
    (request,) = decode_request(
        _request(
            retry={"max_retries": L.max_retries, "retry_delay": L.max_retry_delay,
                   "backoff_multiplier": L.max_backoff_multiplier},
            timeout=L.max_timeout,
            temperature=L.max_temperature,
            max_tokens=L.max_output_tokens,
            model="m" * L.max_model_chars,
        )
    )
    assert request.retry is not None and request.retry.max_retries == L.max_retries
    assert request.timeout == L.max_timeout and request.model == "m" * L.max_model_chars


def test_stream_options_are_bounded() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"punctuation_marks": ["."] * (L.max_punctuation_marks + 1)}, "max_punctuation_marks"),
        ({"punctuation_marks": ["." * (L.max_punctuation_mark_chars + 1)]}, "max_punctuation_mark_chars"),
        ({"min_sentence_length": 10**30}, "max_min_sentence_length"),
    ]
    for options, limit in cases:
        with pytest.raises(InvalidRequestError, match=re.escape(f"({limit})")):
            stream_options_from_wire(options)
    options, _ = stream_options_from_wire({"min_sentence_length": L.max_min_sentence_length,
                                           "punctuation_marks": ["!" * L.max_punctuation_mark_chars]})
    assert options.min_sentence_length == L.max_min_sentence_length


def test_an_unknown_top_level_field_lists_every_allowed_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_request(_request(temprature=0.2), wire=True)
    allowed = caught.value.message.split("allowed fields: ", 1)[1].split(", ")
    for name in ("stream", "stream_options", "credentials", "fallbacks", "retry", "provider_kwargs", "max_tokens"):
        assert name in allowed, name
    # The client's request object has no stream or credentials fields: it does not list them.
    client_side = _refused(_request(temprature=0.2)).message.split("allowed fields: ", 1)[1].split(", ")
    assert "fallbacks" in client_side and "credentials" not in client_side


def test_an_unknown_field_of_any_size_is_named_briefly() -> None:
    error = _refused(_request(**{"x" * 100_000: 1}))
    assert len(error.message) < 1000


def test_security_md_lists_every_limit_with_its_default() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([0-9.]+) \|", text, flags=re.M))
    for name, value in L.as_dict().items():
        assert name in rows, f"SECURITY.md does not list {name}"
        assert float(rows[name]) == float(value), f"SECURITY.md gives {name} = {rows[name]}, the code {value}"


def test_an_absurd_retry_after_from_an_upstream_is_ignored() -> None:
    from completions_core.errors import retry_after_seconds

    assert retry_after_seconds({"retry-after": "inf"}) is None
    assert retry_after_seconds({"retry-after-ms": "1e400"}) is None
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
