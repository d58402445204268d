"""Telemetry: one structured log event and a set of Prometheus metrics per request.

Both are fed from one :class:`~completions_core.records.CompletionRecord`, which plugins also
receive through the ``record_completion`` hook (the OpenTelemetry plugin builds spans from it).
Nothing here ever sees a key; message content is recorded only when explicitly opted in.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Optional

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from completions_core.errors import ERROR_STATUS
from completions_core.records import USAGE_KINDS, CompletionRecord

__all__ = ["Labels", "QUIET_LOGGERS", "Metrics", "Telemetry", "configure_logging"]

#: The label value of every name outside the bounded set.
OTHER = "other"
_MAX_LABEL_CHARS = 128

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


#: Third-party loggers held at WARNING whatever the root level: at DEBUG they log request headers
#: (hpack the proxy token of HTTP/2 requests, httpcore/httpx the customer keys sent upstream).
#: Each adapter adds its SDK's loggers (``ProviderAdapter.sdk_loggers``).
QUIET_LOGGERS = (
    "hpack", "h2", "hyperframe", "h11", "httpcore", "httpcore2", "httpx", "httpx2", "aiohttp",
    "urllib3", "requests",
)  # fmt: skip


class UTCStamper:
    """structlog's ``TimeStamper(fmt="iso", utc=True)``: ``timestamp`` in ISO 8601, UTC, with a ``Z``
    (``2026-12-07T03:15:09.201665Z``; no fraction on a whole second, as ``datetime.isoformat``
    writes it). The date and time of the current second are formatted once per second, not once
    per line; the microseconds are the clock's, floored as ``datetime.now`` floors them."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict["timestamp"] = self.stamp(time.time_ns())
        return event_dict

    def stamp(self, ns: int) -> str:
        """The timestamp of ``ns`` nanoseconds since the epoch."""
        second, rest = divmod(ns, 1_000_000_000)
        cached, prefix = self._second
        if cached != second:
            prefix = datetime.datetime.fromtimestamp(second, datetime.UTC).isoformat()[:-6]
            self._second = (second, prefix)  # one tuple: a thread never sees a second with another's text
        micro = rest // 1000
        return f"{prefix}.{micro:06d}Z" if micro else f"{prefix}Z"


