"""What telemetry gets about a finished request: one record, no secrets, no content by default."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from completions_core.usage import NormalizedUsage

__all__ = ["AttemptRecord", "CompletionRecord"]


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
        """JSON-ready form."""
        return asdict(self)


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the log event carries)."""
        data = asdict(self)
        data["normalized_usage"] = self.normalized_usage.as_dict()
        data["retries"] = self.retries
        data["fallbacks"] = self.fallbacks
        if self.content is None:
            data.pop("content")
        return data
