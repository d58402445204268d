"""Character classes shared by the scanner and the markdown cleaner."""

from __future__ import annotations

import re

__all__ = [
    "AMBIGUOUS_QUOTES",
    "CJK_TERMINALS",
    "CLOSERS",
    "DEFAULT_TERMINALS",
    "EOF",
    "MATCHING_OPENERS",
    "NEWLINES",
    "OPENERS",
    "QUOTE_RE",
    "STRONG_TERMINALS",
    "TRANSPARENT",
]

# Stands for "the text ends here" once the stream is flushed: not a space, not a letter, not in
# any class below, so every test on it is False without a special case.
EOF = "\uffff"

NEWLINES = "\n\r\u2028\u2029"
# Full-width marks end a sentence with no space after them (with their small and vertical
# presentation forms: ﹗ ﹖ ︕ ︖).
CJK_TERMINALS = "。！？｡．﹗﹖︕︖"
# The interrobang ‽, the reversed question mark ⸮ and the double marks behave like "!" and "?".
STRONG_TERMINALS = "!?‼⁇⁈⁉‽⸮！？﹗﹖︕︖"
DEFAULT_TERMINALS = ".!?…‼⁇⁈⁉‽⸮" + CJK_TERMINALS

# Always open / always close. Straight and curly quotes are ambiguous: context decides.
OPENERS = "([{（［｛「『《〈【〔«‹„‚"
CLOSERS = ")]}）］｝」』》〉】〕»›"
AMBIGUOUS_QUOTES = "\"'“”‘’"
MATCHING_OPENERS = {
    ")": "(",
    "]": "[",
    "}": "{",
    "）": "（",
    "］": "［",
    "｝": "｛",
    "」": "「",
    "』": "『",
    "》": "《",
    "〉": "〈",
    "】": "【",
    "〕": "〔",
    "»": "«",
    "›": "‹",
    '"': '"',
    "”": "“„”",
    "“": "„“",
    "’": "‘‚'",
    "‘": "‚",
    "'": "'‘",
}
QUOTE_RE = re.compile("[" + re.escape(OPENERS + CLOSERS + AMBIGUOUS_QUOTES) + "]")

# Skipped when looking for the first letter of the next sentence: opening quotes and brackets,
# dashes, and markdown markers ("**Next** sentence").
TRANSPARENT = frozenset("\"'“‘„‚«‹([{（［｛「『《〈【〔-–—*_#>`~ \t\u00a0\u202f")
