"""The public API: feed/flush, defaults, reuse, and the guarantees that hold for any input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from completions_core.sentences import SentenceChunker
from completions_core.types import StreamOptions

Chunk = Callable[..., list[str]]


def test_feed_returns_only_the_sentences_completed_so_far() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("Hello there, my friend") == []
    assert chunker.feed(". How are") == ["Hello there, my friend."]
    assert chunker.feed(" you?") == []
    assert chunker.flush() == ["How are you?"]


def test_flush_emits_the_unterminated_rest() -> None:
    chunker = SentenceChunker()
    chunker.feed("An answer without a final period")
    assert chunker.flush() == ["An answer without a final period"]


def test_default_options_are_the_stream_options_defaults() -> None:
    text = "**Hi.** This is a test. Ok."
    explicit = SentenceChunker(StreamOptions())
    default = SentenceChunker()
    assert default.feed(text) + default.flush() == explicit.feed(text) + explicit.flush()
    assert SentenceChunker().feed(text) == ["Hi. This is a test."]


def test_empty_deltas_and_whitespace_produce_nothing() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("") == []
    assert chunker.feed("  \n\n ") == []
    assert chunker.flush() == []


def test_chunker_is_reusable_after_flush() -> None:
    chunker = SentenceChunker(StreamOptions(min_sentence_length=0))
    chunker.feed("First stream. Unfinished")
    assert chunker.flush() == ["Unfinished"]
    assert chunker.feed("Second stream. Next") == ["Second stream."]
    assert chunker.flush() == ["Next"]


def test_one_delta_can_complete_several_sentences() -> None:
    chunker = SentenceChunker(StreamOptions(min_sentence_length=0))
    assert chunker.feed("One. Two. Three. Fo") == ["One.", "Two.", "Three."]
    assert chunker.flush() == ["Fo"]


def test_unknown_punctuation_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="punctuation_language"):
        SentenceChunker(StreamOptions(punctuation_language="xx"))


def test_punctuation_language_accepts_case_and_region() -> None:
    for code in ("DE", "de-AT", "de_CH"):
        chunker = SentenceChunker(StreamOptions(punctuation_language=code, min_sentence_length=0))
        assert chunker.feed("Wir kommen am 3. Oktober. Gut") == ["Wir kommen am 3. Oktober."]


def test_without_cleaning_sentences_concatenate_back_to_the_input(raw: Chunk) -> None:
    text = '  Hi there!  (A note.) "Quoted. Text."\n\n- item one\n- item two\nEnd… 3.5% of U.S. users.  '
    sentences = raw(text, step=1)
    assert "".join("".join(sentences).split()) == "".join(text.split())
    position = 0
    for sentence in sentences:
        found = text.index(sentence, position)
        assert text[position:found].strip() == ""
        position = found + len(sentence)
    assert text[position:].strip() == ""


def test_nothing_is_lost_with_cleaning_off_even_for_symbol_soup(raw: Chunk) -> None:
    text = '. ! ? ... ( [ " \' » « 。「 」\n\n** __ ``` 1. a) • ⁃ -- "'
    assert "".join("".join(raw(text, step=2)).split()) == "".join(text.split())
