"""The translator's shortcut for a text-only stream chunk (bench/README.md, "The per-chunk path, end
to end"): on random chunks and streams, ``StreamTranslator.feed`` gives what the general path
(``_events``) gives, events, state and errors alike."""

from __future__ import annotations

import random
from typing import Any

import pytest
from completions_openai.response import StreamTranslator, _events

from completions_core.errors import ProviderError

_RNG = random.Random(20261207)


def _pick(*options: Any) -> Any:
    return _RNG.choice(options)


def _delta() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, [], "text", {}, 0)
    delta: dict[str, Any] = {}
    for key, values in (
        ("content", (" tok", "", None, 0, ["x"], "é😀\n")),
        ("role", ("assistant", None)),
        ("refusal", (None, "", "I can't")),
        ("reasoning_content", (None, "thinking", 3)),
        ("tool_calls", (None, [], [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{"}}])),
    ):
        if _RNG.random() < (0.8 if key == "content" else 0.2):
            delta[key] = _RNG.choice(values)
    return delta


def _choice() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, "choice", [], 1)
    choice: dict[str, Any] = {}
    for key, make in (
        ("index", lambda: _pick(0, 0, 0, 1, None, "0", 0.0)),
        ("delta", _delta),
        ("finish_reason", lambda: _pick(None, None, None, "", "stop", "length", "other")),
        ("logprobs", lambda: None),
    ):
        if _RNG.random() < 0.85:
            choice[key] = make()
    return choice


def _chunk() -> Any:
    if _RNG.random() < 0.03:
        return _pick([], "text", None)
    chunk: dict[str, Any] = {"id": "chatcmpl-x", "object": "chat.completion.chunk"}
    kind = _RNG.random()
    if kind < 0.05:
        chunk["choices"] = _pick(None, "ab", {"index": 0}, ())
    elif kind < 0.95:
        chunk["choices"] = [_choice() for _ in range(_pick(1, 1, 1, 1, 0, 2))]
    if _RNG.random() < 0.3:
        chunk["usage"] = _pick(None, {}, {"prompt_tokens": 3, "completion_tokens": None})
    if _RNG.random() < 0.03:
        chunk["error"] = _pick(None, {}, {"message": "boom", "code": "rate_limit_exceeded"}, "x")
    return chunk


def _general(chunk: Any, state: StreamTranslator) -> Any:
    try:
        return _events(chunk, state, state.provider)
    except ProviderError as exc:
        return ("error", exc.message, exc.error_type)
    except (TypeError, AttributeError, ValueError) as exc:
        return ("invalid", type(exc).__name__)


def _fast(chunk: Any, state: StreamTranslator) -> Any:
    try:
        return state.feed(chunk)
    except ProviderError as exc:
        if exc.error_type == "invalid_response_error" and "does not fit the API" in exc.message:
            return ("invalid", exc.message.rsplit("(", 1)[1].rstrip(")"))
        return ("error", exc.message, exc.error_type)


@pytest.mark.parametrize("seed", range(4))
def test_feed_gives_what_the_general_path_gives(seed: int) -> None:
    _RNG.seed(seed)
    for _ in range(3000):
        fast, general = StreamTranslator("openai"), StreamTranslator("openai")
        for _ in range(_RNG.randrange(1, 8)):
            chunk = _chunk()
            assert _fast(chunk, fast) == _general(chunk, general), chunk
            assert (fast.finished, fast.refused) == (general.finished, general.refused)


def test_the_usual_text_chunk_takes_the_shortcut() -> None:
    state = StreamTranslator("openai")
    chunk: dict[str, Any] = {
        "id": "c",
        "choices": [{"index": 0, "delta": {"content": " is"}, "logprobs": None, "finish_reason": None}],
        "usage": None,
    }
    events = state.feed(chunk)
    assert events == _events(chunk, StreamTranslator("openai"), "openai")
    assert [type(e).__name__ for e in events] == ["TextDelta"]
    refused = StreamTranslator("openai")
    refused.feed({"choices": [{"index": 0, "delta": {"refusal": "no"}}]})
    assert refused.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})[0].reason == "content_filter"
