"""Line rules: decisions on line breaks, code fences and list items that open a new line.

The scanner (``_scanner.py``) asks :func:`newline` about a line break outside a code fence,
:func:`fence` about a run of backticks or tildes, and :func:`paren_item` / :func:`bullet_item`
about an enumerator or bullet that continues the list the sentence started with ("a) ... b)",
"• ... •"). Each reads a :class:`~._text.TextWindow` and returns a decision; none keeps state.
"""

from __future__ import annotations

import re

from ._chars import EOF, NEWLINES
from ._text import ENUM_RE, FENCE, HARD, RUN_CAP, SKIP, SPACES, Decision, TextWindow, enum_value

__all__ = ["bullet_item", "fence", "newline", "paren_item"]

_SOFT_END_CHARS = ",;-–—(“‘/&+=«„"
_BLOCK_START_RE = re.compile(r"[-*+•]\s|\d{1,3}[.)]\s|#|>|\||```|~~~")


def fence(w: TextWindow, i: int, width: int) -> Decision:
    buf = w.buf
    k = i
    while k > 0 and buf[k - 1] in " \t":
        k -= 1
    at_line_start = (k == 0 and w.stream_start) or (k > 0 and buf[k - 1] in NEWLINES)
    if not at_line_start or i - k > 3:
        return SKIP, i, i + width
    return FENCE, k, i + width


def newline(w: TextWindow, i: int) -> Decision:
    buf = w.buf
    cs = w.content_start()
    if cs >= i:
        return SKIP, i, i + 1
    # A soft wrap: the line ends where a sentence cannot (a comma, "the", "und") and the next
    # line simply continues it. Anything else is a line break that ends the sentence.
    lo = max(cs, 0)
    k = i
    while k > lo and buf[k - 1] in SPACES:
        k -= 1
    last = buf[k - 1]
    comma = last in _SOFT_END_CHARS
    if not comma and not last.isalpha():
        return HARD, i, i + 1  # "your router:\n", "$49.99\n": the line ends the sentence
    # The start of the line: after the last line break of the sentence before k (str.rfind
    # per kind of line break, not a loop over the characters of the line).
    line = max([buf.rfind(nl, lo, k) for nl in NEWLINES]) + 1
    if line < lo:
        line = lo
    if buf[line] in "#|":
        return HARD, i, i + 1  # a heading or a table row is a line of its own
    if not comma:
        _, word = w.word_before(k)
        if word.lower() not in w.rules.function_words:
            return HARD, i, i + 1
    t = i + 1
    if buf[i] == "\r" and w.at(t) == "\n":
        t += 1
    while w.at(t) in SPACES and t - i < RUN_CAP:
        t += 1
    first = w.at(t)
    if first == EOF or first in NEWLINES:
        return HARD, i, i + 1
    if first in "-*+•#>|`~" or first.isdigit():
        probe = buf[t : t + 4]
        if len(probe) < 4 and not w.final:
            w.at(t + 3)  # the probe needs four characters
        if _BLOCK_START_RE.match(probe):
            return HARD, i, i + 1
    if comma and not (first.islower() or first.isdigit()):
        return HARD, i, i + 1
    return SKIP, i, i + 1


def paren_item(w: TextWindow, i: int) -> Decision:
    buf = w.buf
    if i > 1 and buf[i - 1] == "1" and buf[i - 2].isspace() and i - 1 > w.content_start():
        # "... by 1) taking this, and 2) judging that": a numbered list opens mid-sentence.
        if w.at(i + 1).isspace() and w.at(i + 2).isalpha():
            return HARD, i - 1, i - 1
    marker = w.current_marker()
    if marker.kind not in ("n", "a", "A"):
        return SKIP, i, i + 1
    k = i
    while k > w.start and i - k < 3 and buf[k - 1].isalnum():
        k -= 1
    value = buf[k:i]
    if not value or not ENUM_RE.fullmatch(value):
        return SKIP, i, i + 1
    if w.before(k) == "(":
        delim, cut = "()", k - 1
    else:
        delim, cut = ")", k
    if cut <= marker.end or not w.before(cut).isspace():
        return SKIP, i, i + 1
    if not w.at(i + 1).isspace():
        return SKIP, i, i + 1
    if delim == marker.delim and enum_value(value) == (marker.kind, marker.value + 1):
        return HARD, cut, cut
    return SKIP, i, i + 1


def bullet_item(w: TextWindow, i: int) -> Decision:
    marker = w.current_marker()
    c = w.buf[i]
    if marker.bullet == c and i > marker.end and w.buf[i - 1].isspace():
        return HARD, i, i
    return SKIP, i, i + 1
