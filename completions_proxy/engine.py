"""The attempt engine: every request goes through here, for every provider.

A request, decoded by the codec into one :class:`~completions_core.request.ProviderRequest` per
provider (the primary, then each fallback with every unset field inherited from the primary),
becomes a plan of :class:`Target`s. Each target gets its own retries (the documented defaults when
the request says nothing; exponential backoff, never shorter than the nominal delay, jitter on
top, the provider's Retry-After honoured up to a cap); a :class:`Schedule` hands out the attempts
one at a time, at most ``COMPLETIONS_MAX_ATTEMPTS`` per request. Streaming commits to a target
when its first chunk reaches the client; after that a failure ends the stream with an ``error``
chunk, never with a second provider's text.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import AsyncGenerator, Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, aclosing, contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import anyio
import structlog

from completions_core.adapter import Credential, ProviderAdapter
from completions_core.assembly import response_from_completion
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.plugins import ProviderRegistry
from completions_core.records import AttemptRecord
from completions_core.request import ProviderRequest, RetryPolicy
from completions_core.types import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ConversationHistoryMessage,
    ErrorChunk,
    StreamOptions,
)
from completions_proxy.attempts import DeadlineExceeded, LiveAttempt, admit, as_provider_error, record_failure
from completions_proxy.breaker import Health
from completions_proxy.clients import ClientCache
from completions_proxy.hedging import Race
from completions_proxy.settings import Settings
from completions_proxy.turns import Target, Turn

__all__ = ["Engine", "Schedule", "Step"]

logger = structlog.get_logger("completions_proxy.engine")

#: The longest a provider's Retry-After may hold a turn (a caller is waiting on a voice turn).
RETRY_AFTER_CAP = 20.0
#: Jitter goes on top of the nominal backoff: up to this fraction of it, never below it.
JITTER = 0.25
#: No single backoff is longer than this, whatever the multiplier did to it.
MAX_BACKOFF = 60.0


def _strip_for(
    adapter: ProviderAdapter, messages: tuple[ConversationHistoryMessage, ...]
) -> tuple[ConversationHistoryMessage, ...]:
    """Drop provider-only data that ``adapter`` would reject or misread (its own provider_state stays).

    A message with nothing to drop is kept as it is (an equal copy before: a conversation's every
    assistant turn was rebuilt per target), and ``messages`` itself when no message changes."""
    provider, keep_signatures = adapter.name, adapter.keeps_thought_signatures
    out: Optional[list[ConversationHistoryMessage]] = None
    for position, message in enumerate(messages):
        if isinstance(message, AssistantMessage) and _carries_foreign_data(message, provider, keep_signatures):
            if out is None:
                out = list(messages[:position])
            message = _without_foreign_data(message, provider, keep_signatures)
        if out is not None:
            out.append(message)
    return messages if out is None else tuple(out)


def _without_foreign_data(message: AssistantMessage, provider: str, keep_signatures: bool) -> AssistantMessage:
    """``message`` without other providers' state, and without thought signatures unless kept."""
    state = message.provider_state
    if state is not None:
        state = {k: v for k, v in state.items() if k == provider} or None
    calls = message.tool_calls
    if calls and not keep_signatures:
        calls = [dataclasses.replace(c, thought_signature=None) for c in calls]
    return dataclasses.replace(
        message,
        tool_calls=calls,
        thought_signature=message.thought_signature if keep_signatures else None,
        provider_state=state,
    )


def _carries_foreign_data(message: AssistantMessage, provider: str, keep_signatures: bool) -> bool:
    """Whether :func:`_strip_for` changes ``message``: another provider's (or an empty) state, or
    a thought signature that ``provider`` does not take back."""
    state = message.provider_state
    if state is not None and (not state or any(key != provider for key in state)):
        return True
    if keep_signatures:
        return False
    return message.thought_signature is not None or any(
        call.thought_signature is not None for call in message.tool_calls or ()
    )


