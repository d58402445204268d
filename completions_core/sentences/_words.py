"""Word rules: what the word before a period is, and what that means for the word after it.

Abbreviations, initials, numbers and ordinals. Every function here reads a
:class:`~._text.TextWindow` (the text and the tables of one language) and returns a fact or a
decision; none keeps state. The terminal rules (``_terminals.py``) ask :func:`classify` about the
word before a period and :func:`after_period` what a capitalised word or a digit after it means.
"""

from __future__ import annotations

import re

from ._rules import ADDRESS_PREFIXES, ADDRESS_WORDS, TIME_FOLLOWER_PREFIXES, TIME_FOLLOWERS, UNITS
from ._text import BOUND, SKIP, Decision, TextWindow, wordish

__all__ = ["MULTI_PERIOD_RE", "PAIR_STRIP", "abbreviation", "after_period", "classify", "german_ordinal", "list_number"]

_TIMES = frozenset({"a.m", "p.m"})
# French and Italian elided articles and prepositions: "l'Ing.", "dell'Avv." look up "Ing", "Avv".
_ELIDED = frozenset("l d j m n s t c qu dell nell all dall sull un quell lorsqu puisqu jusqu".split())
PAIR_STRIP = "\"'“‘„‚«‹([{¿¡*_`>~-–—•⁃·"
_NUMBER_RE = re.compile(r"[#$€£¥+\-−±~≈]*\d[\d.,:/'’\-]*[%°]?")
_ORDINAL_RE = re.compile(r"\d{1,2}\.-?")
MULTI_PERIOD_RE = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
# A list number glued to the text before it in a script without spaces: "如下：1", "手順：2".
_GLUED_NUMBER_RE = re.compile(r"\d{1,3}")
# "St." and "Dr." after a street name are a street and a drive, not Saint and Doctor: "on Main
# St.", "221 Baker St.", "near Sunset Dr.". The name is one to three capitalised words after a
# house number or one of these words; "Mount St. Helens", "FC St. Pauli", "Kirche St. Marien",
# "Frau Dr. Schmidt" keep the title.
_STREET_TITLES = frozenset({"st", "dr"})
_STREET_BEFORE = frozenset("on at onto off along down up near via from to into across past of".split())
_HOUSE_NUMBER_RE = re.compile(r"\d{1,6}[A-Za-z]?(?:-\d{1,6}[A-Za-z]?)?,?")


def classify(w: TextWindow, i: int, kind: str) -> tuple[str, str, int]:
    """Kind of the word before the terminal at ``i``: title, never, numeric, general, single,
    multi, number, plain, or "" when there is none."""
    k, raw = w.word_before(i)
    word = raw.lstrip(PAIR_STRIP)
    k += len(raw) - len(word)
    if w.rules.elision and ("'" in word or "’" in word):
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
        if word in "mM" and w.previous_word(k).lower() in ("a.", "p."):
            return "time", word, k  # "8 p. m.", "11 a. m."
        if word in UNITS and _NUMBER_RE.fullmatch(w.previous_word(k)):
            return "plain", word, k  # "18 h.", "5 m.": a unit after a number
        return "single", word, k
    lw = word.lower()
    category = abbreviation(w, lw)
    if not category and lw in ("es", "ej"):
        if f"{w.previous_word(k).lower()} {lw}" in w.rules.never_final:
            category = "never"  # "ad es.", "p. ej.": listed as pairs
    if not category and w.rules.street_suffix and len(lw) > 3 and lw.endswith("str"):
        category = "street"  # "Gartenstr.", "Karl-Marx-Str."
    if category == "title" and lw in _STREET_TITLES and _after_street_name(w, k):
        category = "street"  # "on Main St.", "221 Baker St."
    if not category and MULTI_PERIOD_RE.fullmatch(word):
        category = "time" if lw in _TIMES else "multi"
    if category in ("general", "multi") and w.previous_word(k).endswith(","):
        category = "final"  # "Washington, D.C.", "Acme, Inc.": the end of an apposition
    if category:
        return category, word, k
    if _NUMBER_RE.fullmatch(word):
        return "number", word, k
    if word[-1].isdigit() and not wordish(word[0]):
        glued = _GLUED_NUMBER_RE.search(word, max(0, len(word) - 4))
        if glued is not None and glued.end() == len(word) and _glues_marker(word[glued.start() - 1]):
            return "number", word[glued.start() :], k + glued.start()  # "如下：1. 打开"
    return "plain", word, k


