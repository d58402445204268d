"""The circuit breaker and the retry budget, state by state, with an injected clock (no waiting)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from completions_core import plugins
from completions_core.errors import ProviderError
from completions_proxy.breaker import (
    MIN_COUNTED_DEADLINE,
    PROBE_LEASE,
    RETRY_AFTER_COOLDOWN_CAP,
    BreakerOpen,
    BreakerSettings,
    Health,
    HealthCollector,
)
from completions_proxy.cli import main
from completions_proxy.settings import ConfigError, Settings


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


SETTINGS = BreakerSettings(failures=3, failure_ratio=0.5, window=10.0, cooldown=5.0, budget_floor=2, budget_ratio=0.2)
FAILURE = ProviderError("upstream 503", "overloaded_error", provider="p", status_code=503)


def _health(settings: BreakerSettings = SETTINGS) -> tuple[Health, Clock]:
    clock = Clock()
    return Health(settings, clock=clock), clock


def _fail(health: Health, times: int = 1, error: ProviderError = FAILURE, model: str = "m") -> None:
    for _ in range(times):
        health.admit("p", model).failed(error)


def _open(health: Health) -> None:
    _fail(health, SETTINGS.failures)
    assert health.state("p", "m") == "open"


def _skipped(health: Health, model: str = "m", **kwargs: bool) -> str:
    with pytest.raises(BreakerOpen) as info:
        health.admit("p", model, **kwargs)
    assert info.value.retryable is False and info.value.error_type == "unavailable_error"
    return info.value.reason


def test_closed_until_the_failure_threshold_then_open() -> None:
    health, _ = _health()
    _fail(health, SETTINGS.failures - 1)
    assert health.state("p", "m") == "closed"
    health.admit("p", "m").release()  # admitted: still closed
    _fail(health)
    assert health.state("p", "m") == "open"
    assert _skipped(health) == "open"
    assert health.state("p", "other-model") == "closed"  # per (provider, model)
    health.admit("p", "other-model").ok()


def test_failures_in_a_row_open_it_however_busy_the_target_was() -> None:
    health, _ = _health()
    for _ in range(100):
        health.admit("p", "m").ok()
    _fail(health, SETTINGS.failures - 1)
    assert health.state("p", "m") == "closed"
    _fail(health)
    assert health.state("p", "m") == "open"


def test_scattered_failures_open_it_only_at_the_ratio_of_attempts() -> None:
    health, _ = _health()
    for _ in range(3):  # failure, success, success: 3 of 9 failed, never two in a row
        _fail(health)
        health.admit("p", "m").ok()
        health.admit("p", "m").ok()
    assert health.state("p", "m") == "closed"
    for _ in range(2):  # failure, success: 5 of 13, still under half
        _fail(health)
        health.admit("p", "m").ok()
    assert health.state("p", "m") == "closed"
    _fail(health, 2)  # two in a row (under the three of the threshold), then a success: 7 of 16
    health.admit("p", "m").ok()
    assert health.state("p", "m") == "closed"
    _fail(health)  # 8 of 17
    assert health.state("p", "m") == "closed"
    _fail(health)  # 9 of 18: half
    assert health.state("p", "m") == "open"


def test_failures_older_than_the_window_are_forgotten() -> None:
    health, clock = _health()
    _fail(health, SETTINGS.failures - 1)
    clock.advance(SETTINGS.window + 1)
    _fail(health)
    assert health.state("p", "m") == "closed"


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("bad request", "invalid_request_error", status_code=400),
        ProviderError("bad key", "authentication_error", status_code=401),
        ProviderError("quota", "rate_limit_error", status_code=429),
        ProviderError("no such model", "not_found_error", status_code=404),
    ],
    ids=["400", "401", "429 without Retry-After", "404"],
)
def test_errors_of_one_caller_never_open_it(error: ProviderError) -> None:
    health, _ = _health()
    _fail(health, 10, error)
    assert health.state("p", "m") == "closed"


def test_only_timeouts_of_a_real_deadline_count() -> None:
    health, clock = _health()
    timeout = ProviderError("no first token", "timeout_error")
    for _ in range(5):
        health.admit("p", "m").failed(timeout)  # failed at once: a caller's tiny deadline
    assert health.state("p", "m") == "closed"
    for _ in range(SETTINGS.failures):
        ticket = health.admit("p", "m")
        clock.advance(MIN_COUNTED_DEADLINE)
        ticket.failed(timeout)
    assert health.state("p", "m") == "open"


@pytest.mark.parametrize("error_type", ["connection_error", "provider_error", "invalid_response_error"])
def test_connection_errors_5xx_and_malformed_answers_count(error_type: str) -> None:
    health, _ = _health()
    _fail(health, SETTINGS.failures, ProviderError("down", error_type))
    assert health.state("p", "m") == "open"


def test_open_becomes_half_open_after_the_cooldown_and_admits_one_probe() -> None:
    health, clock = _health()
    _open(health)
    clock.advance(SETTINGS.cooldown - 0.01)
    assert _skipped(health) == "open"
    clock.advance(0.01)
    assert health.state("p", "m") == "half_open"
    probe = health.admit("p", "m")
    assert probe.probe and probe.note == "probe"
    assert _skipped(health) == "half_open"  # one probe at a time
    assert _skipped(health) == "half_open"


def test_probe_success_closes_it() -> None:
    health, clock = _health()
    _open(health)
    clock.advance(SETTINGS.cooldown)
    health.admit("p", "m").ok()
    assert health.state("p", "m") == "closed"
    ticket = health.admit("p", "m")
    assert not ticket.probe and ticket.note is None
    # The window starts afresh: it takes the whole threshold again to open it.
    _fail(health, SETTINGS.failures - 1)
    assert health.state("p", "m") == "closed"


def test_probe_failure_opens_it_for_another_cooldown() -> None:
    health, clock = _health()
    _open(health)
    clock.advance(SETTINGS.cooldown)
    health.admit("p", "m").failed(FAILURE)
    assert health.state("p", "m") == "open"
    clock.advance(SETTINGS.cooldown - 0.01)
    assert _skipped(health) == "open"
    clock.advance(0.01)
    assert health.admit("p", "m").probe


def test_a_probe_without_verdict_lets_the_next_request_probe() -> None:
    health, clock = _health()
    _open(health)
    clock.advance(SETTINGS.cooldown)
    health.admit("p", "m").release()  # the caller went away
    assert health.state("p", "m") == "half_open"
    health.admit("p", "m", shared=True).failed(ProviderError("bad", "invalid_request_error", status_code=400))
    assert health.state("p", "m") == "half_open"  # a caller's error is no verdict either
    assert health.admit("p", "m").probe


def test_a_probe_that_never_reports_stops_blocking_after_its_lease() -> None:
    health, clock = _health()
    _open(health)
    clock.advance(SETTINGS.cooldown)
    assert health.admit("p", "m").probe
    clock.advance(PROBE_LEASE - 0.01)
    assert _skipped(health) == "half_open"
    clock.advance(0.01)
    assert health.admit("p", "m").probe


def test_a_success_that_started_before_it_opened_does_not_close_it() -> None:
    health, _ = _health()
    slow = health.admit("p", "m")
    _open(health)
    slow.ok()
    assert health.state("p", "m") == "open"


def test_the_last_target_is_tried_although_open_and_says_so() -> None:
    health, _ = _health()
    _open(health)
    ticket = health.admit("p", "m", last_resort=True)
    assert ticket.note == "open" and not ticket.probe
    assert health.last_resort == {"p": 1}
    ticket.ok()  # it answered: the target works again
    assert health.state("p", "m") == "closed"


def test_a_429_with_retry_after_cools_the_target_for_shared_credentials_only() -> None:
    health, clock = _health()
    health.admit("p", "m").failed(ProviderError("slow down", "rate_limit_error", status_code=429, retry_after=3.0))
    assert health.state("p", "m") == "closed"  # not a failure of the provider
    assert _skipped(health) == "rate_limited"
    health.admit("p", "m", shared=False).ok()  # a caller's own key has its own quota
    assert health.admit("p", "m", last_resort=True).note == "rate_limited"
    clock.advance(3.0)
    assert health.admit("p", "m").note is None


def test_a_429_on_a_callers_own_key_cools_nothing_and_retry_after_is_capped() -> None:
    health, clock = _health()
    health.admit("p", "m", shared=False).failed(ProviderError("slow", "rate_limit_error", retry_after=30.0))
    health.admit("p", "m").ok()
    health.admit("p", "m").failed(ProviderError("slow", "rate_limit_error", retry_after=86400.0))
    clock.advance(RETRY_AFTER_COOLDOWN_CAP - 0.01)
    assert _skipped(health) == "rate_limited"
    clock.advance(0.01)
    health.admit("p", "m").ok()


def test_breaker_off_never_skips() -> None:
    health, _ = _health(BreakerSettings(failures=0))
    _fail(health, 50)
    assert health.admit("p", "m").note is None
    assert health.state("p", "m") == "closed"


def test_retry_budget_is_the_floor_plus_a_share_of_first_attempts() -> None:
    health, _ = _health(BreakerSettings(failures=0, budget_floor=2, budget_ratio=0.2))
    for _ in range(10):
        health.admit("p", "m").failed(FAILURE)  # ten first attempts
    assert health.budget_left("p") == pytest.approx(4.0)
    allowed = 0
    while health.allow_retry("p"):
        allowed += 1
        health.admit("p", "m").failed(FAILURE)  # the retry itself
    assert allowed == 4
    assert health.budget_denied == {"p": 1}
    assert health.allow_retry("other") is True  # per provider: an idle one has its floor


def test_retry_budget_refills_as_the_window_slides() -> None:
    health, clock = _health()
    assert health.allow_retry("p") and health.allow_retry("p")
    assert not health.allow_retry("p")
    clock.advance(SETTINGS.budget_window + 1)
    assert health.allow_retry("p")


def test_skipped_attempts_do_not_earn_retry_budget() -> None:
    health, _ = _health()
    _open(health)
    before = health.budget_left("p")
    for _ in range(20):
        _skipped(health)
    assert health.budget_left("p") == before


def test_retry_budget_off() -> None:
    health, _ = _health(BreakerSettings(budget_ratio=None))
    assert all(health.allow_retry("p") for _ in range(100))
    assert health.budget_left("p") is None


def test_metrics_show_state_transitions_skips_and_budget() -> None:
    health, clock = _health()
    _open(health)
    _skipped(health)
    health.admit("p", "m", last_resort=True).release()
    registry = CollectorRegistry()
    registry.register(HealthCollector(health))
    text = generate_latest(registry).decode()
    assert 'completions_breaker_state{model="m",provider="p"} 2.0' in text
    assert 'completions_breaker_transitions_total{provider="p",state="open"} 1.0' in text
    assert 'completions_breaker_skips_total{provider="p",reason="open"} 1.0' in text
    assert 'completions_breaker_last_resort_total{provider="p"} 1.0' in text
    assert 'completions_retry_budget_left{provider="p"}' in text
    clock.advance(SETTINGS.cooldown)
    assert 'completions_breaker_state{model="m",provider="p"} 1.0' in generate_latest(registry).decode()


def test_tracked_targets_are_bounded() -> None:
    health, _ = _health()
    for i in range(1000):
        health.admit("p", f"model-{i}").ok()
    assert len(health.targets) <= 256


def test_settings_from_the_environment() -> None:
    token = {"COMPLETIONS_PROXY_TOKENS": "x" * 16}
    settings = Settings.from_env({
        **token,
        "COMPLETIONS_BREAKER_FAILURES": "7",
        "COMPLETIONS_BREAKER_FAILURE_RATIO": "0.25",
        "COMPLETIONS_BREAKER_WINDOW": "30",
        "COMPLETIONS_BREAKER_COOLDOWN": "2.5",
        "COMPLETIONS_RETRY_BUDGET_RATIO": "off",
        "COMPLETIONS_RETRY_BUDGET_FLOOR": "0",
        "COMPLETIONS_MAX_INFLIGHT": "0",
    })
    breaker = settings.breaker_settings()
    assert (breaker.failures, breaker.failure_ratio, breaker.window, breaker.cooldown) == (7, 0.25, 30.0, 2.5)
    assert breaker.budget_ratio is None and breaker.budget_floor == 0 and settings.max_inflight == 0
    defaults = Settings.from_env(token)
    assert defaults.breaker_settings() == BreakerSettings() and defaults.max_inflight == 512
    with pytest.raises(ConfigError, match="COMPLETIONS_BREAKER_FAILURE_RATIO must be between 0 and 1"):
        Settings.from_env({**token, "COMPLETIONS_BREAKER_FAILURE_RATIO": "2"})
    with pytest.raises(ConfigError, match="COMPLETIONS_MAX_INFLIGHT must be an integer"):
        Settings.from_env({**token, "COMPLETIONS_MAX_INFLIGHT": "many"})


def test_check_config_prints_the_breaker_budget_and_admission_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPLETIONS_PROXY_TOKENS", "t" * 20)
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded")
    monkeypatch.setenv("COMPLETIONS_BREAKER_FAILURES", "0")
    monkeypatch.setenv("COMPLETIONS_MAX_INFLIGHT", "64")
    plugins.reset_plugins()
    try:
        assert main(["--check-config"]) == 0
    finally:
        plugins.reset_plugins()
    out = capsys.readouterr().out
    assert "circuit breaker: off" in out
    assert "retry budget: 10 + 0.2 x requests per 10 s" in out
    assert "max in-flight completions per worker: 64" in out
