"""What the word before a period is, and what that means for the word after it."""

from __future__ import annotations

import re

from ._text import BOUND, SKIP, Decision, TextWindow

__all__ = ["WordRules"]

_TIMES = frozenset({"a.m", "p.m"})
# French and Italian elided articles and prepositions: "l'Ing.", "dell'Avv." look up "Ing", "Avv".
_ELIDED = frozenset("l d j m n s t c qu dell nell all dall sull un quell lorsqu puisqu jusqu".split())
_PAIR_STRIP = "\"'“‘„‚«‹([{¿¡*_`>~-–—•⁃·"
_NUMBER_RE = re.compile(r"[#$€£¥+\-−±~≈]*\d[\d.,:/'’\-]*[%°]?")
_ORDINAL_RE = re.compile(r"\d{1,2}\.-?")
_MULTI_PERIOD_RE = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")


class WordRules(TextWindow):
    """Abbreviations, initials, numbers and ordinals: the period rules that depend on words."""

    def _classify(self, i: int, kind: str) -> tuple[str, str, int]:
        """Kind of the word before the terminal at ``i``: title, never, numeric, general, single,
        multi, number, plain, or "" when there is none."""
        k, raw = self._word_before(i)
        word = raw.lstrip(_PAIR_STRIP)
        k += len(raw) - len(word)
        if self.rules.elision and ("'" in word or "’" in word):
            for apostrophe in "'’":
                pre, sep, post = word.rpartition(apostrophe)
                if sep and post and pre.lower() in _ELIDED:
                    k += len(pre) + 1
                    word = post
                    break
        if not word:
            return "", word, k
        if kind != "period":
            return "plain", word, k
        if len(word) == 1 and word.isalpha():
            return "single", word, k
        lw = word.lower()
        category = self._abbreviation(lw)
        if not category and lw in ("es", "ej"):
            if f"{self._previous_word(k).lower()} {lw}" in self.rules.never_final:
                category = "never"  # "ad es.", "p. ej.": listed as pairs
        if category:
            return category, word, k
        if _MULTI_PERIOD_RE.fullmatch(word):
            return "multi", word, k
        if _NUMBER_RE.fullmatch(word):
            return "number", word, k
        return "plain", word, k

    def _abbreviation(self, lw: str) -> str:
        r = self.rules
        if lw in r.titles:
            return "title"
        if lw in r.never_final:
            return "never"
        if lw in r.numeric:
            return "numeric"
        if lw in r.general:
            return "general"
        return ""

    def _after_period(self, i: int, b: int, t: int, w: str, category: str, word: str, k: int) -> Decision:
        """A single period, then space, then ``w`` (not lowercase) at ``t``."""
        if category in ("title", "never"):
            return SKIP, i, b
        if w.isdigit():
            if category in ("", "plain"):
                return BOUND, b, b
            if category == "number" and not self._first_token(k) and not self._german_ordinal(k, word):
                return BOUND, b, b
            return SKIP, i, b
        if not w.isupper():
            return BOUND, b, b  # a caseless script, a symbol, an emoji
        if category == "numeric" or category in ("", "plain"):
            return BOUND, b, b
        if category == "general":
            return (BOUND, b, b) if self._is_starter(t) else (SKIP, i, b)
        if category == "single":
            # An initial ("Jonas E. Smith"), a label ("Q. What is"), a variable ("contain v. If
            # S"): only the pronoun "I" ends a sentence, before a typical opener.
            if word != "I" or self._first_token(k) or self._single_letter_next(t):
                return SKIP, i, b
            return (BOUND, b, b) if self._is_starter(t) else (SKIP, i, b)
        if category == "multi":
            if word.lower() in _TIMES:
                return BOUND, b, b
            if self._single_letter_next(t):
                return SKIP, i, b
            return (BOUND, b, b) if self._is_starter(t) else (SKIP, i, b)
        # A number.
        if self._first_token(k):
            return SKIP, i, b  # "1. The first item"
        if self._german_ordinal(k, word):
            return SKIP, i, b
        if self.rules.ordinal_nouns and len(word) <= 2 and word.isdigit():
            if self._word_after(t).lower() in self.rules.ordinal_nouns:
                return SKIP, i, b  # "3. Oktober" (German only: it waits for the whole next word)
        return BOUND, b, b

    def _german_ordinal(self, k: int, word: str) -> bool:
        """Whether the number ``word`` at ``k`` is an ordinal ("am 3.", "dem 1. -3.")."""
        digits = word.lstrip("-−")
        if not (self.rules.german_ordinals and digits.isdigit() and len(digits) <= 2):
            return False
        before = self._previous_word(k)
        # After an article or preposition, or in a range after another ordinal ("1. -3.").
        return before.lower() in self.rules.ordinal_before or bool(_ORDINAL_RE.fullmatch(before))

    def _single_letter_next(self, t: int) -> bool:
        """Whether an initial ("A." in "J. A. Smith") starts at ``t``."""
        return self._at(t).isalpha() and self._at(t + 1) == "." and not self._at(t + 2).isalpha()
