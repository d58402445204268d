"""One request through the proxy: the turn that owns its telemetry record, and the targets the
engine plans for it.

Imports flow one way: :mod:`~completions_proxy.engine` -> :mod:`~completions_proxy.hedging` ->
:mod:`~completions_proxy.attempts` -> this module, which knows none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from completions_core.adapter import Credential, ProviderAdapter
from completions_core.records import AttemptRecord, CompletionRecord
from completions_core.request import ProviderRequest, RetryPolicy
from completions_core.types import ChatCompletionResponse
from completions_core.usage import NormalizedUsage, chat_completions_usage

__all__ = ["Target", "Turn"]


@dataclass
class Target:
    """One provider to try, with the request as that provider will see it."""

    adapter: ProviderAdapter
    request: ProviderRequest
    credential: Credential

    @property
    def provider(self) -> str:
        """The provider's canonical name."""
        return self.adapter.name

    @property
    def retry(self) -> Optional[RetryPolicy]:
        """The target's retry policy (None: no retries)."""
        return self.request.retry


class Turn:
    """The state of one request, from the route that received it to its telemetry record.

    :attr:`record` is the request's :class:`~completions_core.records.CompletionRecord`, and the
    only place its facts are kept: the route writes who asked and for what, the engine and its
    attempts write each attempt and who answered, and :meth:`finish` closes it exactly once with
    the outcome and the timings. Telemetry then reads it as it is. The turn itself keeps only the
    clocks and what the engine needs on the way (the answer, the usage reader, the plan's end).
    """

    def __init__(
        self,
        request_id: str,
        *,
        caller: Optional[str] = None,
        trace: tuple[Optional[str], Optional[str]] = (None, None),
    ) -> None:
        self.started_at = time.perf_counter()
        self.record = CompletionRecord(
            request_id=request_id,
            caller=caller,
            stream=False,
            started_at=time.time(),
            traceparent=trace[0],
            tracestate=trace[1],
        )
        #: Seconds spent waiting on providers, and backing off between retries (not the proxy's own time).
        self.provider_wait = 0.0
        self.backoff_wait = 0.0
        #: Reads the record's ``usage`` with the answering adapter's meaning (its ``normalize_usage``).
        self.usage_reader: Callable[[Optional[Mapping[str, Any]]], NormalizedUsage] = chat_completions_usage
        #: The answer, once a provider gave one (assembled from the stream when streaming).
        self.response: Optional[ChatCompletionResponse] = None
        #: The plan's last target: the breaker never skips it.
        self.last_target = 0
        self.finished = False

    @property
    def request_id(self) -> str:
        """The request's id (``X-Request-ID``)."""
        return self.record.request_id

    @property
    def attempts(self) -> list[AttemptRecord]:
        """Every attempt so far, in order (the record's list: appending to it records an attempt)."""
        return self.record.attempts

    @property
    def provider(self) -> Optional[str]:
        """The provider that answered, once one has."""
        return self.record.provider

    @property
    def model(self) -> Optional[str]:
        """The model that answered, once one has."""
        return self.record.model

    def asked(self, request: ProviderRequest, *, stream: bool, messages: Optional[list[Any]] = None) -> None:
        """Record what the caller asked for; ``messages`` (their wire form) only when content logging is on."""
        record = self.record
        record.stream = stream
        record.requested_provider, record.requested_model = request.provider, request.model
        if messages is not None:
            record.content = {"messages": messages, "answer": None}

    def answered(self, provider: str, model: str) -> None:
        """A provider's answer carries the turn (the first chunk reached the client, or it completed)."""
        self.record.provider, self.record.model = provider, model

    def first_chunk(self) -> None:
        """The first chunk reached the client now."""
        self.record.time_to_first_token_ms = (time.perf_counter() - self.started_at) * 1000

    def first_sentence(self) -> None:
        """The first sentence was complete now."""
        self.record.time_to_first_sentence_ms = (time.perf_counter() - self.started_at) * 1000

    def overhead_ms(self, now: Optional[float] = None) -> float:
        """Time the proxy spent on its own: elapsed minus provider waits and backoff pauses."""
        now = time.perf_counter() if now is None else now
        return max(0.0, ((now - self.started_at) - self.provider_wait - self.backoff_wait) * 1000)

    def finish(self, outcome: str, status: int, error_type: Optional[str] = None) -> bool:
        """Close the record with how the request ended; False (and nothing changes) when already closed."""
        if self.finished:
            return False
        self.finished = True
        now = time.perf_counter()
        record = self.record
        record.outcome, record.status, record.error_type = outcome, status, error_type
        record.client_disconnected = outcome == "client_disconnected"
        record.total_ms = (now - self.started_at) * 1000
        record.overhead_ms = self.overhead_ms(now)
        record.normalized_usage = self.usage_reader(record.usage)
        if record.content is not None:
            answer = self.response
            record.content["answer"] = answer.message.content if answer is not None else None
        return True
