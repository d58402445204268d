"""The real ``openai`` Node SDK (npm, locked by hash in tests/node/package-lock.json) against the proxy.

node_modules is git-ignored: when it is missing this test runs ``npm ci`` itself (the registry
must be reachable once), and fails, never skips, when Node, npm or the install is unavailable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import HangingAdapter, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
MANAGED_KEY = "managed-key-for-node-0002"
CUSTOMER_KEY = "sk-node-customer-secret-77"
CHECKS = (
    "text",
    "stream",
    "streamed_tool_call",
    "structured_output",
    "errors",
    "error_mid_stream",
    "fallback_across_providers",
    "customer_key_header",
    "sentences",
    "models",
    "disconnect_mid_stream",
)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH: install Node.js 20+ (with npm) to run the Node SDK tests")
    return found


async def _ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / "openai" / "package.json").is_file():
        return
    result = await anyio.run_process(
        [_tool("npm"), "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=False
    )
    if result.returncode != 0 or not (NODE_DIR / "node_modules" / "openai").is_dir():
        pytest.fail(
            "npm ci in tests/node failed, so the Node SDK tests cannot run:\n"
            + result.stdout.decode(errors="replace")
            + result.stderr.decode(errors="replace")
        )


@pytest.fixture
def hanging() -> HangingAdapter:
    return HangingAdapter()


@pytest.fixture
async def proxy(hanging: HangingAdapter) -> AsyncIterator[RunningProxy]:
    env = {"KEYED_API_KEY": MANAGED_KEY, "COMPLETIONS_OPENAI_MODEL_MAP": '{"fast": "embedded/embedded-1"}'}
    async with running_proxy(registry(KeyedAdapter(), hanging), env=env) as running:
        running.state.engine.sleep = _no_backoff
        yield running


async def _no_backoff(delay: float) -> None:
    """The engine's wait between retries, made instant: the proxy still retries the scripted
    failures the default number of times (about 17 s of backoff otherwise), only without waiting."""
    await anyio.lowlevel.checkpoint()


async def test_the_node_sdk_streams_calls_tools_fails_over_and_raises(
    proxy: RunningProxy, hanging: HangingAdapter
) -> None:
    await _ensure_node_modules()
    env = {
        **os.environ,
        "PROXY_URL": proxy.url,
        "PROXY_TOKEN": proxy.token,
        "MANAGED_KEY": MANAGED_KEY,
        "CUSTOMER_KEY": CUSTOMER_KEY,
    }
    result = await anyio.run_process(
        [_tool("node"), str(NODE_DIR / "sdk_checks.mjs")], cwd=NODE_DIR, env=env, check=False
    )
    out = result.stdout.decode(errors="replace")
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, out + err
    assert out.split() == [word for check in CHECKS for word in ("ok", check)], out + err
    # The Node client left the last stream after its first chunk: the provider's stream was closed.
    with anyio.fail_after(10):
        await hanging.closed.wait()
    assert CUSTOMER_KEY not in out + err
