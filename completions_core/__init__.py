"""Shared core of the completions proxy and client: types, codec, adapter protocol, plugins.

Importing this package is cheap: provider SDKs are never imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from completions_core.codec import deserialize_conversation, serialize_conversation
from completions_core.types import *  # noqa: F403
from completions_core.types import __all__ as _types_all

if TYPE_CHECKING:
    from completions_core.sentences import SentenceChunker

__all__ = [*_types_all, "SentenceChunker", "deserialize_conversation", "serialize_conversation"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The chunker is imported on first use, so the client and the proxy's startup stay lean.
    if name == "SentenceChunker":
        from completions_core.sentences import SentenceChunker

        return SentenceChunker
    raise AttributeError(f"module 'completions_core' has no attribute {name!r}")
