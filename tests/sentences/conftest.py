"""Helpers for the sentence chunker tests: feed a text in small deltas and collect the sentences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from completions_core.sentences import SentenceChunker
from completions_core.types import StreamOptions


def chunk_text(text: str, step: int = 3, **options: Any) -> list[str]:
    """Feed ``text`` ``step`` characters at a time (options default to no merging) and flush."""
    options.setdefault("min_sentence_length", 0)
    chunker = SentenceChunker(StreamOptions(**options))
    sentences: list[str] = []
    for k in range(0, len(text), step):
        sentences += chunker.feed(text[k : k + step])
    return sentences + chunker.flush()


@pytest.fixture
def chunk() -> Callable[..., list[str]]:
    """``chunk(text, step=3, **stream_options)``: the sentences of ``text`` fed in small deltas."""
    return chunk_text


@pytest.fixture
def raw() -> Callable[..., list[str]]:
    """Like ``chunk`` without markdown cleaning, so the sentences are slices of the input."""

    def run(text: str, step: int = 3, **options: Any) -> list[str]:
        options.setdefault("clean_sentences", False)
        return chunk_text(text, step, **options)

    return run
