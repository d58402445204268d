"""The translator's shortcut for a ``text_delta`` event (bench/README.md, "Anthropic's per-event
path"): on random Messages API event sequences (text, tool input JSON, thinking, signatures,
usage, errors, pings, and events of the wrong shape), ``StreamTranslator.feed`` gives what the
general path (``_feed``) gives, events, state, errors and closing events alike."""

from __future__ import annotations

import random
from typing import Any

import pytest
from completions_anthropic.request import Plan
from completions_anthropic.response import StreamTranslator

from completions_core.errors import ProviderError

_RNG = random.Random(20261207)


def _pick(*options: Any) -> Any:
    return _RNG.choice(options)


def _index() -> Any:
    return _pick(0, 0, 0, 1, 2, None, "0", [0], 0.0, True)


def _delta() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, [], "text", {}, 0)
    kind = _pick("text_delta", "text_delta", "text_delta", "input_json_delta", "thinking_delta", "signature_delta")
    if _RNG.random() < 0.05:
        kind = _pick(None, "citations_delta", 3, ["text_delta"])
    delta: dict[str, Any] = {"type": kind} if _RNG.random() < 0.95 else {}
    for key, values in (
        ("text", (" tok", "", None, 0, ["x"], "é😀\n")),
        ("partial_json", ('{"a": ', "1}", "", None, '"v"')),
        ("thinking", ("hmm", "", None)),
        ("signature", ("sig", None, "")),
    ):
        if _RNG.random() < 0.7:
            delta[key] = _RNG.choice(values)
    return delta


def _block() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, "text", [], {})
    return _pick(
        {"type": "text", "text": ""},
        {"type": "text", "text": "Hi"},
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "thinking", "thinking": "first"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
        {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"q": "x"}},
        {"type": "tool_use", "id": "toolu_3", "name": "answer", "input": {}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
    )


def _event() -> Any:
    if _RNG.random() < 0.03:
        return _pick([], "text", None, 1)
    kind = _RNG.random()
    event: dict[str, Any]
    if kind < 0.5:
        event = {"type": "content_block_delta", "index": _index(), "delta": _delta()}
    elif kind < 0.65:
        event = {"type": "content_block_start", "index": _index(), "content_block": _block()}
    elif kind < 0.75:
        event = {"type": "content_block_stop", "index": _index()}
    elif kind < 0.8:
        event = {"type": "message_start", "message": _pick({"usage": {"input_tokens": 3, "x": None}}, {}, "m")}
    elif kind < 0.87:
        event = {
            "type": "message_delta",
            "delta": _pick({"stop_reason": "end_turn"}, {"stop_reason": "tool_use"}, {}, None),
            "usage": _pick({"output_tokens": 7}, None, {}, {"output_tokens": None}),
        }
    elif kind < 0.92:
        event = {"type": "message_stop"}
    elif kind < 0.96:
        event = {"type": "ping"}
    elif kind < 0.98:
        event = {"type": "error", "error": _pick({"type": "overloaded_error", "message": "Overloaded"}, {}, "x")}
    else:
        event = {"type": _pick(None, "unknown_event", 5)}
    if _RNG.random() < 0.03:
        del event[_pick(*event)]
    return event


def _general(event: Any, state: StreamTranslator) -> Any:
    try:
        return state._feed(event)
    except ProviderError as exc:
        return ("error", exc.message, exc.error_type)
    except (TypeError, KeyError, AttributeError) as exc:
        return ("invalid", type(exc).__name__)
    except ValueError as exc:  # tool input fragments that are not JSON, at the block's end
        return ("value", type(exc).__name__)


def _fast(event: Any, state: StreamTranslator) -> Any:
    try:
        return state.feed(event)
    except ProviderError as exc:
        if exc.error_type == "invalid_response_error" and "does not fit the API" in exc.message:
            return ("invalid", exc.message.rsplit("(", 1)[1].rstrip(")"))
        return ("error", exc.message, exc.error_type)
    except ValueError as exc:
        return ("value", type(exc).__name__)


def _state(state: StreamTranslator) -> Any:
    return (state.usage, state.stop_reason, state.stopped, state._blocks, state._tool_calls, state._thinking)


def _finish(state: StreamTranslator) -> Any:
    try:
        return state.finish()
    except ProviderError as exc:
        return ("error", exc.message)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("answer", [None, (False,), (True,)], ids=["plain", "answer-object", "answer-wrapped"])
def test_feed_gives_what_the_general_path_gives(seed: int, answer: Any) -> None:
    _RNG.seed(seed)
    plan = Plan(params={}) if answer is None else Plan(params={}, answer_tool="answer", answer_wrapped=answer[0])
    for _ in range(1500):
        fast, general = StreamTranslator(plan, "anthropic"), StreamTranslator(plan, "anthropic")
        for _ in range(_RNG.randrange(1, 10)):
            event = _event()
            assert _fast(event, fast) == _general(event, general), event
            assert _state(fast) == _state(general), event
        assert _finish(fast) == _finish(general)


def test_the_usual_text_delta_takes_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    state = StreamTranslator(Plan(params={}), "anthropic")
    state.feed({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})

    def general(*args: Any) -> Any:
        raise AssertionError("the text_delta went the general way")

    monkeypatch.setattr(state, "_delta", general)
    monkeypatch.setattr(state, "_feed", general)
    events = state.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " is"}})
    assert [(type(e).__name__, e.text) for e in events] == [("TextDelta", " is")]  # type: ignore[attr-defined]
    assert state.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}}) == []
