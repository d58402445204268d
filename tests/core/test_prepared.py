"""core's prepared post, on a stand-in for a generated SDK client (its public surface only) and a
mock transport: what it sends, which clients keep their SDK's sending, and which error it raises."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional, cast

import aiohttp
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from completions_core import upstream as upstream_module
from completions_core.prepared import AiohttpBody, SDKErrors, prepared_post, remember
from completions_core.testing.replay import ReplayServer
from completions_core.testing.replies import Stream

pytestmark = pytest.mark.anyio


class TimedOut(Exception):
    def __init__(self, request: httpx2.Request) -> None:
        super().__init__("timed out")
        self.request = request


class Unreachable(Exception):
    def __init__(self, request: httpx2.Request) -> None:
        super().__init__("unreachable")
        self.request = request


class Status(Exception):
    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"status {response.status_code}: {response.text}")
        self.response = response


ERRORS = SDKErrors(timeout=TimedOut, connection=Unreachable, status=Status)


class StandIn:
    """The public attributes of a Stainless-style client that the prepared post reads."""

    def __init__(self, base_url: str = "http://upstream.test/v1", **extra: Any) -> None:
        self.base_url = httpx2.URL(base_url)
        self.timeout: Optional[httpx2.Timeout] = httpx2.Timeout(30.0, connect=5.0)
        self.auth_headers = {"X-Api-Key": "secret-key"}
        self.default_headers: dict[str, object] = {"x-sdk": "1", "omitted": object()}
        self.default_query: dict[str, str] = {}
        self.custom_auth: Any = None
        self.middleware: tuple[Any, ...] = ()
        self.open_telemetry: Any = {"traces": {"enabled": False}}
        for name, value in extra.items():
            setattr(self, name, value)


def http_answering(reply: httpx2.Response | Exception, seen: list[httpx2.Request]) -> httpx2.AsyncClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer), headers={"user-agent": "stand-in"})


async def test_the_request_carries_the_clients_headers_url_timeout_and_body() -> None:
    seen: list[httpx2.Request] = []
    client, http = StandIn(), http_answering(httpx2.Response(200, content=b"data: 1\n\n"), seen)
    remember(client, http, "/messages", ERRORS, ("x-timeout", "x-read-timeout"))
    post = prepared_post(client)
    assert post is not None
    response = await post.send({"model": "m", "stream": True}, 12.5)
    assert not response.direct  # not an aiohttp transport: read through httpx2's response
    assert (await response.aread()) == b"data: 1\n\n"
    response = await post.send({"model": "m"}, None)
    await response.aclose()
    await http.aclose()
    first, second = seen
    assert str(first.url) == "http://upstream.test/v1/messages" and first.method == "POST"
    assert first.headers["x-api-key"] == "secret-key" and first.headers["x-sdk"] == "1"
    assert "omitted" not in first.headers and first.headers["user-agent"] == "stand-in"
    assert first.headers["x-stainless-retry-count"] == "0"
    assert first.headers["x-timeout"] == first.headers["x-read-timeout"] == "12.5"
    assert first.extensions["timeout"] == httpx2.Timeout(12.5).as_dict()
    assert second.headers["x-read-timeout"] == "30.0"
    assert second.extensions["timeout"] == httpx2.Timeout(30.0, connect=5.0).as_dict()
    assert first.content == b'{"model":"m","stream":true}'


def built_by_httpx2(post: Any, body: dict[str, Any], seconds: Optional[float], cookies: Any = None) -> httpx2.Request:
    """The request httpx2's own building makes from the prepared post's headers: what it sent before."""
    limit = post.timeout if seconds is None else httpx2.Timeout(seconds)
    read = seconds if seconds is not None else limit.read
    extra = [(name, str(read).encode()) for name in post.timeout_headers] if read is not None else []
    return httpx2.Request("POST", post.url, headers=[*post.headers, *extra], cookies=cookies,
                          content=b'{"model":"m","stream":true}', extensions={"timeout": limit.as_dict()})


@pytest.mark.parametrize(
    "client_headers",
    [
        {},
        {"x-timeout": "1"},  # names a header each request adds: httpx2 builds each request
        {"Content-Length": "5"},
        {"Host": "elsewhere.test"},
        {"Transfer-Encoding": "chunked"},
    ],
)
@pytest.mark.parametrize("seconds", [12.5, None])
async def test_the_request_is_the_one_httpx2_builds(client_headers: dict[str, str], seconds: Optional[float]) -> None:
    client, http = StandIn(), http_answering(httpx2.Response(200), [])
    client.default_headers.update(client_headers)
    remember(client, http, "/messages", ERRORS, ("x-timeout", "x-read-timeout"))
    post = prepared_post(client)
    assert post is not None
    for _ in range(2):  # the first request makes what every later one copies
        made, expected = post.request({"model": "m", "stream": True}, seconds), built_by_httpx2(post, {}, seconds)
        assert made.headers.raw == expected.headers.raw
        assert (made.method, made.url, made.content, made.extensions) == (
            expected.method, expected.url, expected.content, expected.extensions,
        )
        assert isinstance(made.stream, httpx2.ByteStream) and b"".join(made.stream) == made.content
    # Built from headers normalised once unless the client's own name one a request adds.
    assert (post.head is None) == bool({name.lower() for name in client_headers} - {"host"})
    http.cookies.set("__cf_bm", "abc123", domain="upstream.test")
    made = post.request({"model": "m", "stream": True}, seconds)
    expected = built_by_httpx2(post, {}, seconds, http.cookies)
    assert made.headers.raw == expected.headers.raw and made.headers["cookie"] == "__cf_bm=abc123"
    await http.aclose()


@pytest.mark.parametrize(
    "setting",
    [
        {"base_url": "http://upstream.test/v1?version=2"},
        {"default_query": {"api-version": "2"}},
        {"custom_auth": object()},
        {"middleware": (object(),)},
        {"open_telemetry": {"traces": {"enabled": True}, "tracer_provider": object()}},
    ],
)
async def test_a_client_configured_beyond_what_it_repeats_keeps_its_sdks_sending(setting: dict[str, Any]) -> None:
    client, http = StandIn(**setting), http_answering(httpx2.Response(200), [])
    remember(client, http, "/messages", ERRORS)
    assert prepared_post(client) is None
    await http.aclose()


async def test_a_tracing_client_has_no_prepared_post_while_a_trace_is_active() -> None:
    traced, quiet = StandIn(open_telemetry={"traces": {"enabled": True}}), StandIn()
    http = http_answering(httpx2.Response(200), [])
    for client in (traced, quiet):
        remember(client, http, "/messages", ERRORS)
    assert prepared_post(traced) is not None and prepared_post(quiet) is not None
    parent = NonRecordingSpan(SpanContext(0x1234, 0x5678, False, TraceFlags(1)))
    with trace.use_span(parent):
        assert prepared_post(traced) is None
        assert prepared_post(quiet) is not None
    await http.aclose()


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (httpx2.ReadTimeout("slow"), TimedOut),
        (httpx2.ConnectError("refused"), Unreachable),
        (OSError("x"), Unreachable),
    ],
)
async def test_a_failed_connection_raises_the_sdks_error(failure: Exception, raised: type[Exception]) -> None:
    seen: list[httpx2.Request] = []
    client, http = StandIn(), http_answering(failure, seen)
    remember(client, http, "/messages", ERRORS)
    post = prepared_post(client)
    assert post is not None
    with pytest.raises(raised) as info:
        await post.send({"model": "m"}, None)
    assert isinstance(info.value, (TimedOut, Unreachable)) and info.value.request is seen[0]
    assert info.value.__cause__ is failure
    await http.aclose()


async def test_a_failed_status_raises_the_sdks_status_error_with_the_body_read() -> None:
    client, http = StandIn(), http_answering(httpx2.Response(429, json={"error": "slow down"}), [])
    remember(client, http, "/messages", ERRORS)
    post = prepared_post(client)
    assert post is not None
    with pytest.raises(Status) as info:
        await post.send({"model": "m"}, None)
    assert info.value.response.status_code == 429 and info.value.response.is_closed
    assert "slow down" in str(info.value)
    await http.aclose()


async def test_a_client_gone_leaves_no_prepared_post() -> None:
    import gc

    http = http_answering(httpx2.Response(200), [])
    client = StandIn()
    remember(client, http, "/messages", ERRORS)
    post = prepared_post(client)
    assert post is not None
    del client
    gc.collect()
    assert post.client() is None
    with pytest.raises(RuntimeError, match="client of this prepared post is gone"):
        post.headers  # noqa: B018 - the property raises
    await http.aclose()


def test_an_object_no_weak_reference_names_has_no_prepared_post() -> None:
    assert prepared_post(("not", "a", "client")) is None


class Mapped(Exception):
    """What a transport's error mapping makes of a read's failure."""


@contextmanager
def mapping() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        raise Mapped(type(exc).__name__) from exc


async def test_an_aiohttp_body_reads_the_stream_to_its_end(server: ReplayServer) -> None:
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]))
    async with aiohttp.ClientSession() as session:
        response = await session.post(server.url + "/v1/stream", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=30))
        body = AiohttpBody(response, response.release, mapping)
        chunks = [chunk async for chunk in body.aiter_bytes()]
        assert await body.read() == b""
        await body.aclose()
    assert b"".join(chunks) == b"data: 1\n\ndata: 2\n\n"


@pytest.mark.parametrize("how", ["aiter_bytes", "read"])
async def test_an_upstream_silent_mid_stream_fails_the_read_with_aiohttps_timeout(server: ReplayServer, how: str) -> None:
    # aiohttp's own read timer (sock_read) guards the reads made straight from its response: the
    # waiting read fails with its timeout, mapped as the caller's transport maps it; closing the
    # body then drops the connection.
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]).then_hang(after_events=1))
    received: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        response = await session.post(server.url + "/v1/stream", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=0.1))
        body = AiohttpBody(response, response.release, mapping)
        assert response.connection is not None and response.connection.protocol is not None
        assert response.connection.protocol.read_timeout == 0.1
        with pytest.raises(Mapped) as info:
            if how == "read":
                while data := await body.read():
                    received.append(data)
            else:
                async for data in body.aiter_bytes():
                    received.append(data)
        await body.aclose()
        await server.wait_for_disconnects(1)
    assert received == [b"data: 1\n\n"]
    assert isinstance(info.value.__cause__, aiohttp.SocketTimeoutError)
    assert isinstance(info.value.__cause__, TimeoutError)


async def _lock_step_server() -> tuple[asyncio.Server, list[asyncio.Queue[bytes]]]:
    """A server that answers a stream on each connection, then writes one chunk per item put in
    that connection's queue (``b""`` closes it): every chunk arrives as its own read. The queues
    are in the order the connections came."""
    queues: list[asyncio.Queue[bytes]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go: asyncio.Queue[bytes] = asyncio.Queue()
        queues.append(go)
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        while chunk := await go.get():
            writer.write(chunk)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(serve, "127.0.0.1", 0), queues


def _sweeper_handles(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    scheduled: list[asyncio.TimerHandle] = cast(Any, loop)._scheduled
    return [
        handle for handle in scheduled
        if not handle.cancelled() and getattr(getattr(handle, "_callback", None), "__self__", None) is upstream_module._sweeper()
    ]


async def test_reading_a_body_arms_no_timer_per_chunk_and_the_sweeper_stops_when_the_last_body_closes() -> None:
    # aiohttp cancels its read timer and sets a new one for every chunk it receives (each left on
    # the loop's heap until the heap is compacted); the bodies read straight are guarded by one
    # sweeper per loop instead: reading adds no timer, and with no body open no timer is left.
    loop = asyncio.get_running_loop()
    server, queues = await _lock_step_server()
    port = server.sockets[0].getsockname()[1]
    scheduled: list[asyncio.TimerHandle] = cast(Any, loop)._scheduled
    async with aiohttp.ClientSession() as session:
        responses = [
            await session.post(f"http://127.0.0.1:{port}/", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=30))
            for _ in range(2)
        ]
        bodies = [AiohttpBody(response, response.release, mapping) for response in responses]
        readers = [body.aiter_bytes() for body in bodies]
        for go in queues:
            go.put_nowait(b"data: 0\n\n")
        assert [await anext(reader) for reader in readers] == [b"data: 0\n\n"] * 2
        [sweep] = _sweeper_handles(loop)
        assert len(cast(Any, sweep)._context) == 0  # run in an empty context: no request's variables kept alive
        before = len(scheduled)
        for index in range(1, 60):
            chunk = f"data: {index}\n\n".encode()
            for go in queues:
                go.put_nowait(chunk)
            assert [await anext(reader) for reader in readers] == [chunk, chunk]
        assert len(scheduled) <= before + 1
        assert len(_sweeper_handles(loop)) == 1
        await bodies[0].aclose()
        assert upstream_module._sweeper().armed and len(_sweeper_handles(loop)) == 1  # one body still open
        await bodies[1].aclose()
    for go in queues:
        go.put_nowait(b"")
    server.close()
    await server.wait_closed()
    assert not upstream_module._sweeper().armed and _sweeper_handles(loop) == []


async def test_a_silent_body_is_cut_while_a_body_with_a_longer_timeout_is_open(server: ReplayServer) -> None:
    # The sweeper sweeps as often as the shortest timeout of the bodies open needs; the body that
    # keeps its long timeout is not cut.
    lock_step, queues = await _lock_step_server()
    port = lock_step.sockets[0].getsockname()[1]
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]).then_hang(after_events=1))
    async with aiohttp.ClientSession() as session:
        patient = await session.post(f"http://127.0.0.1:{port}/", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=600))
        long_body = AiohttpBody(patient, patient.release, mapping)
        [go] = queues
        go.put_nowait(b"data: 0\n\n")
        assert await long_body.read() == b"data: 0\n\n"
        response = await session.post(server.url + "/v1/stream", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=0.1))
        body = AiohttpBody(response, response.release, mapping)
        assert await body.read() == b"data: 1\n\n"
        with pytest.raises(Mapped) as info:
            await body.read()
        await body.aclose()
        go.put_nowait(b"data: 1\n\n")
        assert await long_body.read() == b"data: 1\n\n"
        await long_body.aclose()
    go.put_nowait(b"")
    lock_step.close()
    await lock_step.wait_closed()
    assert isinstance(info.value.__cause__, aiohttp.SocketTimeoutError)


async def test_the_shortest_timeout_a_caller_may_set_does_not_make_the_sweeper_spin(server: ReplayServer) -> None:
    # A request's timeout may be as short as 10 ms (the codec's lower bound): the sweeper walks
    # every open body, so its period has a floor instead of following a caller's value down.
    from completions_core import codec

    assert upstream_module._sweep_period(codec.MIN_TIMEOUT) == upstream_module._SWEEP_FLOOR == 0.005
    assert upstream_module._sweep_period(0.1) == pytest.approx(0.005) and upstream_module._sweep_period(600) == 0.5
    loop = asyncio.get_running_loop()
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]))
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            server.url + "/v1/stream", data=b"{}", timeout=aiohttp.ClientTimeout(sock_read=codec.MIN_TIMEOUT)
        )
        body = AiohttpBody(response, response.release, mapping)
        assert await body.read()
        [sweep] = _sweeper_handles(loop)
        assert sweep.when() - loop.time() <= upstream_module._SWEEP_FLOOR
        assert upstream_module._sweeper()._period == upstream_module._SWEEP_FLOOR
        await body.aclose()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_an_encoded_body_on_the_aiohttp_transport_is_read_decoded(encoding: str) -> None:
    # The SDKs' aiohttp transport leaves decoding to httpx2: read straight, the body would be the
    # compressed bytes. Only a body with no content-encoding is read straight.
    from openai import DefaultAioHttpClient

    events = ['data: {"n": 1}\n\n', "data: [DONE]\n\n"]
    async with ReplayServer() as server:
        client, http = StandIn(server.url + "/v1"), DefaultAioHttpClient()
        remember(client, http, "/chat/completions", ERRORS)
        post = prepared_post(client)
        assert post is not None
        for reply in (Stream(events), Stream(events, encoding=encoding)):
            server.enqueue(reply)
            body = await post.send({"model": "m", "stream": True}, 5.0)
            try:
                assert body.direct == (reply.encoding is None)
                assert await body.aread() == "".join(events).encode()
            finally:
                await body.aclose()
        await http.aclose()


async def test_a_coding_the_http_client_cannot_decode_fails_the_read_naming_it() -> None:
    seen: list[httpx2.Request] = []
    answer = httpx2.Response(200, content=b"\x00opaque", headers={"content-encoding": "x-snappy"})
    client, http = StandIn(), http_answering(answer, seen)
    remember(client, http, "/messages", ERRORS)
    post = prepared_post(client)
    assert post is not None
    body = await post.send({"model": "m", "stream": True}, None)
    with pytest.raises(httpx2.DecodingError, match="content-encoding x-snappy cannot be decoded"):
        await body.aread()
    await body.aclose()


# -- the direct route to the SDKs' aiohttp transport -------------------------------------------------
# Each case is sent twice, on the direct route and through httpx2's ``AsyncClient.send`` (the route
# turned off), and what the provider received and the caller got must be the same.


def aiohttp_client(sdk: str, **options: Any) -> httpx2.AsyncClient:
    """An SDK's default aiohttp HTTP client (its vendored transport), as the adapters build them."""
    if sdk == "openai":
        import openai

        return openai.DefaultAioHttpClient(**options)
    import anthropic

    return anthropic.DefaultAioHttpClient(**options)


