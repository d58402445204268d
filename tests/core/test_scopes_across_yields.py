"""No async generator in production code yields inside a cancel scope or a task group.

An async generator is stepped by whoever iterates it and closed by whoever closes it, often from
a cancelled stream or another task. A scope entered before a ``yield`` is then left out of order
or in another task: anyio raises "cancel scope that isn't the current task's" out of the app (the
hedged race did, for a client gone during a write: tests/proxy/test_hedging.py). Hold the scope
around one ``await`` instead, or run the work in a task of its own and hand results over a
channel, as the race now does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.core.test_boundaries import _production_modules

#: Context managers that are cancel scopes (anyio's, asyncio's, and the task groups that hold one).
SCOPES = {"create_task_group", "CancelScope", "fail_after", "move_on_after", "timeout", "timeout_at", "TaskGroup"}


def _scope_name(expr: ast.expr) -> str:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""


def _yields_in(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """``yield`` nodes in ``nodes``, not those of nested functions (they are generators of their own)."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def scopes_across_yields(source: str) -> list[tuple[int, str]]:
    """(line, scope) for every ``with`` of a cancel scope in an async generator that yields inside it."""
    found: list[tuple[int, str]] = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.AsyncFunctionDef) or not any(True for _ in _yields_in(func.body)):
            continue
        for node in ast.walk(func):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    name = _scope_name(item.context_expr)
                    if name in SCOPES and any(True for _ in _yields_in(node.body)):
                        found.append((node.lineno, name))
    return found


def test_no_production_async_generator_yields_inside_a_cancel_scope() -> None:
    found = [
        f"{module}:{line}: {name}"
        for module, path in sorted(_production_modules().items())
        for line, name in scopes_across_yields(path.read_text())
    ]
    assert found == [], "a cancel scope held across a yield of an async generator:\n" + "\n".join(found)


def test_the_check_finds_the_pattern_and_lets_the_safe_ones_be() -> None:
    unsafe = '''
async def race():
    async with anyio.create_task_group() as tg:
        tg.start_soon(work)
        yield 1

async def timed():
    with anyio.fail_after(1):
        yield await next_event()
'''
    assert scopes_across_yields(unsafe) == [(3, "create_task_group"), (8, "fail_after")]
    safe = '''
async def per_wait():
    while True:
        with anyio.fail_after(1):
            event = await next_event()
        yield event

async def coroutine_only():
    async with anyio.create_task_group() as tg:
        tg.start_soon(work)

async def nested_function_is_its_own():
    with anyio.CancelScope():
        async def inner():
            yield 1
    yield 2
'''
    assert scopes_across_yields(safe) == []
