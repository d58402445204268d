"""Admission control: at most ``COMPLETIONS_MAX_INFLIGHT`` completions at once per worker.

A queue of streams makes every stream slow; a voice agent would rather hear at once that this
replica is full and go elsewhere. Beyond the limit, ``POST /v1/completions`` and
``POST /v1/chat/completions`` (one count for both) are answered at once, before the body is
read, with ``503`` and ``Retry-After: 1`` in the route's JSON error envelope (``error_type``
``overloaded_error``; in the OpenAI shape, its ``code``), and ``/readyz`` says
not ready while the worker is full, so that Kubernetes sends new connections to other pods.
Per worker process, like everything else in the proxy.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RETRY_AFTER", "Admission", "AdmissionCollector", "AdmissionMiddleware"]

#: Seconds a refused caller is asked to wait (or to try another replica at once).
RETRY_AFTER = 1
_NATIVE, _CHAT = "/v1/completions", "/v1/chat/completions"
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


class Admission:
    """The worker's count of completions in progress, against its limit (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0
        self.rejected = 0
        message = (
            f"this proxy worker is serving its limit of {limit} concurrent completions "
            f"(COMPLETIONS_MAX_INFLIGHT); retry in {RETRY_AFTER} s or on another replica"
        )
        self._bodies = {
            _NATIVE: orjson.dumps({"error": {"message": message, "type": "overloaded_error"}}),
            _CHAT: orjson.dumps(
                {"error": {"message": message, "type": "server_error", "param": None, "code": "overloaded_error"}}
            ),
        }

    @property
    def saturated(self) -> bool:
        """Whether a new completion would be refused now."""
        return 0 < self.limit <= self.inflight

    async def refuse(self, scope: Scope, send: Send) -> None:
        """Answer 503 with Retry-After, without reading the request."""
        self.rejected += 1
        body = self._bodies[scope["path"]]
        request_id = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex.encode()
        await send({
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER).encode()),
                (b"x-request-id", request_id),
            ],
        })
        await send({"type": "http.response.body", "body": body})


class AdmissionMiddleware:
    """Pure ASGI middleware counting completions (native and OpenAI-compatible) in progress and
    refusing beyond the limit."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.admission
        if scope["type"] != "http" or admission.limit <= 0 or scope["path"] not in (_NATIVE, _CHAT):
            await self.app(scope, receive, send)
            return
        if admission.inflight >= admission.limit:
            await admission.refuse(scope, send)
            return
        admission.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            admission.inflight -= 1


class AdmissionCollector(Collector):
    """``completions_inflight_requests`` and ``completions_admission_rejected_total``."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "completions_inflight_requests", "Completions in progress (admission control counts these)",
            value=self.admission.inflight,
        )
        yield CounterMetricFamily(
            "completions_admission_rejected", "Completions refused with 503: the worker was at its limit",
            value=self.admission.rejected,
        )
