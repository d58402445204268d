"""Provider health, per process: a circuit breaker per (provider, model) and a retry budget per provider.

Every attempt asks :meth:`Health.admit` before it calls a provider and reports how it went on
the :class:`Ticket` it gets back. From those reports:

- **the breaker** of a (provider, model) opens after ``failures`` failed attempts in a row
  (each within ``window`` seconds of the one before: a hard outage is noticed within its first
  few failures, however busy the target was before), or after ``failures`` failed attempts
  within ``window`` seconds that are at least ``failure_ratio`` of its attempts in that window
  (a flapping target).
  Failures are what says the provider is unwell (connection errors, 5xx, 529, malformed
  responses, timeouts and first-token deadline misses of at least :data:`MIN_COUNTED_DEADLINE`),
  never what says a caller is wrong (400, 401, 403, 404, a quota 429). While open, the target is
  skipped (the attempt is recorded as ``breaker_skipped`` and the request moves straight to its
  next fallback). After ``cooldown`` seconds it is half-open: exactly one request at a time
  probes it; a success closes it, a failure opens it for another cool-down.
- **a 429 with Retry-After** on a shared credential (the managed key, or a keyless provider)
  cools that target for that long (at most :data:`RETRY_AFTER_COOLDOWN_CAP`) for every request
  that uses the shared credential; a caller's own key has a quota of its own.
- **a target with no fallback after it is always tried** (a refused attempt is worse than a
  slow one); its attempt record says the breaker was not closed.
- **the retry budget** of a provider allows ``floor + ratio x`` its first attempts in the last
  ``budget_window`` seconds as retries; beyond that a retry is not made (the request moves on to
  its next fallback, or fails with the error it has), so an outage does not multiply its load.

All of it is in memory, per worker process: each pod (and each worker) decides for itself.
The clock is injectable (``Health(..., clock=...)``) so that every transition can be tested
without waiting.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Optional, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from completions_core.errors import ProviderError

__all__ = [
    "BreakerOpen",
    "BreakerSettings",
    "Health",
    "HealthCollector",
    "MIN_COUNTED_DEADLINE",
    "RETRY_AFTER_COOLDOWN_CAP",
    "Ticket",
]

#: The longest a provider's Retry-After may cool a target for everyone (seconds).
RETRY_AFTER_COOLDOWN_CAP = 60.0
#: A timeout counts against a provider only if the attempt waited at least this long (seconds):
#: a caller's own sub-second deadline says more about the caller than about the provider.
MIN_COUNTED_DEADLINE = 0.5
#: A probe that has not reported after this long no longer blocks the next one (a safety net:
#: every attempt reports, but a probe that hangs without any deadline must not block forever).
PROBE_LEASE = 30.0
#: At most this many (provider, model) targets are tracked; the least recently used go first.
MAX_TARGETS = 256

# Failures that say the provider (not the caller) is unwell.
_FAILURES = frozenset(
    {"connection_error", "provider_error", "overloaded_error", "unavailable_error", "invalid_response_error"}
)
_BUCKETS = 10

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
_STATE_VALUE = {CLOSED: 0.0, HALF_OPEN: 1.0, OPEN: 2.0}


@dataclass(frozen=True)
class BreakerSettings:
    """The thresholds (module docstring); ``failures=0`` turns the breaker off, ``budget_ratio=None`` the budget."""

    failures: int = 5
    failure_ratio: float = 0.5
    window: float = 10.0
    cooldown: float = 5.0
    budget_ratio: Optional[float] = 0.2
    budget_floor: int = 10
    budget_window: float = 10.0


class Labeller(Protocol):
    """Maps names onto bounded label values (telemetry's ``Labels``)."""

    def provider(self, name: Optional[str]) -> str: ...

    def model(self, name: Optional[str], *, answered: bool = False) -> str: ...


class BreakerOpen(ProviderError):
    """An attempt not made: the target's breaker is open (or it is cooling after a 429)."""

    def __init__(self, provider: str, model: str, reason: str) -> None:
        why = f"circuit breaker is {reason.replace('_', '-')}"
        if reason == "rate_limited":
            why = "managed key is rate limited (Retry-After)"
        super().__init__(
            f"{provider} {model} skipped: its {why}", "unavailable_error", provider=provider, retryable=False
        )
        self.reason = reason


class _Window:
    """Two counts over a sliding window, in ``_BUCKETS`` buckets."""

    __slots__ = ("buckets", "width")

    def __init__(self, span: float) -> None:
        self.width = span / _BUCKETS
        self.buckets: deque[list[float]] = deque()  # [bucket start, a, b]

    def _trim(self, now: float) -> None:
        horizon = now - self.width * _BUCKETS
        while self.buckets and self.buckets[0][0] <= horizon:
            self.buckets.popleft()

    def add(self, now: float, a: int, b: int) -> None:
        self._trim(now)
        start = now - (now % self.width) if self.width > 0 else now
        if self.buckets and self.buckets[-1][0] == start:
            last = self.buckets[-1]
            last[1] += a
            last[2] += b
        else:
            self.buckets.append([start, a, b])

    def counts(self, now: float) -> tuple[int, int]:
        self._trim(now)
        return int(sum(b[1] for b in self.buckets)), int(sum(b[2] for b in self.buckets))

    def clear(self) -> None:
        self.buckets.clear()


class _Target:
    """The breaker of one (provider, model)."""

    __slots__ = ("cooled_until", "last_failure", "opened_until", "outcomes", "probe_since", "probing", "state",
                 "streak")

    def __init__(self, window: float) -> None:
        self.state = CLOSED
        self.opened_until = 0.0
        self.probing = False
        self.probe_since = 0.0
        self.cooled_until = 0.0
        self.outcomes = _Window(window)  # (failures, attempts)
        self.streak = 0  # failures in a row
        self.last_failure = 0.0


class Ticket:
    """One admitted attempt: report one of :meth:`ok`, :meth:`failed`, :meth:`release` (later calls are ignored)."""

    __slots__ = ("_done", "health", "key", "probe", "shared", "started", "state")

    def __init__(
        self, health: Health, key: tuple[str, str], state: str, probe: bool, shared: bool, started: float
    ) -> None:
        self.health = health
        self.key = key
        #: The breaker's state when the attempt was admitted ("closed" for nearly every attempt).
        self.state = state
        self.probe = probe
        self.shared = shared
        self.started = started
        self._done = False

    @property
    def note(self) -> Optional[str]:
        """What the attempt record says about the breaker: None when closed, else ``probe``, ``open``, ..."""
        if self.probe:
            return "probe"
        return None if self.state == CLOSED else self.state

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], exc: Optional[BaseException], tb: object) -> None:
        """Report by how the block ended: no exception, a ProviderError, a timeout, or no verdict."""
        if exc is None:
            self.ok()
        elif isinstance(exc, ProviderError):
            self.failed(exc)
        elif isinstance(exc, TimeoutError):
            self.failed(ProviderError(f"{self.key[0]} timed out", "timeout_error", provider=self.key[0]))
        else:
            self.release()

    def ok(self) -> None:
        """The provider answered (a first chunk, or a whole response)."""
        if not self._done:
            self._done = True
            self.health._succeeded(self)

    def failed(self, error: ProviderError) -> None:
        """The attempt failed with ``error``; whether that counts against the provider is decided here."""
        if not self._done:
            self._done = True
            self.health._failed(self, error)

    def release(self) -> None:
        """The attempt ended without a verdict (cancelled, lost a hedge)."""
        if not self._done:
            self._done = True
            self.health._released(self)


