"""Provider SDKs are imported, and a first client built, at start-up: before readiness, off the loop.

Issue 14, item 16: a new worker's first requests stalled 2-7 s on SDK imports done on the event
loop. ``ProviderAdapter.prepare()`` now runs for every adapter in the lifespan start-up, in a
worker thread, and ``/readyz`` stays 503 until it is done. What is measured instead of time: the
modules a first request imports after start-up (none, for every built-in provider).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from completions_core.adapter import ProviderAdapter
from completions_core.plugins import ProviderRegistry
from completions_proxy.app import create_app
from completions_proxy.settings import Settings
from tests.adapters.harness import PROVIDERS

pytestmark = [pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
SDK_MODULES = {
    "openai": ["openai", "openai.resources.chat.completions.completions", "httpx2"],
    "alibaba": ["openai", "httpx2"],
    "anthropic": ["anthropic", "anthropic.resources.messages", "httpx2"],
    "anthropic_vertex": ["anthropic", "anthropic.lib.vertex", "google.oauth2.service_account"],
    "google": ["google.genai", "google.genai.models", "httpx2"],
}


async def _asgi_get(app: Any, path: str) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": "",
    }  # fmt: skip
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


class Lifespan:
    """Drives an ASGI app's lifespan by hand, so a test can look at the app during start-up."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def receive() -> dict[str, Any]:
            return await self.inbox.get()

        async def send(message: dict[str, Any]) -> None:
            await self.outbox.put(message)

        self.task = asyncio.get_running_loop().create_task(
            self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        )
        await self.inbox.put({"type": "lifespan.startup"})

    async def started(self) -> str:
        return str((await self.outbox.get())["type"])

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        assert await self.outbox.get() == {"type": "lifespan.shutdown.complete"}
        assert self.task is not None
        await self.task


class SlowToPrepare(ProviderAdapter):
    """An adapter whose prepare() blocks (in its worker thread) until the test releases it."""

    name = "slow_prepare"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.entered = asyncio.Event()
        self.release = threading.Event()
        self.thread: str | None = None

    def prepare(self) -> None:
        self.thread = threading.current_thread().name
        self.loop.call_soon_threadsafe(self.entered.set)
        assert self.release.wait(10)


def _settings() -> Settings:
    return Settings.from_env({"COMPLETIONS_PROXY_TOKENS": "prepare-test-token-0123456789"})


async def test_readiness_is_false_until_every_adapter_is_prepared() -> None:
    slow = SlowToPrepare(asyncio.get_running_loop())
    registry = ProviderRegistry()
    registry.register(slow)
    app = create_app(_settings(), registry)
    lifespan = Lifespan(app)
    await lifespan.start()
    await asyncio.wait_for(slow.entered.wait(), 10)
    # Preparing: the event loop is free (this very request is served) and readiness says no.
    status, body = await _asgi_get(app, "/readyz")
    assert status == 503 and body["reason"].startswith("starting")
    assert (await _asgi_get(app, "/healthz"))[0] == 200
    assert slow.thread != threading.current_thread().name  # prepare ran off the event loop's thread
    slow.release.set()
    assert await asyncio.wait_for(lifespan.started(), 10) == "lifespan.startup.complete"
    status, body = await _asgi_get(app, "/readyz")
    assert status == 200 and body["providers"] == ["slow_prepare"]
    await lifespan.stop()


async def test_an_adapter_that_fails_to_prepare_is_logged_and_the_proxy_still_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ProviderAdapter):
        name = "broken_prepare"

        def prepare(self) -> None:
            raise ImportError("no module named 'imaginary_sdk'")

    registry = ProviderRegistry()
    registry.register(Broken())
    app = create_app(_settings(), registry)
    lifespan = Lifespan(app)
    await lifespan.start()
    assert await asyncio.wait_for(lifespan.started(), 10) == "lifespan.startup.complete"
    assert (await _asgi_get(app, "/readyz"))[0] == 200
    assert any("broken_prepare" in r.getMessage() and "ImportError" in r.getMessage() for r in caplog.records)
    await lifespan.stop()


def test_the_default_prepare_does_nothing() -> None:
    class Plain(ProviderAdapter):
        name = "plain"

    assert Plain().prepare() is None


# The SDK modules must be absent before start-up, so this runs in a fresh interpreter.
_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, {root!r})
    from completions_core.plugins import ProviderRegistry
    from completions_core.testing.replay import Body, ReplayServer
    from completions_proxy.app import create_app
    from completions_proxy.settings import Settings
    from tests.adapters.harness import Case, run
    from tests.adapters.test_prepare import Lifespan, _asgi_get

    async def main(provider, watched):
        async with ReplayServer() as server:
            case = Case(provider, server)
            adapter = case.adapter()
            registry = ProviderRegistry()
            registry.register(adapter)
            before = {{name: name in sys.modules for name in watched}}
            app = create_app(Settings.from_env({{"COMPLETIONS_PROXY_TOKENS": "t" * 24}}), registry)
            lifespan = Lifespan(app)
            await lifespan.start()
            started = await lifespan.started()
            ready = (await _asgi_get(app, "/readyz"))[0]
            after = {{name: name in sys.modules for name in watched}}
            loaded = set(sys.modules)
            case.enqueue(Body(json.dumps(case.good_body()), content_type="application/json"), False)
            await run(case, False, None)
            first_request_imports = sorted(set(sys.modules) - loaded)
            await lifespan.stop()
            print(json.dumps({{"before": before, "after": after, "started": started, "ready": ready,
                              "first_request_imports": first_request_imports}}))

    asyncio.run(main(sys.argv[1], sys.argv[2:]))
    """
)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_start_up_imports_the_sdk_and_the_first_request_imports_nothing(provider: str) -> None:
    watched = SDK_MODULES[provider]
    script = _SCRIPT.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, provider, *watched],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any(result["before"].values()), result["before"]  # the test means something
    assert all(result["after"].values()), result["after"]
    assert (result["started"], result["ready"]) == ("lifespan.startup.complete", 200)
    assert result["first_request_imports"] == []
