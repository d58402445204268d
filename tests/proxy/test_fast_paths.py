"""The per-request shortcuts of the proxy's set-up and end of stream (bench/README.md, "Per-request
set-up, second pass"): each gives what the general path gives (differential tests), and the one
new lookup table (the metrics' children per label set) keeps one entry per label set."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import struct
import uuid
from typing import Any

import pytest
from prometheus_client import generate_latest

from completions_core.adapter import Credential
from completions_core.codec import decode_request
from completions_core.records import AttemptRecord, CompletionRecord
from completions_core.types import AssistantMessage, UserMessage
from completions_proxy import responses
from completions_proxy.engine import _strip_for, _without_foreign_data
from completions_proxy.responses import bound_header, wire_name
from completions_proxy.routes import _HEADER_JSON, header_json, new_request_id
from completions_proxy.telemetry import Labels, Metrics
from tests.helpers import KeyedAdapter

_RNG = random.Random(20261207)


def _float() -> float:
    kind = _RNG.randrange(5)
    if kind == 0:
        return struct.unpack("d", _RNG.randbytes(8))[0]  # any double: nan, inf, subnormals included
    if kind == 1:
        return _RNG.random() * 10 ** _RNG.randint(-12, 22)
    if kind == 2:
        return _RNG.choice([0.0, -0.0, 1e-4, 9.999e-5, 1e16, 9.999e15, 1e-5, float("inf"), float("nan")])
    if kind == 3:
        return float(_RNG.randrange(10**18))
    return _RNG.uniform(1.7e9, 1.8e9)  # a wall-clock time


def _text() -> str:
    alphabet = "abcXYZ09._:-/ \"\\\x00\x1f\n\t\x7f\x80é€😀"
    return "".join(_RNG.choice(alphabet) for _ in range(_RNG.randrange(12)))


def _attempt() -> dict[str, Any]:
    data = AttemptRecord(_text(), _text(), target=_RNG.randrange(4), started_at=_float()).as_dict()
    data["latency_ms"] = _float()
    data["status"] = _RNG.choice([None, 200, 429, 2**63 - 1, 2**64, -(2**70)])
    data["breaker"] = _RNG.choice([None, "probe", True, _text()])
    return data


def test_header_json_writes_what_json_writes() -> None:
    for _ in range(20000):
        data = _attempt()
        assert header_json(data) == _HEADER_JSON(data)
    # The shapes an attempt has in practice take the fast path and still agree.
    usual = AttemptRecord("openai", "gpt-4o-mini", started_at=1796613309.198748).as_dict()
    assert header_json(usual) == _HEADER_JSON(usual) == json.dumps(usual, separators=(",", ":"))


def test_new_request_id_is_uuid4_hex() -> None:
    for _ in range(20000):
        raw = os.urandom(16)
        assert new_request_id(raw) == uuid.UUID(bytes=raw, version=4).hex
    for raw in (bytes(16), b"\xff" * 16):
        assert new_request_id(raw) == uuid.UUID(bytes=raw, version=4).hex
    made = new_request_id()
    assert len(made) == 32 and uuid.UUID(made).version == 4
    assert made != new_request_id()


def _bound_header_general(value: str, limit: int) -> str:
    value = value.translate(str.maketrans({"\r": " ", "\n": " ", "\0": " "}))
    value = value.encode("latin-1", "replace").decode("latin-1")
    return value if len(value) <= limit else value[: limit - len("...[truncated]")] + "...[truncated]"


def test_bound_header_shortcut_agrees_with_the_general_path() -> None:
    for _ in range(20000):
        value = _text() * _RNG.randrange(1, 4)
        limit = _RNG.randrange(15, 40)
        assert bound_header(value, limit) == _bound_header_general(value, limit)
    assert bound_header("a" * 30, 20) == _bound_header_general("a" * 30, 20)
    assert bound_header("x\r\ny", 20) == "x  y"


def test_wire_name_gives_the_lowercase_latin1_name_and_its_table_stays_bounded() -> None:
    names = ["X-Request-ID", "X-Completions-Attempts", "x-completions-overhead-ms", "ÀÉ-Name", "MiXeD"]
    names += ["X-" + "".join(_RNG.choice("abcXYZ-09") for _ in range(_RNG.randrange(1, 20))) for _ in range(200)]
    for name in names + names:  # the second pass reads the table where the first filled it
        assert wire_name(name) == name.lower().encode("latin-1")
    assert len(responses._NAMES) <= responses._MAX_NAMES
    with pytest.raises(UnicodeEncodeError):  # what the general path raised: nothing is made up
        wire_name("X-€")


def test_strip_for_keeps_the_same_messages_when_there_is_nothing_to_strip() -> None:
    adapter = KeyedAdapter()
    plain = (UserMessage("hi"), UserMessage("again"))
    assert _strip_for(adapter, plain) is plain
    with_answer = (UserMessage("hi"), AssistantMessage("ok", provider_state={"other": {"x": 1}}))
    stripped = _strip_for(adapter, with_answer)
    assert stripped is not with_answer
    assert isinstance(stripped[1], AssistantMessage) and stripped[1].provider_state is None


def test_plan_without_changes_gives_the_request_as_decoded() -> None:
    from completions_core.plugins import ProviderRegistry
    from completions_proxy.clients import ClientCache
    from completions_proxy.engine import Engine
    from completions_proxy.settings import Settings

    registry = ProviderRegistry()
    registry.register(KeyedAdapter())
    engine = Engine(Settings.from_env({"COMPLETIONS_PROXY_TOKENS": "t" * 20}), registry, ClientCache(4))
    credentials = {"keyed": Credential("managed")}
    for provider in ("keyed", "KEYED ", "Keyed"):
        requests = decode_request({"provider": provider, "model": "m", "messages": [{"role": "user", "content": "x"}]})
        (target,) = engine.plan(requests, credentials)
        assert target.request.provider == "keyed"
        # What the plan built before, with dataclasses.replace every time.
        assert target.request == dataclasses.replace(requests[0], provider="keyed", messages=requests[0].messages)
        assert (target.request is requests[0]) == (provider == "keyed")


def _record(provider: str, model: str, outcome: str = "ok", *, first_token: bool = True) -> CompletionRecord:
    record = CompletionRecord(request_id="r", caller=None, stream=True, started_at=0.0, outcome=outcome,
                              requested_provider=provider, requested_model=model, provider=provider, model=model)
    record.total_ms = 5.0
    record.time_to_first_token_ms = 1.0 if first_token else None
    return record


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_metric_children_are_kept_per_label_set() -> None:
    metrics = Metrics(labels=Labels(providers=["a", "b"], max_models=2))
    metrics.observe(_record("a", "m1"))
    metrics.observe(_record("a", "m1"))
    metrics.observe(_record("b", "m1"))
    metrics.observe(_record("a", "m2", "error"))
    for model in ("m3", "m4", "m5"):  # beyond max_models: one "other" set
        metrics.observe(_record("a", model))
    requests = "completions_requests_total"
    assert _value(metrics, requests, provider="a", model="m1", outcome="ok", stream="true") == 2
    assert _value(metrics, requests, provider="b", model="m1", outcome="ok", stream="true") == 1
    assert _value(metrics, requests, provider="a", model="m2", outcome="error", stream="true") == 1
    assert _value(metrics, requests, provider="a", model="other", outcome="ok", stream="true") == 3
    assert _value(metrics, "completions_time_to_first_token_seconds_count", provider="a") == 6
    assert _value(metrics, "completions_time_to_first_token_seconds_count", provider="b") == 1
    # One entry per label set, never one per model a caller made up.
    assert len(metrics._sets) == 4


def test_metric_series_appear_only_once_observed() -> None:
    metrics = Metrics(labels=Labels(providers=["a"]))
    metrics.observe(_record("a", "m", first_token=False))
    text = generate_latest(metrics.registry).decode()
    assert 'completions_time_to_first_token_seconds_count{provider="a"}' not in text
    assert 'completions_time_to_first_sentence_seconds_count{provider="a"}' not in text
    metrics.observe(_record("a", "m"))
    text = generate_latest(metrics.registry).decode()
    assert 'completions_time_to_first_token_seconds_count{provider="a"} 1.0' in text


def test_header_gives_what_starlette_headers_give() -> None:
    from starlette.requests import Request

    from completions_proxy.routes import header

    names = ["authorization", "x-request-id", "traceparent", "content-length", "x-completions-hedge-after", "a"]
    for _ in range(2000):
        raw = [(_RNG.choice(names).encode(), _text().encode("latin-1", "replace")) for _ in range(_RNG.randrange(8))]
        request = Request({"type": "http", "headers": raw})
        for name in [*names, "X-Request-ID", "X-Completions-Hedge-After", "absent"]:
            assert header(request, name) == request.headers.get(name)


async def _reference_body(request: Any, limit: int) -> bytes:
    """The body as the route read it before (through Starlette's ``Request.stream``)."""
    from completions_proxy.routes import _BodyTooLarge

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise _BodyTooLarge
        parts.append(part)
    return b"".join(parts)


def _receiver(messages: list[dict[str, Any]], at_once: int, as_task: bool = False) -> Any:
    """A server's ``receive``: the first ``at_once`` messages are there already, the rest come
    one loop step after being asked for; after the last, it waits forever. ``as_task``: it returns
    a task (an awaitable that is not a coroutine) instead of being a coroutine function."""
    import asyncio

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in messages[:at_once]:
        queue.put_nowait(message)
    later = list(messages[at_once:])

    async def receive() -> dict[str, Any]:
        if queue.empty() and later:
            asyncio.get_running_loop().call_soon(queue.put_nowait, later.pop(0))
        return await queue.get()

    if as_task:
        return lambda: asyncio.ensure_future(receive())
    return receive


async def _outcome(read: Any) -> Any:
    from starlette.requests import ClientDisconnect

    from completions_proxy.routes import _BodyTooLarge

    try:
        return await read
    except (_BodyTooLarge, ClientDisconnect, TimeoutError) as exc:
        return type(exc)


@pytest.mark.anyio
async def test_body_read_gives_what_starlette_stream_gives() -> None:
    from starlette.requests import Request

    from completions_proxy.routes import _read_body_in_time

    for _ in range(400):
        parts = [_RNG.randbytes(_RNG.randrange(0, 6)) for _ in range(_RNG.randrange(1, 5))]
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)
        ]
        if _RNG.random() < 0.2:
            messages.insert(_RNG.randrange(len(messages)), {"type": "http.disconnect"})
        if _RNG.random() < 0.2:
            messages[0].pop("body", None)  # a message without a body key is an empty part
        limit = _RNG.randrange(0, 16)
        at_once = _RNG.randrange(len(messages) + 1)
        length = [(b"content-length", str(sum(map(len, parts))).encode())] if _RNG.random() < 0.5 else []
        scope = {"type": "http", "headers": length}
        as_task = _RNG.random() < 0.2
        mine = await _outcome(_read_body_in_time(Request(scope, _receiver(messages, at_once, as_task)), limit, 30))
        reference = await _outcome(_reference_body(Request(dict(scope), _receiver(messages, at_once)), limit))
        assert mine == reference, (messages, limit, at_once)


