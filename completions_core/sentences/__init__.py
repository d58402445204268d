"""Streaming sentence chunking for text-to-speech (``stream_options.chunk_by_sentence``).

>>> from completions_core.sentences import SentenceChunker
>>> chunker = SentenceChunker()
>>> chunker.feed("Dr. Smith arrived at 10 a.m. He was")
['Dr. Smith arrived at 10 a.m.']
>>> chunker.feed(" late.") + chunker.flush()
['He was late.']
"""

from __future__ import annotations

from ._chunker import SentenceChunker

__all__ = ["SentenceChunker"]
