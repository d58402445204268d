"""The attempt engine: every request goes through here, for every provider.

A request becomes a plan of :class:`Target`s (the primary, then each fallback with every unset
field inherited from the primary). Each target gets its own retries (exponential backoff with
jitter, the provider's Retry-After honoured up to a cap). Streaming commits to a target when its
first chunk reaches the client; after that a failure ends the stream with an ``error`` chunk,
never with a second provider's text.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Optional

import anyio
import structlog

from completions_core.adapter import Credential, ProviderAdapter
from completions_core.assembly import response_from_completion
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.plugins import ProviderRegistry
from completions_core.records import AttemptRecord
from completions_core.secrets import Secret
from completions_core.types import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ConversationHistory,
    ErrorChunk,
    FallbackRequest,
    RetryConfiguration,
    StreamOptions,
)
from completions_proxy.attempts import LiveAttempt, admit, nullcontext, record_failure, refused, unexpected
from completions_proxy.breaker import Health
from completions_proxy.clients import ClientCache
from completions_proxy.hedging import Race
from completions_proxy.settings import Settings

__all__ = ["Attempt", "CredentialSpec", "Engine", "Target", "Turn", "parse_credentials"]

logger = structlog.get_logger("completions_proxy.engine")

#: The longest a provider's Retry-After may hold a turn (a caller is waiting on a voice turn).
RETRY_AFTER_CAP = 20.0


@dataclass(frozen=True)
class CredentialSpec:
    """What the client registered for one provider: the managed key, or its own key."""

    managed: bool
    api_key: Optional[Secret] = None


def parse_credentials(value: Any) -> dict[str, CredentialSpec]:
    """Decode the request's ``credentials`` object: ``{provider: {"voicerun_managed": true} | {"api_key": "..."}}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError("expected an object mapping provider names to credentials", "credentials")
    out: dict[str, CredentialSpec] = {}
    for name, spec in value.items():
        path = f"credentials.{name}"
        if not isinstance(spec, Mapping):
            raise InvalidRequestError('expected {"voicerun_managed": true} or {"api_key": "..."}', path)
        unknown = set(spec) - {"voicerun_managed", "api_key"}
        if unknown:
            raise InvalidRequestError(f"unknown field {sorted(unknown)[0]!r}", path)
        managed = spec.get("voicerun_managed") is True
        key = spec.get("api_key")
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise InvalidRequestError("api_key must be a non-empty string", path)
        if managed == bool(key):
            raise InvalidRequestError("exactly one of voicerun_managed or api_key must be set", path)
        out[str(name).strip().lower()] = CredentialSpec(managed=managed, api_key=Secret(key.strip()) if key else None)
    return out


@dataclass
class Target:
    """One provider to try, with the request as that provider will see it."""

    adapter: ProviderAdapter
    request: ChatCompletionRequest
    credential: CredentialSpec
    retry: Optional[RetryConfiguration]

    @property
    def provider(self) -> str:
        """The provider's canonical name."""
        return self.adapter.name


Attempt = AttemptRecord


@dataclass
class Turn:
    """The state of one request through the engine: attempts so far and who answered."""

    request_id: str
    attempts: list[Attempt] = field(default_factory=list)
    provider: Optional[str] = None
    model: Optional[str] = None
    first_chunk_at: Optional[float] = None
    first_sentence_at: Optional[float] = None
    started_at: float = field(default_factory=time.perf_counter)
    provider_wait: float = 0.0
    backoff_wait: float = 0.0
    usage: Optional[dict[str, Any]] = None
    usage_format: str = "openai"
    finish_reason: Optional[str] = None
    chunks: int = 0
    sentences: int = 0
    response: Optional[ChatCompletionResponse] = None
    last_target: int = 0  # the plan's last target: the breaker never skips it


def _strip_for(provider: str, messages: ConversationHistory) -> ConversationHistory:
    """Drop provider-only data that another provider would reject or misread."""
    out: ConversationHistory = []
    for message in messages:
        if isinstance(message, AssistantMessage):
            keep_signatures = provider == "google"
            state = message.provider_state
            if state is not None:
                state = {k: v for k, v in state.items() if k == provider} or None
            calls = message.tool_calls
            if calls and not keep_signatures:
                calls = [dataclasses.replace(c, thought_signature=None) for c in calls]
            message = dataclasses.replace(
                message,
                tool_calls=calls,
                thought_signature=message.thought_signature if keep_signatures else None,
                provider_state=state,
            )
        out.append(message)
    return out


def _merge(primary: ChatCompletionRequest, fallback: FallbackRequest) -> ChatCompletionRequest:
    merged = {
        f.name: getattr(fallback, f.name) if getattr(fallback, f.name) is not None else getattr(primary, f.name)
        for f in dataclasses.fields(FallbackRequest)
    }
    return ChatCompletionRequest(fallbacks=None, **merged)


