"""What the replay server answers with: recorded bodies and streams, and injected faults.

:class:`~completions_core.testing.replay.ReplayServer` serves these; they are plain values, so
a test can build them, queue them and compare them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from completions_core.testing.cassettes import Interaction, RecordedResponse, split_sse_events

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ENCODINGS",
    "MISMATCH_STATUS",
    "Body",
    "Encoder",
    "Fault",
    "Hang",
    "HeaderInput",
    "PathOverride",
    "Releasable",
    "Reply",
    "Reset",
    "Stream",
    "refusing_port",
    "with_prefix",
]

#: Bytes per write for streamed bodies: small, so SSE events arrive split mid-line.
DEFAULT_CHUNK_SIZE = 13
#: Status of the answer to a request that matched nothing (outside the range providers use).
MISMATCH_STATUS = 599

HeaderInput: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
PathOverride: TypeAlias = str | Callable[[Interaction], str] | None

# The server computes these for the bytes it really sends; a recorded value would lie (a gzip
# content-encoding over a body that was decoded while curating, a stale content-length).
_DROPPED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive", "date", "server"}
)


#: The content encodings the server compresses a reply with (``encoding=`` of :class:`Body` and
#: :class:`Stream`): ``deflate`` is the zlib format, as HTTP defines it.
ENCODINGS = ("gzip", "deflate")


def _checked_encoding(encoding: str | None) -> str | None:
    if encoding is None:
        return None
    name = encoding.strip().lower()
    if not name or name == "identity" or any(c in name for c in "\r\n,"):
        raise ValueError(f"encoding must name one content encoding other than identity, not {encoding!r}")
    return name


class Encoder:
    """Compresses a reply as the server sends it: :meth:`feed` returns the encoded bytes of one
    piece (flushed, so that it can be decoded on arrival), :meth:`end` what closes the encoding.
    For a name not in :data:`ENCODINGS` (or None) the bytes go out as given."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = encoding
        wbits = {"gzip": 31, "deflate": 15}.get(encoding or "")
        self._compressor = zlib.compressobj(wbits=wbits) if wbits is not None else None

    def feed(self, data: bytes) -> bytes:
        """``data`` encoded, flushed to a byte boundary."""
        if self._compressor is None:
            return data
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def end(self) -> bytes:
        """What ends the encoded body (a gzip trailer, say)."""
        return b"" if self._compressor is None else self._compressor.flush()


class Releasable(Protocol):
    """Something a hang can wait on: ``asyncio.Event`` and ``anyio.Event`` both fit."""

    def is_set(self) -> bool:
        """Whether the hang is already released."""

    def wait(self) -> Awaitable[object]:
        """Wait until released."""


def _clean_headers(headers: HeaderInput | None, content_type: str | None = None) -> tuple[tuple[str, str], ...]:
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    cleaned = [(name.lower(), str(value)) for name, value in items]
    cleaned = [(name, value) for name, value in cleaned if name not in _DROPPED_HEADERS]
    if content_type is not None and not any(name == "content-type" for name, _ in cleaned):
        cleaned.insert(0, ("content-type", content_type))
    return tuple(cleaned)


def _recorded_headers(response: RecordedResponse) -> tuple[tuple[str, str], ...]:
    return _clean_headers([(name, value) for name, values in response.headers.items() for value in values])


def _as_events(events: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(events, str):
        return tuple(split_sse_events(events))
    # A list item is one event; add the blank line that ends it when the caller left it out.
    return tuple(
        event if event.endswith(("\n\n", "\r\n\r\n", "\r\r")) else event.rstrip("\r\n") + "\n\n" for event in events
    )


def _json_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload).encode("utf-8")


