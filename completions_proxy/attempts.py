"""One call to a provider: the streaming attempt, its deadlines, and how failures are recorded.

The engine (:mod:`completions_proxy.engine`) decides which target to try and when; an attempt
runs one call and turns every failure into a recorded :class:`ProviderError`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import AbstractContextManager, aclosing
from typing import Any, Optional, Protocol, cast

import anyio
import structlog

from completions_core.adapter import StreamEvent
from completions_core.assembly import ResponseAssembler
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.records import AttemptRecord
from completions_core.types import ChatCompletionChunk, StreamOptions
from completions_proxy.breaker import BreakerOpen, Health, Ticket
from completions_proxy.settings import Settings
from completions_proxy.turns import Target, Turn

__all__ = [
    "DeadlineExceeded",
    "LiveAttempt",
    "Runner",
    "admit",
    "as_provider_error",
    "deadline",
    "record_failure",
    "refused",
    "unexpected",
]

logger = structlog.get_logger("completions_proxy.engine")


class Runner(Protocol):
    """What an attempt needs from the engine that runs it (:class:`~completions_proxy.engine.Engine`)."""

    health: Health
    settings: Settings

    def lease(self, target: Target) -> AbstractContextManager[Any]:
        """The cached SDK client for ``target``, held for as long as the block runs."""
        ...


def record_failure(attempt: AttemptRecord, exc: ProviderError, started: float) -> None:
    """Mark ``attempt`` failed with ``exc`` (or skipped, when its breaker was open)."""
    attempt.outcome = "breaker_skipped" if isinstance(exc, BreakerOpen) else "error"
    if isinstance(exc, BreakerOpen):
        attempt.breaker = exc.reason
    attempt.error_type = exc.error_type
    attempt.status = exc.status_code
    attempt.latency_ms = (time.perf_counter() - started) * 1000


def admit(engine: Runner, target: Target, index: int, turn: Turn, record: AttemptRecord) -> Ticket:
    """Ask the breaker before an attempt (raises :class:`BreakerOpen` to skip it); note its state on ``record``."""
    ticket = engine.health.admit(
        target.provider,
        target.request.model,
        shared=target.credential.source != "customer",
        # No fallback after it, or the attempt cap leaves no attempt after this one.
        last_resort=index >= turn.last_target or len(turn.attempts) >= engine.settings.max_attempts,
    )
    record.breaker = ticket.note
    return ticket


class LiveAttempt:
    """One streaming call to a provider: events in, chunks out, every failure a ProviderError.

    Its :meth:`chunks` generator runs the whole call (open, read, close) in the task that
    iterates it, so SDK transports never see their cancel scopes cross tasks.
    """

    def __init__(
        self,
        engine: Runner,
        target: Target,
        index: int,
        options: StreamOptions,
        turn: Turn,
        deadlines: tuple[Optional[float], Optional[float]],
    ) -> None:
        self.engine = engine
        self.target = target
        self.options = options
        self.turn = turn
        self.first_token_timeout, self.idle_timeout = deadlines
        self.record = AttemptRecord(target.provider, target.request.model, target=index, started_at=time.time())
        turn.attempts.append(self.record)
        self.started = time.perf_counter()
        self.produced = False
        self.index = index
        self.ticket: Optional[Ticket] = None

    def commit(self) -> None:
        """This attempt's first chunk reached the client: it carries the turn."""
        self.turn.first_chunk()
        self.turn.answered(self.target.provider, self.target.request.model)

    async def chunks(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        """The attempt's chunks; raises ProviderError (recorded) on failure."""
        target, turn = self.target, self.turn
        record = turn.record  # the turn's telemetry record (self.record is this attempt's)
        try:
            self.ticket = ticket = admit(self.engine, target, self.index, turn, self.record)
            assembler = ResponseAssembler(
                self.options, provider=target.provider, model=target.request.model, request_id=turn.request_id
            )
            # Leased for the whole stream: the cache never closes a client an attempt is using.
            with self.engine.lease(target) as client:
                upstream = cast("AsyncGenerator[StreamEvent, None]", target.adapter.stream(client, target.request))
                async with aclosing(upstream) as events:
                    next_event = events.__anext__
                    feed = assembler.feed
                    clock = time.perf_counter
                    timeout = target.request.timeout
                    # Most requests set no deadline at all: then nothing is computed per event, and
                    # no cancel scope is entered around each wait.
                    bounded = bool(timeout or self.first_token_timeout or self.idle_timeout)
                    wait: Optional[float] = None
                    why = ""
                    while True:
                        if bounded:
                            wait, why = deadline(
                                timeout, self.first_token_timeout, self.idle_timeout, self.produced, self.started
                            )
                        waiting = clock()
                        try:
                            if wait is None:
                                event = await next_event()
                            else:
                                with anyio.fail_after(wait):
                                    event = await next_event()
                        except StopAsyncIteration:
                            break
                        except TimeoutError:
                            raise DeadlineExceeded(why) from None
                        finally:
                            turn.provider_wait += clock() - waiting
                        produced = feed(event)
                        if not produced:
                            continue
                        if not self.produced:
                            ticket.ok()  # a first chunk: the provider is answering
                            self.produced = True
                        if record.time_to_first_sentence_ms is None and assembler.sentences:
                            turn.first_sentence()
                        for chunk in produced:
                            record.chunks += 1
                            yield chunk
                    final = assembler.finish()
            record.usage, turn.usage_reader = assembler.usage, target.adapter.normalize_usage
            record.finish_reason = assembler.finish_reason
            record.sentences = assembler.sentences
            turn.response = assembler.response
            if record.time_to_first_sentence_ms is None and assembler.sentences:
                turn.first_sentence()
            self.record.latency_ms = (time.perf_counter() - self.started) * 1000
            self.produced = True
            ticket.ok()
            for chunk in final:
                record.chunks += 1
                yield chunk
        except (anyio.get_cancelled_exc_class(), GeneratorExit):
            if self.ticket is not None:
                self.ticket.release()
            self.record.outcome = "cancelled"
            self.record.latency_ms = (time.perf_counter() - self.started) * 1000
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded ProviderError
            error = as_provider_error(target, exc)
            if self.ticket is not None:
                self.ticket.failed(error)
            record_failure(self.record, error, self.started)
            raise error from None


class DeadlineExceeded(Exception):
    """A provider missed one of the attempt's deadlines (``why`` says which)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def deadline(
    timeout: Optional[float],
    first_token: Optional[float],
    idle: Optional[float],
    committed: bool,
    started: float,
) -> tuple[Optional[float], str]:
    """How long the next event may take, and what to say when it does not come.

    ``timeout`` (the request's) bounds every wait; before the first chunk the time-to-first-token
    deadline counts from the attempt's start, after it the idle deadline counts per event.
    """
    options: list[tuple[float, str]] = []
    if timeout:
        options.append((timeout, f"sent nothing for {timeout:g} s (timeout)"))
    if not committed and first_token:
        left = first_token - (time.perf_counter() - started)
        options.append((max(left, 0.0), f"sent no first token within {first_token:g} s (first-token deadline)"))
    if committed and idle:
        options.append((idle, f"sent nothing for {idle:g} s mid-stream (idle deadline)"))
    if not options:
        return None, ""
    return min(options)


def as_provider_error(target: Target, exc: Exception) -> ProviderError:
    """Any failure of an attempt as the ProviderError it is recorded and answered with."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, DeadlineExceeded):
        return ProviderError(f"{target.provider} {exc.why}", "timeout_error", provider=target.provider)
    if isinstance(exc, InvalidRequestError):
        return refused(target, exc)
    return unexpected(target, exc)


def refused(target: Target, exc: InvalidRequestError) -> ProviderError:
    return ProviderError(exc.message, exc.error_type, provider=target.provider, status_code=None, retryable=False)


def unexpected(target: Target, exc: Exception) -> ProviderError:
    # Only the exception's type: its text may quote a request header or a key.
    logger.error("adapter_failed", provider=target.provider, exception=type(exc).__name__)
    return ProviderError(
        f"the {target.provider} adapter failed unexpectedly ({type(exc).__name__})",
        "internal_error",
        provider=target.provider,
        retryable=False,
    )
