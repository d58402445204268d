"""The scanner's view of the text: the buffer, lookahead that waits for more text, words.

Every read past the text received so far goes through :meth:`TextWindow.at`, which raises
:class:`Need` while the stream is open and returns :data:`~._chars.EOF` once it is flushed. That
single rule is what makes every decision independent of how the text was split into deltas.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ._chars import DEFAULT_TERMINALS, EOF
from ._rules import Rules

__all__ = [
    "BOUND",
    "BULLETS",
    "ENUM_RE",
    "Decision",
    "FENCE",
    "HARD",
    "MD_CLOSERS",
    "NO_MARKER",
    "RUN_CAP",
    "SKIP",
    "SPACES",
    "WORD_CAP",
    "Marker",
    "Need",
    "WakeSearch",
    "TextWindow",
    "enum_value",
    "is_emoji",
    "is_hangul",
    "wordish",
]

# What a decision says about a candidate, with the cut position and where scanning resumes:
# not a boundary; a sentence boundary (held while a quote is open); a line-structure cut that
# no quote holds back; a code-fence line.
SKIP, BOUND, HARD, FENCE = 0, 1, 2, 3
Decision = tuple[int, int, int]
# Finds, in newly arrived text, a character that may let a postponed decision go further.
WakeSearch = Callable[[str], "re.Match[str] | None"]

WORD_CAP = 64
# Runs of marks, closers or spaces are looked at up to this length: a decision that is retried
# on every delta must not rescan an unbounded run each time.
RUN_CAP = 32
MD_CLOSERS = "*_~`"
SPACES = " \t\u00a0\u202f"
BULLETS = "•⁃"

_OTHER_SPACE = re.compile(r"[^\S ]").search
ENUM_RE = re.compile(r"\d{1,3}|[A-Za-z]")
# The characters a list marker can start with besides a digit or a letter: bullets, a bracket.
_MARKER_STARTS = "•⁃·▪◦‣-*+("
_MARKER_RE = re.compile(
    r"(?P<bullet>[•⁃·▪◦‣\-*+](?=[\s\d(A-Za-z]))?[ \t]*"
    r"(?:\((?P<pv>\d{1,3}|[A-Za-z])\)|(?P<v>\d{1,3}|[A-Za-z])(?P<d>\.\)|\.|\)))?"
)


class Need(Exception):
    """The decision needs text that has not arrived yet.

    It also says when trying the decision again can help: not before the text is longer than
    ``until`` characters (the index that was read), unless a character that ``wake`` finds
    arrives first (a long scan for a closing bracket, say, cannot end before one of the
    characters that end it arrives). Until then every retry would read the same characters,
    take the same path and ask for more text again, so the chunker skips them.
    """

    def __init__(self, until: int, wake: WakeSearch | None = None) -> None:
        super().__init__(until)
        self.until = until
        self.wake = wake


@dataclass(frozen=True)
class Marker:
    """The list marker a sentence starts with ("• 9.", "a)", "(2)", "- ")."""

    bullet: str
    kind: str  # "n" number, "a" lowercase letter, "A" uppercase letter, "" none
    value: int
    delim: str
    end: int


NO_MARKER = Marker("", "", 0, "", 0)


class TextWindow:
    """The unemitted text and the per-sentence facts that decisions read.

    The scanner owns one window: it appends deltas to ``buf``, moves ``start`` when it cuts a
    sentence (:meth:`begin_sentence`) and drops text it no longer needs (:meth:`shift`). The
    rule functions (``_terminals.py``, ``_words.py``, ``_lines.py``) only read it, through the
    methods below, and the per-sentence caches (content start, list marker) they fill.
    """

    def __init__(self, rules: Rules, terminals: str | None) -> None:
        self.rules = rules
        self.terms = terminals if terminals is not None else DEFAULT_TERMINALS
        self.buf = ""
        self.start = 0
        self.final = False
        # Whether index 0 of ``buf`` is the start of the stream (a line start for a fence).
        self.stream_start = True
        # Per-sentence caches: where its first non-space character is (-1 unknown, -2 in text
        # moved out of the buffer), where to look for it next, its list marker (None unknown).
        self.cs = -1
        self.cs_from = 0
        self.marker: Marker | None = None

    def begin_sentence(self, at: int) -> None:
        """A sentence was cut at ``at``: the next one starts there, its facts still unknown."""
        self.start = at
        self.cs = -1
        self.cs_from = at
        self.marker = None

    def shift(self, k: int, settled: bool = False) -> None:
        """Drop the first ``k`` characters of the buffer, emitted (``start`` >= ``k``) or, when
        ``settled``, undecided text the caller keeps aside (the sentence then starts at 0)."""
        self.buf = self.buf[k:]
        self.cs_from = max(0, self.cs_from - k)
        marker = self.marker
        if marker is not None and marker is not NO_MARKER:
            self.marker = Marker(marker.bullet, marker.kind, marker.value, marker.delim, marker.end - k)
        if settled:
            self.start = 0
            if self.cs >= k:
                self.cs -= k
            elif self.cs >= 0:
                self.cs = -2  # the sentence starts in the settled text
        else:
            self.start -= k
            if self.cs >= 0:
                self.cs -= k
        if k:
            self.stream_start = False

    def at(self, k: int) -> str:
        """The character at ``k``; EOF past the end of a flushed stream, else :class:`Need`."""
        try:
            return self.buf[k]
        except IndexError:
            if self.final:
                return EOF
            raise Need(k) from None

    def before(self, i: int) -> str:
        """The character before ``i``; the start of the sentence counts as a space, so that a
        decision reads the same whether the previous sentence is still in the buffer or not."""
        return self.buf[i - 1] if i > self.start else " "

    def word_before(self, i: int) -> tuple[int, str]:
        """Start and text of the token that ends at ``i`` (back to the previous space)."""
        buf = self.buf
        lo = max(self.start, i - WORD_CAP)
        # After the last plain space, unless another kind of space (a line break, a tab) follows it.
        k = max(lo, buf.rfind(" ", lo, i) + 1)
        if _OTHER_SPACE(buf, k, i) is not None:
            k = i
            while k > lo and not buf[k - 1].isspace():
                k -= 1
        return k, buf[k:i]

    def previous_word(self, k: int) -> str:
        """The token before the one that contains index ``k`` ("" at the sentence start)."""
        if k > self.start and self.buf[k - 1] == " ":
            token_start = k  # what word_before(k) finds after a plain space, without the search
        else:
            token_start, _ = self.word_before(k)
            if token_start <= self.start:
                return ""
        return self.word_before(token_start - 1)[1]

    def is_starter(self, t: int) -> bool:
        """Whether the word at ``t`` typically opens a sentence ("The", "I'm", "Dort")."""
        return self.next_word_in(t, self.rules.starters, self.rules.starter_prefixes)

    def next_word_in(self, t: int, words: frozenset[str], prefixes: frozenset[str]) -> bool:
        """Whether the word at ``t`` (letters, and apostrophes inside it) is one of ``words``.

        Decided as soon as the letters read so far begin no word of ``words`` (``prefixes`` holds
        every beginning): "Engineers" is not a sentence opener after "Eng", "Then" no time zone
        after "T". Otherwise the whole word is read, which needs the character after it. A word
        with an apostrophe counts by its part before it ("I'm", "C'est").
        """
        buf = self.buf
        n = len(buf)
        k = t
        while True:
            if k < n:
                c = buf[k]
            elif self.final:
                c = EOF
            else:
                # Only a character that ends the word, or a letter that leaves ``prefixes``, can
                # decide: the deltas before it are only appended (see _word_wake).
                raise Need(t + WORD_CAP + 1, _word_wake(buf[t:k], prefixes))
            if c.isalpha() or (c in "'’" and k > t):
                k += 1
                prefix = buf[t:k].lower()
                if prefix not in prefixes:
                    for apostrophe in "'’":
                        if apostrophe in prefix:
                            return prefix.split(apostrophe, 1)[0] in words
                    return False
                if k - t > WORD_CAP:
                    return False
                continue
            break
        return buf[t:k].lower().rstrip("'’") in words

    def first_token(self, k: int) -> bool:
        """Whether the token starting at ``k`` opens the sentence (after an optional bullet)."""
        cs = self.content_start()
        if cs < 0:
            return False
        if k <= cs:
            return True
        between = self.buf[cs:k].strip()
        return len(between) == 1 and between in "•⁃·▪◦‣-*+"

    def content_start(self) -> int:
        """Index of the current sentence's first non-space character (len(buf) if none yet)."""
        if self.cs >= 0:
            return self.cs
        if self.cs == -2:
            return -1  # moved out with settled text: before anything in the buffer
        buf = self.buf
        k = max(self.start, self.cs_from)
        n = len(buf)
        while k < n and buf[k].isspace():
            k += 1
        if k < n:
            self.cs = k
        else:
            self.cs_from = k  # whitespace so far: resume here next time
        return k

    def current_marker(self) -> Marker:
        """The list marker the current sentence starts with, NO_MARKER if none (cached)."""
        if self.marker is not None:
            return self.marker
        cs = self.content_start()
        if 0 <= cs and len(self.buf) - cs < 8 and not self.final and not _marker_settled(self.buf, cs):
            raise Need(cs + 7)  # the marker may not have arrived whole yet
        m = _MARKER_RE.match(self.buf, cs) if cs >= 0 else None
        marker = NO_MARKER
        if m is not None and m.end() < len(self.buf):
            bullet = m.group("bullet") or ""
            value = m.group("pv") or m.group("v") or ""
            delim = "()" if m.group("pv") else (m.group("d") or "")
            if value and self.buf[m.end()].isspace():
                marker = Marker(bullet, *enum_value(value), delim, m.end())
            elif bullet and not value and self.buf[cs + 1].isspace():
                marker = Marker(bullet, "", 0, "", cs + 1)
        self.marker = marker
        return marker