class Body:
    """A complete response with a body, sent with a content-length (not chunked).

    ``cut_after`` sends only that many body bytes, still announcing the full content-length, and
    then closes the connection: the client sees a body truncated in transit.

    ``encoding`` (one of :data:`ENCODINGS`) has the server compress the body it sends and name
    that in ``Content-Encoding`` (``cut_after`` then counts compressed bytes). Any other name is
    sent as the header over the body exactly as given: a test of an encoding the client cannot
    decode passes the bytes it wants on the wire. ``encoded`` says the body is already in
    ``encoding`` (a corrupt one, say): it is sent as given. Without it (the default) nothing is
    encoded.

    ``close_delimited`` sends no content-length: the body ends when the server closes the
    connection (as an HTTP/1.0-style upstream or some proxies do).
    """

    def __init__(
        self,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: HeaderInput | None = None,
        content_type: str | None = None,
        reason: str | None = None,
        cut_after: int | None = None,
        encoding: str | None = None,
        encoded: bool = False,
        close_delimited: bool = False,
    ) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.status = status
        self.headers = _clean_headers(headers, content_type)
        self.reason = reason
        self.cut_after = cut_after
        self.encoding = _checked_encoding(encoding)
        self.encoded = encoded
        self.close_delimited = close_delimited

    @classmethod
    def from_json(
        cls, payload: Any, *, status: int = 200, headers: HeaderInput | None = None, encoding: str | None = None
    ) -> Body:
        """A JSON response; ``payload`` is serialized unless it is already ``str``/``bytes``."""
        return cls(
            _json_bytes(payload), status=status, headers=headers, content_type="application/json", encoding=encoding
        )

    @classmethod
    def from_response(cls, response: RecordedResponse) -> Body:
        """The recorded response as it was: status, reason, headers and body text."""
        return cls(
            response.body,
            status=response.status,
            headers=_recorded_headers(response),
            reason=response.reason or None,
        )

    def __repr__(self) -> str:
        return f"Body(status={self.status}, {len(self.body)} bytes)"


class Stream:
    """A streamed response (SSE by default) written in small pieces with chunked encoding.

    ``events`` is raw SSE text (split at blank lines) or a list of events; a list item that does
    not end with a blank line gets ``\\n\\n`` appended. The ``then_*`` methods return a copy that
    misbehaves after some events.

    ``encoding`` (one of :data:`ENCODINGS`) has the server compress the stream as it sends it,
    flushed after every event (so that each event can be decoded as it arrives, as a compressing
    server or CDN does for SSE), and name it in ``Content-Encoding``; ``then_reset(after_bytes=)``
    then counts compressed bytes. Any other name is sent as the header over the events as given.
    Without it (the default) nothing is encoded.
    """

    def __init__(
        self,
        events: str | Sequence[str],
        *,
        status: int = 200,
        headers: HeaderInput | None = None,
        content_type: str = "text/event-stream",
        reason: str | None = None,
        chunk_size: int | None = None,
        encoding: str | None = None,
    ) -> None:
        self.events: tuple[str, ...] = _as_events(events)
        self.status = status
        self.headers = _clean_headers(headers, content_type)
        self.reason = reason
        self.chunk_size = chunk_size
        self.encoding = _checked_encoding(encoding)
        self.pause_after: int | None = None
        self.release: Releasable | None = None
        self.reset_after_events: int | None = None
        self.reset_after_bytes: int | None = None

    @classmethod
    def from_response(cls, response: RecordedResponse, *, chunk_size: int | None = None) -> Stream:
        """The recorded streamed response, events exactly as recorded."""
        return cls(
            response.body,
            status=response.status,
            headers=_recorded_headers(response),
            reason=response.reason or None,
            chunk_size=chunk_size,
        )

    def _copy(self) -> Stream:
        clone = copy.copy(self)
        clone.pause_after = clone.reset_after_events = clone.reset_after_bytes = None
        clone.release = None
        return clone

    def then_hang(self, after_events: int = 0, *, release: Releasable | None = None) -> Stream:
        """Send ``after_events`` events, then stall until the client disconnects.

        If ``release`` is set first, the rest of the events follow and the stream ends normally.
        ``after_events=0`` hangs right after the headers.
        """
        clone = self._copy()
        clone.pause_after = after_events
        clone.release = release
        return clone

    def then_reset(self, *, after_events: int | None = None, after_bytes: int | None = None) -> Stream:
        """Send ``after_events`` events (or ``after_bytes`` body bytes), then reset the connection."""
        if (after_events is None) == (after_bytes is None):
            raise ValueError("give exactly one of after_events or after_bytes")
        clone = self._copy()
        clone.reset_after_events = after_events
        clone.reset_after_bytes = after_bytes
        return clone

    def with_event(self, raw: str, *, at: int | None = None) -> Stream:
        """A copy with ``raw`` inserted verbatim at position ``at`` (default: the end).

        Nothing is added to ``raw``, so it can be a malformed or unterminated event.
        """
        clone = copy.copy(self)
        events = list(self.events)
        events.insert(len(events) if at is None else at, raw)
        clone.events = tuple(events)
        return clone

    def __repr__(self) -> str:
        return f"Stream(status={self.status}, {len(self.events)} events)"


