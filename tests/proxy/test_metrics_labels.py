"""Metric labels come only from bounded sets, whatever names callers send."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from completions_proxy.settings import ConfigError, Settings
from completions_proxy.telemetry import Labels
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _body(provider: str, model: str) -> dict[str, Any]:
    return {"provider": provider, "model": model, "messages": [{"role": "user", "content": "hi"}],
            "provider_kwargs": FAST if provider == "embedded" else None}


async def _flood(proxy: RunningProxy, bodies: list[dict[str, Any]]) -> list[int]:
    headers = {"Authorization": f"Bearer {proxy.token}"}
    async with aiohttp.ClientSession() as session:
        async def one(body: dict[str, Any]) -> int:
            async with session.post(proxy.url + "/v1/completions", json=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        statuses: list[int] = []
        for start in range(0, len(bodies), 25):
            statuses += await asyncio.gather(*(one(b) for b in bodies[start:start + 25]))
        return statuses


async def _exposition(proxy: RunningProxy) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/metrics", headers={"Authorization": f"Bearer {proxy.token}"}) as resp:
            assert resp.status == 200
            return await resp.text()


def _values(text: str, label: str) -> set[str]:
    return {value for name, value in _LABEL.findall(text) if name == label}


async def test_hundreds_of_made_up_names_leave_the_label_sets_and_the_exposition_small() -> None:
    async with running_proxy(registry(KeyedAdapter())) as proxy:
        bodies = [_body(f"made-up-provider-{i}-" + "p" * 40, f"model-{i}-" + "m" * 200) for i in range(160)]
        bodies += [_body("embedded", f"answered-model-{i}-" + "m" * 100) for i in range(160)]
        statuses = await _flood(proxy, bodies)
        assert statuses.count(404) == 160 and statuses.count(200) == 160
        text = await _exposition(proxy)
    assert _values(text, "provider") <= {"embedded", "keyed", "other", "none"}
    models = _values(text, "model")
    assert "other" in models and len(models - {"other", "none"}) == 50  # the first 50 answered, then "other"
    assert not any(m.startswith("model-") for m in models)  # a name nobody answered for is never admitted
    assert len(text) < 150_000, len(text)


async def test_an_operator_list_of_models_is_the_only_model_labels() -> None:
    async with running_proxy(registry(), metrics_models=("allowed-model",)) as proxy:
        bodies = [_body("embedded", "allowed-model")] + [_body("embedded", f"other-{i}") for i in range(5)]
        assert set(await _flood(proxy, bodies)) == {200}
        text = await _exposition(proxy)
    assert _values(text, "model") == {"allowed-model", "other"}


def test_labels_map_aliases_and_unknown_error_types() -> None:
    labels = Labels(["google", "openai"], max_models=1)
    assert labels.provider("Gemini") == "google" and labels.provider("x" * 10_000) == "other"
    assert labels.provider(None) == "none"
    assert labels.model("a", answered=True) == "a" and labels.model("b", answered=True) == "other"
    assert labels.model("a") == "a"
    assert labels.error_type("rate_limit_error") == "rate_limit_error"
    assert labels.error_type("made_up_error") == "other" and labels.error_type(None) == "unknown"


def test_metrics_settings_are_read_and_checked() -> None:
    token = "t" * 20
    settings = Settings.from_env({"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_METRICS_MODELS": "a, b,a",
                                  "COMPLETIONS_METRICS_MAX_MODELS": "7"})
    assert settings.metrics_models == ("a", "b") and settings.metrics_max_models == 7
    with pytest.raises(ConfigError, match="COMPLETIONS_METRICS_MAX_MODELS"):
        Settings.from_env({"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_METRICS_MAX_MODELS": "many"})