SDKS = pytest.mark.parametrize("sdk", ["openai", "anthropic"])


def aiohttp_post(
    base_url: str, sdk: str, client_headers: Optional[dict[str, str]] = None, **options: Any
) -> tuple[Any, httpx2.AsyncClient, StandIn]:
    """The prepared post of a stand-in client on ``sdk``'s aiohttp transport (keep the client:
    the post holds it weakly)."""
    client = StandIn(base_url)
    client.default_headers.update(client_headers or {})
    http = aiohttp_client(sdk, **options)
    remember(client, http, "/messages", ERRORS, ("x-timeout", "x-read-timeout"))
    post = prepared_post(client)
    assert post is not None
    return post, http, client


async def send_both_ways(post: Any, body: dict[str, Any], seconds: Optional[float]) -> list[Any]:
    """``post.send`` on the direct route, then through httpx2's send: each outcome (the body read,
    or the exception raised)."""
    outcomes: list[Any] = []
    for route in (None, False):
        post._route = route
        try:
            response = await post.send(body, seconds)
        except Exception as exc:  # noqa: BLE001 - compared by the caller
            outcomes.append(exc)
        else:
            try:
                outcomes.append((response.direct, await response.aread()))
            except Exception as exc:  # noqa: BLE001 - compared by the caller
                outcomes.append(exc)
            finally:
                await response.aclose()
        assert (post._route is not False) == (route is None)  # the first found the route
    return outcomes