_ANY_AT = re.compile(r"(?s).").match


def _word_wake(word: str, prefixes: frozenset[str]) -> WakeSearch:
    """What lets :meth:`TextWindow.next_word_in` decide, found in the deltas that follow.

    ``word`` is the part of the word that has arrived. The search walks each new delta as the
    loop would: a character that is neither a letter nor an apostrophe inside the word ends it,
    a letter or apostrophe that makes the word so far no member of ``prefixes`` (or longer than
    the cap) decides too. Deltas it finds nothing in are appended to the buffer unscanned, so
    the search keeps what they added.
    """

    def wake(delta: str) -> re.Match[str] | None:
        nonlocal word
        for j, c in enumerate(delta):
            if c.isalpha() or (c in "'’" and (word or j)):
                so_far = word + delta[: j + 1]
                if so_far.lower() not in prefixes or len(so_far) > WORD_CAP:
                    return _ANY_AT(delta, j)
            else:
                return _ANY_AT(delta, j)
        word += delta
        return None

    return wake


def _marker_settled(buf: str, cs: int) -> bool:
    """Whether more text can no longer change what the marker pattern finds at ``cs``.

    Decided by the first characters in the common cases, so that "2. Wait" or "Open" do not
    wait for eight characters: a number is settled once its delimiter and the character after
    it have arrived ("2. W", "12) a") or once a character that is no delimiter follows it; a
    letter once the character after it is no delimiter; anything that can start no marker at
    once. A bullet or a bracket waits for the general rule.
    """
    n = len(buf)
    c = buf[cs]
    if c.isdecimal():  # what \d matches
        e = cs + 1
        while e < n and e - cs < 4 and buf[e].isdecimal():
            e += 1
        if e - cs == 4:
            return True  # four digits: no enumerator
        if e == n:
            return False
        if buf[e] == ".":
            return e + 2 < n or (e + 1 < n and buf[e + 1] != ")")
        if buf[e] == ")":
            return e + 1 < n
        return True
    if c in _MARKER_STARTS:
        return False
    if c.isascii() and c.isalpha():
        return cs + 1 < n and buf[cs + 1] not in ".)"
    return True


def wordish(c: str) -> bool:
    """A letter of a cased script or a digit: what follows an apostrophe inside a word."""
    return c.isdigit() or c.isupper() or c.islower()


def is_hangul(c: str) -> bool:
    """A Hangul syllable or jamo."""
    return "\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f"


def is_emoji(c: str) -> bool:
    """A pictograph or one of the joiners and selectors that build emoji sequences."""
    if c < "\u200d" or c == EOF or len(c) != 1:
        return False  # the first test is the fast answer for Latin text
    if c in "\u200d\ufe0f\u20e3":
        return True
    return ord(c) >= 0x2190 and unicodedata.category(c) in ("So", "Sk")


def enum_value(value: str) -> tuple[str, int]:
    """Kind and ordinal of a list enumerator: "3" is ("n", 3), "b" is ("a", 2)."""
    if not value:
        return "", 0
    if value.isdigit():
        return "n", int(value)
    return ("a" if value.islower() else "A"), ord(value.lower()) - ord("a") + 1
