"""The translator's shortcut for the usual Gemini stream chunk (one candidate, one text part; see
bench/README.md, "Gemini's stream path against OpenAI's"): on random chunks and streams,
``StreamTranslator.feed`` gives what the general path (``_feed``) gives, events, state and errors alike."""

from __future__ import annotations

import random
from typing import Any

import pytest
from completions_google.adapter import GeminiPayloads
from completions_google.response import StreamTranslator, _unreadable, usage_from, wire_usage

from completions_core.adapter import TextDelta
from completions_core.errors import ProviderError
from completions_core.sse import SSEPayloads

_RNG = random.Random(20261207)


def _pick(*options: Any) -> Any:
    return _RNG.choice(options)


def _part() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, "text", [], {}, 0)
    part: dict[str, Any] = {}
    for key, values, odds in (
        ("text", (" tok", "", None, 0, ["x"], "é😀\n"), 0.9),
        ("thought", (True, False, None), 0.1),
        ("thoughtSignature", ("c2ln", "c2ln_-", 3, "!!"), 0.08),
        ("functionCall", ({"id": "c1", "name": "f", "args": {"a": 1}}, {"id": "c2", "name": ""}, "x"), 0.06),
        ("inlineData", ({"mimeType": "image/png", "data": "AA=="},), 0.03),
    ):
        if _RNG.random() < odds:
            part[key] = _RNG.choice(values)
    return part


def _candidate() -> Any:
    if _RNG.random() < 0.05:
        return _pick(None, "candidate", [], 1)
    candidate: dict[str, Any] = {}
    if _RNG.random() < 0.95:
        roll = _RNG.random()
        if roll < 0.05:
            candidate["content"] = _pick(None, "content", {}, [])
        else:
            content: dict[str, Any] = {"role": "model"}
            if roll < 0.1:
                content["parts"] = _pick(None, "parts", {}, ())
            elif roll < 0.97:
                content["parts"] = [_part() for _ in range(_pick(1, 1, 1, 1, 0, 2))]
            candidate["content"] = content
    if _RNG.random() < 0.2:
        candidate["finishReason"] = _pick(None, "", "STOP", "MAX_TOKENS", "SAFETY", 0)
    if _RNG.random() < 0.5:
        candidate["index"] = 0
    if _RNG.random() < 0.05:
        candidate["safetyRatings"] = [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]
    return candidate


def _chunk() -> Any:
    if _RNG.random() < 0.03:
        return _pick([], "text", None)
    chunk: dict[str, Any] = {"modelVersion": "gemini-x"}
    kind = _RNG.random()
    if kind < 0.05:
        chunk["candidates"] = _pick(None, "ab", {"content": {}}, ())
    elif kind < 0.95:
        chunk["candidates"] = [_candidate() for _ in range(_pick(1, 1, 1, 1, 0, 2))]
    if _RNG.random() < 0.7:
        chunk["usageMetadata"] = _pick(None, {}, {"promptTokenCount": 3, "candidatesTokenCount": 4})
    if _RNG.random() < 0.05:
        chunk["promptFeedback"] = _pick(None, {}, {"blockReason": "SAFETY"}, {"blockReason": ""}, "x")
    return chunk


def _outcome(feed: Any, chunk: Any) -> Any:
    try:
        return feed(chunk)
    except ProviderError as exc:
        return ("error", exc.message, exc.error_type)


def _general(chunk: Any, state: StreamTranslator) -> Any:
    def feed(chunk: Any) -> Any:
        try:
            return state._feed(chunk)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise _unreadable(exc) from None

    return _outcome(feed, chunk)


def _state(state: StreamTranslator) -> Any:
    return (state.calls, state.native, state.blocked, state.usage)


@pytest.mark.parametrize("seed", range(4))
def test_feed_gives_what_the_general_path_gives(seed: int) -> None:
    _RNG.seed(seed)
    shortcuts = 0
    for _ in range(3000):
        fast, general = StreamTranslator(), StreamTranslator()
        for _ in range(_RNG.randrange(1, 8)):
            chunk = _chunk()
            assert _outcome(fast.feed, chunk) == _general(chunk, general), chunk
            assert _state(fast) == _state(general), chunk
            shortcuts += isinstance(chunk, dict) and chunk.get("usageMetadata") is not None
    assert shortcuts > 1000  # the shortcut's case is common among the random chunks


def test_the_usual_text_chunk_takes_the_shortcut_and_keeps_its_usage() -> None:
    state = StreamTranslator()
    chunk: dict[str, Any] = {
        "candidates": [{"content": {"parts": [{"text": " is"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12},
        "modelVersion": "gemini-mock",
    }
    assert state.feed(chunk) == [TextDelta(" is")]
    assert state.usage == chunk["usageMetadata"]
    last = {"candidates": [{"content": {"parts": [{"text": "."}], "role": "model"}, "finishReason": "STOP"}]}
    assert state.feed(last) == [TextDelta(".")]
    assert [type(event).__name__ for event in state.finish()] == ["Finish", "UsageEvent"]


_PIECES = (
    b"data: ", b"data:", b'{"a":1}', b"x", b" ", b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\r\n\r\n", b"[DONE]",
    b": ping", b"event: e", b'data: {"b":2}\r\n\r\n', b'data: {"b":2}\r\n\r\n', b"data: [DONE]\r\n\r\n",
)


@pytest.mark.parametrize("seed", range(4))
def test_the_crlf_shortcut_gives_the_payloads_of_the_bytes_as_they_came(seed: int) -> None:
    _RNG.seed(seed)
    for _ in range(3000):
        body = b"".join(_RNG.choice(_PIECES) for _ in range(_RNG.randrange(0, 30)))
        cuts = sorted(_RNG.randrange(0, len(body) + 1) for _ in range(_RNG.randrange(0, 4)))
        reads = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True) if end > start]
        ours, theirs = GeminiPayloads(), SSEPayloads("google", max_line=40)
        ours._lines = SSEPayloads("google", max_line=40)
        assert _lines(ours, reads) == _lines(theirs, reads), reads


def test_a_read_of_whole_gemini_events_is_split_at_once() -> None:
    event = b'data: {"candidates":[]}\r\n\r\n'
    payloads = GeminiPayloads()
    assert payloads.feed(event * 3 + b"data: [DONE]\r\n\r\n") == [b'{"candidates":[]}'] * 3
    assert payloads._clean
    assert payloads.feed(event[:10]) == [] and not payloads._clean  # a line held back: the splitter's
    assert payloads.feed(event[10:] + event) == [b'{"candidates":[]}'] * 2 and payloads._clean
    assert payloads.end() == []


def _lines(payloads: Any, reads: list[bytes]) -> Any:
    try:
        return [payloads.feed(data) for data in reads] + [payloads.end()]
    except ProviderError as exc:
        return ("error", exc.message)


def test_wire_usage_is_the_sdks_usage_on_every_call() -> None:
    from google.genai import types

    usage = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 4,
        "totalTokenCount": 20,
        "thoughtsTokenCount": 6,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
        "cachedContentTokenCount": None,
        "someNewField": 3,
    }
    known = {key: value for key, value in usage.items() if key != "someNewField"}  # the SDK drops it
    response = types.GenerateContentResponse.model_validate({"usageMetadata": known})
    expected = usage_from(response)
    assert expected is not None and expected["prompt_tokens_details"] == [{"modality": "TEXT", "token_count": 10}]
    for _ in range(3):  # the key conversions kept from the first call give the same
        assert wire_usage(usage) == expected
