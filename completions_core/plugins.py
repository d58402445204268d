"""Plugin loading: entry points in one group, loaded lazily and once, through pluggy.

Environment switches:

- ``COMPLETIONS_PLUGINS``: unset loads every installed plugin; an empty value loads none; a
  comma-separated list of entry-point names loads only those (a listed name that is not
  installed is an error).
- ``COMPLETIONS_TRACE_PLUGINS=1``: print every hook call to stderr.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Optional

import pluggy

from completions_core import hookspecs
from completions_core.adapter import ProviderAdapter
from completions_core.names import ALIASES, canonical_provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "ProviderRegistry",
    "get_plugin_manager",
    "get_providers",
    "reset_plugins",
]

ENTRY_POINT_GROUP = "completions"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class PluginError(RuntimeError):
    """A plugin could not be loaded or registered something invalid."""


class ProviderRegistry:
    """The providers registered by plugins, by name."""

    def __init__(self) -> None:
        self._providers: dict[str, ProviderAdapter] = {}
        self._origins: dict[str, str] = {}

    def register(self, adapter: ProviderAdapter, origin: str = "") -> None:
        """Add ``adapter``; invalid names and duplicates are a :class:`PluginError`."""
        if not isinstance(adapter, ProviderAdapter):
            raise PluginError(f"{origin or 'a plugin'} registered {adapter!r}, which is not a ProviderAdapter")
        name = adapter.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"{origin or 'a plugin'} registered a provider named {name!r}; names are lower-case letters, "
                "digits and underscores, starting with a letter"
            )
        if name in ALIASES:
            raise PluginError(f"{origin or 'a plugin'} registered {name!r}, an alias of {ALIASES[name]!r}")
        if name in self._providers:
            raise PluginError(
                f"provider {name!r} is registered twice: by {self._origins[name] or 'a plugin'} and by "
                f"{origin or 'a plugin'}; uninstall one of them"
            )
        self._providers[name] = adapter
        self._origins[name] = origin

    def get(self, name: str) -> Optional[ProviderAdapter]:
        """The adapter for ``name`` (aliases and case accepted), or None."""
        return self._providers.get(canonical_provider(name))

    def canonical(self, name: str) -> str:
        """The canonical spelling of a provider name."""
        return canonical_provider(name)

    def names(self) -> list[str]:
        """Registered provider names, sorted."""
        return sorted(self._providers)

    def __iter__(self) -> Iterator[ProviderAdapter]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)


_lock = threading.Lock()
_pm: Optional[pluggy.PluginManager] = None
_registry: Optional[ProviderRegistry] = None


def _selected_names() -> Optional[set[str]]:
    raw = os.environ.get("COMPLETIONS_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    selected = _selected_names()
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if selected is not None:
        missing = sorted(selected - set(found))
        if missing:
            raise PluginError(
                f"COMPLETIONS_PLUGINS names {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                f"installed; installed plugins: {', '.join(sorted(found)) or 'none'}"
            )
    for name, ep in sorted(found.items()):
        if selected is not None and name not in selected:
            continue
        if pm.get_plugin(name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {name!r} ({ep.value}) failed to import: {exc}") from exc
        _register(pm, module, name, origin=f"plugin {name!r} ({ep.value})")


def _hook_names() -> str:
    return ", ".join(sorted(n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "completions_spec")))


def _validation_error(origin: str, exc: pluggy.PluginValidationError) -> PluginError:
    """pluggy's multi-line validation message as one line saying what to fix."""
    detail = " ".join(str(exc).split())
    unknown = re.search(r"unknown hook '([^']+)'", detail)
    if unknown:
        return PluginError(
            f"{origin} implements an unknown hook {unknown.group(1)!r} (a misspelt name?); "
            f"the hooks are: {_hook_names()}"
        )
    return PluginError(f"{origin} has an invalid hook implementation: {detail}")


def _register(pm: pluggy.PluginManager, module: ModuleType | object, name: Optional[str], origin: str) -> None:
    """Register ``module`` and check its hooks now, so a mistake names the plugin in one line."""
    try:
        pm.register(module, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        if pm.is_registered(module):
            pm.unregister(module)
        raise _validation_error(origin, exc) from None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with installed plugins loaded on first use."""
    global _pm
    if _pm is not None:
        return _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager("completions")
            pm.add_hookspecs(hookspecs)
            _load_entry_points(pm)
            pm.check_pending()
            if os.environ.get("COMPLETIONS_TRACE_PLUGINS"):
                pm.trace.root.setwriter(sys.stderr.write)
                pm.enable_tracing()
            _pm = pm
    return _pm


def register_module(module: ModuleType | object, name: Optional[str] = None) -> None:
    """Register a plugin object directly (tests, embedded use); providers are re-collected."""
    global _registry
    pm = get_plugin_manager()
    _register(pm, module, name, origin=f"plugin {name or getattr(module, '__name__', repr(module))!r}")
    with _lock:
        _registry = None


def unregister_module(name: str) -> None:
    """Remove a plugin registered with :func:`register_module`."""
    global _registry
    pm = get_plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)
    with _lock:
        _registry = None


def get_providers() -> ProviderRegistry:
    """Every provider the loaded plugins register (computed once)."""
    global _registry
    if _registry is not None:
        return _registry
    pm = get_plugin_manager()
    registry = ProviderRegistry()
    for impl in reversed(pm.hook.register_providers.get_hookimpls()):
        origin = pm.get_name(impl.plugin) or repr(impl.plugin)
        impl.function(register=lambda adapter, _o=origin: registry.register(adapter, _o))
    with _lock:
        _registry = registry
    return registry


def reset_plugins() -> None:
    """Forget loaded plugins, so the next use loads them again (tests)."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None
