"""The architecture's two promises, checked on the source.

1. Core and proxy know no provider by name: aliases, usage, schema dialect, thought signatures,
   SDK loggers and error statuses are declared by each adapter. Only the spec's public types
   (``completions_core/types.py``: the ``CompletionsProvider`` enum and the documented kwargs
   TypedDicts) and the demo may name one. The OpenAI-*compatible API* the proxy serves is a wire
   dialect, not a provider: its identifiers are allowed by name below.
2. Production imports flow one way: no import cycle among core, proxy, client, providers and plugins.

Prose (comments and docstrings) may cite a provider as the source of a fact; code may not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROVIDER_WORDS = re.compile(r"openai|anthropic|google|gemini|alibaba|vertex|qwen|dashscope|claude", re.IGNORECASE)
#: Modules that may name providers: the spec's public types, and the demo.
MAY_NAME_PROVIDERS = {"completions_core/types.py", "completions_proxy/demo.py"}
#: The OpenAI-compatible API surface (docs/openai-compatible.md), and its documented model example.
COMPATIBLE_API = re.compile(
    r"openai_compat|openai_routes|openai_model_map|OPENAI_MODEL_MAP|_OPENAI_[A-Z_]+|OpenAIRequest|openai_usage"
    r"|completion_to_openai|openai_error_response|_openai_type|OpenAI[- ](compatible|Chat Completions|API key|shape)"
    r"|openai-compatible|anthropic/claude-haiku-4-5"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _words(node: ast.AST, docstrings: set[int]) -> list[str]:
    """The names and string literals a node puts in the code (not its prose)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
        return [node.value]
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, ast.keyword):
        return [node.arg or ""]
    return []


def provider_names_in(source: str) -> list[tuple[int, str]]:
    """(line, word) for every name or string literal in ``source`` that names a provider."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        for word in _words(node, docstrings):
            if PROVIDER_WORDS.search(COMPATIBLE_API.sub("", word)):
                hits.append((getattr(node, "lineno", 0), word))
    return sorted(hits)


def test_no_core_or_proxy_module_names_a_provider() -> None:
    found = []
    for package in ("completions_core", "completions_proxy"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in MAY_NAME_PROVIDERS:
                found += [f"{rel}:{line}: {word[:60]!r}" for line, word in provider_names_in(path.read_text())]
    assert found == [], "provider knowledge belongs in the provider's plugin:\n" + "\n".join(found)


def test_the_scan_sees_what_it_must_and_ignores_prose() -> None:
    code = '''
"""Gemini's rules, cited in prose."""
# google says so
def strip(provider):
    """Anthropic too."""
    return provider == "google" or SPECIAL_QWEN or x.gemini_mode
'''
    assert sorted(word for _, word in provider_names_in(code)) == ["SPECIAL_QWEN", "gemini_mode", "google"]
    assert provider_names_in('from completions_proxy.openai_compat import openai_routes\n') == []
    assert provider_names_in('import completions_openai\n') == [(1, "completions_openai")]


# --- the import graph -----------------------------------------------------------------------


def _production_modules() -> dict[str, Path]:
    """Module name -> file, for the root packages and every provider and plugin distribution."""
    bases = [ROOT, *sorted(p for d in ("providers", "plugins") for p in (ROOT / d).iterdir() if p.is_dir())]
    modules: dict[str, Path] = {}
    for base in bases:
        for path in base.rglob("*.py"):
            rel = path.relative_to(base)
            if "tests" in rel.parts or (base == ROOT and rel.parts[0] not in ("completions_core", "completions_proxy",
                                                                             "primfunctions")):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imports(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    prefix = node.module or ""
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        prefix = f"{package}.{prefix}" if prefix else package
    yield prefix
    yield from (f"{prefix}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Every import between production modules (also lazy and TYPE_CHECKING ones: a cycle is a cycle)."""
    modules = _production_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _imports(module, path, node):
                    while name and name not in modules:
                        name = name.rpartition(".")[0]
                    if name and name != module:
                        targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_production_imports_have_no_cycle() -> None:
    graph = import_graph()
    assert {"completions_core.adapter", "completions_proxy.engine", "completions_openai.adapter",
            "completions_embedded", "completions_google"} <= set(graph)  # fmt: skip
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_core_imports_no_proxy_client_or_provider_module() -> None:
    graph = import_graph()
    outside = {
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("completions_core")
        for target in targets
        if not target.startswith("completions_core")
    }
    assert outside == set()


def test_no_adapter_imports_the_codec() -> None:
    # Adapters get a ProviderRequest the codec decoded once: decoding again (each adapter its own
    # way) is what the strict internal request put an end to.
    modules = _production_modules()
    graph = import_graph()
    adapters = {
        module
        for module, path in modules.items()
        if path.relative_to(ROOT).parts[0] in ("providers", "plugins")
    }
    assert {"completions_openai.request", "completions_google.request", "completions_embedded",
            "completions_example"} <= adapters  # fmt: skip
    found = sorted(
        f"{module} -> {target}"
        for module in adapters
        for target in graph[module]
        if target == "completions_core.codec" or target.startswith("completions_core.codec.")
    )
    assert found == [], "adapters read the ProviderRequest they are given; they never decode:\n" + "\n".join(found)
