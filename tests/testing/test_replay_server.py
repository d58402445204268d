"""The replay server's own behaviour, seen from a plain HTTP client (no provider SDK)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from pathlib import Path

import aiohttp
import anyio
import pytest

from completions_core.testing.cassettes import load_cassette, parse_cassette
from completions_core.testing.replay import MISMATCH_STATUS, Body, Fault, ReplayServer, Stream, with_prefix

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).parent / "cassettes"


async def _post(url: str, payload: object = None) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, json=payload) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def _raw_exchange(server: ReplayServer, path: str) -> tuple[bytes, bytes]:
    """Send one request on a raw socket and return (head, body-with-chunk-framing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _chunks(framed: bytes) -> list[bytes]:
    chunks: list[bytes] = []
    while True:
        size_line, _, rest = framed.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(rest[:size])
        framed = rest[size + 2 :]


async def test_cassette_interactions_are_served_in_order(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"))
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_error_404_model_not_found.yaml"))
    first, _, _ = await _post(server.url + "/v1/chat/completions")
    second, _, body = await _post(server.url + "/v1/chat/completions")
    assert (first, second) == (200, 404)
    assert b"model_not_found" in body
    server.assert_all_used()


async def test_recorded_status_headers_and_body_are_sent_as_recorded(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "openai/chat_text.yaml")[0]
    server.enqueue_interaction(interaction)
    status, headers, body = await _post(server.url + "/v1/chat/completions")
    assert status == 200
    assert headers["content-type"] == interaction.response.content_type
    assert headers["x-request-id"] == interaction.response.header("x-request-id")
    assert headers["x-ratelimit-remaining-tokens"] == interaction.response.header("x-ratelimit-remaining-tokens")
    assert body == interaction.response.body.encode()


async def test_a_recorded_content_encoding_is_never_sent(server: ReplayServer) -> None:
    cassette = parse_cassette(
        {
            "interactions": [
                {
                    "request": {"method": "POST", "uri": "https://api.example/v1/x", "body": ""},
                    "response": {
                        "status": {"code": 200, "message": "OK"},
                        "headers": {"content-type": ["application/json"], "content-encoding": ["gzip"]},
                        "body": {"string": '{"ok": true}'},
                    },
                }
            ]
        }
    )
    server.enqueue_cassette(cassette)
    head, body = await _raw_exchange(server, "/v1/x")
    assert b"content-encoding" not in head.lower()
    assert body == b'{"ok": true}'


async def test_a_request_on_another_path_gets_599_and_is_recorded_as_a_mismatch(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"))
    status, _, body = await _post(server.url + "/v1/embeddings")
    assert status == MISMATCH_STATUS
    assert b"replay_mismatch" in body and b"/v1/embeddings" in body
    assert len(server.mismatches) == 1
    assert server.mismatches[0].request.path == "/v1/embeddings"
    assert server.mismatches[0].expected is not None and "/v1/chat/completions" in server.mismatches[0].expected
    assert not server.requests[0].matched
    with pytest.raises(AssertionError, match="does not match the next queued reply"):
        server.assert_all_used()


async def test_a_mismatched_reply_stays_queued_for_the_right_request(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"))
    await _post(server.url + "/v1/wrong")
    status, _, _ = await _post(server.url + "/v1/chat/completions")
    assert status == 200 and server.pending == 0
    assert len(server.mismatches) == 1


async def test_a_request_with_nothing_queued_is_a_mismatch(server: ReplayServer) -> None:
    status, _, _ = await _post(server.url + "/v1/chat/completions")
    assert status == MISMATCH_STATUS
    assert str(server.mismatches[0]) == "unexpected request POST /v1/chat/completions: nothing queued"


async def test_a_wrong_method_is_a_mismatch(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"))
    async with aiohttp.ClientSession() as http, http.get(server.url + "/v1/chat/completions") as response:
        assert response.status == MISMATCH_STATUS
    assert server.pending == 1


async def test_assert_all_used_names_replies_never_requested(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "anthropic/messages_text.yaml"))
    with pytest.raises(AssertionError, match=r"never requested: POST /v1/messages \(messages_text.yaml\[0\]\)"):
        server.assert_all_used()


async def test_received_requests_keep_path_query_headers_and_json(server: ReplayServer) -> None:
    server.enqueue_json(200, {"ok": True})
    async with aiohttp.ClientSession() as http:
        url = server.url + "/v1beta/models/m:streamGenerateContent?alt=sse&key=k"
        async with http.post(url, json={"a": 1}, headers={"X-Goog-Api-Key": "secret"}) as response:
            assert response.status == 200
    received = server.requests[0]
    assert received.method == "POST"
    assert received.path == "/v1beta/models/m:streamGenerateContent"
    assert received.query == {"alt": "sse", "key": "k"}
    assert received.match_path == "/v1beta/models/m:streamGenerateContent?alt=sse"
    assert received.headers["x-goog-api-key"] == "secret"
    assert received.json() == {"a": 1}
    assert received.done and not received.closed_early


async def test_alt_sse_query_must_match(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "gemini/stream_text.yaml"))
    path = "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent"
    status, _, _ = await _post(server.url + path)
    assert status == MISMATCH_STATUS
    status, _, _ = await _post(server.url + path + "?alt=sse&key=ignored")
    assert status == 200


async def test_a_path_string_serves_an_interaction_on_another_path(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"), path="/other/chat")
    status, _, _ = await _post(server.url + "/other/chat")
    assert status == 200
    server.assert_all_used()


async def test_with_prefix_serves_recorded_paths_under_a_base_path(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "openai/chat_text.yaml"), path=with_prefix("/compatible-mode"))
    status, _, _ = await _post(server.url + "/compatible-mode/v1/chat/completions")
    assert status == 200
    server.assert_all_used()


async def test_streams_are_sent_chunked_in_pieces_of_chunk_size(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "openai/chat_stream_text.yaml")[0]
    server.enqueue_interaction(interaction)
    head, framed = await _raw_exchange(server, "/v1/chat/completions")
    chunks = _chunks(framed)
    body = interaction.response.body.encode()
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"content-type: text/event-stream; charset=utf-8" in head.lower()
    assert b"".join(chunks) == body
    assert [len(chunk) for chunk in chunks[:-1]] == [13] * (len(chunks) - 1)
    assert len(chunks) == -(-len(body) // 13)


async def test_chunk_size_can_be_set_per_server_and_per_stream() -> None:
    async with ReplayServer(chunk_size=5) as server:
        server.enqueue_sse(["data: 1234567890"])
        server.enqueue_sse(["data: 1234567890"], chunk_size=100)
        _, small = await _raw_exchange(server, "/a")
        _, whole = await _raw_exchange(server, "/b")
    assert [len(chunk) for chunk in _chunks(small)] == [5, 5, 5, 3]
    assert _chunks(whole) == [b"data: 1234567890\n\n"]


async def test_enqueue_sse_adds_the_blank_line_that_ends_each_event(server: ReplayServer) -> None:
    server.enqueue_sse(["data: {}", "event: ping\ndata: {}\n\n", "data: [DONE]"], headers={"x-request-id": "r1"})
    status, headers, body = await _post(server.url + "/x")
    assert status == 200 and headers["content-type"] == "text/event-stream" and headers["x-request-id"] == "r1"
    assert body == b"data: {}\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n"


async def test_enqueue_json_sends_status_headers_and_serialized_body(server: ReplayServer) -> None:
    server.enqueue_json(529, {"type": "error", "error": {"type": "overloaded_error"}}, {"request-id": "req_1"})
    status, headers, body = await _post(server.url + "/v1/messages")
    assert status == 529
    assert headers["content-type"] == "application/json" and headers["request-id"] == "req_1"
    assert body == b'{"type": "error", "error": {"type": "overloaded_error"}}'


async def test_fault_status_sends_retry_after_in_seconds_and_milliseconds(server: ReplayServer) -> None:
    server.enqueue(Fault.status(429, retry_after=2.0, retry_after_ms=1500))
    status, headers, body = await _post(server.url + "/x")
    assert status == 429
    assert headers["retry-after"] == "2" and headers["retry-after-ms"] == "1500"
    assert b"injected HTTP 429" in body


async def test_enqueue_with_method_and_path_checks_them(server: ReplayServer) -> None:
    server.enqueue(Fault.status(503), method="post", path="/v1/messages")
    status, _, _ = await _post(server.url + "/v1/other")
    assert status == MISMATCH_STATUS
    status, _, _ = await _post(server.url + "/v1/messages")
    assert status == 503


async def test_truncated_json_keeps_half_the_body_by_default(server: ReplayServer) -> None:
    server.enqueue(Fault.truncated_json({"key": "0123456789"}))
    status, _, body = await _post(server.url + "/x")
    assert status == 200 and body == b'{"key": "0'


async def test_a_hang_released_by_an_event_serves_its_follow_up_reply(server: ReplayServer) -> None:
    release = asyncio.Event()
    server.enqueue(Fault.hang(release=release, then=Body.from_json({"late": True})))
    request = asyncio.ensure_future(_post(server.url + "/x"))
    received = await server.wait_for_requests(1)
    assert not received.done
    release.set()
    status, _, body = await request
    assert (status, body) == (200, b'{"late": true}')
    assert not received.closed_early


async def test_a_paused_stream_resumes_on_release_by_an_anyio_event(server: ReplayServer) -> None:
    release = anyio.Event()
    server.enqueue(Stream(["data: 1", "data: 2", "data: 3"]).then_hang(after_events=1, release=release))
    async with aiohttp.ClientSession() as http, http.post(server.url + "/x") as response:
        first = await response.content.readuntil(b"\n\n")
        release.set()
        rest = await response.content.read()
    assert first == b"data: 1\n\n" and rest == b"data: 2\n\ndata: 3\n\n"


async def test_a_client_leaving_a_hang_is_recorded_as_a_disconnect(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    request = asyncio.ensure_future(_post(server.url + "/x"))
    received = await server.wait_for_requests(1)
    request.cancel()
    await server.wait_for_disconnects(1)
    assert received.closed_early and received.done and server.disconnects == 1
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_a_hang_left_open_does_not_block_shutdown_and_is_not_a_disconnect() -> None:
    async with aiohttp.ClientSession() as http:
        async with ReplayServer() as server:
            server.enqueue(Fault.hang())
            request = asyncio.ensure_future(http.post(server.url + "/x"))
            received = await server.wait_for_requests(1)
        with pytest.raises(aiohttp.ClientError):
            await request
    assert received.done and not received.closed_early


async def test_then_reset_needs_exactly_one_limit() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Stream(["data: 1"]).then_reset()
    with pytest.raises(ValueError, match="exactly one"):
        Stream(["data: 1"]).then_reset(after_events=1, after_bytes=3)


async def test_the_server_frees_its_port_and_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    async with ReplayServer() as server:
        server.enqueue_sse(["data: 1"])
        await _post(server.url + "/x")
        port = server.port
    assert asyncio.all_tasks() <= before
    probe = socket.socket()
    try:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        probe.close()


async def test_waiting_for_requests_that_never_come_fails_with_a_message(server: ReplayServer) -> None:
    server.wait_limit = 0.01
    with pytest.raises(TimeoutError, match=r"still waiting for 1 request\(s\)"):
        await server.wait_for_requests(1)


async def test_request_bodies_over_one_mebibyte_are_accepted(server: ReplayServer) -> None:
    server.enqueue_json(200, {"ok": True})
    payload = json.dumps({"blob": "x" * (2 * 1024 * 1024)}).encode()
    async with aiohttp.ClientSession() as http, http.post(server.url + "/upload", data=io.BytesIO(payload)) as response:
        assert response.status == 200
    assert server.requests[0].body == payload


def _raw_body(head: bytes, body: bytes) -> bytes:
    """A response's body as sent: chunk framing removed when it was chunked."""
    return b"".join(_chunks(body)) if b"transfer-encoding: chunked" in head.lower() else body


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_stream_asked_to_be_compressed_is_compressed_per_event(server: ReplayServer, encoding: str) -> None:
    import zlib

    events = ['data: {"n": 1}\n\n', 'data: {"n": 2}\n\n', "data: [DONE]\n\n"]
    server.enqueue(Stream(events, encoding=encoding))
    head, framed = await _raw_exchange(server, "/v1/chat/completions")
    assert f"content-encoding: {encoding}".encode() in head.lower()
    wire = _raw_body(head, framed)
    assert not wire.startswith(b"data:")  # really compressed on the wire
    decoder = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    # Flushed after every event (a sync flush ends with an empty stored block, 00 00 ff ff): the
    # bytes up to the first flush decode to the first event, whole.
    flush = b"\x00\x00\xff\xff"
    end = wire.index(flush) + len(flush)
    first = decoder.decompress(wire[:end])
    assert first == events[0].encode()
    rest = decoder.decompress(wire[end:])
    assert decoder.eof and first + rest == "".join(events).encode()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_asked_to_be_compressed_is_sent_compressed_with_its_length(
    server: ReplayServer, encoding: str
) -> None:
    import zlib

    server.enqueue(Fault.status(429, retry_after=3, encoding=encoding))
    head, body = await _raw_exchange(server, "/v1/chat/completions")
    assert head.startswith(b"HTTP/1.1 429") and f"content-encoding: {encoding}".encode() in head.lower()
    assert f"content-length: {len(body)}".encode() in head.lower() and b"retry-after: 3" in head.lower()
    assert json.loads(zlib.decompress(body, wbits=31 if encoding == "gzip" else 15))["error"]["code"] == 429
    # A plain HTTP client decodes it as any compressed answer.
    server.enqueue(Body.from_json({"ok": True}, encoding=encoding))
    status, headers, data = await _post(server.url + "/v1/chat/completions")
    assert (status, headers["content-encoding"], json.loads(data)) == (200, encoding, {"ok": True})


async def test_an_encoding_the_server_cannot_make_goes_out_as_given(server: ReplayServer) -> None:
    server.enqueue(Body(b"\x00opaque", encoding="x-unknown"))
    head, body = await _raw_exchange(server, "/v1/chat/completions")
    assert b"content-encoding: x-unknown" in head.lower() and body == b"\x00opaque"


async def test_by_default_nothing_is_encoded(server: ReplayServer) -> None:
    server.enqueue(Stream(["data: 1\n\n"]))
    server.enqueue(Body.from_json({"ok": True}))
    for _ in range(2):
        head, body = await _raw_exchange(server, "/v1/chat/completions")
        assert b"content-encoding" not in head.lower()
        assert _raw_body(head, body) in (b"data: 1\n\n", b'{"ok": true}')


def test_an_encoding_must_name_one_encoding() -> None:
    for bad in ("", "identity", "gzip, br"):
        with pytest.raises(ValueError, match="one content encoding"):
            Stream([], encoding=bad)


async def test_encoded_bytes_go_out_as_given_under_their_coding(server: ReplayServer) -> None:
    server.enqueue(Body(b"\x1f\x8bnot really gzip", encoding="gzip", encoded=True))
    head, body = await _raw_exchange(server, "/v1/chat/completions")
    assert b"content-encoding: gzip" in head.lower() and body == b"\x1f\x8bnot really gzip"


async def test_a_close_delimited_body_has_no_length_and_ends_with_the_connection(server: ReplayServer) -> None:
    server.enqueue(Body("data: 1\n\ndata: 2\n\n", status=201, headers={"x-id": "7"}, content_type="text/event-stream",
                        close_delimited=True))  # fmt: skip
    head, body = await _raw_exchange(server, "/v1/chat/completions")
    lowered = head.lower()
    assert head.startswith(b"HTTP/1.1 201 Created") and b"x-id: 7" in lowered
    assert b"content-length" not in lowered and b"transfer-encoding" not in lowered
    assert body == b"data: 1\n\ndata: 2\n\n"
    # A plain HTTP client reads it to the close; the server is ready for the next request.
    server.enqueue(Body(json.dumps({"n": 1}), content_type="application/json", close_delimited=True))
    status, _, data = await _post(server.url + "/v1/chat/completions")
    assert (status, json.loads(data)) == (200, {"n": 1})
    server.assert_all_used()
