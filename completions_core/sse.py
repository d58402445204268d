"""Server-sent events: the ``data:`` payloads of a response body.

Adapters that read a provider's stream without its SDK's event decoder (or from the SDK's raw
response) use one of these instead of each writing the loop again:

- :class:`SSEPayloads` splits the raw body, read in byte chunks of any size, into the payloads
  each chunk completes. It is synchronous and allocation-light, for the per-chunk path of a
  stream (one upstream read in, a list of payloads out; no async generator per line).
- :func:`sse_data` does the same for a body that is already split into lines (aiohttp's
  ``response.content`` iterates lines).

Both skip blank separators, comments, ``event:``/``id:``/``retry:`` lines and the ``[DONE]``
marker; one ``data:`` line is one payload, as the model APIs send them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Optional

from completions_core.errors import ProviderError

__all__ = ["DONE", "MAX_LINE_BYTES", "SSEPayloads", "sse_data"]

#: The payload some APIs send as the last event; it is skipped (read on to the end of the body, so
#: a pooled connection is reusable afterwards).
DONE = "[DONE]"
_DONE = DONE.encode()

#: The longest line :class:`SSEPayloads` holds while waiting for its end: an upstream that never
#: sends a line break cannot grow the proxy's memory without bound.
MAX_LINE_BYTES = 8 * 1024 * 1024


def _payload(line: bytes) -> Optional[bytes]:
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    return data if data and data != _DONE else None


class SSEPayloads:
    """Splits an SSE body read in raw byte chunks into its ``data:`` payloads.

    ``feed(chunk)`` returns the payloads of the lines ``chunk`` completes (bytes, ready for
    ``orjson.loads``); ``end()`` returns the last one when the body did not end with a line break.
    LF, CRLF and bare CR line ends are all accepted. A line over ``max_line`` bytes is an
    ``invalid_response_error`` naming ``provider``.
    """

    __slots__ = ("_max_line", "_provider", "_rest")

    def __init__(self, provider: str, *, max_line: int = MAX_LINE_BYTES) -> None:
        self._provider = provider
        self._max_line = max_line
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of every line ``chunk`` completes, in order."""
        if b"\r" in chunk:
            # A CRLF cut between two reads leaves one extra blank line: a separator, skipped.
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._rest:
            chunk = self._rest + chunk
        elif chunk.endswith(b"\n\n") and chunk.find(b"\n") == len(chunk) - 2:
            # The usual read of a paced stream: one event of one line, whole.
            if chunk.startswith(b"data:"):
                data = chunk[5:-2].strip()
                if data and data != _DONE:
                    return [data]
            return []
        lines = chunk.split(b"\n")
        self._rest = rest = lines.pop()
        if len(rest) > self._max_line:
            self._rest = b""
            raise ProviderError(
                f"{self._provider} sent a stream line over {self._max_line} bytes",
                "invalid_response_error",
                provider=self._provider,
            )
        payloads = []
        for line in lines:
            # _payload, inlined: this runs for every line of every read.
            if line.startswith(b"data:"):
                data = line[5:].strip()
                if data and data != _DONE:
                    payloads.append(data)
        return payloads

    def end(self) -> list[bytes]:
        """The payload of an unterminated last line, if it has one."""
        rest, self._rest = self._rest, b""
        data = _payload(rest)
        return [data] if data is not None else []


async def sse_data(lines: AsyncIterable[str | bytes]) -> AsyncIterator[str]:
    """Every ``data:`` payload in ``lines`` (an SSE body already split into lines), as text.

    The stream is read to its end, so a pooled connection is reusable afterwards.
    """
    async for raw in lines:
        data = _payload(raw if isinstance(raw, bytes) else raw.encode())
        if data is not None:
            yield data.decode("utf-8", "replace")
