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
from types import FrameType, ModuleType
from typing import Any, Optional

import pluggy

from completions_core import hookspecs
from completions_core.adapter import ProviderAdapter

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
        self._aliases: dict[str, str] = {}

    def register(self, adapter: ProviderAdapter, origin: str = "") -> None:
        """Add ``adapter`` and its declared aliases; invalid names and clashes are a :class:`PluginError`."""
        who = origin or "a plugin"
        if not isinstance(adapter, ProviderAdapter):
            raise PluginError(f"{who} registered {adapter!r}, which is not a ProviderAdapter")
        name = adapter.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"{who} registered a provider named {name!r}; names are lower-case letters, "
                "digits and underscores, starting with a letter"
            )
        if name in self._aliases:
            raise PluginError(f"{who} registered {name!r}, an alias of {self._aliases[name]!r}")
        if name in self._providers:
            raise PluginError(
                f"provider {name!r} is registered twice: by {self._origins[name] or 'a plugin'} and by "
                f"{who}; uninstall one of them"
            )
        aliases = adapter.aliases
        if isinstance(aliases, str) or not all(isinstance(a, str) and _NAME.match(a) for a in aliases):
            raise PluginError(
                f"{who} declared aliases {aliases!r} for {name!r}; aliases are a tuple of names spelt like "
                "provider names"
            )
        for alias in aliases:
            taken = self._aliases.get(alias) or (alias if alias in self._providers or alias == name else None)
            if taken is not None:
                raise PluginError(f"{who} declared {alias!r} as an alias of {name!r}, but it already names {taken!r}")
        self._providers[name] = adapter
        self._origins[name] = origin
        self._aliases.update(dict.fromkeys(aliases, name))

    def get(self, name: str) -> Optional[ProviderAdapter]:
        """The adapter for ``name`` (aliases and case accepted), or None."""
        return self._providers.get(self.canonical(name))

    def canonical(self, name: str) -> str:
        """Lower-case, trimmed, with aliases resolved (``"Gemini"`` -> ``"google"`` when google declares it)."""
        key = str(name).strip().lower()
        return self._aliases.get(key, key)

    def aliases(self) -> dict[str, str]:
        """Every declared alias and the provider it names."""
        return dict(self._aliases)

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
    # One call through pluggy (so tracing and hook wrappers see it); each plugin's adapters are
    # registered under its own name, so a clash names both plugins.
    origins: dict[Any, str] = {}
    for impl in pm.hook.register_providers.get_hookimpls():
        code, name = getattr(impl.function, "__code__", None), pm.get_name(impl.plugin) or repr(impl.plugin)
        # One function shared by several plugins cannot be told apart: name them all.
        origins[code] = f"{origins[code]} or {name}" if code in origins else name

    def register(adapter: ProviderAdapter) -> None:
        registry.register(adapter, _calling_plugin(origins))

    pm.hook.register_providers(register=register)
    with _lock:
        _registry = registry
    return registry


def _calling_plugin(origins: dict[Any, str]) -> str:
    """The name of the plugin whose hook implementation is calling ``register`` (found on the stack)."""
    frame: Optional[FrameType] = sys._getframe(2)
    while frame is not None:
        origin = origins.get(frame.f_code)
        if origin is not None:
            return origin
        frame = frame.f_back
    return ""


def reset_plugins() -> None:
    """Forget loaded plugins, so the next use loads them again (tests)."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None
