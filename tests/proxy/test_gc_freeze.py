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
