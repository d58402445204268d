"""The operator's model map for the OpenAI-compatible route: bare model names (``gpt-4o``,
``fast``) mapped to ``provider/model``, and how a request's ``model`` resolves against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from completions_core.errors import InvalidRequestError
from completions_proxy.settings import ConfigError

__all__ = ["MODEL_MAP_ENV", "parse_model_map", "resolve_model"]

#: The setting that maps bare model names (``gpt-4o``, ``fast``) to ``provider/model``.
MODEL_MAP_ENV = "COMPLETIONS_OPENAI_MODEL_MAP"
#: The longest ``model`` a request may send.
_MODEL_CHARS = 256


def _split_model(value: str, where: str) -> tuple[str, str]:
    provider, sep, model = value.partition("/")
    if not sep or not provider.strip() or not model.strip():
        raise ConfigError(f"{where}: {value!r} is not 'provider/model' (e.g. 'anthropic/claude-haiku-4-5')")
    return provider.strip().lower(), model.strip()


def parse_model_map(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Read ``COMPLETIONS_OPENAI_MODEL_MAP``: ``alias=provider/model`` pairs, comma-separated, or a JSON object."""
    raw = env.get(MODEL_MAP_ENV, "").strip()
    if not raw:
        return {}
    pairs: list[tuple[str, str]] = []
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{MODEL_MAP_ENV} is not valid JSON: {exc}") from None
        for alias, target in data.items():
            if not isinstance(target, str):
                raise ConfigError(f"{MODEL_MAP_ENV}: the value for {alias!r} must be a 'provider/model' string")
            pairs.append((alias, target))
    else:
        for item in raw.split(","):
            if not item.strip():
                continue
            alias, sep, target = item.partition("=")
            if not sep:
                raise ConfigError(f"{MODEL_MAP_ENV}: {item.strip()!r} is not 'alias=provider/model'")
            pairs.append((alias, target))
    out: dict[str, tuple[str, str]] = {}
    for alias, target in pairs:
        name = alias.strip()
        if not name:
            raise ConfigError(f"{MODEL_MAP_ENV}: an alias is empty")
        out[name] = _split_model(target, MODEL_MAP_ENV)
    return out


def resolve_model(value: Any, model_map: Mapping[str, tuple[str, str]], path: str = "model") -> tuple[str, str]:
    """``provider/model``, or a bare name the operator mapped, as ``(provider, model)``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError("is required: 'provider/model' (e.g. 'anthropic/claude-haiku-4-5')", path)
    if len(value) > _MODEL_CHARS:
        raise InvalidRequestError(f"is longer than {_MODEL_CHARS} characters", path)
    mapped = model_map.get(value)
    if mapped is not None:
        return mapped
    provider, sep, model = value.partition("/")
    if not sep or not provider or not model:
        known = ", ".join(sorted(model_map)) or "none configured"
        raise InvalidRequestError(
            f"the model {value!r} does not exist: write it as 'provider/model' (e.g. "
            f"'anthropic/claude-haiku-4-5'), or use a name from {MODEL_MAP_ENV} ({known})",
            path,
            error_type="not_found_error",
        )
    return provider.lower(), model
