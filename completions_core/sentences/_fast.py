"""The fast path of the boundary scanner: the common terminal decisions in a few string tests.

:class:`~._scanner.Scanner` asks :meth:`FastTerminals.decide` first about a terminal mark that has
a character after it; None sends the candidate to the full rules (``_terminals.py``). Every case
here is decided exactly as the full rules decide it: tests/sentences/test_fast_path.py runs the
chunker with and without this path (``Scanner.fast_path``) on edge, golden, voice-reply and random
texts and compares the output.
"""

from __future__ import annotations

from ._chars import AMBIGUOUS_QUOTES, CJK_TERMINALS, CLOSERS, DEFAULT_TERMINALS
from ._rules import Rules
from ._terminals import list_continuation
from ._text import BOUND, ENUM_RE, MD_CLOSERS, SKIP, WORD_CAP, Decision, Need, TextWindow
from ._words import MULTI_PERIOD_RE, PAIR_STRIP, classify, german_ordinal, list_number

__all__ = ["FAST_MARKS", "FastTerminals"]

# The marks the fast path decides, the full-width ones among them, and what after a full-width
# mark leaves the decision to the full rules.
_CJK_FAST = CJK_TERMINALS
FAST_MARKS = ".!?" + _CJK_FAST
_CJK_NOT_FAST = DEFAULT_TERMINALS + CLOSERS + MD_CLOSERS + AMBIGUOUS_QUOTES + "<、，,"
_DIGITS = "0123456789"
# The characters a number may end in (after its digits, see _NUMBER_RE in _words.py): a token
# that ends in none of them nor in a letter or digit is a plain word for the rules.
_NUMBER_ENDS = ".,:/'’-%°"
# The words that end an abbreviation listed as a pair of words ("ad es.", "p. ej.").
_PAIR_ENDS = frozenset({"es", "ej"})


