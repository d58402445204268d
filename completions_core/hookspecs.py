"""The plugin hooks. Each is synchronous; async work lives on the objects plugins register."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from completions_core.adapter import ProviderAdapter
    from completions_core.records import CompletionRecord

__all__ = ["Register", "hookimpl", "hookspec"]

#: The callback ``register_providers`` receives: call it once per adapter.
Register = Callable[["ProviderAdapter"], None]

hookspec = pluggy.HookspecMarker("completions")
hookimpl = pluggy.HookimplMarker("completions")


@hookspec
def register_providers(register: Register) -> None:
    """Register provider adapters by calling ``register(adapter)`` once for each."""


@hookspec
def record_completion(record: CompletionRecord) -> None:
    """Receive the telemetry record of every finished request (no secrets; no content unless opted in)."""