class RawServer:
    """A loopback HTTP/1.1 server that keeps every request's bytes as they arrived on the wire."""

    def __init__(self, headers: bytes = b"Content-Type: text/event-stream\r\n", body: bytes = b"data: 1\n\n") -> None:
        self.received: list[bytes] = []
        self.server: Optional[asyncio.Server] = None
        self.answer = b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (headers, len(body), body)

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
                )
                self.received.append(head + await reader.readexactly(length))
                writer.write(self.answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@SDKS
@pytest.mark.parametrize("seconds", [12.5, None])
@pytest.mark.parametrize("client_headers", [{}, {"x-timeout": "1"}])
async def test_the_direct_route_puts_the_same_bytes_on_the_wire(
    sdk: str, seconds: Optional[float], client_headers: dict[str, str]
) -> None:
    async with RawServer() as server:
        post, http, _client = aiohttp_post(server.url + "/v1", sdk, client_headers)
        assert await send_both_ways(post, {"model": "m", "stream": True}, seconds) == [(True, b"data: 1\n\n")] * 2
        http.cookies.set("__cf_bm", "abc123", domain="127.0.0.1")  # a cookie in the jar goes out too
        assert await send_both_ways(post, {"model": "m", "stream": True}, seconds) == [(True, b"data: 1\n\n")] * 2
        await http.aclose()
    direct, sent, direct_cookie, sent_cookie = server.received
    assert direct == sent and direct_cookie == sent_cookie
    assert b"\r\nx-api-key: secret-key\r\n" in direct and direct.endswith(b'\r\n\r\n{"model":"m","stream":true}')
    assert b"\r\ncookie: __cf_bm=abc123\r\n" in direct_cookie and b"cookie:" not in direct


@SDKS
async def test_the_direct_route_fails_as_httpx2s_send_when_nothing_answers(sdk: str) -> None:
    from completions_core.testing.replies import refusing_port

    with refusing_port() as port:
        post, http, _client = aiohttp_post(f"http://127.0.0.1:{port}/v1", sdk)
        direct, sent = await send_both_ways(post, {"model": "m"}, None)
    await http.aclose()
    # Each SDK's transport maps aiohttp's error its own way (OpenAI's as a connect timeout).
    error, cause = (TimedOut, httpx2.ConnectTimeout) if sdk == "openai" else (Unreachable, httpx2.ConnectError)
    assert type(direct) is type(sent) is error
    assert type(direct.__cause__) is type(sent.__cause__) is cause
    assert direct.__cause__.request is direct.request  # the request attached, as httpx2 attaches it
    assert direct.request.headers.raw == sent.request.headers.raw and direct.request.content == sent.request.content


@SDKS
async def test_a_closed_direct_stream_is_freed_without_the_garbage_collector(sdk: str, server: ReplayServer) -> None:
    # A stream read to its end and closed leaves no reference cycle (the body held its owner's
    # bound close, the owner the body): its response is freed as soon as it is dropped, not at
    # the next full collection (held memory at 256 open streams, bench/README.md).
    post, http, _client = aiohttp_post(server.url + "/v1", sdk)
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]))
    upstream = await post.send({"model": "m"}, None)
    assert upstream.direct
    raw = weakref.ref(upstream._raw)
    stream = weakref.ref(upstream)
    reads = upstream.aiter_bytes()
    gc.disable()
    try:
        assert b"".join([chunk async for chunk in reads]) == b"data: 1\n\ndata: 2\n\n"
        await upstream.aclose()
        del upstream, reads
        assert stream() is None and raw() is None
    finally:
        gc.enable()
    await http.aclose()