def _backoff(
    retry: RetryPolicy,
    attempt: int,
    retry_after: Optional[float],
    *,
    floor: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry ``attempt`` (from 0) of a target.

    ``retry_delay * backoff_multiplier**attempt`` (at least ``floor``) is the least it waits: the
    documented delay is the initial delay. Jitter adds up to :data:`JITTER` of it on top.
    """
    try:
        nominal = retry.retry_delay * retry.backoff_multiplier**attempt
    except OverflowError:
        nominal = math.inf
    nominal = min(max(nominal, floor), MAX_BACKOFF)
    delay = min(nominal * (1 + JITTER * rand()), MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


@contextmanager
def _deadline(timeout: Optional[float], default: Optional[float]) -> Iterator[None]:
    """The deadline of a non-streaming call: its request's ``timeout``, else the operator's default."""
    seconds = timeout or default
    if not seconds:
        yield
        return
    try:
        with anyio.fail_after(seconds):
            yield
    except TimeoutError:
        why = "" if timeout else " (the proxy's default deadline; set `timeout` to change it)"
        raise DeadlineExceeded(f"did not answer within {seconds:g} s{why}") from None


@dataclass(frozen=True)
class Step:
    """One attempt a :class:`Schedule` asks for."""

    index: int
    target: Target
    retry: int  # 0: the target's first attempt
    refresh: bool = False  # retrying an authentication error: refresh the credential, no backoff


class Schedule:
    """The order of a turn's attempts, decided one attempt at a time (never built as a list).

    Each target gets its first attempt, then up to ``max_retries`` retries while its failures are
    retryable; an authentication error gets one immediate retry with a refreshed credential, then
    the turn moves on. The turn makes at most ``max_attempts`` attempts in all (counted in
    ``attempts``, hedges included). The engine sets :attr:`last` after every failure.
    """

    def __init__(self, targets: list[Target], attempts: list[AttemptRecord], max_attempts: int) -> None:
        self.targets = targets
        self.attempts = attempts
        self.max_attempts = max_attempts
        #: The most recent failure.
        self.last: Optional[ProviderError] = None
        #: Targets whose first attempt already ran (as the hedge of the target before them).
        self.hedged: set[int] = set()
        #: Whether the attempt cap ended the turn.
        self.capped = False

    def __iter__(self) -> Iterator[Step]:
        for index, target in enumerate(self.targets):
            retries = target.retry.max_retries if target.retry is not None else 0
            retry, refresh, refreshed = 0, False, False
            while True:
                if retry > 0 or index not in self.hedged:
                    if len(self.attempts) >= self.max_attempts:
                        self.capped = True
                        return
                    yield Step(index, target, retry, refresh)
                last = self.last
                if last is None or retry >= retries:
                    break
                refresh = last.error_type == "authentication_error" and not refreshed
                if not refresh and not last.retryable:
                    break
                refreshed = refreshed or refresh
                retry += 1


class Engine:
    """Plans and runs requests against provider adapters."""

    def __init__(self, settings: Settings, registry: ProviderRegistry, clients: ClientCache) -> None:
        self.settings = settings
        self.registry = registry
        self.clients = clients
        self.health = Health(settings.breaker_settings())  # breaker and retry budget (breaker.py)
        #: How the engine waits between retries and draws jitter (tests inject their own).
        self.sleep: Callable[[float], Any] = anyio.sleep
        self.random: Callable[[], float] = random.random

    # -- planning ---------------------------------------------------------------------------

    def plan(self, requests: Sequence[ProviderRequest], credentials: Mapping[str, Credential]) -> list[Target]:
        """Build the targets of a decoded request (the primary, then each fallback, as the codec's
        :func:`~completions_core.codec.decode_request` returns them); refuse unknown or
        unregistered providers up front."""
        targets = []
        for i, effective in enumerate(requests):
            path = f"fallbacks[{i - 1}].provider" if i else "provider"
            name = effective.provider
            adapter = self.registry.get(name)
            if adapter is None:
                installed = ", ".join(self.registry.names()) or "none"
                raise InvalidRequestError(
                    f"unknown provider {name!r}; installed provider plugins: {installed}",
                    path,
                    error_type="unknown_provider_error",
                )
            spec = credentials.get(adapter.name) or credentials.get(name.strip().lower())
            if spec is None:
                if adapter.requires_key:
                    raise InvalidRequestError(
                        f"provider {adapter.name!r} was not registered for this session; call "
                        f"configure_provider({adapter.name!r}, ...) first",
                        path,
                        error_type="provider_not_configured_error",
                    )
                spec = Credential("none")
            messages = _strip_for(adapter, effective.messages)
            if messages is not effective.messages or effective.provider != adapter.name:
                # ``dataclasses.replace`` builds and checks the request again: only when something changed.
                effective = dataclasses.replace(effective, provider=adapter.name, messages=messages)
            targets.append(Target(adapter=adapter, request=effective, credential=spec))
        return targets

    def _config(self, target: Target) -> tuple[Hashable, bool]:
        """The SDK client config for a target, resolving its credential; and whether it is a customer's."""
        adapter, credential = target.adapter, target.credential
        if credential.source == "customer":
            pass  # the key the client registered, used as it is
        elif not adapter.requires_key:
            credential = Credential("none")
        else:  # managed: read now, so a rotated or re-mounted key is picked up
            key = self.settings.managed_key(adapter.name, adapter.managed_key_env)
            if key is None:
                raise ProviderError(
                    f"this proxy has no managed key for {adapter.name!r}; register your own with "
                    f"configure_provider({adapter.name!r}, api_key=...)",
                    "managed_key_unavailable_error",
                    provider=adapter.name,
                    retryable=False,
                )
            credential = Credential("managed", key)
        return adapter.client_config(target.request, credential), credential.source == "customer"

    def lease(self, target: Target) -> AbstractContextManager[Any]:
        """The cached SDK client for a target, never closed by the cache while the block runs
        (an attempt, or a warm-up). The credential is resolved now: call it where the block
        starts, as ``with engine.lease(target) as client``."""
        config, customer = self._config(target)
        return self.clients.lease(target.adapter, config, customer=customer)

    def refresh(self, target: Target) -> None:
        """Before retrying an authentication error: re-read a mounted key, drop the cached client.

        The next attempt then builds a new SDK client (for Vertex, one that mints a new token)
        from the credential as it is now.
        """
        try:
            config, customer = self._config(target)
        except (ProviderError, InvalidRequestError):
            config = None
        if config is not None:
            self.clients.discard(target.adapter, config, customer=customer)
        if target.credential.source != "customer" and target.adapter.requires_key:
            self.settings.forget_key(target.adapter.name)

    # -- running ----------------------------------------------------------------------------

    def schedule(self, targets: list[Target], turn: Turn) -> Schedule:
        """The turn's attempts, in order, within the proxy's cap."""
        turn.last_target = len(targets) - 1  # the breaker never skips the plan's last target
        return Schedule(targets, turn.attempts, self.settings.max_attempts)

    async def _ready(self, step: Step, schedule: Schedule, turn: Turn) -> bool:
        """Whether ``step`` runs: False when it is a retry the provider's budget has no room for;
        otherwise after the retry's refresh or back-off."""
        if step.retry and not step.refresh and not self.health.allow_retry(step.target.provider):
            return False
        if step.retry:
            await self._before_retry(step, schedule, turn)
        return True

    async def _before_retry(self, step: Step, schedule: Schedule, turn: Turn) -> None:
        """Refresh the credential (authentication errors) or back off (everything else)."""
        if step.refresh:
            self.refresh(step.target)
            return
        assert schedule.last is not None
        assert step.target.retry is not None  # a target without a policy is never retried
        delay = _backoff(
            step.target.retry,
            step.retry - 1,
            schedule.last.retry_after,
            floor=self.settings.retry_min_delay,
            rand=self.random,
        )
        turn.backoff_wait += delay
        await self.sleep(delay)

    def _exhausted(self, schedule: Schedule, turn: Turn) -> ProviderError:
        if schedule.capped:
            logger.info("attempt_cap_reached", request_id=turn.request_id, attempts=len(turn.attempts))
        assert schedule.last is not None
        return schedule.last

    async def complete(self, targets: list[Target], turn: Turn) -> ChatCompletionResponse:
        """Run a non-streaming request through the plan; raise the last error if every attempt fails."""
        schedule = self.schedule(targets, turn)
        for step in schedule:
            index, target = step.index, step.target
            if step.retry and not await self._ready(step, schedule, turn):  # a first attempt is always ready
                continue
            attempt = AttemptRecord(target.provider, target.request.model, target=index, started_at=time.time())
            turn.attempts.append(attempt)
            started = time.perf_counter()
            try:
                with (
                    self.lease(target) as client,
                    admit(self, target, index, turn, attempt),  # the breaker: may skip (BreakerOpen)
                    # Without a ``timeout`` of its own, a non-streaming call gets the operator's deadline.
                    _deadline(target.request.timeout, self.settings.complete_timeout),
                ):
                    try:
                        completion = await target.adapter.complete(client, target.request)
                    finally:
                        turn.provider_wait += time.perf_counter() - started
            except anyio.get_cancelled_exc_class():
                attempt.outcome = "cancelled"
                attempt.latency_ms = (time.perf_counter() - started) * 1000
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded ProviderError
                # A refusal before anything was sent (an endpoint outside the allowlist, too many
                # cache breakpoints) is a 400 for this target only: a fallback may still answer.
                schedule.last = as_provider_error(target, exc)
                record_failure(attempt, schedule.last, started)
                continue
            attempt.latency_ms = (time.perf_counter() - started) * 1000
            turn.answered(target.provider, target.request.model)
            turn.record.usage, turn.usage_reader = completion.usage, target.adapter.normalize_usage
            turn.record.finish_reason = completion.finish_reason
            turn.response = response_from_completion(
                completion, provider=target.provider, model=target.request.model, request_id=turn.request_id
            )
            return turn.response
        raise self._exhausted(schedule, turn)

    async def stream(
        self,
        targets: list[Target],
        options: StreamOptions,
        turn: Turn,
        *,
        first_token_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        hedge_after: Optional[float] = None,
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Yield the turn's chunks; fail over only until the first chunk has been yielded.

        If every attempt fails before the first chunk, the last error is raised (the route
        then answers with an HTTP error status, since nothing has been sent yet). With
        ``hedge_after``, a first attempt that has produced nothing after that many seconds is
        raced against the next fallback, and whichever produces the first chunk carries the turn.
        """
        deadlines = (first_token_timeout, idle_timeout)
        schedule = self.schedule(targets, turn)
        for step in schedule:
            index, target = step.index, step.target
            if step.retry and not await self._ready(step, schedule, turn):  # a first attempt is always ready
                continue
            # A race makes two attempts: only when the cap leaves room for both.
            room = self.settings.max_attempts - len(turn.attempts)
            if hedge_after and step.retry == 0 and index + 1 < len(targets) and room >= 2:
                schedule.hedged.add(index + 1)
                race = Race(self, options, turn, deadlines)
                try:
                    async for chunk in race.run((index, target), (index + 1, targets[index + 1]), hedge_after):
                        yield chunk
                    return
                except ProviderError as exc:
                    schedule.last = exc
                    continue
            live = self.attempt(target, index, options, turn, deadlines)
            committed = False
            try:
                async with aclosing(live.chunks()) as chunks:
                    async for chunk in chunks:
                        if not committed:
                            committed = True
                            live.commit()
                        yield chunk
                return
            except ProviderError as exc:
                if committed:
                    yield ErrorChunk(error=exc.message, error_type=exc.error_type)
                    return
                schedule.last = exc
        raise self._exhausted(schedule, turn)

    def attempt(
        self,
        target: Target,
        index: int,
        options: StreamOptions,
        turn: Turn,
        deadlines: tuple[Optional[float], Optional[float]],
    ) -> LiveAttempt:
        """A streaming attempt against ``target`` (recorded in ``turn``), not started yet."""
        return LiveAttempt(self, target, index, options, turn, deadlines)
