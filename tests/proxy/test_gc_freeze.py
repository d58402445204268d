"""What start-up builds is frozen out of the garbage collector: a full collection never walks it again."""

from __future__ import annotations

import gc

import pytest

from completions_proxy.testing import running_proxy
from tests.helpers import registry

pytestmark = pytest.mark.anyio


async def test_start_up_freezes_what_it_built_so_full_collections_stay_short() -> None:
    gc.unfreeze()
    try:
        async with running_proxy(registry()):
            frozen = gc.get_freeze_count()
        assert frozen > 0, "the long-lived start-up objects are still walked by every full collection"
    finally:
        gc.unfreeze()


async def test_start_up_sets_the_collectors_thresholds_for_serving() -> None:
    from completions_proxy.app import GC_THRESHOLDS

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default
    try:
        async with running_proxy(registry()):
            serving = gc.get_threshold()
        assert serving == GC_THRESHOLDS and serving[0] > 700
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
