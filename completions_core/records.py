"""What telemetry gets about a finished request: one record, no secrets, no content by default."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from completions_core.usage import NormalizedUsage

__all__ = ["USAGE_KINDS", "AttemptRecord", "CompletionRecord", "usage_counts"]

#: The names of NormalizedUsage's counts, in order (its dict form, without ``dataclasses.asdict``).
USAGE_KINDS = tuple(f.name for f in fields(NormalizedUsage))


def usage_counts(usage: NormalizedUsage) -> dict[str, int]:
    """``usage.as_dict()``, at a fraction of its cost (telemetry reads it once or twice per request)."""
    return {name: getattr(usage, name) for name in USAGE_KINDS}


def _json_copy(value: Any) -> Any:
    """A copy of a JSON value (dicts and lists copied all the way down, like ``dataclasses.asdict``)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


@dataclass
class AttemptRecord:
    """One call to a provider: who, how it ended, when and for how long."""

    provider: str
    model: str
    target: int = 0
    outcome: str = "ok"
    error_type: Optional[str] = None
    status: Optional[int] = None
    started_at: float = 0.0
    latency_ms: float = 0.0
    #: The circuit breaker when this attempt was made, if not closed: ``probe`` (this attempt
    #: probes a half-open target), ``open``/``half_open``/``rate_limited`` (tried anyway: no
    #: fallback left; or, with outcome ``breaker_skipped``, why it was skipped).
    breaker: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (every field, in order; what ``dataclasses.asdict`` gives, built directly)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "target": self.target,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "status": self.status,
            "started_at": self.started_at,
            "latency_ms": self.latency_ms,
            "breaker": self.breaker,
        }


@dataclass
class CompletionRecord:
    """Everything about one request that telemetry may see.

    The proxy keeps one per request and fills it in as the request goes (the route, then each
    attempt), closing it once the request has ended; the ``record_completion`` hook gets it then.

    ``caller`` is a non-reversible id of the proxy token; ``traceparent`` the caller's W3C trace
    context, if it sent one. ``content`` is filled only when content logging is opted in.
    """

    request_id: str
    caller: Optional[str]
    stream: bool
    started_at: float
    outcome: str = "ok"
    error_type: Optional[str] = None
    status: int = 200
    requested_provider: Optional[str] = None
    requested_model: Optional[str] = None
    provider: Optional[str] = None
    model: Optional[str] = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    total_ms: float = 0.0
    time_to_first_token_ms: Optional[float] = None
    time_to_first_sentence_ms: Optional[float] = None
    overhead_ms: float = 0.0
    usage: Optional[dict[str, Any]] = None
    normalized_usage: NormalizedUsage = field(default_factory=NormalizedUsage)
    finish_reason: Optional[str] = None
    chunks: int = 0
    sentences: int = 0
    client_disconnected: bool = False
    traceparent: Optional[str] = None
    tracestate: Optional[str] = None
    content: Optional[dict[str, Any]] = None

    @property
    def retries(self) -> int:
        """Attempts that repeated the target (primary or fallback) of the attempt before them."""
        return sum(1 for a, b in itertools.pairwise(self.attempts) if a.target == b.target)

    @property
    def fallbacks(self) -> int:
        """Attempts that moved on to the next fallback."""
        return sum(1 for a, b in itertools.pairwise(self.attempts) if a.target != b.target)

    def as_dict(self, *, trace: bool = True) -> dict[str, Any]:
        """JSON-ready form (what the log event carries): every field in order (nested values
        copied), then ``retries`` and ``fallbacks``; no ``content`` key unless content was recorded.
        With ``trace=False``, no ``traceparent`` and ``tracestate`` keys (the log line leaves them out).

        Built field by field: ``dataclasses.asdict`` cost several times as much, once per request.
        """
        attempts = self.attempts
        data: dict[str, Any] = {
            "request_id": self.request_id,
            "caller": self.caller,
            "stream": self.stream,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "status": self.status,
            "requested_provider": self.requested_provider,
            "requested_model": self.requested_model,
            "provider": self.provider,
            "model": self.model,
            "attempts": [attempt.as_dict() for attempt in attempts],
            "total_ms": self.total_ms,
            "time_to_first_token_ms": self.time_to_first_token_ms,
            "time_to_first_sentence_ms": self.time_to_first_sentence_ms,
            "overhead_ms": self.overhead_ms,
            "usage": _json_copy(self.usage),
            "normalized_usage": usage_counts(self.normalized_usage),
            "finish_reason": self.finish_reason,
            "chunks": self.chunks,
            "sentences": self.sentences,
            "client_disconnected": self.client_disconnected,
        }
        if trace:
            data["traceparent"] = self.traceparent
            data["tracestate"] = self.tracestate
        if self.content is not None:
            data["content"] = _json_copy(self.content)
        if len(attempts) < 2:
            data["retries"] = data["fallbacks"] = 0
        else:
            data["retries"] = self.retries
            data["fallbacks"] = self.fallbacks
        return data