class Health:
    """The breakers and retry budgets of one worker process."""

    def __init__(
        self, settings: BreakerSettings = BreakerSettings(), *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.targets: OrderedDict[tuple[str, str], _Target] = OrderedDict()
        self.budgets: dict[str, _Window] = {}  # provider -> (attempts, retries)
        # Counters for /metrics (labels: installed providers only).
        self.transitions: dict[tuple[str, str], int] = {}  # (provider, new state) -> count
        self.skips: dict[tuple[str, str], int] = {}  # (provider, reason) -> count
        self.last_resort: dict[str, int] = {}  # provider -> attempts made although not closed
        self.budget_denied: dict[str, int] = {}  # provider -> retries not made

    @property
    def enabled(self) -> bool:
        """Whether the breaker is on (the budget has its own switch)."""
        return self.settings.failures > 0

    # -- the breaker ------------------------------------------------------------------------

    def _target(self, key: tuple[str, str]) -> _Target:
        entry = self.targets.get(key)
        if entry is None:
            entry = self.targets[key] = _Target(self.settings.window)
            if len(self.targets) > MAX_TARGETS:
                self.targets.popitem(last=False)
        else:
            self.targets.move_to_end(key)
        return entry

    def _move(self, key: tuple[str, str], entry: _Target, state: str) -> None:
        entry.state = state
        counted = (key[0], state)
        self.transitions[counted] = self.transitions.get(counted, 0) + 1

    def admit(self, provider: str, model: str, *, shared: bool = True, last_resort: bool = False) -> Ticket:
        """A ticket for one attempt, or :class:`BreakerOpen` when the target is to be skipped.

        ``shared``: the attempt uses a credential shared by many callers (429 cool-downs apply);
        ``last_resort``: no fallback follows this target, so it is tried whatever its state.
        """
        now = self.clock()
        key = (provider, model)
        self._deposit(provider, now)
        if not self.enabled:
            return Ticket(self, key, CLOSED, False, shared, now)
        entry = self._target(key)
        reason: Optional[str] = None
        probe = False
        state = entry.state
        if shared and entry.cooled_until > now:
            reason = "rate_limited"
        elif state == OPEN and now >= entry.opened_until:
            self._move(key, entry, HALF_OPEN)
            state = HALF_OPEN
        elif state == OPEN:
            reason = OPEN
        if reason is None and state == HALF_OPEN:
            if entry.probing and now - entry.probe_since < PROBE_LEASE:
                reason = HALF_OPEN  # another request is probing it
            else:
                entry.probing, entry.probe_since, probe = True, now, True
        if reason is None:
            return Ticket(self, key, state, probe, shared, now)
        if last_resort:
            self.last_resort[provider] = self.last_resort.get(provider, 0) + 1
            return Ticket(self, key, reason, False, shared, now)
        self._undeposit(provider, now)
        counted = (provider, reason)
        self.skips[counted] = self.skips.get(counted, 0) + 1
        raise BreakerOpen(provider, model, reason)

    def _succeeded(self, ticket: Ticket) -> None:
        if not self.enabled:
            return
        now = self.clock()
        entry = self._target(ticket.key)
        entry.outcomes.add(now, 0, 1)
        entry.streak = 0
        if ticket.probe:
            entry.probing = False
        if ticket.state == "rate_limited":
            entry.cooled_until = 0.0  # it answered after all
        # Only an attempt made while the breaker was not closed (the probe, a last resort) closes
        # it: a slow success that started before the outage says nothing about now.
        if entry.state != CLOSED and ticket.state != CLOSED:
            self._move(ticket.key, entry, CLOSED)
            entry.outcomes.clear()
            entry.streak = 0

    def _failed(self, ticket: Ticket, error: ProviderError) -> None:
        if not self.enabled:
            return
        now = self.clock()
        entry = self._target(ticket.key)
        if error.error_type == "rate_limit_error":
            if error.retry_after and ticket.shared:
                entry.cooled_until = max(entry.cooled_until, now + min(error.retry_after, RETRY_AFTER_COOLDOWN_CAP))
            counts = False
        elif error.error_type == "timeout_error":
            counts = now - ticket.started >= MIN_COUNTED_DEADLINE
        else:
            counts = error.error_type in _FAILURES or (error.status_code or 0) >= 500
        if ticket.probe:
            entry.probing = False
        if not counts:
            return
        entry.outcomes.add(now, 1, 1)
        settings = self.settings
        entry.streak = entry.streak + 1 if now - entry.last_failure <= settings.window else 1
        entry.last_failure = now
        if ticket.probe or entry.state == HALF_OPEN:
            self._open(ticket.key, entry, now)
        elif entry.state == CLOSED:
            failures, attempts = entry.outcomes.counts(now)
            flapping = failures >= settings.failures and failures >= settings.failure_ratio * attempts
            if entry.streak >= settings.failures or flapping:
                self._open(ticket.key, entry, now)

    def _open(self, key: tuple[str, str], entry: _Target, now: float) -> None:
        entry.opened_until = now + self.settings.cooldown
        entry.probing = False
        self._move(key, entry, OPEN)

    def _released(self, ticket: Ticket) -> None:
        if ticket.probe:
            entry = self.targets.get(ticket.key)
            if entry is not None:
                entry.probing = False

    def state(self, provider: str, model: str) -> str:
        """The breaker's state as the next request would see it (no transition is made)."""
        entry = self.targets.get((provider, model))
        if entry is None:
            return CLOSED
        if entry.state == OPEN and self.clock() >= entry.opened_until:
            return HALF_OPEN
        return entry.state

    # -- the retry budget -------------------------------------------------------------------

    def _budget(self, provider: str) -> _Window:
        window = self.budgets.get(provider)
        if window is None:
            window = self.budgets[provider] = _Window(self.settings.budget_window)
        return window

    def _deposit(self, provider: str, now: float) -> None:
        if self.settings.budget_ratio is not None:
            self._budget(provider).add(now, 1, 0)

    def _undeposit(self, provider: str, now: float) -> None:
        if self.settings.budget_ratio is not None:
            self._budget(provider).add(now, -1, 0)

    def budget_left(self, provider: str) -> Optional[float]:
        """Retries ``provider`` may still make in the current window (None: no budget)."""
        ratio = self.settings.budget_ratio
        if ratio is None:
            return None
        attempts, retries = self._budget(provider).counts(self.clock())
        # Retries were admitted as attempts too: the first attempts are the difference.
        return self.settings.budget_floor + ratio * max(attempts - retries, 0) - retries

    def allow_retry(self, provider: str) -> bool:
        """Whether one more retry of ``provider`` fits its budget; it is counted when it does."""
        left = self.budget_left(provider)
        if left is None:
            return True
        if left < 1:
            self.budget_denied[provider] = self.budget_denied.get(provider, 0) + 1
            return False
        self._budget(provider).add(self.clock(), 0, 1)
        return True


class HealthCollector(Collector):
    """Prometheus metrics of a :class:`Health`, computed at scrape time (bounded label sets).

    ``labels`` (the metrics' :class:`~completions_proxy.telemetry.Labels`) maps provider and model
    names onto their bounded sets; targets that share a label show the worst state among them.
    """

    def __init__(self, health: Health, labels: Optional[Labeller] = None) -> None:
        self.health = health
        self.labels = labels

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        health = self.health
        state = GaugeMetricFamily(
            "completions_breaker_state",
            "Breaker state per tracked target: 0 closed, 1 half-open, 2 open",
            labels=["provider", "model"],
        )
        worst: dict[tuple[str, str], float] = {}
        for provider, model in list(health.targets):
            key = (self.labels.provider(provider), self.labels.model(model)) if self.labels else (provider, model)
            worst[key] = max(worst.get(key, 0.0), _STATE_VALUE[health.state(provider, model)])
        for (provider, model), value in sorted(worst.items()):
            state.add_metric([provider, model], value)
        yield state
        transitions = CounterMetricFamily(
            "completions_breaker_transitions", "Breaker state changes", labels=["provider", "state"]
        )
        for (provider, to), count in sorted(health.transitions.items()):
            transitions.add_metric([provider, to], count)
        yield transitions
        skips = CounterMetricFamily(
            "completions_breaker_skips", "Attempts not made: breaker open, half-open or rate limited",
            labels=["provider", "reason"],
        )
        for (provider, reason), count in sorted(health.skips.items()):
            skips.add_metric([provider, reason], count)
        yield skips
        last = CounterMetricFamily(
            "completions_breaker_last_resort", "Attempts made with the breaker not closed: no fallback left",
            labels=["provider"],
        )
        for provider, count in sorted(health.last_resort.items()):
            last.add_metric([provider], count)
        yield last
        left = GaugeMetricFamily(
            "completions_retry_budget_left", "Retries a provider may still make now", labels=["provider"]
        )
        for provider in sorted(health.budgets):
            budget = health.budget_left(provider)
            if budget is not None:
                left.add_metric([provider], max(budget, 0.0))
        yield left
        denied = CounterMetricFamily(
            "completions_retry_budget_denied", "Retries not made: the provider's retry budget was spent",
            labels=["provider"],
        )
        for provider, count in sorted(health.budget_denied.items()):
            denied.add_metric([provider], count)
        yield denied
