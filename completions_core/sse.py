"""Server-sent events: the ``data:`` payloads of a response body, read line by line.

Adapters that read a provider's stream without its SDK (or the SDK's raw response) use
:func:`sse_data` instead of each writing the loop again.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["DONE", "sse_data"]

#: The payload some APIs send as the last event; :func:`sse_data` skips it.
DONE = "[DONE]"


async def sse_data(lines: AsyncIterable[str | bytes]) -> AsyncIterator[str]:
    """Every ``data:`` payload in ``lines`` (blank separators, comments, ``event:`` and ``id:`` lines,
    and the ``[DONE]`` marker skipped). The stream is read to its end, so a pooled connection is
    reusable afterwards.

    One line per event payload, as the model APIs send them (a multi-line ``data:`` event gives one
    payload per line).
    """
    async for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data and data != DONE:
            yield data
