"""Line structure: paragraph breaks, line breaks, list items, soft wraps, code fences."""

from __future__ import annotations

from collections.abc import Callable

Chunk = Callable[..., list[str]]


def test_a_paragraph_break_ends_a_sentence_without_punctuation(raw: Chunk) -> None:
    assert raw("Fit in four weeks\n\nYour guide to a healthier life\n\nRights reserved") == [
        "Fit in four weeks",
        "Your guide to a healthier life",
        "Rights reserved",
    ]


def test_a_line_break_after_a_complete_line_ends_a_sentence(raw: Chunk) -> None:
    assert raw("Dear team:\nThe release is ready\nPlease test it") == [
        "Dear team:",
        "The release is ready",
        "Please test it",
    ]


def test_each_list_item_is_a_sentence(raw: Chunk) -> None:
    assert raw("Buy these:\n- apples\n- pears and\n- plums\n1. first step\n2. second step") == [
        "Buy these:",
        "- apples",
        "- pears and",
        "- plums",
        "1. first step",
        "2. second step",
    ]


def test_a_soft_wrap_inside_a_sentence_does_not_end_it(raw: Chunk) -> None:
    assert raw("The quick brown fox jumps over the\nlazy dog. It was a cold,\nquiet night in the\nCity of London.") == [
        "The quick brown fox jumps over the\nlazy dog.",
        "It was a cold,\nquiet night in the\nCity of London.",
    ]


def test_a_comma_before_a_capitalised_line_is_a_line_break(raw: Chunk) -> None:
    assert raw("Dear John,\nThanks for the note.") == ["Dear John,", "Thanks for the note."]


def test_a_heading_line_ending_in_a_function_word_is_still_a_line(raw: Chunk) -> None:
    assert raw("# What to do\nstart here.") == ["# What to do", "start here."]


def test_carriage_returns_are_newlines(raw: Chunk) -> None:
    assert raw("Hello World. \r\n Hello.\r\rNext line\rLast") == ["Hello World.", "Hello.", "Next line", "Last"]


def test_code_fence_lines_are_cut_at_newlines_only(raw: Chunk) -> None:
    text = "Run this:\n```python\nx = a.b. Then y\nprint(x)\n```\nDone. Ok"
    assert raw(text) == ["Run this:", "```python", "x = a.b. Then y", "print(x)", "```", "Done.", "Ok"]


def test_cleaned_code_fences_keep_the_code_lines_without_the_fences(chunk: Callable[..., list[str]]) -> None:
    text = "Run this:\n```python\nx = 1.5\nprint(x)\n```\nDone."
    assert chunk(text) == ["Run this:", "x = 1.5", "print(x)", "Done."]