@SDKS
async def test_the_direct_route_times_out_as_httpx2s_send(sdk: str, server: ReplayServer) -> None:
    from completions_core.testing.replies import Fault

    post, http, _client = aiohttp_post(server.url + "/v1", sdk)
    # No headers in time; then a stream that goes silent after its first event.
    server.enqueue(Fault.hang())
    server.enqueue(Fault.hang())
    before = await send_both_ways(post, {"model": "m"}, 0.1)
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]).then_hang(after_events=1))
    server.enqueue(Stream(["data: 1\n\n", "data: 2\n\n"]).then_hang(after_events=1))
    during = await send_both_ways(post, {"model": "m"}, 0.1)
    await server.wait_for_disconnects(4)
    await http.aclose()
    assert [type(exc) for exc in before] == [TimedOut, TimedOut]
    assert type(before[0].__cause__) is type(before[1].__cause__) and isinstance(before[0].__cause__, httpx2.TimeoutException)
    assert type(during[0]) is type(during[1]) and isinstance(during[0], httpx2.ReadTimeout)


@SDKS
@pytest.mark.parametrize("status", [400, 429, 500, 503])
async def test_the_direct_route_raises_the_status_error_with_the_body(sdk: str, status: int, server: ReplayServer) -> None:
    post, http, _client = aiohttp_post(server.url + "/v1", sdk)
    for _ in range(2):
        server.enqueue_json(status, {"error": {"message": "no"}}, headers={"x-request-id": "req_1"})
    direct, sent = await send_both_ways(post, {"model": "m"}, None)
    await http.aclose()
    assert type(direct) is type(sent) is Status and str(direct) == str(sent)
    for failure in (direct, sent):
        response = failure.response
        assert response.status_code == status and response.is_closed and response.headers["x-request-id"] == "req_1"
        assert response.request.url == post.url and response.json() == {"error": {"message": "no"}}
    assert [(name, value) for name, value in direct.response.headers.raw if name != b"Date"] == [
        (name, value) for name, value in sent.response.headers.raw if name != b"Date"
    ]


