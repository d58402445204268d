"""Streaming guarantees: split independence, minimal lookahead, bounded holding, linear work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from completions_core.sentences import SentenceChunker
from completions_core.sentences._scanner import COMPACT_AT, HOLD_CAP
from completions_core.types import StreamOptions

_GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_rules_8lang.json").read_text("utf-8"))
SAMPLES = [case["text"] for case in _GOLDEN if len(case["text"]) < 600] + [
    "**Bold.** Next *one*.\n\n- item one\n- item two\n\n```py\nx = 1.5\n```\nAfter.",
    '| a | b |\n|---|---|\n| 1.5 | x. Y |\nHe said "Hello. World',
    "« Bonjour ! » Puis. ¿Qué? ¡Sí! これは。「はい。」と言った。안녕하세요. 你好……我是。",
    "Visit https://x.com/a?b=1. Mail a.b@c.de. At 5 p.m. Mr. Smith left. 1) a 2) b • c • d",
    "操作如下：\n1. 打开设置。\n2.选择网络。\n１．好。순서: 1. 앱을 엽니다. 2. 😊 끝.",
    "In der Gartenstr. 7. Dort usw. Morgen. Um 18 h. Venez. At 9 a.m. Eastern, etc. Everything.",
    "On Main St. Then Baker St. Suite 4. Washington, D.C. Friends. Open it. eBay. Done‽ Yes﹗ok. 3 items.",
]
OPTIONS = [
    StreamOptions(clean_sentences=False, min_sentence_length=0),
    StreamOptions(),
    StreamOptions(punctuation_language="de", min_sentence_length=20),
    StreamOptions(punctuation_marks=[",", "."], clean_sentences=False),
]


def _feed(text: str, cuts: list[int], options: StreamOptions) -> list[str]:
    chunker = SentenceChunker(options)
    sentences: list[str] = []
    previous = 0
    for cut in [*cuts, len(text)]:
        sentences += chunker.feed(text[previous:cut])
        previous = cut
    return sentences + chunker.flush()


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(SAMPLES), min_size=1, max_size=4),
    st.sampled_from(["", " ", "\n", "\n\n"]),
    st.sampled_from(OPTIONS),
    st.data(),
)
def test_output_is_the_same_however_the_text_is_split(
    parts: list[str], separator: str, options: StreamOptions, data: st.DataObject
) -> None:
    text = separator.join(parts)
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(text) - 1)), max_size=len(text))))
    assert _feed(text, cuts, options) == _feed(text, [], options)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab A.!?…。\n \"'()«»*_#-`[]1")), max_size=80), st.data())
def test_any_symbol_soup_splits_the_same_way_and_loses_nothing(text: str, data: st.DataObject) -> None:
    options = StreamOptions(clean_sentences=False, min_sentence_length=0)
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(text) - 1)))))
    whole = _feed(text, [], options)
    assert _feed(text, cuts, options) == whole
    assert "".join("".join(whole).split()) == "".join(text.split())


def _emission_index(text: str, sentence: str, options: StreamOptions | None = None) -> int:
    """Index of the character whose arrival (one character per delta) emits ``sentence``."""
    chunker = SentenceChunker(options or StreamOptions(clean_sentences=False, min_sentence_length=0))
    for index, char in enumerate(text):
        if sentence in chunker.feed(char):
            return index
    raise AssertionError(f"{sentence!r} was not emitted before the end of the stream")


def test_a_sentence_is_emitted_on_the_first_non_space_character_after_it() -> None:
    assert _emission_index("Hello there. Next", "Hello there.") == len("Hello there. ")
    assert _emission_index('He said "Go!" Then', 'He said "Go!"') == len('He said "Go!" ')
    assert _emission_index("你好。我们", "你好。") == len("你好。")
    # A mark at the end of a line is decided by the line break itself.
    assert _emission_index("Done!\n\nNext", "Done!") == len("Done!")
    assert _emission_index("The end.\nNext", "The end.") == len("The end.")


def test_a_line_break_emits_the_line_at_once() -> None:
    assert _emission_index("A heading\nText", "A heading") == len("A heading")


def test_an_abbreviation_waits_only_for_the_next_word() -> None:
    text = "They work for Briggs & Co. It closed."
    assert _emission_index(text, "They work for Briggs & Co.") == len("They work for Briggs & Co. It")


def test_an_unclosed_quote_holds_a_boundary_only_up_to_the_cap() -> None:
    filler = "and so on " * (HOLD_CAP // 10 + 5)
    text = f'He said "Wait. And {filler}'
    index = _emission_index(text, 'He said "Wait.')
    assert len('He said "Wait. ') < index <= len('He said "Wait.') + HOLD_CAP + 1


def test_an_unclosed_quote_is_released_at_the_end_of_the_stream() -> None:
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed('He said "Stop. Think about it') == []
    assert chunker.flush() == ['He said "Stop.', "Think about it"]


def test_a_closed_quote_keeps_its_sentences_together() -> None:
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed('He said "Stop. Think. Go." Then') == ['He said "Stop. Think. Go."']


def test_the_buffer_stays_small_over_a_long_stream() -> None:
    chunker = SentenceChunker()
    sentence = "The U.S. economy grew 3.5% in Q3, e.g. in tech. "
    largest = 0
    for _ in range(2000):
        for k in range(0, len(sentence), 4):
            chunker.feed(sentence[k : k + 4])
            largest = max(largest, len(chunker._scanner.window.buf))
    assert largest < 1024 + 3 * len(sentence)


def test_a_long_run_without_boundaries_is_compacted() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("A short one. Then") == ["A short one."]
    largest = 0
    for _ in range(20000):
        assert chunker.feed(" word") == []
        largest = max(largest, len(chunker._scanner.window.buf))
    assert largest <= COMPACT_AT + 8
    assert chunker.flush() == ["Then" + " word" * 20000]


def _count_reads(text: str) -> int:
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    window = chunker._scanner.window
    reads: list[int] = []
    at = window.at

    def counting(k: int) -> str:
        reads.append(k)
        return at(k)

    window.at = counting  # type: ignore[method-assign]
    for char in text:
        chunker.feed(char)
    return len(reads)


def test_long_runs_are_not_rescanned_on_every_delta() -> None:
    # A decision waiting at the start of a long run of spaces, marks or closers reads a bounded
    # part of it on each retry, not the whole run.
    for run in (" ", "!", ")", "\n", "]"):
        text = "End." + run * 3000 + "Next."
        assert _count_reads(text) <= 64 * len(text), repr(run)


def _count_decisions(text: str, step: int) -> int:
    chunker = SentenceChunker()
    scanner = chunker._scanner
    calls: list[int] = []
    decide = scanner._decide

    def counting(i: int, token: str) -> tuple[int, int, int]:
        calls.append(i)
        return decide(i, token)

    scanner._decide = counting  # type: ignore[method-assign]
    for k in range(0, len(text), step):
        chunker.feed(text[k : k + step])
    return len(calls)


def test_decisions_are_proportional_to_candidates() -> None:
    # Each candidate character is decided a bounded number of times, whatever the delta size:
    # the growing text is never segmented again from its start.
    text = "Dr. Smith paid $3.50 at 10 a.m. on Jan. 5. He left (quietly). " * 200
    candidates = sum(text.count(c) for c in ".!?)")
    for step in (1, 4, 64):
        assert _count_decisions(text, step) <= 2 * candidates
    assert _count_decisions(text * 4, 4) <= 4 * _count_decisions(text, 4) + 8


def test_a_period_before_a_line_break_at_the_end_of_a_delta_is_decided_at_once() -> None:
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed("First line.\n") == ["First line."]
    assert chunker.feed("Second line!\n") == ["Second line!"]
    # A mark with a space after it still waits for the next word.
    assert chunker.feed("Fourth. ") == []
    assert chunker.flush() == ["Fourth."]
