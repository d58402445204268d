"""Hedging: race a stalled first attempt against the next fallback.

When the first attempt of a target has produced no chunk after ``hedge_after`` seconds, the
next fallback starts beside it; whichever produces the first chunk carries the turn and the
other is cancelled at once (its cost is logged: it may have been billed for the prompt). Each
attempt runs whole in a task of its own and hands its chunks over a channel, so an SDK's
transport never sees its cancel scopes cross tasks.

The race is an async generator, so it holds no task group or cancel scope across a ``yield``: the
response may close it from a cancelled scope while it waits at one (a client gone during a
write), and a scope entered before that ``yield`` would then be left out of order (anyio's
"cancel scope that isn't the current task's"). The attempts' tasks are plain tasks, each with
its own cancel scope entered inside it, and the race waits for them when it ends, as a task
group's end would (tests/proxy/test_hedging.py; the class is checked on the source by
tests/core/test_scopes_across_yields.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Optional, Union

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream

from completions_core.errors import ProviderError
from completions_core.types import ChatCompletionChunk, ErrorChunk, StreamOptions
from completions_proxy.attempts import LiveAttempt, Runner
from completions_proxy.turns import Target, Turn

__all__ = ["Race"]

logger = structlog.get_logger("completions_proxy.hedging")

# (lane, chunk | failure | end): a ProviderError is the attempt's failure; any other exception is a
# fault of the attempt's own code, raised on to the stream (as a task group would raise it).
_Item = tuple[int, Union[ChatCompletionChunk, Exception, None]]


class Race:
    """Runs one target's first attempt, and the next target's beside it once it stalls."""

    def __init__(
        self, engine: Runner, options: StreamOptions, turn: Turn, deadlines: tuple[Optional[float], Optional[float]]
    ) -> None:
        self.engine = engine
        self.options = options
        self.turn = turn
        self.deadlines = deadlines
        self.lanes: list[tuple[LiveAttempt, anyio.CancelScope]] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def _lane(self, lane: int, live: LiveAttempt, scope: anyio.CancelScope,
                    sink: MemoryObjectSendStream[_Item]) -> None:
        with scope:
            try:
                async with aclosing(live.chunks()) as chunks:
                    async for chunk in chunks:
                        await sink.send((lane, chunk))
                await sink.send((lane, None))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the race is over: nobody reads this lane any more
            except Exception as exc:  # noqa: BLE001 - handed to the race, which raises what is not a ProviderError
                try:
                    await sink.send((lane, exc))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return

    def _start(self, pair: tuple[int, Target], sink: MemoryObjectSendStream[_Item]) -> None:
        index, target = pair
        live = LiveAttempt(self.engine, target, index, self.options, self.turn, self.deadlines)
        scope = anyio.CancelScope()
        self.lanes.append((live, scope))
        self.tasks.append(asyncio.get_running_loop().create_task(self._lane(len(self.lanes) - 1, live, scope, sink)))

    async def run(
        self, first: tuple[int, Target], second: tuple[int, Target], hedge_after: float
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Yield the winning attempt's chunks; raise the last ProviderError if both fail first."""
        sink, source = anyio.create_memory_object_stream[_Item](16)
        winner: Optional[int] = None
        failed: dict[int, ProviderError] = {}
        lost: Optional[ProviderError] = None
        try:
            self._start(first, sink)
            while True:
                item: Optional[_Item] = None
                if len(self.lanes) == 1 and winner is None:
                    elapsed = time.perf_counter() - self.lanes[0][0].started
                    with anyio.move_on_after(max(0.0, hedge_after - elapsed)):
                        item = await source.receive()
                    if item is None:
                        self._start(second, sink)  # the first attempt stalls: hedge
                        continue
                else:
                    item = await source.receive()
                lane, payload = item
                if winner is not None and lane != winner:
                    continue  # the loser's leftovers
                if isinstance(payload, Exception) and not isinstance(payload, ProviderError):
                    raise payload
                if isinstance(payload, ProviderError):
                    if winner is not None:
                        yield ErrorChunk(error=payload.message, error_type=payload.error_type)
                        return
                    failed[lane] = payload
                    if len(self.lanes) == 1:
                        self._start(second, sink)  # failed before the hedge: the fallback starts now
                    elif len(failed) == 2:
                        lost = payload
                        break
                    continue
                if payload is None:
                    return  # the winner's stream is complete
                if winner is None:
                    winner = lane
                    self._cancel_losers(winner)
                    self.lanes[winner][0].commit()
                yield payload
        finally:
            for _, scope in self.lanes:
                scope.cancel()
            sink.close()
            source.close()
            if self.tasks:
                # As a task group's end: the attempts have ended (their upstream responses closed)
                # before the race has. Shielded: this runs while the stream is being cancelled.
                with anyio.CancelScope(shield=True):
                    await asyncio.wait(self.tasks)
        if lost is not None:
            raise lost

    def _cancel_losers(self, winner: int) -> None:
        for lane, (live, scope) in enumerate(self.lanes):
            if lane != winner and live.record.outcome not in ("error", "breaker_skipped"):
                scope.cancel()
                live.record.outcome = "hedge_lost"
                logger.info(
                    "hedge_lost",
                    request_id=self.turn.request_id,
                    provider=live.target.provider,
                    model=live.target.request.model,
                    elapsed_ms=round((time.perf_counter() - live.started) * 1000, 1),
                )