@SDKS
async def test_the_direct_route_keeps_the_cookies_a_provider_sets(sdk: str, server: ReplayServer) -> None:
    jars = []
    for route in (None, False):  # each way on a client of its own: the jar starts empty
        post, http, _client = aiohttp_post(server.url + "/v1", sdk)
        post._route = route
        server.enqueue(Stream(["data: 1\n\n"], headers={"Set-Cookie": "__cf_bm=abc123; Path=/; HttpOnly"}))
        server.enqueue(Stream(["data: 2\n\n"]))
        for _ in range(2):
            response = await post.send({"model": "m"}, None)
            assert response.direct  # the body is still read straight from aiohttp
            await response.aread()
            await response.aclose()
        jars.append(dict(http.cookies))
        await http.aclose()
    assert jars == [{"__cf_bm": "abc123"}] * 2
    first, second, third, fourth = server.requests
    assert "cookie" not in first.headers and "cookie" not in third.headers
    assert second.headers["cookie"] == fourth.headers["cookie"] == "__cf_bm=abc123"


@SDKS
@pytest.mark.parametrize("follow", [True, False])
async def test_the_direct_route_handles_a_redirect_as_httpx2s_send(sdk: str, follow: bool, server: ReplayServer) -> None:
    from completions_core.testing.replies import Body

    post, http, _client = aiohttp_post(server.url + "/v1", sdk, follow_redirects=follow)
    for _ in range(2):
        server.enqueue(Body(b"moved", status=307, headers={"Location": "/v1/elsewhere"}), path="/v1/messages")
        if follow:
            server.enqueue(Stream(["data: 1\n\n"]), path="/v1/elsewhere")
    direct, sent = await send_both_ways(post, {"model": "m"}, None)
    await http.aclose()
    if follow:
        assert direct == sent and direct[1] == b"data: 1\n\n"
        assert [(seen.path, seen.body) for seen in server.requests] == [
            ("/v1/messages", b'{"model":"m"}'), ("/v1/elsewhere", b'{"model":"m"}')
        ] * 2
    else:
        assert type(direct) is type(sent) is Status and str(direct) == str(sent) == "status 307: moved"
        for failure in (direct, sent):
            assert failure.response.next_request is not None
            assert failure.response.next_request.url == httpx2.URL(server.url + "/v1/elsewhere")
        assert len(server.requests) == 2


