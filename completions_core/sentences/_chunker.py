"""The public streaming sentence chunker."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..types import StreamOptions
from ._chars import NEWLINES
from ._markdown import clean
from ._rules import LANGUAGES, rules_for
from ._scanner import COMPACT_AT, HOLD_CAP, LINE_DECIDES, TRIM_AT, Scanner

__all__ = ["SentenceChunker"]

# Spaces other than line breaks, then a line break: matches where the leading whitespace of a
# segment holds a line break (without copying the segment as lstrip() would).
_NEVER = re.compile("(?!)").search
_LINE_BREAK_FIRST = re.compile(f"[^\\S{NEWLINES}]*[{NEWLINES}]").match


class SentenceChunker:
    """Cut a stream of text deltas into whole sentences, as soon as each one is certain.

    ``feed(delta)`` returns the sentences that ``delta`` completed (often none); ``flush()``
    returns the rest at the end of the stream and makes the chunker ready for a new stream.
    Deltas may be of any size, down to one character; the sentences returned do not depend on
    how the text was split. All of :class:`~completions_core.types.StreamOptions` applies
    except ``chunk_by_sentence`` (the caller decides whether to use a chunker at all):

    - ``punctuation_language``: abbreviation and number rules of one language (en, zh, ko, ja,
      es, fr, it, de; a region such as "en-US" is accepted); None applies all of them at once.
    - ``punctuation_marks``: replaces the set of sentence-ending marks.
    - ``min_sentence_length``: a sentence shorter than this is joined to the next one.
    - ``clean_sentences``: markdown is removed from each sentence before it is returned.

    See docs/sentences.md for every rule.
    """

    def __init__(self, options: StreamOptions | None = None) -> None:
        options = options if options is not None else StreamOptions()
        self._language = _language(options.punctuation_language)
        marks = options.punctuation_marks
        # Marks are taken character by character ("..." is "."); spaces cannot be marks.
        self._terminals = (
            "".join(dict.fromkeys(c for c in "".join(marks) if not c.isspace())) if marks is not None else None
        )
        self._clean = options.clean_sentences
        self._min_length = max(0, options.min_sentence_length)
        self._reset()

    def _reset(self) -> None:
        self._scanner = Scanner(rules_for(self._language), self._terminals)
        self._window = self._scanner.window
        self._fast: Callable[..., re.Match[str] | None] | None = self._scanner.fast
        self._limit = COMPACT_AT
        self._postponed = False
        self._idle = self._scanner.idle_tail
        self._terminal_set = frozenset(self._scanner.terms)
        self._pending = ""
        self._pending_line_start = False
        self._pending_code = False
        self._first = True

    def feed(self, delta: str) -> list[str]:
        """Add ``delta`` to the stream; return the sentences it completed, in order."""
        fast = self._fast
        window = self._window
        if fast is not None:
            match = fast(delta)
            window.buf += delta
            if match is None:
                # Fast path: no decision pending and nothing in the delta that could end a
                # sentence (or, for a postponed decision, nothing that could let it go further).
                if len(window.buf) < self._limit:
                    return []
                # Past the hold cap of an open quote, or a long run to move aside: scan it now.
            elif (
                not self._postponed
                and not delta[match.end() :].lstrip(self._idle).strip()
                and delta[match.start()] in self._terminal_set
                and not (delta[match.end() : match.end() + 1] == "\n" and delta[match.start()] in LINE_DECIDES)
            ):
                # The delta ends on a terminal mark (and closers): any decision on it needs the
                # next character, so the scan waits for the next delta. A line break right
                # after ".", "!", "?" or a full-width mark decides at once (as the scan's own
                # check says).
                self._fast = None
                return []
        else:
            window.buf += delta
        scanner = self._scanner
        scanner.scan()
        start = window.start
        if start > TRIM_AT or len(window.buf) > COMPACT_AT or (start and start == len(window.buf)):
            scanner.trim()  # the checks trim() starts with: most scans leave it nothing to do
        if scanner.waiting:
            if scanner.wait_until < 0:
                self._fast = None
            else:
                # A decision asked for more text: the deltas that cannot change its outcome are
                # only appended (Need says which), like the deltas with no candidate at all.
                self._fast = scanner.wake or _NEVER
                self._limit = min(COMPACT_AT, scanner.wait_until + 1)
                self._postponed = True
        else:
            self._fast = scanner.fast_fence if scanner.in_fence else scanner.fast
            self._limit = min(COMPACT_AT, scanner.held[0] + HOLD_CAP + 1) if scanner.held else COMPACT_AT
            self._postponed = False
        out = scanner.out
        if not out:
            return []
        if len(out) == 1 and self._clean and not self._pending and not self._first:
            # One sentence, nothing pending (the common case): what _drain does, written out.
            raw, code = out[0]
            out.clear()
            at_line_start = _starts_line(raw)
            text = clean(raw, at_line_start, code)
            if not text:
                return []
            if len(text) < self._min_length:
                self._pending = raw
                self._pending_line_start = at_line_start
                self._pending_code = code
                return []
            return [text]
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End the stream: return every sentence still held back, even a short last one."""
        scanner = self._scanner
        scanner.window.final = True
        scanner.scan()
        rest = scanner.rest()
        if rest:
            scanner.out.append((rest, scanner.in_fence))
        sentences = self._drain(final=True)
        self._reset()
        return sentences

    def _drain(self, final: bool) -> list[str]:
        sentences: list[str] = []
        segments = self._scanner.out
        cleaning = self._clean
        min_length = self._min_length
        pending = self._pending
        at_line_start = False
        for raw, code in segments:
            if pending:
                raw = pending + raw
                at_line_start = self._pending_line_start
                code = code and self._pending_code
            elif cleaning:
                if self._first:
                    at_line_start = True
                else:
                    at_line_start = _starts_line(raw)
            self._first = False
            text = clean(raw, at_line_start, code) if cleaning else raw.strip()
            if not text:
                pending = ""
                continue
            if len(text) < min_length:
                # Too short to speak on its own ("1.", "Hi."): it leads the next sentence.
                pending = raw
                self._pending_line_start = at_line_start
                self._pending_code = code
                continue
            pending = ""
            sentences.append(text)
        segments.clear()
        if final and pending:
            text = clean(pending, self._pending_line_start, self._pending_code) if cleaning else pending.strip()
            if text:
                sentences.append(text)
            pending = ""
        self._pending = pending
        return sentences


def _starts_line(raw: str) -> bool:
    """Whether the leading whitespace of ``raw`` holds a line break."""
    # The first two characters answer most segments ("Next", "\nNext", " Next") without a search.
    first = raw[:1]
    if first in NEWLINES:
        return first != ""
    if not first.isspace() or not raw[1:2].isspace():
        return False
    return _LINE_BREAK_FIRST(raw) is not None


def _language(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    if code not in LANGUAGES:
        raise ValueError(f"unknown punctuation_language {value!r}; expected one of {', '.join(LANGUAGES)}")
    return code
