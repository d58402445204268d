"""The incremental boundary scanner behind :class:`~completions_core.sentences.SentenceChunker`.

The scanner owns the text that has not been emitted yet (a :class:`~._text.TextWindow`) and a
scan position. Only candidate characters (terminal marks, newlines, a few list triggers) are
looked at, found by one precompiled regex. At each candidate it asks the rule that owns it
(``_terminals.py`` for a terminal mark, ``_lines.py`` for a line break, a fence or a list item),
which takes a decision from a bounded window of text around it; when that window reaches past
the text received so far, the decision is postponed (:class:`~._text.Need`) and taken again,
from the same place, when more text arrives. A decision never depends on where the deltas were
split, so the output does not either, and every character is scanned a bounded number of times:
the work is linear in the length of the stream.

Quotes and brackets are tracked lazily (only up to the candidate being decided). A boundary
inside an open quote is *held*: it is dropped if the quote closes (the quotation stays one
sentence) and made real if the quote is still open ``HOLD_CAP`` characters later, at a line
break, or at the end of the stream.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from ._chars import (
    AMBIGUOUS_QUOTES,
    CLOSERS,
    MATCHING_OPENERS,
    NEWLINES,
    OPENERS,
    QUOTE_RE,
)
from ._fast import FAST_MARKS, FastTerminals
from ._lines import bullet_item, fence, newline, paren_item
from ._rules import Rules
from ._terminals import dash_quote, terminal
from ._text import (
    BOUND,
    BULLETS,
    FENCE,
    HARD,
    MD_CLOSERS,
    SKIP,
    Decision,
    Need,
    TextWindow,
    WakeSearch,
)

__all__ = ["COMPACT_AT", "HOLD_CAP", "LINE_DECIDES", "TRIM_AT", "Scanner"]

# How far past a held boundary an unclosed quote or bracket may still keep the text together.
HOLD_CAP = 400
# A long run without any boundary is moved out of the working buffer past this size.
COMPACT_AT = 16384
_LOOKBEHIND = 256
TRIM_AT = 128

_NON_SPACE = re.compile(r"\S").search
# The marks that a line break right after them decides at once (no need to see what follows it).
LINE_DECIDES = FAST_MARKS


_Search = Callable[[str], "re.Match[str] | None"]


@cache
def _patterns(terms: str) -> tuple[re.Pattern[str], re.Pattern[str], _Search, _Search]:
    """The candidate searches for a set of terminal marks (compiled once per set).

    Every alternative starts with a literal character, never with a character class: only then
    does the regex engine skip ahead on the set of first characters instead of trying every
    alternative at every position (about five times faster on text without candidates). The
    order is the one of ``[marks]|```|~~~|(?:--|—)[quotes]``: single characters first.
    """
    marks = "".join(sorted(set(terms) | set(NEWLINES) | {")"} | set(BULLETS)))
    quotes = "[\"'”’»]"
    # Everything that can start a decision; multi-character candidates (fences, a dash before
    # a closing quote) are alternatives after the single characters.
    cand = re.compile("|".join([*map(re.escape, marks), "```", "~~~", "--" + quotes, "—" + quotes]))
    fence_cand = re.compile("|".join([*map(re.escape, NEWLINES), "```", "~~~"]))
    # The feed fast path only looks for single characters: a fence or a dash before a quote
    # is found by the next full scan, which starts from the last scanned position.
    fast = re.compile(f"[{re.escape(marks)}]").search
    fast_fence = re.compile(f"[{re.escape(NEWLINES)}]").search
    return cand, fence_cand, fast, fast_fence


