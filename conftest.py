"""Root conftest: every test in the repository (core, proxy, providers, plugins) runs loopback-only,
and no secret may show up in a log line or an error body anywhere in the suite."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from completions_core.testing import leakcheck, netguard

#: The shared fixtures (``anyio_backend``, ``server``) for every suite in the repository.
pytest_plugins = ["completions_core.testing.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    netguard.enable_for_session(config)
    leakcheck.install()
    try:
        from completions_proxy.testing import ASGI_WRAPPERS
    except ModuleNotFoundError as exc:
        if exc.name not in ("starlette", "hypercorn", "structlog", "prometheus_client"):
            raise
        return  # a client-only install (tox -e client): there is no proxy to wrap

    if leakcheck.wrap_asgi not in ASGI_WRAPPERS:
        ASGI_WRAPPERS.append(leakcheck.wrap_asgi)
    _capture_structlog()


def _capture_structlog() -> None:
    """Put the leak check's processor first in the structlog chain every proxy app configures."""
    import structlog

    from completions_proxy import app as app_module

    original: Callable[..., None] = app_module.configure_logging
    if getattr(original, "captures_leaks", False):
        return

    def configure_with_capture(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        processors = list(structlog.get_config()["processors"])
        structlog.configure(processors=[leakcheck.structlog_processor, *processors])

    configure_with_capture.captures_leaks = True  # type: ignore[attr-defined]
    app_module.configure_logging = configure_with_capture  # type: ignore[assignment]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = unmarked_generated_tests(items)
    if unmarked:
        raise pytest.UsageError(
            "tests driven by hypothesis or schemathesis must be marked slow (pytest.mark.slow; CI, "
            "tox -e slow and ./dev.sh test-all run them) to keep the default run fast: " + ", ".join(unmarked)
        )


def unmarked_generated_tests(items: Iterable[Any]) -> list[str]:
    """The node ids of property-based or fuzz tests (hypothesis, schemathesis) without the slow
    mark: their example budgets cost seconds each, so they stay out of the default run."""
    return [
        item.nodeid
        for item in items
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False) and item.get_closest_marker("slow") is None
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = leakcheck.leaks()
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(sorted(set(found))[:50])
        if reporter is not None:
            reporter.write_line(f"SECRET LEAK CHECK FAILED: {len(found)} leak(s)\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
