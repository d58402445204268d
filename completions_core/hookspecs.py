"""The plugin hooks. Each is synchronous; async work lives on the objects plugins register."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from completions_core.adapter import ProviderAdapter

hookspec = pluggy.HookspecMarker("completions")
hookimpl = pluggy.HookimplMarker("completions")


@hookspec
def register_providers(register: Callable[[ProviderAdapter], None]) -> None:
    """Register provider adapters by calling ``register(adapter)`` once for each."""
