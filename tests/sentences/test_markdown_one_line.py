"""Cleaning's one-line path (a sentence on one line with inline markup) against the general,
line-by-line path of ``_markdown.clean``: the same output for every text, generated and real."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from completions_core.sentences import SentenceChunker, _chunker
from completions_core.sentences._markdown import _MARKUP_OR_LINES, _clean_lines, clean
from completions_core.types import StreamOptions

REPLIES = Path(__file__).resolve().parents[2] / "bench" / "data" / "voice_replies.txt"

# Pieces of one-line markdown and of what looks like it: emphasis, code, links, tags, entities,
# escapes, list and heading and quote and table starts, rules, fences, reference definitions.
_PIECES = [
    "word", "Wait", "30", "seconds", "$1,099.00", "etc.", "2.", "1)", "-", "*", "+", "•", "#", "##",
    ">", "|", "||", "---", "***", "___", "==", ":--", "[x]", "[ ]", "**", "*", "_", "__", "~~", "`",
    "```", "~~~", "**Bold**", "*em*", "_em_", "__strong__", "~~gone~~", "`code`", "``a `b` c``",
    "[link](http://x.y/z)", "![img](a.png)", "[ref][1]", "[^1]", "[a]:", "http://x", "<b>", "</b>",
    "<br>", "<https://x.y>", "<!-- c -->", "&amp;", "&#39;", "\\*", "\\_", "snake_case", "2 * 3",
    "5*3", "操作", "**设置**。", "**Wi-Fi**를", "«", "»", ":", ",", ".", "!", "?",
]
_SPACES = ["", " ", "  ", "\t", "\x0c", "\u00a0"]
_LEADS = ["", " ", "\n", "\n\n", " \n", "\n  ", "\n    ", "\r\n", "\r", "\u2028", "\n\t", "\x0c\n"]
_TRAILS = ["", " ", "\n", "\n\n", " \n ", "\r\n", "\u2029", "\t"]


def _generated(rng: random.Random) -> str:
    words = [rng.choice(_PIECES) for _ in range(rng.randint(1, 7))]
    line = ""
    for word in words:
        line += word + (rng.choice(_SPACES) if rng.random() < 0.3 else " ")
    return rng.choice(_LEADS) + rng.choice(["", " ", "   ", "    "]) + line.rstrip() + rng.choice(_TRAILS)


def _same(text: str) -> None:
    """The one-line path or the general path, whichever clean() takes, cleans as the general one.

    Text without any inline markup or line break (clean's first, plain path) is left out: that
    path reads block markup only when the caller says the text starts a line.
    """
    if _MARKUP_OR_LINES.search(text.strip()) is None:
        return
    for at_line_start in (False, True):
        assert clean(text, at_line_start) == _clean_lines(text, at_line_start, False), (text, at_line_start)


def test_generated_one_line_markdown_cleans_as_the_general_path() -> None:
    rng = random.Random(16)
    for _ in range(4000):
        _same(_generated(rng))


@pytest.mark.parametrize(
    "text",
    [
        "\n2. Wait **30 seconds**, then plug it back in.",
        "\n\n- **Laptop**: $1,099.00",
        " To upgrade on macOS, run `brew upgrade python`.",
        "\n\n**Summary:** the meeting is on Tue., Mar. 4 at 3 p.m. CET in Room 2.01.",
        "\n- *** \n",  # a thematic break: dropped
        "\n[a]: http://x *b*\n\n",  # a reference definition followed by blank lines: dropped
        "\n    # not a heading *x*",  # four spaces: not a heading
        "\n> quoted *x*",
        "\n| a | *b* |",
        "```python *x*",  # may open a fence: the general path
        "\r\n- **x**",
        "\n\r- **x**",
    ],
)
def test_edge_cases_clean_as_the_general_path(text: str) -> None:
    _same(text)


def test_voice_reply_segments_clean_as_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every raw segment the chunker cleans in the bench's voice replies, fed in random pieces."""
    text = REPLIES.read_text("utf-8")
    segments: list[str] = []

    def recording(raw: str, at_line_start: bool, code: bool = False) -> str:
        if not code:
            segments.append(raw)
        return clean(raw, at_line_start, code)

    monkeypatch.setattr(_chunker, "clean", recording)
    rng = random.Random(7)
    chunker = SentenceChunker(StreamOptions())
    k = 0
    while k < len(text):
        n = rng.randint(1, 8)
        chunker.feed(text[k : k + n])
        k += n
    chunker.flush()
    assert sum(_MARKUP_OR_LINES.search(segment.strip()) is not None for segment in segments) > 20
    for segment in segments:
        _same(segment)