class Hang:
    """No answer at all: the request stalls before any header is sent.

    The hang ends when the client disconnects, or when ``release`` is set; then ``then`` is served
    (or, without ``then``, the connection is closed with no response).
    """

    def __init__(self, *, release: Releasable | None = None, then: Reply | None = None) -> None:
        self.release = release
        self.then = then

    def __repr__(self) -> str:
        return f"Hang(then={self.then!r})"


class Reset:
    """The connection is reset (TCP RST) before any response header is sent."""

    def __repr__(self) -> str:
        return "Reset()"


Reply: TypeAlias = Body | Stream | Hang | Reset


def _error_payload(code: int) -> dict[str, Any]:
    return {"error": {"code": code, "type": "injected_fault", "message": f"injected HTTP {code}"}}


class Fault:
    """Factories for a misbehaving upstream; each returns a reply for :meth:`ReplayServer.enqueue`.

    Mid-stream faults are methods of :class:`Stream`: ``then_hang`` and ``then_reset``.
    """

    @staticmethod
    def status(
        code: int,
        body: Any = None,
        *,
        retry_after: float | str | None = None,
        retry_after_ms: int | None = None,
        headers: HeaderInput | None = None,
        encoding: str | None = None,
    ) -> Body:
        """An HTTP error with a JSON body (a generic one when ``body`` is None).

        ``retry_after`` is seconds (or a verbatim HTTP-date string) for ``Retry-After``;
        ``retry_after_ms`` sets ``retry-after-ms``, which the OpenAI and Anthropic SDKs prefer;
        ``encoding`` compresses the body (as :class:`Body`'s).
        """
        extra = list(_clean_headers(headers))
        if retry_after is not None:
            value = retry_after
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            extra.append(("retry-after", str(value)))
        if retry_after_ms is not None:
            extra.append(("retry-after-ms", str(retry_after_ms)))
        payload = _error_payload(code) if body is None else body
        return Body.from_json(payload, status=code, headers=extra, encoding=encoding)

    @staticmethod
    def reset() -> Reset:
        """Reset the connection before any response header."""
        return Reset()

    @staticmethod
    def hang(*, release: Releasable | None = None, then: Reply | None = None) -> Hang:
        """Stall before any header until the client disconnects (or ``release`` is set)."""
        return Hang(release=release, then=then)

    @staticmethod
    def hang_after_headers(
        *,
        release: Releasable | None = None,
        status: int = 200,
        content_type: str = "text/event-stream",
        headers: HeaderInput | None = None,
    ) -> Stream:
        """Send the headers of a stream, then stall before the first event."""
        return Stream((), status=status, headers=headers, content_type=content_type).then_hang(0, release=release)

    @staticmethod
    def truncated_json(
        payload: Any,
        *,
        keep: int | None = None,
        status: int = 200,
        drop_connection: bool = False,
        headers: HeaderInput | None = None,
    ) -> Body:
        """A JSON body cut after ``keep`` bytes (default: half of it).

        By default the HTTP message is complete and only the JSON is broken. With
        ``drop_connection`` the full content-length is announced and the connection closes after
        ``keep`` bytes, so the body is truncated in transit instead.
        """
        full = _json_bytes(payload)
        cut = len(full) // 2 if keep is None else keep
        if drop_connection:
            return Body(
                full,
                status=status,
                headers=headers,
                content_type="application/json",
                cut_after=cut,
            )
        return Body(full[:cut], status=status, headers=headers, content_type="application/json")

    @staticmethod
    def malformed_sse(
        before: str | Sequence[str] = (),
        *,
        event: str = 'data: {"truncated": \n\n',
        status: int = 200,
        headers: HeaderInput | None = None,
    ) -> Stream:
        """A stream whose events ``before`` are followed by one malformed event (bad JSON)."""
        return Stream(before, status=status, headers=headers).with_event(event)

    @staticmethod
    def wrong_content_type(
        body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>",
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
    ) -> Body:
        """A successful-looking response that is not what the SDK expects (an HTML page)."""
        return Body(body, status=status, content_type=content_type)


def with_prefix(prefix: str) -> Callable[[Interaction], str]:
    """A path override that serves a recorded path under ``prefix``.

    ``with_prefix("/compatible-mode")`` serves a recorded ``/v1/chat/completions`` on
    ``/compatible-mode/v1/chat/completions`` (DashScope's OpenAI-compatible base URL).
    """
    clean = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def rewrite(interaction: Interaction) -> str:
        return clean + interaction.request.match_path

    return rewrite


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs.

    The socket stays bound (but never listens), so no other server of the test run can take the
    port meanwhile: a connection to it is refused every time, not just usually.
    """
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()
