"""StreamOptions: punctuation_marks, min_sentence_length, clean_sentences, punctuation_language."""

from __future__ import annotations

from collections.abc import Callable

Chunk = Callable[..., list[str]]


def test_punctuation_marks_replace_the_terminal_set(raw: Chunk) -> None:
    assert raw("One, two, three. Four; five", punctuation_marks=[",", "."]) == ["One,", "two,", "three.", "Four; five"]
    assert raw("Hello. World。Next", punctuation_marks=["。"]) == ["Hello. World。", "Next"]


def test_custom_marks_do_not_split_numbers(raw: Chunk) -> None:
    assert raw("It costs 1,000 dollars, ok", punctuation_marks=[","]) == ["It costs 1,000 dollars,", "ok"]


def test_an_empty_mark_list_leaves_only_line_structure(raw: Chunk) -> None:
    assert raw("No marks. At all!\n\nNew paragraph.", punctuation_marks=[]) == ["No marks. At all!", "New paragraph."]


def test_short_fragments_merge_into_the_next_sentence(raw: Chunk) -> None:
    assert raw("Hi. I am Bob. Yes. Sure thing.", min_sentence_length=6) == ["Hi. I am Bob.", "Yes. Sure thing."]
    assert raw("Hi. I am Bob.", min_sentence_length=0) == ["Hi.", "I am Bob."]


def test_a_short_final_fragment_is_still_emitted(raw: Chunk) -> None:
    assert raw("This is long enough. Ok.", min_sentence_length=10) == ["This is long enough.", "Ok."]
    assert raw("Ok.", min_sentence_length=10) == ["Ok."]


def test_min_sentence_length_counts_the_cleaned_text(chunk: Callable[..., list[str]]) -> None:
    assert chunk("**Hi.** Next one here.", min_sentence_length=6) == ["Hi. Next one here."]


def test_merged_fragments_lose_nothing(raw: Chunk) -> None:
    text = "A. B. C. D. Eeeeeeee. F. G."
    merged = raw(text, min_sentence_length=8)
    assert all(len(s) >= 8 for s in merged[:-1])
    assert " ".join(merged) == text


def test_cleaning_off_keeps_markdown(raw: Chunk) -> None:
    assert raw("**Bold.** Next `code`.") == ["**Bold.**", "Next `code`."]


def test_cleaning_on_removes_markdown(chunk: Callable[..., list[str]]) -> None:
    assert chunk("**Bold.** Next `code`.") == ["Bold.", "Next code."]
