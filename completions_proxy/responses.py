"""Responses: JSON errors, JSON bodies, and the NDJSON chunk stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, Optional

import anyio
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from completions_core.codec import chunk_to_wire
from completions_core.errors import ERROR_STATUS, ProviderError
from completions_core.jsonutil import dumps
from completions_core.types import ChatCompletionChunk, ErrorChunk

__all__ = ["ChunkStreamResponse", "error_response", "json_response"]

NDJSON = "application/x-ndjson"


def json_response(data: Any, status: int = 200, headers: Optional[dict[str, str]] = None) -> Response:
    """A JSON response encoded with the fast codec."""
    return Response(dumps(data), status_code=status, headers=headers, media_type="application/json")


def error_response(
    message: str,
    error_type: str,
    status: Optional[int] = None,
    *,
    headers: Optional[dict[str, str]] = None,
    provider: Optional[str] = None,
    provider_status: Optional[int] = None,
) -> Response:
    """``{"error": {"message", "type", ...}}`` with the status the error type implies."""
    error: dict[str, Any] = {"message": message, "type": error_type}
    if provider:
        error["provider"] = provider
    if provider_status is not None:
        error["provider_status"] = provider_status
    return json_response({"error": error}, status or ERROR_STATUS.get(error_type, 500), headers)


def provider_error_response(exc: ProviderError, headers: Optional[dict[str, str]] = None) -> Response:
    """The HTTP answer when every attempt failed with ``exc`` before anything was sent."""
    out = dict(headers or {})
    if exc.retry_after is not None and exc.error_type == "rate_limit_error":
        out["Retry-After"] = str(max(1, round(exc.retry_after)))
    return error_response(
        exc.message,
        exc.error_type,
        exc.http_status,
        headers=out,
        provider=exc.provider or None,
        provider_status=exc.status_code,
    )


class ChunkStreamResponse:
    """Streams chunks as NDJSON, one JSON object per line.

    The status line is held back until the first chunk exists: if every attempt fails before
    that, the caller gets a plain JSON error with a real status code instead of a 200 stream.
    A client that goes away cancels the work at once (the engine closes the provider stream).
    """

    def __init__(
        self,
        chunks: AsyncGenerator[ChatCompletionChunk, None],
        headers: dict[str, str],
        on_finish: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.chunks = chunks
        self.headers = headers
        self.on_finish = on_finish
        self.outcome = "ok"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_disconnect, receive, tg.cancel_scope)
            try:
                await self._send_all(send)
            finally:
                tg.cancel_scope.cancel()
                if self.on_finish is not None:
                    self.on_finish(self.outcome)

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                self.outcome = "client_disconnected"
                scope.cancel()
                return

    async def _send_all(self, send: Send) -> None:
        started = False
        async with aclosing(self.chunks) as chunks:
            try:
                async for chunk in chunks:
                    line = dumps(chunk_to_wire(chunk)) + b"\n"
                    if not started:
                        await self._start(send, 200)
                        started = True
                    if isinstance(chunk, ErrorChunk):
                        self.outcome = "error"
                    await send({"type": "http.response.body", "body": line, "more_body": True})
            except Exception as caught:
                exc = (
                    caught
                    if isinstance(caught, ProviderError)
                    else ProviderError(f"internal error ({type(caught).__name__})", "internal_error")
                )
                if started:  # the engine yields an ErrorChunk instead; this is a last resort
                    self.outcome = "error"
                    line = dumps({"type": "error", "error": exc.message, "error_type": exc.error_type}) + b"\n"
                    await send({"type": "http.response.body", "body": line, "more_body": True})
                else:
                    self.outcome = "error"
                    response = provider_error_response(exc, self.headers)
                    await response({"type": "http"}, _no_receive, send)
                    return
        if not started:
            await self._start(send, 200)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _start(self, send: Send, status: int) -> None:
        headers = [(b"content-type", NDJSON.encode()), (b"cache-control", b"no-store")]
        headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items())
        await send({"type": "http.response.start", "status": status, "headers": headers})


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