class FastTerminals:
    """The fast path for the terminal marks of one scanner's text (its ``window``)."""

    def __init__(self, window: TextWindow, rules: Rules) -> None:
        self.window = window
        self.terms = window.terms
        self.fast_stop_period = rules.fast_stop_period
        self.fast_stop_strong = rules.fast_stop_strong
        self.fast_skip = rules.fast_skip_period
        self.fast_stop_newline = rules.fast_stop_newline
        self.fast_kinds = rules.kinds
        self.fast_street = rules.street_suffix
        # The last characters of a word that may be a number or an abbreviation ("n°", "c.-à-d.")
        # other than letters and digits.
        self.fast_not_plain_ends = _NUMBER_ENDS + rules.fast_abbreviation_ends

    def decide(self, buf: str, i: int, c: str) -> Decision | None:
        """Decide the common cases of the terminal mark ``c`` at ``i`` (a character follows it)
        with a few string tests and set lookups, or return None for the full rules.

        The cases, each decided the same way by :func:`~._terminals.terminal` (the tests in
        tests/sentences/test_fast_path.py run both and compare):

        - "!" or "?" before a line break; "word." before a line break after a word that is no
          abbreviation;
        - a period inside a word or a number ("e.g", "3.14");
        - "word. Next", "word! Next" after a plain word (no abbreviation, no name that an
          exclamation may precede), and the same before a digit or a letter of a caseless
          script ("Done. 3 items", "니다. 총");
        - "Dr. x" after a title or a never-final abbreviation, and any abbreviation (a listed word,
          or letters with periods such as "a.m") before a lowercase word;
        - the period of a list number that opens the sentence ("2. Wait"), and a number's period
          before a capital ("at 13. Then", "$25. You": see _number_before_capital);
        - a full-width mark ("。", "！") followed by a line break, or by a character that is no
          mark, closer, quote, space or comma.
        """
        nxt = buf[i + 1]
        start = self.window.start
        if c in _CJK_FAST:
            if c in "。．" and i > start and buf[i - 1].isdigit():
                return None  # a full-width decimal point or list number
            if nxt == "\n" and nxt not in self.terms:
                return BOUND, i + 1, i + 1  # "。\n2.": a line break is no closer
            if nxt in _CJK_NOT_FAST or nxt in self.terms or nxt.isspace():
                return None
            return BOUND, i + 1, i + 1
        if nxt == "\n":
            if c != ".":
                return BOUND, i + 1, i + 1
            k = buf.rfind(" ", start, i) + 1
            word = buf[k if k > start else start : i]
            if len(word) >= 2 and word.isalpha() and word.lower() not in self.fast_stop_newline:
                return BOUND, i + 1, i + 1
            return None
        if c == "." and (nxt.islower() or (nxt.isdigit() and i > start and buf[i - 1].isdigit())):
            if i + 2 < len(buf):
                return SKIP, i, i + 1  # "e.g", "3.14"
            # The last character so far: the rules read on ("3.1" may be "3.1 Open" after "2.
            # Close" in a list on one line) unless the list marker they consult is known or
            # not consulted; then they decide the same.
            if nxt in self.terms or (self.window.marker is None and self._consults_marker(buf, i)):
                return None
            return SKIP, i, i + 1
        if i + 2 >= len(buf) or nxt != " ":
            return None
        first = buf[i + 2]
        if not first.isalnum():
            if c == "." and buf[i - 1] in _DIGITS and not first.isspace() and first not in self.terms:
                # "3. **Wi-Fi**", "2. 「Wi-Fi」", "1. ¿Tienes": the rules skip a list number that
                # opens the sentence before they look at what follows its space.
                cs = self.window.content_start()
                if 0 <= cs and 1 <= i - cs <= 3 and all(d in _DIGITS for d in buf[cs:i]):
                    return SKIP, i, i + 1
            inverted = first in "¿¡" and first not in self.terms
            if inverted and i - 1 > start and buf[i - 1].isalpha() and buf[i - 2].isalnum():
                # "por favor. ¿Algo más?": an inverted mark opens a sentence after any word (the
                # rules read no further once the word is no number).
                return BOUND, i + 1, i + 1
            return None
        if c == "." and buf[i - 1] in _DIGITS:
            cs = self.window.content_start()
            if 0 <= cs and 1 <= i - cs <= 3 and all(d in _DIGITS for d in buf[cs:i]):
                return SKIP, i, i + 1  # a list number that opens the sentence
            if first.isupper() and i > start and first not in self.terms:
                return self._number_before_capital(i)
            return None
        k = buf.rfind(" ", start, i) + 1
        word = buf[k if k > start else start : i]
        if not word.isalpha():
            if (
                c == "."
                and first.islower()
                and len(word) <= 32
                and MULTI_PERIOD_RE.fullmatch(word)
                and first not in self.terms
            ):
                return SKIP, i, i + 1  # "a.m. to", "e.g. this": an abbreviation before a lowercase word
            # The last word comes after a line break or a tab ("\n\nCerto! E"): the full rules
            # read it back to any space and decide as below, except that "es" and "ej" may end
            # a listed pair and that a mark from punctuation_marks may follow.
            parts = word.rsplit(None, 1)
            # What the rules read as the word: without the quotes, brackets, markup and
            # inverted marks before it ("¡Claro", "**Bold", "“Yes").
            word = parts[-1].lstrip(PAIR_STRIP) if parts else ""
            if first in self.terms:
                return None
            if (
                (not word or not (word[-1].isalnum() or word[-1] in self.fast_not_plain_ends))
                and not first.islower()
                and "'" not in word
                and "’" not in word
            ):
                # "`code`. Then", "**Bold**! Next", "5,49 €. Die", "sûr ! Venez": the word ends
                # in markup, a closer or a symbol (or there is none), in which no abbreviation,
                # time or number ends: the rules read it as a plain word and end the sentence
                # before a word that is not lowercase.
                return BOUND, i + 1, i + 1
            if len(word) < 2 or not word.isalpha():
                if (
                    len(word) >= 2
                    and word[-2:].isalnum()
                    and word[-1].isalpha()
                    and len(parts[-1]) <= 32
                    and not first.islower()
                    and "'" not in word
                    and "’" not in word
                    and (c != "." or MULTI_PERIOD_RE.fullmatch(word) is None)
                ):
                    # "32,500원입니다. 배송", "B12a. Go": a token that ends in letters but holds a
                    # digit or a symbol is no abbreviation, time or number to the rules, unless
                    # listed: a plain word, which ends the sentence before this character.
                    word = word.lower()
                    stop = self.fast_stop_newline if c == "." else self.fast_stop_strong
                    if word not in stop and word not in self.fast_kinds and word[-3:] != "str":
                        return BOUND, i + 1, i + 1
                return None
            word = word.lower()
            if c == "." and word in self.fast_skip:
                return SKIP, i, i + 1
            stop = self.fast_stop_newline if c == "." else self.fast_stop_strong
            if not first.islower() and word not in stop and word[-3:] != "str":
                return BOUND, i + 1, i + 1
            return None
        if len(word) < 2:
            return None
        word = word.lower()
        if c == ".":
            if word in self.fast_skip:
                return SKIP, i, i + 1
            if first.islower() and word in self.fast_kinds and first not in self.terms:
                return SKIP, i, i + 1  # "min. or", "Fri. and": an abbreviation before a lowercase word
            stop = self.fast_stop_period
        else:
            stop = self.fast_stop_strong
        if first.isupper():
            if word not in stop and word[-3:] != "str":
                return BOUND, i + 1, i + 1
        elif not first.islower() and word not in stop and word[-3:] != "str" and first not in self.terms:
            # A digit or a caseless letter: the full rules read the word's kind, in which "es"
            # and "ej" may end a listed pair ("ad es. 3").
            if word not in _PAIR_ENDS:
                return BOUND, i + 1, i + 1
        if (
            c == "."
            and first.isdigit()
            and word[-3:] == "str"
            and len(word) > 3
            and (self.fast_street or word in self.fast_kinds)
            and first not in self.terms
        ):
            return SKIP, i, i + 1  # "Gartenstr. 7": a street (or a listed abbreviation) before a number
        return None

    def _number_before_capital(self, i: int) -> Decision | None:
        """The period at ``i`` after a digit, then a space and a capital: the full rules' path
        for it without their general steps (the same rule functions, in the same order: an
        inline list, the word's kind, then what after_period says of a capital)."""
        w = self.window
        try:
            item = list_continuation(w, i)
        except Need:
            return None  # the list marker has not arrived whole: the rules wait for it
        if item is not None:
            return item  # "1. One 2. Two": the next item of an inline list
        buf = w.buf
        start = w.start
        k = buf.rfind(" ", start, i) + 1
        if k < start:
            k = start
        word = buf[k:i]
        if i - k <= WORD_CAP and word.isdigit() and word.isascii() and word not in self.fast_kinds:
            category = "number"  # what classify says of a token of ASCII digits ("12", "2023")
        else:
            category, word, k = classify(w, i, "period")
        if category in ("plain", "numeric", "final"):
            return BOUND, i + 1, i + 1
        if category != "number":
            return None  # an abbreviation, a time, an initial: the rules read the next word
        if list_number(w, k) or german_ordinal(w, k, word):
            return SKIP, i, i + 1  # "- 3. Drei", "am 3. Oktober"
        if w.rules.ordinal_nouns and len(word) <= 2 and word.isdigit():
            return None  # "3. Oktober": the rules read the next word
        return BOUND, i + 1, i + 1

    def _consults_marker(self, buf: str, i: int) -> bool:
        """Whether the rule for inline lists (``list_continuation`` in ``_terminals.py``) reads
        the sentence's list marker for the period at ``i``: after an enumerator ("1", "a",
        "12") that follows a space."""
        start = self.window.start
        if i - 1 > start and buf[i - 1].isalpha() and buf[i - 2].isalnum():
            return False
        k = i
        while k > start and i - k < 3 and buf[k - 1].isalnum():
            k -= 1
        value = buf[k:i]
        return bool(value) and self.window.before(k).isspace() and ENUM_RE.fullmatch(value) is not None