def configure_logging(fmt: str = "auto", level: str = "INFO", quiet: Iterable[str] = ()) -> None:
    """JSON lines in production, readable lines in a terminal ("json", "console" or "auto").

    Also pins :data:`QUIET_LOGGERS` and the ``quiet`` ones (the providers' SDK loggers) at
    WARNING, so no log level (DEBUG included) shows a secret.
    """
    for name in (*QUIET_LOGGERS, *quiet):
        logging.getLogger(name).setLevel(logging.WARNING)
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: Any
    factory: Any
    if fmt == "json":
        # orjson renders to bytes: one allocation less per event than json + encode.
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory = structlog.BytesLoggerFactory(sys.stderr.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer()
        factory = structlog.PrintLoggerFactory(sys.stderr)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            UTCStamper(),  # TimeStamper(fmt="iso", utc=True), at a third of its cost per line
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


class Labels:
    """Bounded label values: whatever callers send, each label takes at most a fixed number of values.

    ``provider``: an installed provider's name, else ``other``. ``model``: with ``models``
    configured (``COMPLETIONS_METRICS_MODELS``), one of those, else ``other``; without, the first
    ``max_models`` (``COMPLETIONS_METRICS_MAX_MODELS``) models that a provider answered for, then
    ``other``. A model a caller asked for but no provider answered is never admitted, so a
    stream of made-up names cannot fill the set. ``error_type``: a known error type, else ``other``.
    """

    def __init__(
        self,
        providers: Iterable[str] = (),
        models: Iterable[str] = (),
        max_models: int = 50,
        aliases: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.providers = frozenset(providers)
        self.aliases = dict(aliases or {})
        self.allowed_models = frozenset(models)
        self.max_models = max_models
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def provider(self, name: Optional[str]) -> str:
        if not name:
            return "none"
        if name in self.providers:
            return name
        key = name[:_MAX_LABEL_CHARS].strip().lower()
        canonical = self.aliases.get(key, key)
        return canonical if canonical in self.providers else OTHER

    def model(self, name: Optional[str], *, answered: bool = False) -> str:
        if not name:
            return "none"
        if self.allowed_models:
            return name if name in self.allowed_models else OTHER
        if name in self._seen:
            return name
        if not answered or len(name) > _MAX_LABEL_CHARS:
            return OTHER
        with self._lock:
            if len(self._seen) < self.max_models:
                self._seen.add(name)
                return name
        return OTHER

    @staticmethod
    def error_type(name: Optional[str]) -> str:
        if not name:
            return "unknown"
        return name if name in ERROR_STATUS else OTHER


class Metrics:
    """The proxy's Prometheus metrics, in a registry of their own (one per app).

    Every label takes values from a bounded set (:class:`Labels`), so the exposition stays small
    and rendering it stays quick whatever callers send.
    """

    def __init__(self, cache_size: Any = None, labels: Optional[Labels] = None) -> None:
        self.labels = labels if labels is not None else Labels()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "completions_requests", "Finished requests", ["provider", "model", "outcome", "stream"], registry=r
        )
        self.first_token = Histogram(
            "completions_time_to_first_token_seconds", "Time to the first chunk", ["provider"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.first_sentence = Histogram(
            "completions_time_to_first_sentence_seconds", "Time to the first sentence", ["provider"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.duration = Histogram(
            "completions_request_duration_seconds", "Whole request", ["provider", "stream"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.overhead = Histogram(
            "completions_proxy_overhead_seconds", "Time not spent waiting on the provider",
            buckets=_OVERHEAD_BUCKETS, registry=r,
        )
        self.tokens = Counter("completions_tokens", "Tokens by kind", ["provider", "model", "kind"], registry=r)
        self.retries = Counter("completions_retries", "Retried attempts", ["provider"], registry=r)
        self.fallbacks = Counter("completions_fallbacks", "Moves to a fallback", ["provider"], registry=r)
        self.attempt_errors = Counter(
            "completions_attempt_errors", "Failed attempts", ["provider", "error_type"], registry=r
        )
        self.inflight = Gauge("completions_inflight_streams", "Streams being served", registry=r)
        self.disconnects = Counter("completions_client_disconnects", "Clients that went away", registry=r)
        self.clients = Gauge("completions_sdk_clients", "SDK clients in the cache", registry=r)
        if cache_size is not None:
            self.clients.set_function(cache_size)
        #: Labelled children by (metric, label values): every label is bounded (:class:`Labels`),
        #: and so is this; ``outcome`` is one of the proxy's few outcomes, cut at 32 characters.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        #: A finished request's children by its (provider, model, outcome, stream) labels, bounded
        #: like them: the request counter, the duration, then the first-token and first-sentence
        #: histograms (None until first observed: a child made is a series shown) and the token
        #: counters by kind. One lookup per request instead of one per metric.
        self._sets: dict[tuple[str, str, str, str], list[Any]] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per set of values (all of them bounded)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def _set(self, provider: str, model: str, outcome: str, stream: str) -> list[Any]:
        key = (provider, model, outcome, stream)
        found = self._sets.get(key)
        if found is None:
            child = self._child
            found = self._sets[key] = [
                child(self.requests, provider, model, outcome, stream),
                child(self.duration, provider, stream),
                None,
                None,
                {},
            ]
        return found

    def observe(self, record: CompletionRecord) -> None:
        """Count one finished request."""
        labels = self.labels
        provider = labels.provider(record.provider or record.requested_provider)
        if record.model:
            model = labels.model(record.model, answered=record.provider is not None)
        else:
            model = labels.model(record.requested_model)
        stream = "true" if record.stream else "false"
        children = self._set(provider, model, record.outcome[:32], stream)
        requests, duration, first_token, first_sentence, tokens = children
        requests.inc()
        duration.observe(record.total_ms / 1000)
        self.overhead.observe(max(record.overhead_ms, 0.0) / 1000)
        if record.time_to_first_token_ms is not None:
            if first_token is None:
                first_token = children[2] = self._child(self.first_token, provider)
            first_token.observe(record.time_to_first_token_ms / 1000)
        if record.time_to_first_sentence_ms is not None:
            if first_sentence is None:
                first_sentence = children[3] = self._child(self.first_sentence, provider)
            first_sentence.observe(record.time_to_first_sentence_ms / 1000)
        usage = record.normalized_usage
        for kind in USAGE_KINDS:  # usage_counts(usage), without building its dict
            count = getattr(usage, kind)
            if count:
                counter = tokens.get(kind)
                if counter is None:
                    counter = tokens[kind] = self._child(self.tokens, provider, model, kind.removesuffix("_tokens"))
                counter.inc(count)
        for previous, attempt in itertools.pairwise(record.attempts):
            counter = self.retries if previous.target == attempt.target else self.fallbacks
            counter.labels(labels.provider(attempt.provider)).inc()
        for attempt in record.attempts:
            if attempt.outcome == "error":
                error_type = labels.error_type(attempt.error_type)
                self.attempt_errors.labels(labels.provider(attempt.provider), error_type).inc()
        if record.client_disconnected:
            self.disconnects.inc()


class Telemetry:
    """Logs, counts and hands to plugins the record of every finished request.

    The record is the one its :class:`~completions_proxy.turns.Turn` filled in on the way;
    telemetry reads it as it is, and drops ``content`` unless content logging is opted in.
    """

    def __init__(self, metrics: Metrics, hook: Any = None, *, log_content: bool = False) -> None:
        self.metrics = metrics
        self.hook = hook
        self.log_content = log_content
        self.logger = structlog.get_logger("completions_proxy")

    def emit(self, record: CompletionRecord) -> None:
        """Log, count, and call the ``record_completion`` hook; telemetry never fails a request."""
        if not self.log_content:
            record.content = None
        try:
            data = record.as_dict(trace=False)
            self.logger.info("completion", **data)
            self.metrics.observe(record)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break serving
            self.logger.warning("telemetry_failed", exception=type(exc).__name__)
        if self.hook is not None:
            try:
                caller = self.hook.record_completion
                # pluggy's call checks its arguments and copies the list of plugins: not when no
                # plugin implements the hook (the proxy without the OpenTelemetry plugin).
                implemented = getattr(caller, "get_hookimpls", None)
                if implemented is None or implemented():
                    caller(record=record)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not break serving
                self.logger.warning("telemetry_plugin_failed", exception=type(exc).__name__)
