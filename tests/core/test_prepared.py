"""core's prepared post, on a stand-in for a generated SDK client (its public surface only) and a
mock transport: what it sends, which clients keep their SDK's sending, and which error it raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import aiohttp
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

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