def _after_street_name(w: TextWindow, k: int) -> bool:
    """Whether the token at ``k`` follows a street name: capitalised words after a house
    number or a word such as "on", "at", "near" ("on Main St.", "221 Baker St.")."""
    end = k
    for _ in range(3):
        if end - 1 <= w.start or w.buf[end - 1] != " ":
            return False
        start, before = w.word_before(end - 1)
        if end != k and (before.lower() in _STREET_BEFORE or _HOUSE_NUMBER_RE.fullmatch(before)):
            return True
        if not (before.isalpha() and before[0].isupper() and not before.isupper()):
            return False
        end = start
    if end - 1 <= w.start or w.buf[end - 1] != " ":
        return False
    before = w.word_before(end - 1)[1]
    return before.lower() in _STREET_BEFORE or bool(_HOUSE_NUMBER_RE.fullmatch(before))


def list_number(w: TextWindow, k: int) -> bool:
    """Whether the number at ``k`` is a list marker: it opens the sentence ("1. The first
    item", "1. 打开设置") or is glued to text in a script without spaces ("如下：1. 打开")."""
    return w.first_token(k) or _glues_marker(w.before(k))


def abbreviation(w: TextWindow, lw: str) -> str:
    """The kind of the abbreviation ``lw`` (lowercase, no final period), "" if it is none."""
    return w.rules.kinds.get(lw, "")


def after_period(w: TextWindow, i: int, b: int, t: int, first: str, category: str, word: str, k: int) -> Decision:
    """A single period, then space, then ``first`` (not lowercase) at ``t``."""
    if category in ("title", "never"):
        return SKIP, i, b
    if first.isdigit():
        if category in ("", "plain"):
            return BOUND, b, b
        if category == "number" and not list_number(w, k) and not german_ordinal(w, k, word):
            return BOUND, b, b
        return SKIP, i, b  # "No. 5", "Gartenstr. 7", "Bogotá, D.C. 6 de noviembre"
    if not first.isupper():
        # A caseless script, a symbol, an emoji: a new sentence, unless the period is a list
        # marker's ("1. 打开设置", "2. 설정을 엽니다").
        if category == "number" and list_number(w, k):
            return SKIP, i, b
        return BOUND, b, b
    if category == "final" and w.buf[b:t].lstrip()[:1] in ("-", "–", "—"):
        category = "general"  # "Bogotá, D.C. - Colombia": a dash continues the phrase
    if category in ("numeric", "", "plain", "final"):
        return BOUND, b, b
    if category == "street":
        if w.next_word_in(t, ADDRESS_WORDS, ADDRESS_PREFIXES):
            return SKIP, i, b  # "Baker St. Suite 4", "Pennsylvania Ave. NW"
        return BOUND, b, b
    if category == "time":
        if w.next_word_in(t, TIME_FOLLOWERS, TIME_FOLLOWER_PREFIXES):
            return SKIP, i, b  # "9 a.m. Eastern", "6 p.m. PT", "10 a.m. Monday"
        return BOUND, b, b
    if category == "general":
        return (BOUND, b, b) if w.is_starter(t) else (SKIP, i, b)
    if category == "single":
        # An initial ("Jonas E. Smith"), a label ("Q. What is"), a variable ("contain v. If
        # S"): only the pronoun "I" ends a sentence, before a typical opener.
        if word != "I" or w.first_token(k) or _single_letter_next(w, t):
            return SKIP, i, b
        return (BOUND, b, b) if w.is_starter(t) else (SKIP, i, b)
    if category == "multi":
        if _single_letter_next(w, t):
            return SKIP, i, b
        return (BOUND, b, b) if w.is_starter(t) else (SKIP, i, b)
    # A number.
    if list_number(w, k):
        return SKIP, i, b  # "1. The first item"
    if german_ordinal(w, k, word):
        return SKIP, i, b
    if w.rules.ordinal_nouns and len(word) <= 2 and word.isdigit():
        if w.next_word_in(t, w.rules.ordinal_nouns, w.rules.ordinal_noun_prefixes):
            return SKIP, i, b  # "3. Oktober" (German only: it reads the next word)
    return BOUND, b, b


def german_ordinal(w: TextWindow, k: int, word: str) -> bool:
    """Whether the number ``word`` at ``k`` is an ordinal ("am 3.", "dem 1. -3.")."""
    digits = word.lstrip("-−")
    if not (w.rules.german_ordinals and digits.isdigit() and len(digits) <= 2):
        return False
    before = w.previous_word(k)
    # After an article or preposition, or in a range after another ordinal ("1. -3.").
    return before.lower() in w.rules.ordinal_before or bool(_ORDINAL_RE.fullmatch(before))


def _single_letter_next(w: TextWindow, t: int) -> bool:
    """Whether an initial ("A." in "J. A. Smith") starts at ``t``."""
    return w.at(t).isalpha() and w.at(t + 1) == "." and not w.at(t + 2).isalpha()


def _glues_marker(c: str) -> bool:
    """Whether a list number may follow ``c`` with no space: a letter of a caseless script (CJK,
    kana, Hangul) or a colon or comma of those scripts ("如下：1.", "手順は次の通り：1.")."""
    return (c.isalpha() and not wordish(c)) or c in "：:、，；"
