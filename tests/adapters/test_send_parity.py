"""The proxy's fast sending and the SDK's own sending give the same outcome for the same upstream.

OpenAI, Alibaba (the OpenAI adapter) and Anthropic send a client's streams through a prepared post
and read the body straight from aiohttp (completions_core.prepared), bypassing the SDK's request
building and httpx2's response layers; a layer bypassed must not take a behaviour with it (a
compressed stream reached the SSE parser compressed: the SDKs' aiohttp transport leaves decoding
to httpx2). Each test here runs one upstream behaviour twice against the replay server, once on
the fast path and once with ``prepared_post`` answering None (the SDK sends and httpx2 reads), and
asserts the same events, or the same error (error_type, upstream status, retryable, retry delay),
and the same requests on the wire where they matter (a cookie sent back).

Gemini's streams are sent on an aiohttp session of the client's own (auto_decompress on), or on
the SDK's httpx2 client with ``COMPLETIONS_GOOGLE_TRANSPORT=httpx2``: its compressed streams are
compared across those two transports and against the recording's text.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

import completions_core.prepared as prepared
from completions_core.adapter import TextDelta
from completions_core.errors import ProviderError
from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import Body, Fault, ReplayServer, Reply, Stream
from tests.adapters.harness import Case

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("openai", "alibaba", "anthropic")
SENDERS = ("fast", "sdk")
#: Recorded streams, per provider: text, and tool calls.
RECORDED = {
    "openai": ("openai/tests/cassettes/chat_stream_text.yaml", "openai/tests/cassettes/chat_stream_tool_calls.yaml"),
    "anthropic": (
        "anthropic/tests/cassettes/messages_stream_text.yaml",
        "anthropic/tests/cassettes/messages_stream_tool_use.yaml",
    ),
}
RECORDED["alibaba"] = RECORDED["openai"]  # DashScope's compatible mode speaks Chat Completions


def recorded(provider: str, which: int = 0) -> Stream:
    cassette = load_cassette(ROOT / "providers" / RECORDED[provider][which])
    response = next(i.response for i in cassette.interactions if i.response.is_streaming)
    return Stream.from_response(response)


def encoded(stream: Stream, encoding: Optional[str]) -> Stream:
    return Stream(stream.events, status=stream.status, headers=stream.headers, encoding=encoding)


def error_body(provider: str, status: int) -> dict[str, Any]:
    if provider == "anthropic":
        return {"type": "error", "error": {"type": "rate_limit_error" if status == 429 else "invalid_request_error",
                                           "message": f"upstream says {status}"}}  # fmt: skip
    return {"error": {"message": f"upstream says {status}", "type": "invalid_request_error", "code": None}}


@dataclass(frozen=True)
class Outcome:
    """What a caller sees of one call: its events, or its error."""

    events: tuple[Any, ...]
    error: Optional[tuple[str, Optional[int], bool, Optional[float]]]

    @property
    def text(self) -> str:
        return "".join(event.text for event in self.events if isinstance(event, TextDelta))


@dataclass
class Sender:
    """One way of sending: ``fast`` (the prepared post) or ``sdk`` (the SDK's own)."""

    name: str
    #: For every body the prepared post opened: whether it was read straight from aiohttp.
    direct: list[bool]


@pytest.fixture
def senders(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Sender]:
    """Switch the sending of OpenAI's and Anthropic's adapters (the SDK's: no prepared post)."""
    import completions_anthropic.adapter
    import completions_openai.adapter

    direct: list[bool] = []
    original = prepared.PreparedPost.send

    async def spied(self: prepared.PreparedPost, body: Any, seconds: Optional[float]) -> prepared.UpstreamBody:
        opened = await original(self, body, seconds)
        direct.append(opened.direct)
        return opened

    monkeypatch.setattr(prepared.PreparedPost, "send", spied)

    def use(name: str) -> Sender:
        direct.clear()
        for module in (completions_openai.adapter, completions_anthropic.adapter):
            if name == "sdk":
                monkeypatch.setattr(module, "prepared_post", lambda client: None)
            else:
                monkeypatch.setattr(module, "prepared_post", prepared.prepared_post)
        return Sender(name, direct)

    return use


async def outcomes(provider: str, replies: Callable[[Case], list[Reply]], use: Callable[[str], Sender],
                   calls: int = 1) -> dict[str, tuple[list[Outcome], list[dict[str, str]], list[bool]]]:  # fmt: skip
    """Per sender: the outcome of ``calls`` streams on one client, the request headers the server
    saw, and whether each body the prepared post opened was read straight from aiohttp."""
    seen: dict[str, tuple[list[Outcome], list[dict[str, str]], list[bool]]] = {}
    for name in SENDERS:
        sender = use(name)
        async with ReplayServer() as server:
            case = Case(provider, server)
            for reply in replies(case):
                server.enqueue(reply, method="POST", path=case.path(True))
            adapter = case.adapter()
            request = case.request()
            client = adapter.create_client(adapter.client_config(request, case.credential()))
            results: list[Outcome] = []
            try:
                if name == "fast":
                    assert prepared.prepared_post(client) is not None
                for _ in range(calls):
                    results.append(await stream(adapter, client, request))
            finally:
                await adapter.close_client(client)
            server.assert_all_used()
            seen[name] = (results, [r.headers for r in server.requests], list(sender.direct))
    return seen


async def stream(adapter: Any, client: Any, request: Any) -> Outcome:
    events: list[Any] = []
    try:
        async for event in adapter.stream(client, request):
            events.append(event)
    except ProviderError as exc:
        return Outcome(tuple(events), (exc.error_type, exc.status_code, exc.retryable, exc.retry_after))
    return Outcome(tuple(events), None)


def same(seen: dict[str, tuple[list[Outcome], list[dict[str, str]], list[bool]]]) -> list[Outcome]:
    fast, sdk = seen["fast"][0], seen["sdk"][0]
    assert fast == sdk, f"fast path {fast!r}\n!= SDK path {sdk!r}"
    assert seen["sdk"][2] == []  # the SDK path never opened a prepared post
    return fast


# -- streams that succeed --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"], ids=["plain", "gzip", "deflate"])
@pytest.mark.parametrize("which", [0, 1], ids=["text", "tools"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_recorded_stream_gives_the_same_events(
    provider: str, which: int, encoding: Optional[str], senders: Callable[[str], Sender]
) -> None:
    seen = await outcomes(provider, lambda case: [encoded(recorded(provider, which), encoding)], senders)
    (outcome,) = same(seen)
    assert outcome.error is None and outcome.events
    assert outcome.text or which == 1
    # Read straight from aiohttp only when nothing is encoded; an encoded body goes through httpx2.
    assert seen["fast"][2] == [encoding is None]


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close-delimited"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_framing_of_the_body_gives_the_same_events(
    provider: str, framing: str, senders: Callable[[str], Sender]
) -> None:
    def replies(case: Case) -> list[Reply]:
        stream = recorded(provider)
        if framing == "chunked":
            return [stream]
        text = "".join(stream.events)
        return [Body(text, headers=stream.headers, close_delimited=framing == "close-delimited")]

    (outcome,) = same(await outcomes(provider, replies, senders))
    assert outcome.error is None and outcome.text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_cookie_the_upstream_sets_goes_back_the_same_way(
    provider: str, senders: Callable[[str], Sender]
) -> None:
    def replies(case: Case) -> list[Reply]:
        first = recorded(provider)
        with_cookie = Stream(first.events, headers=[*first.headers, ("set-cookie", "__cf_bm=abc123; Path=/")])
        return [with_cookie, recorded(provider)]

    seen = await outcomes(provider, replies, senders, calls=2)
    assert all(outcome.error is None and outcome.text for outcome in same(seen))
    fast, sdk = ([headers.get("cookie") for headers in seen[name][1]] for name in SENDERS)
    assert fast == sdk == [None, "__cf_bm=abc123"], (fast, sdk)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_huge_response_header_ends_the_same_way(provider: str, senders: Callable[[str], Sender]) -> None:
    # 16 KiB in one header: over aiohttp's default field limit (8 KiB) on both paths.
    huge = [("x-huge", "h" * 16384)]
    seen = await outcomes(provider, lambda case: [Stream(recorded(provider).events, headers=huge)], senders)
    (outcome,) = same(seen)
    assert outcome.error is not None and outcome.error[0] == "connection_error"


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"], ids=["plain", "gzip", "deflate"])
@pytest.mark.parametrize("status", [400, 429])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_status_with_an_encoded_body_is_the_same_error(
    provider: str, status: int, encoding: Optional[str], senders: Callable[[str], Sender]
) -> None:
    def replies(case: Case) -> list[Reply]:
        return [Fault.status(status, error_body(provider, status), retry_after=7, encoding=encoding)]

    (outcome,) = same(await outcomes(provider, replies, senders))
    expected = {400: "invalid_request_error", 429: "rate_limit_error"}[status]
    assert outcome.error is not None and outcome.error[:2] == (expected, status)
    if status == 429:
        assert outcome.error[3] == 7.0


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_redirect_ends_the_same_way(provider: str, status: int, senders: Callable[[str], Sender]) -> None:
    def replies(case: Case) -> list[Reply]:
        return [Body(b"", status=status, headers={"location": case.server.url + "/elsewhere" + case.path(True)})]

    (outcome,) = same(await outcomes(provider, replies, senders))
    # Neither path follows it (the adapters' HTTP clients do not): an answer that is not one.
    assert outcome.error is not None and outcome.error[:2] == ("invalid_response_error", status)


@pytest.mark.parametrize("encoding", [None, "gzip"], ids=["plain", "gzip"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_reset_mid_stream_ends_the_same_way(
    provider: str, encoding: Optional[str], senders: Callable[[str], Sender]
) -> None:
    seen = await outcomes(provider, lambda case: [encoded(recorded(provider), encoding).then_reset(after_events=3)],
                          senders)  # fmt: skip
    (outcome,) = same(seen)
    assert outcome.error is not None and outcome.error[0] == "connection_error"


def corrupt_gzip(text: str) -> bytes:
    whole = zlib.compressobj(wbits=31)
    data = whole.compress(text.encode()) + whole.flush()
    return data[:10] + bytes(byte ^ 0x5A for byte in data[10:])


@pytest.mark.parametrize("fault", ["unknown_encoding", "corrupt_gzip"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_body_that_cannot_be_decoded_is_the_same_invalid_response(
    provider: str, fault: str, senders: Callable[[str], Sender]
) -> None:
    def replies(case: Case) -> list[Reply]:
        text = "".join(recorded(provider).events)
        if fault == "unknown_encoding":  # a coding no decoder here knows, over its bytes
            whole = zlib.compressobj(wbits=31)
            data = whole.compress(text.encode()) + whole.flush()
            return [Body(data, content_type="text/event-stream", encoding="x-snappy")]
        return [Body(corrupt_gzip(text), content_type="text/event-stream", encoding="gzip", encoded=True)]

    seen = await outcomes(provider, replies, senders)
    (outcome,) = same(seen)
    assert outcome.error is not None and outcome.error[0] == "invalid_response_error", outcome


# -- Gemini: its own aiohttp session, or the SDK's httpx2 client ------------------------------------


@pytest.fixture
def google_transport(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    from completions_google.client import TRANSPORT_ENV

    def use(name: str) -> None:
        if name == "httpx2":
            monkeypatch.setenv(TRANSPORT_ENV, "httpx2")
        else:
            monkeypatch.delenv(TRANSPORT_ENV, raising=False)

    yield use


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"], ids=["plain", "gzip", "deflate"])
async def test_a_compressed_gemini_stream_gives_the_recorded_text(
    encoding: Optional[str], google_transport: Callable[[str], None]
) -> None:
    cassette = load_cassette(ROOT / "providers/google/tests/cassettes/stream_text.yaml")
    response = next(i.response for i in cassette.interactions if i.response.is_streaming)
    expected = "".join(
        part.get("text", "")
        for line in response.body.splitlines()
        if line.startswith("data:")
        for candidate in json.loads(line[5:]).get("candidates", [])
        for part in candidate.get("content", {}).get("parts", [])
        if not part.get("thought")
    )
    results: dict[str, Outcome] = {}
    for transport in ("aiohttp", "httpx2"):
        google_transport(transport)
        async with ReplayServer() as server:
            case = Case("google", server)
            server.enqueue(encoded(Stream.from_response(response), encoding), method="POST", path=case.path(True))
            adapter = case.adapter()
            request = case.request()
            client = adapter.create_client(adapter.client_config(request, case.credential()))
            try:
                assert (client.aiohttp_session() is None) == (transport == "httpx2")
                results[transport] = await stream(adapter, client, request)
            finally:
                await adapter.close_client(client)
            server.assert_all_used()
    assert results["aiohttp"] == results["httpx2"]
    assert results["aiohttp"].error is None and results["aiohttp"].text == expected and expected


@pytest.mark.parametrize("fault", ["unknown_encoding", "corrupt_gzip"])
async def test_a_gemini_stream_that_cannot_be_decoded_is_an_invalid_response(
    fault: str, google_transport: Callable[[str], None]
) -> None:
    cassette = load_cassette(ROOT / "providers/google/tests/cassettes/stream_text.yaml")
    text = next(i.response for i in cassette.interactions if i.response.is_streaming).body
    if fault == "unknown_encoding":
        whole = zlib.compressobj(wbits=31)
        reply = Body(whole.compress(text.encode()) + whole.flush(), content_type="text/event-stream",
                     encoding="x-snappy")  # fmt: skip
    else:
        reply = Body(corrupt_gzip(text), content_type="text/event-stream", encoding="gzip", encoded=True)
    results: dict[str, Outcome] = {}
    for transport in ("aiohttp", "httpx2"):
        google_transport(transport)
        async with ReplayServer() as server:
            case = Case("google", server)
            server.enqueue(reply, method="POST", path=case.path(True))
            adapter = case.adapter()
            request = case.request()
            client = adapter.create_client(adapter.client_config(request, case.credential()))
            try:
                results[transport] = await stream(adapter, client, request)
            finally:
                await adapter.close_client(client)
    assert results["aiohttp"] == results["httpx2"], results
    assert results["aiohttp"].error is not None and results["aiohttp"].error[0] == "invalid_response_error"


@pytest.mark.parametrize("extra", [None, {}, {"seed": 7, "temperature": 0.5}])
async def test_openai_stream_sends_params_merged_with_extra_body_only_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch, extra: Any
) -> None:
    """The body the stream sends is ``{**params, **extra_body}`` (the general form) whether it is
    built (an ``extra_body`` to merge) or the call's own ``params`` are sent as they are."""
    from completions_openai import adapter as openai_adapter

    from completions_core.request import ProviderRequest
    from completions_core.types import UserMessage

    class Extra(openai_adapter.OpenAIAdapter):
        def apply_options(self, options: Any, params: dict[str, Any], request: Any, *, stream: bool) -> None:
            super().apply_options(options, params, request, stream=stream)
            if extra is not None:
                params["extra_body"] = dict(extra)

    sent: list[dict[str, Any]] = []

    class Post:
        async def send(self, body: dict[str, Any], seconds: Any) -> Any:
            sent.append(dict(body))
            raise RuntimeError("sent")

    monkeypatch.setattr(openai_adapter, "prepared_post", lambda client: Post())
    adapter = Extra()
    request = ProviderRequest(provider="openai", model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    expected = adapter.build_request(request, stream=True)
    expected.pop("timeout", None)
    merged = expected.pop("extra_body", {})
    expected = {**expected, **merged}
    with pytest.raises(Exception):  # noqa: B017 - the fake post's error, mapped or not: the body is the point
        async for _ in adapter.stream(object(), request):
            pass
    assert sent == [expected]
    assert "extra_body" not in sent[0]