@SDKS
async def test_the_direct_route_writes_httpx2s_log_line(
    sdk: str, server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    post, http, _client = aiohttp_post(server.url + "/v1", sdk)
    server.enqueue(Stream(["data: 1\n\n"]))
    server.enqueue(Stream(["data: 1\n\n"]))
    with caplog.at_level(logging.INFO, logger="httpx2"):
        assert await send_both_ways(post, {"model": "m"}, None) == [(True, b"data: 1\n\n")] * 2
    await http.aclose()
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx2"]
    assert lines == [f'HTTP Request: POST {server.url}/v1/messages "HTTP/1.1 200 OK"'] * 2
    assert "secret-key" not in caplog.text


@SDKS
async def test_a_closed_client_refuses_on_the_direct_route_as_httpx2s_send(sdk: str, server: ReplayServer) -> None:
    post, http, _client = aiohttp_post(server.url + "/v1", sdk)
    await http.aclose()
    direct, sent = await send_both_ways(post, {"model": "m"}, None)
    assert type(direct) is type(sent) is Unreachable
    assert isinstance(direct.__cause__, RuntimeError) and "client has been closed" in str(direct.__cause__)
    assert str(direct.__cause__) == str(sent.__cause__) and server.requests == []


class OwnSend(httpx2.AsyncClient):
    async def send(self, request: httpx2.Request, **options: Any) -> httpx2.Response:
        request.headers["x-own-send"] = "1"
        return await super().send(request, **options)


@pytest.mark.parametrize("how", ["auth", "request hook", "response hook", "mount", "own send", "user in the URL"])
async def test_a_client_whose_send_does_something_keeps_httpx2s_send(how: str, server: ReplayServer) -> None:
    from openai._vendor.httpx_aiohttp.transport import AiohttpTransport

    seen: list[str] = []

    async def hook(message: Any) -> None:
        seen.append(type(message).__name__)

    def mocked(request: httpx2.Request) -> httpx2.Response:
        seen.append("mount")
        return httpx2.Response(200, content=b"data: m\n\n")

    base_url = server.url.replace("http://", "http://user:pw@") + "/v1" if how == "user in the URL" else server.url + "/v1"
    every: dict[str, dict[str, Any]] = {
        "auth": {"auth": ("user", "pw")},
        "request hook": {"event_hooks": {"request": [hook]}},
        "response hook": {"event_hooks": {"response": [hook]}},
        "mount": {"mounts": {server.url: httpx2.MockTransport(mocked)}},
    }
    options = every.get(how, {})
    http = (OwnSend if how == "own send" else httpx2.AsyncClient)(transport=AiohttpTransport(), **options)
    client = StandIn(base_url)
    remember(client, http, "/messages", ERRORS)
    post = prepared_post(client)
    assert post is not None
    if how == "user in the URL":  # through httpx2's send aiohttp refuses a URL's user with its header
        with pytest.raises(Unreachable) as info:
            await post.send({"model": "m"}, None)
        await http.aclose()
        assert post._route is False and "Cannot combine AUTHORIZATION header" in str(info.value.__cause__)
        return
    server.enqueue(Stream(["data: 1\n\n"]))
    response = await post.send({"model": "m"}, None)
    data = await response.aread()
    await response.aclose()
    await http.aclose()
    assert post._route is False or how in ("auth", "request hook", "response hook")
    if how == "mount":
        assert seen == ["mount"] and data == b"data: m\n\n"
        return
    received = server.requests[0]
    assert data == b"data: 1\n\n"
    if how == "auth":
        assert received.headers["authorization"] == "Basic dXNlcjpwdw=="
    elif how == "own send":
        assert received.headers["x-own-send"] == "1"
    else:
        assert seen == ["Request" if how == "request hook" else "Response"]


async def test_the_direct_route_answers_for_the_sdks_transport_with_no_send_layers(server: ReplayServer) -> None:
    post, http, _client = aiohttp_post(server.url + "/v1", "openai")
    server.enqueue(Stream(["data: 1\n\n"]))
    response = await post.send({"model": "m"}, 3.0)
    assert post._route and response.direct
    # httpx2's response is made only when asked for, as the transport makes it.
    assert response.response.status_code == 200 and response.response.headers["content-type"] == "text/event-stream"
    assert response.response.request.url == post.url and response.response.request.content == b'{"model":"m"}'
    assert await response.aread() == b"data: 1\n\n"
    await response.aclose()
    await http.aclose()


@SDKS
@pytest.mark.parametrize("coding", [b"gzip", b"identity"])
async def test_an_answer_with_a_content_coding_goes_through_httpx2s_response(sdk: str, coding: bytes) -> None:
    import gzip

    from completions_core.direct_route import _AiohttpStream

    data = b"data: 1\n\n"
    sent = gzip.compress(data) if coding == b"gzip" else data
    async with RawServer(b"Content-Type: text/event-stream\r\nContent-Encoding: " + coding + b"\r\n", sent) as server:
        post, http, _client = aiohttp_post(server.url + "/v1", sdk)
        kinds, bodies = [], []
        for route in (None, False):
            post._route = route
            response = await post.send({"model": "m"}, None)
            kinds.append(type(response) is _AiohttpStream)
            assert response.response.headers["content-encoding"] == coding.decode()
            bodies.append(await response.aread())
            await response.aclose()
        await http.aclose()
    # A coded body is read through httpx2's response as its send made it (the same either way);
    # an identity one straight from aiohttp.
    assert kinds == [coding == b"identity", False] and bodies[0] == bodies[1]
    assert coding == b"gzip" or bodies[0] == data


@pytest.mark.parametrize("transport", ["aiohttp", "httpx2"])
@SDKS
async def test_the_clients_the_adapters_build_take_the_direct_route_on_aiohttp(
    sdk: str, transport: str, server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from completions_anthropic import AnthropicAdapter
    from completions_openai import OpenAIAdapter

    from completions_core.adapter import Credential
    from completions_core.prepared import _Route
    from completions_core.redaction import Secret
    from completions_core.testing.requests import provider_request

    monkeypatch.setenv(f"COMPLETIONS_{sdk.upper()}_TRANSPORT", transport)
    adapter: Any = (OpenAIAdapter if sdk == "openai" else AnthropicAdapter)(base_url=server.url + "/v1")
    request = provider_request(sdk, "gpt-4o-mini" if sdk == "openai" else "claude-sonnet-4-5")
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("sk-test"))))
    post = prepared_post(client)
    assert post is not None
    server.enqueue(Stream(["data: 1\n\n"]))
    response = await post.send({"model": "m", "stream": True}, None)
    assert await response.aread() == b"data: 1\n\n"
    await response.aclose()
    await adapter.close_client(client)
    assert isinstance(post._route, _Route) == (transport == "aiohttp")



async def test_an_httpx2_without_an_internal_the_route_repeats_keeps_its_own_send(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later httpx2 that renamed one of its send's internals: the route is not taken at all (the
    # request still goes out, through httpx2's send), rather than failing half way.
    from types import SimpleNamespace

    from completions_core import direct_route as route

    post, http, _client_kept = aiohttp_post(server.url + "/v1", "openai")
    assert route._httpx2_as_known(http)
    known = {name: getattr(http, name) for name in (*route._HTTPX2_CLIENT_NAMES, *route._HTTPX2_CLIENT_METHODS)}
    known.update({name: getattr(http, name) for name in route._SEND_LAYERS})
    assert route._httpx2_as_known(SimpleNamespace(**known))
    for name in known:
        assert not route._httpx2_as_known(SimpleNamespace(**{k: v for k, v in known.items() if k != name})), name
    assert not route._httpx2_as_known(SimpleNamespace(**{**known, "_event_hooks": {}}))
    monkeypatch.setattr(route, "_httpx2_as_known", lambda http: False)
    server.enqueue(Stream(["data: 1\n\n"]))
    response = await post.send({"model": "m"}, None)
    data = await response.aread()
    await response.aclose()
    await http.aclose()
    assert post._route is False and data == b"data: 1\n\n"
