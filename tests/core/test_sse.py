"""Core's SSE readers: the same payloads however the body is cut into reads, bounded lines."""

from __future__ import annotations

import pytest

from completions_core.errors import ProviderError
from completions_core.sse import SSEPayloads

BODY = (
    b": keep-alive comment\n"
    b"event: message_start\n"
    b'data: {"a": 1}\n\n'
    b"id: 7\n"
    b'data:{"b":"caf\xc3\xa9"}\r\n\r\n'
    b"retry: 100\r"
    b"data: [DONE]\n\n"
    b'data:   {"c": [3]}  '
)
EXPECTED = [b'{"a": 1}', b'{"b":"caf\xc3\xa9"}', b'{"c": [3]}']


def _read(chunks: list[bytes]) -> list[bytes]:
    payloads = SSEPayloads("acme")
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(payloads.feed(chunk))
    return out + payloads.end()


def test_every_cut_into_two_or_three_reads_gives_the_same_payloads() -> None:
    assert _read([BODY]) == EXPECTED
    for i in range(len(BODY) + 1):
        assert _read([BODY[:i], BODY[i:]]) == EXPECTED, i
        for j in range(i, len(BODY) + 1, 7):
            assert _read([BODY[:i], BODY[i:j], BODY[j:]]) == EXPECTED, (i, j)


def test_one_byte_at_a_time() -> None:
    assert _read([BODY[i : i + 1] for i in range(len(BODY))]) == EXPECTED


def test_a_line_that_never_ends_is_refused_not_buffered_for_ever() -> None:
    payloads = SSEPayloads("acme", max_line=64)
    assert payloads.feed(b'data: {"ok": 1}\n' + b"x" * 60) == [b'{"ok": 1}']
    with pytest.raises(ProviderError) as caught:
        payloads.feed(b"x" * 10)
    assert caught.value.error_type == "invalid_response_error"
    assert caught.value.provider == "acme" and "64 bytes" in caught.value.message


def test_reads_of_one_whole_event_each_as_on_a_paced_stream() -> None:
    # One read per event, each ending with its blank line: the usual read of a paced stream.
    reads = [b'data: {"a": 1}\n\n', b"event: ping\n\n", b"data:  \n\n", b"\n\n", b"data: [DONE]\n\n",
             b'data:{"b": 2}\r\n\r\n', b"data: x\n", b"\n", b'data: {"c": 3}\n\n']
    payloads = SSEPayloads("acme")
    assert [payloads.feed(chunk) for chunk in reads] == [
        [b'{"a": 1}'], [], [], [], [], [b'{"b": 2}'], [b"x"], [], [b'{"c": 3}']
    ]
    assert payloads.end() == []