class Scanner:
    """Finds sentence boundaries in a growing text; see the module docstring.

    It owns the :class:`~._text.TextWindow` (``window``) and asks the rule functions about each
    candidate: :func:`~._terminals.terminal` for a terminal mark, the line rules of
    ``_lines.py`` for a line break, a fence or a list item.
    """

    # The fast path for common terminal decisions (see _fast.py); the differential tests
    # turn it off to compare it with the full rules.
    fast_path = True

    def __init__(self, rules: Rules, terminals: str | None) -> None:
        self.window = window = TextWindow(rules, terminals)
        self.terms = window.terms
        self.cand, self.fence_cand, self.fast, self.fast_fence = _patterns(self.terms)
        self.idle_tail = self.terms + CLOSERS + MD_CLOSERS + AMBIGUOUS_QUOTES
        self.settled: list[str] = []
        self.pos = 0
        # The last cut left only whitespace after it: the next scan goes on skipping it first.
        self.skip_space = False
        self.waiting = False
        # While waiting on a decision that asked for more text (see Need): the text length it
        # needs to pass (-1 when unknown), and what else may let it go further.
        self.wait_until = -1
        self.wake: WakeSearch | None = None
        self.held: list[int] = []
        self.stack: list[str] = []
        self.stack_pos = 0
        self.in_fence = False
        # Segments cut so far: (raw text with its leading whitespace, inside a code fence).
        self.out: list[tuple[str, bool]] = []
        self.fast_terminal = FastTerminals(window, rules).decide

    def scan(self) -> None:
        """Decide every candidate that can be decided with the text received so far."""
        w = self.window
        fast_path = self.fast_path
        # The buffer does not change during a scan (only trim() moves it), nor does the list of
        # held boundaries (cleared and appended to in place).
        buf = w.buf
        n = len(buf)
        held = self.held
        cand = self.fence_cand if self.in_fence else self.cand
        if self.skip_space:
            # The whitespace that opens the sentence, split across deltas: skipped as the cut
            # below skips it when it arrives with the cut ("work.\n" then "\nNext").
            first = _NON_SPACE(buf, self.pos)
            if first is not None:
                self.pos = first.start()
                self.skip_space = False
            else:
                self.pos = n
        while True:
            if held:
                limit = held[0] + HOLD_CAP
                m = cand.search(buf, self.pos, limit)
                if m is None:
                    if n > limit or w.final:
                        self._update_stack(min(limit, n))
                        if held:
                            self._give_up()
                        else:
                            self.pos = max(self.pos, min(limit, n))
                        continue
                    self.pos = max(self.pos, n - 2)
                    break
            else:
                m = cand.search(buf, self.pos)
                if m is None:
                    if self.pos < n - 2:
                        self.pos = n - 2
                    break
            i = m.start()
            c = buf[i]
            # With one character after the mark, a space leaves the fast path nothing to decide
            # ("word. " waits for the next word): the call is skipped.
            decision = (
                self.fast_terminal(buf, i, c)
                if c in FAST_MARKS and fast_path and (i + 2 < n or (i + 1 < n and buf[i + 1] != " "))
                else None
            )
            if decision is not None:
                kind, at, resume = decision
            elif (
                n - i <= 8
                and c in self.terms
                and not w.final
                and not buf[i + 1 :].lstrip(self.idle_tail).strip()
                and not (buf[i + 1 : i + 2] == "\n" and buf[i] in LINE_DECIDES)
            ):
                # Every decision on a terminal mark needs the first character after it (and its
                # spaces): do not even start one before that character has arrived.
                self.pos = i
                self.waiting = True
                self.wait_until, self.wake = -1, None
                return
            else:
                marker = w.marker
                try:
                    kind, at, resume = self._decide(i, m.group())
                except Need as need:
                    self.pos = i
                    self.waiting = True
                    # The retries that would fail the same way can be skipped, unless this
                    # attempt settled the sentence's list marker (which reads as far as the
                    # text goes). Once the text passes i + 2, the shortcut of terminal() (and
                    # the fast path) may decide instead.
                    if w.marker is marker:
                        self.wait_until = need.until if n > i + 2 else min(need.until, i + 2)
                        self.wake = need.wake
                    else:
                        self.wait_until, self.wake = -1, None
                    return
            if kind == SKIP:
                self.pos = resume if resume > w.start else w.start
                continue
            if kind == BOUND:
                if self.stack or (at > self.stack_pos and QUOTE_RE.search(buf, self.stack_pos, at) is not None):
                    self._update_stack(at)
                    if self.stack:
                        if not held or held[-1] < at:
                            held.append(at)
                        self.pos = resume if resume > w.start else w.start
                        continue
            elif held:
                self._give_up()
                continue
            # The cut (what _cut does, written out: the common step of every scan that ends a
            # sentence).
            if self.settled:
                self._cut(at)
            else:
                self.out.append((buf[w.start : at], self.in_fence))
                w.start = w.cs_from = at
                w.cs = -1
                w.marker = None
                self.stack_pos = at
                if self.stack:
                    self.stack.clear()
                if held:
                    held.clear()
            if kind == FENCE:
                self.in_fence = not self.in_fence
                cand = self.fence_cand if self.in_fence else self.cand
            pos = resume if resume > at else at
            if not self.in_fence and (pos == at or not buf[at:pos].strip()):
                # The whitespace that opens the next sentence holds nothing to decide (a line
                # break there finds no sentence to end), so the search skips it.
                first = _NON_SPACE(buf, pos)
                if first is not None:
                    pos = first.start()
                else:
                    pos = n
                    self.skip_space = True
            self.pos = pos
        if w.final and self.held:
            self._update_stack(len(w.buf))
            if self.held:
                self._give_up()
                self.scan()
                return
        self.waiting = False

    def trim(self) -> None:
        """Drop emitted text from the buffer and move a long undecided prefix aside."""
        w = self.window
        # Emitted text is dropped in batches: each drop costs a copy of the buffer, and so does
        # every delta appended to it (a small batch: 128 characters, about two sentences).
        if w.start > TRIM_AT or (w.start and w.start == len(w.buf)):
            self._shift(w.start)
        if len(w.buf) > COMPACT_AT and not self.held and self.pos - _LOOKBEHIND > len(w.buf) // 2:
            # Settle the sentence's facts that look at its start before the start moves away.
            w.content_start()
            try:
                w.current_marker()
            except Need:
                pass  # the sentence starts within the last characters: it stays in the buffer
            cut = self.pos - _LOOKBEHIND
            self.settled.append(w.buf[w.start : cut])
            self._shift(cut, settled=True)

    def rest(self) -> str:
        """The text not cut into a segment yet."""
        w = self.window
        return "".join(self.settled) + w.buf[w.start :]

    def _shift(self, k: int, settled: bool = False) -> None:
        self.window.shift(k, settled)
        self.pos = max(0, self.pos - k)
        self.stack_pos = max(0, self.stack_pos - k)
        self.held = [h - k for h in self.held]
        if self.wait_until >= 0:
            self.wait_until -= k

    def _cut(self, at: int) -> None:
        w = self.window
        text = w.buf[w.start : at]
        if self.settled:
            text = "".join(self.settled) + text
            self.settled.clear()
        self.out.append((text, self.in_fence))
        w.begin_sentence(at)
        self.stack.clear()
        self.stack_pos = at
        self.held.clear()

    def _give_up(self) -> None:
        # An unclosed quote or bracket: its first held boundary becomes real, and the rest of
        # the text is scanned again as if the quote were not there.
        at = self.held[0]
        self._cut(at)
        self.pos = at

    def _update_stack(self, j: int) -> None:
        """Track open quotes and brackets up to index ``j``."""
        if j <= self.stack_pos:
            return
        buf = self.window.buf
        if not self.stack and QUOTE_RE.search(buf, self.stack_pos, j) is None:
            self.stack_pos = j  # the common case: no quote or bracket at all
            return
        stack = self.stack
        for m in QUOTE_RE.finditer(buf, self.stack_pos, j):
            q = m.start()
            kind = self._quote_kind(q)
            c = buf[q]
            if kind == "o":
                if len(stack) < 8:
                    stack.append(c)
            elif kind == "c" and stack:
                openers = MATCHING_OPENERS[c]
                for k in range(len(stack) - 1, -1, -1):
                    if stack[k] in openers:
                        del stack[k:]
                        break
                if not stack and self.held:
                    # The quote closed: what looked like boundaries inside it were not.
                    self.held.clear()
        self.stack_pos = j

    def _quote_kind(self, q: int) -> str:
        w = self.window
        buf = w.buf
        c = buf[q]
        if c in OPENERS:
            return "o"
        if c in CLOSERS:
            return "c"
        prev = w.before(q)
        nxt = buf[q + 1] if q + 1 < len(buf) else " "
        if prev.isalnum() and nxt.isalnum() and c in "'’":
            return ""  # an apostrophe
        open_before = prev.isspace() or prev in OPENERS or prev in "-–—/" or prev in AMBIGUOUS_QUOTES
        word_after = nxt.isalnum() or nxt in OPENERS or nxt in AMBIGUOUS_QUOTES or nxt in "¿¡$€£#*_"
        if c == "’":
            return "" if open_before else "c"
        if open_before and word_after:
            if c == "”":
                return ""
            if c == "'" and not nxt.isupper() and prev.isspace():
                # 'round, 'em, 'nineties, 3 's: an elision, unless a quotation is introduced
                # ("she said, 'after all...").
                before = buf[q - 2] if q - 2 >= w.start else "\n"
                if not (before in ",:;—–-(" or before in NEWLINES):
                    return ""
            return "o"
        return "c"

    def _decide(self, i: int, token: str) -> Decision:
        """Ask the rule that owns the candidate ``token`` at ``i``."""
        w = self.window
        c = token[0]
        if c in self.terms and len(token) == 1:
            return terminal(w, i)
        if c in "`~":
            return fence(w, i, len(token))
        if len(token) > 1:
            return dash_quote(w, i)
        if c in NEWLINES:
            return (HARD, i, i + 1) if self.in_fence else newline(w, i)
        if c == ")" and c not in self.terms:
            return paren_item(w, i)
        if c in BULLETS and c not in self.terms:
            return bullet_item(w, i)
        return terminal(w, i)