def _backoff(retry: RetryConfiguration, attempt: int, retry_after: Optional[float]) -> float:
    base = retry.retry_delay * (retry.backoff_multiplier**attempt)
    # "Equal jitter": never less than half the nominal delay, so backoff still backs off.
    delay = base / 2 + random.uniform(0, base / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


class Engine:
    """Plans and runs requests against provider adapters."""

    def __init__(self, settings: Settings, registry: ProviderRegistry, clients: ClientCache) -> None:
        self.settings = settings
        self.registry = registry
        self.clients = clients
        self.health = Health(settings.breaker_settings())  # breaker and retry budget (breaker.py)

    # -- planning ---------------------------------------------------------------------------

    def plan(self, request: ChatCompletionRequest, credentials: Mapping[str, CredentialSpec]) -> list[Target]:
        """Build the primary and fallback targets; refuse unknown or unregistered providers up front."""
        targets = []
        entries: list[tuple[str, ChatCompletionRequest]] = [("provider", request)]
        for i, fallback in enumerate(request.fallbacks or []):
            assert isinstance(fallback, FallbackRequest)
            entries.append((f"fallbacks[{i}].provider", _merge(request, fallback)))
        for path, effective in entries:
            name = str(effective.provider)
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
                spec = CredentialSpec(managed=True)
            messages = _strip_for(adapter.name, list(effective.messages))  # type: ignore[arg-type]
            retry = effective.retry if isinstance(effective.retry, RetryConfiguration) else None
            targets.append(
                Target(
                    adapter=adapter,
                    request=dataclasses.replace(effective, provider=adapter.name, messages=messages, fallbacks=None),
                    credential=spec,
                    retry=retry,
                )
            )
        return targets

    def client_for(self, target: Target) -> Any:
        """The cached SDK client for a target, resolving its credential."""
        adapter = target.adapter
        if target.credential.api_key is not None:
            credential = Credential("customer", target.credential.api_key)
        elif not adapter.requires_key:
            credential = Credential("none")
        else:
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
        config = adapter.client_config(target.request, credential)
        return self.clients.get(adapter, config)

    # -- running ----------------------------------------------------------------------------

    def _schedule(self, targets: list[Target]) -> list[tuple[int, Target, int]]:
        """(target index, target, retry number) in the order they will be tried."""
        out: list[tuple[int, Target, int]] = []
        for index, target in enumerate(targets):
            retries = target.retry.max_retries if target.retry is not None and target.retry.enabled else 0
            out.extend((index, target, n) for n in range(retries + 1))
        return out

    async def _pause(self, target: Target, retry_number: int, last: ProviderError, turn: Turn) -> None:
        assert target.retry is not None
        delay = _backoff(target.retry, retry_number - 1, last.retry_after)
        turn.backoff_wait += delay
        await anyio.sleep(delay)

    async def complete(self, targets: list[Target], turn: Turn) -> ChatCompletionResponse:
        """Run a non-streaming request through the plan; raise the last error if every attempt fails."""
        last: Optional[ProviderError] = None
        turn.last_target = len(targets) - 1
        for index, target, retry_number in self._schedule(targets):
            if last is not None and retry_number > 0:
                if not last.retryable:
                    continue
                if not self.health.allow_retry(target.provider):
                    continue  # the provider's retry budget is spent
                await self._pause(target, retry_number, last, turn)
            attempt = Attempt(target.provider, target.request.model, target=index, started_at=time.time())
            turn.attempts.append(attempt)
            started = time.perf_counter()
            try:
                client = self.client_for(target)
                with (
                    admit(self, target, index, turn, attempt),  # the breaker: may skip (BreakerOpen)
                    anyio.fail_after(target.request.timeout) if target.request.timeout else nullcontext(),
                ):
                    try:
                        completion = await target.adapter.complete(client, target.request)
                    finally:
                        turn.provider_wait += time.perf_counter() - started
            except TimeoutError:
                last = ProviderError(
                    f"{target.provider} did not answer within {target.request.timeout:g} s",
                    "timeout_error",
                    provider=target.provider,
                )
                record_failure(attempt, last, started)
                continue
            except ProviderError as exc:
                last = exc
                record_failure(attempt, exc, started)
                continue
            except InvalidRequestError as exc:
                # Refused before anything was sent (an endpoint outside the allowlist, too many
                # cache breakpoints): a 400 for this target; a fallback may still answer.
                last = refused(target, exc)
                record_failure(attempt, last, started)
                continue
            except anyio.get_cancelled_exc_class():
                attempt.outcome = "cancelled"
                attempt.latency_ms = (time.perf_counter() - started) * 1000
                raise
            except Exception as exc:  # noqa: BLE001 - reported, never silent
                last = unexpected(target, exc)
                record_failure(attempt, last, started)
                continue
            attempt.latency_ms = (time.perf_counter() - started) * 1000
            turn.provider, turn.model = target.provider, target.request.model
            turn.usage, turn.usage_format = completion.usage, target.adapter.usage_format
            turn.finish_reason = completion.finish_reason
            turn.response = response_from_completion(
                completion, provider=target.provider, model=target.request.model, request_id=turn.request_id
            )
            return turn.response
        assert last is not None
        raise last

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
        last: Optional[ProviderError] = None
        hedged: set[int] = set()
        turn.last_target = len(targets) - 1
        for index, target, retry_number in self._schedule(targets):
            if retry_number == 0 and index in hedged:
                continue  # already run as the hedge of the target before it
            if last is not None and retry_number > 0:
                if not last.retryable:
                    continue
                if not self.health.allow_retry(target.provider):
                    continue  # the provider's retry budget is spent
                await self._pause(target, retry_number, last, turn)
            if hedge_after and retry_number == 0 and index + 1 < len(targets):
                hedged.add(index + 1)
                race = Race(self, options, turn, deadlines)
                try:
                    async for chunk in race.run((index, target), (index + 1, targets[index + 1]), hedge_after):
                        yield chunk
                    return
                except ProviderError as exc:
                    last = exc
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
                last = exc
        assert last is not None
        raise last

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
