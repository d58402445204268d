"""The default run stays fast: the root conftest refuses a hypothesis-driven test (schemathesis
included) that is not marked slow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


@given(st.integers())
def _a_property(number: int) -> None:
    assert number == number


def _item(nodeid: str, obj: Callable[..., Any] | None, slow: bool) -> SimpleNamespace:
    marker = pytest.mark.slow.mark if slow else None
    return SimpleNamespace(
        nodeid=nodeid, obj=obj, get_closest_marker=lambda name: marker if name == "slow" else None
    )


def test_only_hypothesis_tests_without_the_slow_mark_are_refused(request: pytest.FixtureRequest) -> None:
    conftest = request.config.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
    assert conftest is not None, "the root conftest is not registered under its path"
    items = [
        _item("unmarked_property", _a_property, slow=False),
        _item("marked_property", _a_property, slow=True),
        _item("plain_test", lambda: None, slow=False),
        _item("not_a_function", None, slow=False),
    ]
    assert conftest.unmarked_generated_tests(items) == ["unmarked_property"]