@pytest.mark.anyio
async def test_a_body_that_stops_coming_times_out() -> None:
    from starlette.requests import Request

    from completions_proxy.routes import _read_body_in_time

    # Nothing at all yet (the first receive waits), and a first part then nothing: both time out.
    nothing = Request({"type": "http", "headers": []}, _receiver([], 0))
    assert await _outcome(_read_body_in_time(nothing, 100, 0.01)) is TimeoutError
    started = [{"type": "http.request", "body": b"{", "more_body": True}]
    trickled = Request({"type": "http", "headers": []}, _receiver(started, 1))
    assert await _outcome(_read_body_in_time(trickled, 100, 0.01)) is TimeoutError


def test_utc_stamper_writes_what_structlog_time_stamper_writes() -> None:
    import datetime

    from completions_proxy.telemetry import UTCStamper

    stamper = UTCStamper()
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    for _ in range(20000):
        ns = _RNG.randrange(0, 4 * 10**18)
        if _RNG.random() < 0.1:
            ns -= ns % 10**9  # a whole second: no fraction
        if _RNG.random() < 0.3:
            ns = _RNG.randrange(1_796_600_000, 1_796_600_003) * 10**9 + _RNG.randrange(10**9)  # seconds in a row
        second, rest = divmod(ns, 10**9)
        # What TimeStamper(fmt="iso", utc=True) writes for datetime.now at that instant.
        expected = (epoch + datetime.timedelta(seconds=second, microseconds=rest // 1000)).isoformat()
        assert stamper.stamp(ns) == expected.replace("+00:00", "Z")
    line = stamper(None, "info", {})["timestamp"]
    assert line.endswith("Z") and datetime.datetime.fromisoformat(line.replace("Z", "+00:00")).tzinfo is not None


def test_decode_request_reads_an_absent_field_as_null() -> None:
    """The codec skips the validators of absent optional fields: a field sent as null (which goes
    through them) and a field left out decode the same, invalid siblings included."""
    from completions_core.errors import InvalidRequestError

    optional = ["tools", "tool_choice", "provider_kwargs", "response_schema", "timeout", "temperature",
                "max_tokens", "retry"]
    values: dict[str, list[Any]] = {
        "tools": [[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], "x"],
        "tool_choice": ["auto", "f", 3],
        "provider_kwargs": [{"keyed": {"a": 1}}, {"keyed": 1}],
        "response_schema": [{"type": "object"}, []],
        "timeout": [5, 0.001, "x"],
        "temperature": [0.5, -1],
        "max_tokens": [10, 0],
        "retry": [{"enabled": False}, {"max_retries": 2}, {"bogus": 1}],
    }

    def decoded(body: dict[str, Any]) -> Any:
        try:
            out = decode_request(body)
        except InvalidRequestError as exc:
            return (exc.message, exc.path)
        return [dataclasses.replace(request, messages=()) for request in out]  # vr_ids differ per decode

    for _ in range(1500):
        body: dict[str, Any] = {"provider": "keyed", "model": "m", "messages": [{"role": "user", "content": "x"}]}
        for name in optional:
            if _RNG.random() < 0.3:
                body[name] = _RNG.choice(values[name])
        absent = [name for name in optional if name not in body]
        nulls = {**body, **{name: None for name in absent if _RNG.random() < 0.7}}
        if _RNG.random() < 0.3:
            body["fallbacks"] = [{"model": "n"}]
            nulls["fallbacks"] = [{"model": "n", **{name: None for name in absent}}]
        assert decoded(body) == decoded(nulls)


def _strip_reference(provider: str, keep_signatures: bool, messages: tuple[Any, ...]) -> tuple[Any, ...]:
    """What the plan did before: every assistant message copied without foreign data, whether or
    not it carried any (``_strip_for`` now skips those that carry none)."""
    return tuple(
        _without_foreign_data(m, provider, keep_signatures) if isinstance(m, AssistantMessage) else m
        for m in messages
    )


def test_strip_for_gives_what_it_gave_when_it_copied_every_assistant_message() -> None:
    from completions_core.types import FunctionCall, ToolCall

    def assistant() -> AssistantMessage:
        calls = None
        if _RNG.random() < 0.4:
            calls = [
                ToolCall(id=f"c{i}", type="function", function=FunctionCall(name="f", arguments={}),
                         thought_signature=_RNG.choice([None, b"sig"]))
                for i in range(_RNG.randrange(3))
            ]
        states: list[Any] = [None, {}, {"keyed": {"a": 1}}, {"other": {"b": 2}}, {"keyed": {}, "other": {}}]
        return AssistantMessage(
            content=_RNG.choice([None, "ok"]),
            tool_calls=calls,
            thought_signature=_RNG.choice([None, None, b"t"]),
            provider_state=_RNG.choice(states),
        )

    for keep in (False, True):
        adapter = KeyedAdapter()
        adapter.keeps_thought_signatures = keep  # type: ignore[misc]
        for _ in range(3000):
            messages = tuple(
                assistant() if _RNG.random() < 0.5 else UserMessage("u") for _ in range(_RNG.randrange(6))
            )
            stripped = _strip_for(adapter, messages)
            assert stripped == _strip_reference("keyed", keep, messages)
            if stripped == messages:
                assert stripped is messages  # nothing to drop: nothing copied


def test_message_decode_reads_an_absent_field_as_null() -> None:
    """Messages skip the validators of absent optional fields: null and left out decode alike."""
    from completions_core.codec import message_from_wire
    from completions_core.errors import InvalidRequestError

    optional: dict[str, dict[str, list[Any]]] = {
        "user": {"name": ["n", 3], "cache_breakpoint": [{"ttl": "1h"}, {"ttl": "2h"}], "vr_id": ["v1", ""]},
        "system": {"cache_breakpoint": [{"ttl": "5m"}, "x"], "vr_id": ["v2", "x" * 65]},
        "tool": {"name": ["n", []], "cache_breakpoint": [{"ttl": "5m"}], "vr_id": ["v3"]},
        "assistant": {
            "tool_calls": [[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}], "x"],
            "thought_signature": ["c2ln", 5],
            "provider_state": [{"keyed": {"a": 1}}, "x"],
            "cache_breakpoint": [{"ttl": "1h"}],
            "vr_id": ["v4", 7],
            "content": ["text", 1],
        },
    }
    required = {"user": {"content": "hi"}, "system": {"content": "be brief"},
                "tool": {"tool_call_id": "c", "content": {"r": 1}}, "assistant": {}}

    def decoded(message: dict[str, Any]) -> Any:
        try:
            out = message_from_wire(message, "messages[0]")
        except InvalidRequestError as exc:
            return (exc.message, exc.path)
        given_id = message.get("vr_id")
        return dataclasses.replace(out, vr_id=given_id or "made")  # a made id differs per decode

    for _ in range(3000):
        role = _RNG.choice(list(optional))
        message: dict[str, Any] = {"role": role, **required[role]}
        for name, values in optional[role].items():
            if _RNG.random() < 0.3:
                message[name] = _RNG.choice(values)
        nulls = {**message, **{name: None for name in optional[role] if name not in message and _RNG.random() < 0.7}}
        assert decoded(message) == decoded(nulls)

