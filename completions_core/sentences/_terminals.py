"""Terminal rules: is this ".", "!", "?", "…" or "。" the end of a sentence? (See docs/sentences.md.)

Decisions on terminal marks: clusters, closers, ellipses, footnotes, CJK, lists in a line. The
scanner (``_scanner.py``) asks :func:`terminal` about each terminal mark it finds and
:func:`dash_quote` about an interrupted quotation; each returns a decision (kind, cut, resume) or
raises :class:`~._text.Need` when the text received so far cannot decide it yet. The functions
read a :class:`~._text.TextWindow` and keep no state; the word before a period is the business of
the word rules (``_words.py``).
"""

from __future__ import annotations

import re

from ._chars import AMBIGUOUS_QUOTES, CJK_TERMINALS, CLOSERS, EOF, NEWLINES, STRONG_TERMINALS, TRANSPARENT
from ._rules import CONTEXT_WORDS
from ._text import (
    BOUND,
    BULLETS,
    ENUM_RE,
    HARD,
    MD_CLOSERS,
    RUN_CAP,
    SKIP,
    SPACES,
    WORD_CAP,
    Decision,
    Need,
    TextWindow,
    enum_value,
    is_emoji,
    is_hangul,
    wordish,
)
from ._words import abbreviation, after_period, classify, german_ordinal, list_number

__all__ = ["dash_quote", "list_continuation", "terminal"]

_NOT_STARTERS = ",;:%)]}）」』》、，"
# An opening quote or emphasis marker after a sentence's end opens the next sentence.
_SENTENCE_OPENERS = "\"'“‘„«「『*_"
_SPACES_OR_GUILLEMETS = SPACES + "»›"
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
# What can end the scan for a closing bracket, and the scan to the end of a token.
_PAREN_WAKE = re.compile(f"[(){re.escape(NEWLINES)}]").search
_SPACE_WAKE = re.compile(r"\s").search


def dash_quote(w: TextWindow, i: int) -> Decision:
    # An interrupted quotation ends a sentence: ... to--" At this moment
    buf = w.buf
    j = i
    while buf[j] in "-—":
        j += 1
    end, quote = _closers(w, j)
    if not w.at(end).isspace() and w.at(end) != EOF:
        return SKIP, i, end
    return _after_space(w, i, end, "strong", quote)


def terminal(w: TextWindow, i: int) -> Decision:
    buf = w.buf
    if i + 1 < len(buf) and buf[i + 1] == "\n" and buf[i] in ".!?":
        # A mark at the end of a line ends the sentence, whatever follows the line break,
        # unless a title or a never-final abbreviation stands before a single line break
        # ("Dr.\nSmith"): decided at once, as the general path below would decide it.
        if buf[i] != ".":
            return BOUND, i + 1, i + 1
        if i - 1 > w.start and buf[i - 1].isalpha() and buf[i - 2].isalnum():
            category, _, _ = classify(w, i, "period")
            if category not in ("title", "never"):
                return BOUND, i + 1, i + 1
        else:
            # After anything else ("**Einstellungen**.", "« Paramètres ».", "(Q1).", "3."): the
            # general path's steps up to what the line break decides, without reading the next
            # line first (which only a title or a never-final abbreviation consults).
            item = list_continuation(w, i)
            if item is not None:
                return item
            category, _, _ = classify(w, i, "period")
            if category not in ("title", "never"):
                return BOUND, i + 1, i + 1
    if i + 2 < len(buf) and buf[i] in ".!?":
        # The common cases, decided without the general machinery (which would decide the
        # same): "plain word. Next", "3.14", "e.g", "Dr. Smith".
        nxt = buf[i + 1]
        if buf[i] == "." and (nxt.islower() or (nxt.isdigit() and w.before(i).isdigit())):
            return SKIP, i, i + 1
        if nxt == " " and buf[i + 2].isalnum():
            # The word before the mark: letters only, back to a plain space or the sentence start.
            k = max(buf.rfind(" ", w.start, i) + 1, w.start)
            word = buf[k:i]
            if len(word) >= 2 and word.isalpha():
                word = word.lower()
                if word not in CONTEXT_WORDS:
                    abbrev = w.rules.kinds.get(word)
                    if buf[i] == "." and (abbrev == "title" or abbrev == "never"):
                        return SKIP, i, i + 1
                    if abbrev is None and buf[i + 2].isupper() and word[-3:] != "str":
                        if buf[i] == "." or word not in w.rules.exclaim_names:
                            return BOUND, i + 1, i + 1
    terms = w.terms
    j = i + 1
    while w.at(j) in terms and j - i < RUN_CAP:
        j += 1
    run = buf[i:j]
    if "." in terms and run == "." and w.at(j) == " " and w.at(j + 1) == ".":
        spaced = _spaced_dots(w, i)
        if spaced is not None:
            return spaced
    if run == ".":
        kind = "period"
    elif run == "!" or run == "?":
        kind = "strong"
    elif (run.count(".") >= 3 or "…" in run) and w.before(i) in "[(" and w.at(j) in "])":
        return SKIP, i, j  # a bracketed omission mark "[...]" is not the end of anything
    elif any(ch in CJK_TERMINALS for ch in run):
        return _cjk(w, i, j, run)
    elif any(ch in STRONG_TERMINALS for ch in run):
        kind = "strong"
    elif run.count(".") >= 3 or "…" in run:
        kind = "ellipsis"
    elif run == "..":
        kind = "double"
    else:
        kind = "other"  # a mark from punctuation_marks
    if kind == "period":
        item = list_continuation(w, i)
        if item is not None:
            return item
    dots = len(run) if run.count(".") == len(run) else 0
    if (dots == 2 or dots >= 4) and w.before(i).isspace() and i > w.content_start():
        # "reste .. Logiquement", "reste .... Logiquement": a detached run of dots that is not
        # an ellipsis closes the sentence at its first dot; the rest is a fragment of its own.
        nxt = _first_after(w, j)
        if nxt.isupper():
            return BOUND, i + 1, i + 1
    c = w.at(j)
    if c == EOF:
        return BOUND, j, j
    if c.isspace():
        if c == " " and j + 1 < len(buf) and buf[j + 1] not in _SPACES_OR_GUILLEMETS:
            return _after_space(w, i, j, kind, False)  # no closers: what _closers would say
        end, quote = _closers(w, j)
        if end > j:  # « Bonjour ! »
            return _after_closers(w, i, end, kind, quote)
        return _after_space(w, i, j, kind, False)
    if kind == "other":
        return SKIP, i, j
    return _attached(w, i, j, kind, c)


def _attached(w: TextWindow, i: int, j: int, kind: str, c: str) -> Decision:
    """The terminal run ends at ``j`` and is followed directly by ``c`` (not a space)."""
    if c in CLOSERS or c in MD_CLOSERS or c == "<" or (c in AMBIGUOUS_QUOTES and not wordish(w.at(j + 1))):
        if kind == "period":
            category, _, k = classify(w, i, kind)
            if category in ("number", "single") and w.first_token(k):
                return SKIP, i, j  # "1.）", "a.)": a list marker
        end, quote = _closers(w, j)
        if end == j:
            return SKIP, i, j
        return _after_closers(w, i, end, kind, quote)
    if c == "[":
        return _footnote_brackets(w, i, j, kind)
    if c.isalpha() and not c.isupper() and not c.islower():
        # A caseless script (CJK, Hangul) right after the mark starts a new sentence, except
        # after an ellipsis (a pause: 他犹豫了一下……然后说), for a Korean particle after a
        # Latin abbreviation or number (U.S.A.에서) and after a list number (1.打开设置).
        if kind == "ellipsis" or (is_hangul(c) and wordish(w.before(i))):
            return SKIP, i, j
        if kind == "period" and w.before(i).isdigit():
            category, _, k = classify(w, i, kind)
            if category == "number" and list_number(w, k):
                return SKIP, i, j
        return BOUND, j, j
    if kind != "period":
        return SKIP, i, j
    if c.isdigit():
        return _footnote_digits(w, i, j)
    if c.isupper():
        return _run_together(w, i, j)
    return SKIP, i, j


def _after_closers(w: TextWindow, i: int, end: int, kind: str, quote: bool) -> Decision:
    after = w.at(end)
    if after == EOF:
        return BOUND, end, end
    if after.isspace():
        return _after_space(w, i, end, kind, quote)
    if after == "[":
        return _footnote_brackets(w, i, end, kind)
    if after.isalpha() and not after.isupper() and not after.islower():
        if is_hangul(after):
            return SKIP, i, end  # “정말이야?”라고: a Korean particle follows the quotation
        return BOUND, end, end
    if after.isupper() and w.buf[end - 1] == ">":
        return BOUND, end, end  # "world.</p><p>Next": the tags separate the sentences
    return SKIP, i, end


def _closers(w: TextWindow, j: int) -> tuple[int, bool]:
    """End of the closing quotes/brackets/markdown markers/HTML tags starting at ``j``."""
    e = j
    quote = False
    while e - j < RUN_CAP:
        c = w.at(e)
        if c in CLOSERS or c in MD_CLOSERS:
            quote = quote or c in "»›」』"
            e += 1
        elif c in AMBIGUOUS_QUOTES and (c in "”’" or not wordish(w.at(e + 1))):
            quote = True
            e += 1
        elif c == "<":
            # "world.</p>": a closing or empty HTML tag stays with the sentence.
            k = e + 1
            while w.at(k) not in "<>" and w.at(k) != EOF and k - e < 40:
                k += 1
            if w.at(k) == ">" and _TAG_RE.fullmatch(w.buf, e, k + 1):
                e = k + 1
                continue
            return e, quote
        elif c in SPACES:
            # French puts a space before the closing guillemet: « Viens ! »
            k = e
            while w.at(k) in SPACES and k - e < RUN_CAP:
                k += 1
            if w.at(k) in "»›":
                e = k
                continue
            return e, quote
        else:
            return e, quote
    return e, quote


def _cjk(w: TextWindow, i: int, j: int, run: str) -> Decision:
    buf = w.buf
    if run in ("．", "。") and w.before(i).isdigit():
        if w.at(j).isdigit():
            return SKIP, i, j  # a full-width decimal point: ３．２９
        if run == "．":
            category, _, k = classify(w, i, "period")
            if category == "number" and list_number(w, k):
                return SKIP, i, j  # a full-width list number: １．打开设置
    end, _ = _closers(w, j)
    nxt = w.at(end)
    if nxt == EOF:
        return BOUND, end, end
    if w.rules.japanese_quotative and nxt in "とっ" and any(q in buf[j:end] for q in "」』"):
        return SKIP, i, end  # 「はい。」と言った: the quote is part of the sentence
    if nxt in "、，,":
        return SKIP, i, end
    return BOUND, end, end


def _spaced_dots(w: TextWindow, i: int) -> Decision | None:
    """Spaced ellipses, ". . .": isolated dots separated by single spaces."""
    count = 1
    e = i + 1
    while count < 8 and w.at(e) == " " and w.at(e + 1) == "." and w.at(e + 2) != ".":
        count += 1
        e += 2
    if count == 1:
        return None
    attached = not w.before(i).isspace() and i > w.content_start()
    if count >= 4 and attached:
        # "compounds. . . . The practice": a period, then an ellipsis opening the next one.
        end, _ = _closers(w, e)
        nxt = _first_after(w, end)
        if nxt.isupper():
            return BOUND, i + 1, i + 1
        return SKIP, i, e
    if count >= 4:
        end, quote = _closers(w, e)
        if w.at(end) == EOF:
            return BOUND, end, end
        if w.at(end).isspace():
            return _after_space(w, i, end, "ellipsis", quote)
        return SKIP, i, end
    return SKIP, i, e


def _first_after(w: TextWindow, k: int) -> str:
    """First character after ``k`` that is not a space, quote, bracket or dash."""
    t = k
    while w.at(t) in TRANSPARENT or w.at(t).isspace():
        t += 1
        if t - k > 8:
            break
    return w.at(t)


def list_continuation(w: TextWindow, i: int) -> Decision | None:
    """Cut before the next enumerator of an inline list: "1. The first 2. The second"."""
    buf = w.buf
    if i - 1 > w.start and buf[i - 1].isalpha() and buf[i - 2].isalnum():
        return None  # a word ("end."), not an enumerator: the common case, decided at once
    k = i
    while k > w.start and i - k < 3 and buf[k - 1].isalnum():
        k -= 1
    value = buf[k:i]
    if not value or not w.before(k).isspace() or not ENUM_RE.fullmatch(value):
        return None
    marker = w.current_marker()
    if marker.kind not in ("n", "a", "A") or k <= marker.end:
        return None
    if w.at(i + 1) == ")":
        delim, after = ".)", i + 2
    else:
        delim, after = ".", i + 1
    if not w.at(after).isspace():
        return None
    if delim == marker.delim and enum_value(value) == (marker.kind, marker.value + 1):
        return HARD, k, k
    return None


def _footnote_brackets(w: TextWindow, i: int, j: int, kind: str) -> Decision:
    # "martyr.[1] The emperor": the reference stays with its sentence.
    end = j
    while w.at(end) == "[" and end - j < RUN_CAP:
        e = end + 1
        while w.at(e).isdigit() and e - end <= 3:
            e += 1
        if e == end + 1 or w.at(e) != "]":
            break
        end = e + 1
    if end == j:
        return SKIP, i, j
    after = w.at(end)
    if after == EOF:
        return BOUND, end, end
    if not after.isspace():
        return SKIP, i, end
    return _after_space(w, i, end, kind, False)


def _footnote_digits(w: TextWindow, i: int, j: int) -> Decision:
    # "consultation.11 12 Take": a footnote number glued to the period.
    prev = w.before(i)
    if not (prev.isalpha() or prev in ")]"):
        return SKIP, i, j  # a decimal: 3.14, $.50
    e = j
    while w.at(e).isdigit() and e - j <= 3:
        e += 1
    if e - j > 3:
        return SKIP, i, e
    end = e
    while w.at(end) == " " and w.at(end + 1).isdigit() and end - e < RUN_CAP:
        g = end + 1
        while w.at(g).isdigit() and g - end <= 4:
            g += 1
        if g - end - 1 > 3 or not (w.at(g).isspace() or w.at(g) == EOF):
            break
        end = g
    after = w.at(end)
    if after == EOF:
        return BOUND, end, end
    if not after.isspace():
        return SKIP, i, end
    nxt = _first_after(w, end)
    if nxt.isupper() or nxt == EOF:
        return BOUND, end, end
    return SKIP, i, end


def _run_together(w: TextWindow, i: int, j: int) -> Decision:
    """A period followed directly by a capital: "world.Today" or "Ph.D", "www.x.Com"."""
    buf = w.buf
    k, _ = w.word_before(i)
    e = j
    try:
        while not w.at(e).isspace() and w.at(e) != EOF and e - k < 2 * WORD_CAP:
            e += 1
    except Need:
        # The token ends at a space or at the cap: nothing else lets this loop go further.
        raise Need(k + 2 * WORD_CAP, _SPACE_WAKE) from None
    token = buf[k:e]
    if "@" in token or "://" in token or token.lower().startswith("www."):
        return SKIP, i, j
    b = i
    while b > k and buf[b - 1].isalpha():
        b -= 1
    before = buf[b:i]
    if not before:
        d = i
        while d > k and (buf[d - 1].isdigit() or buf[d - 1] in ",."):
            d -= 1
        if i - d <= 2:
            return SKIP, i, j  # "1.Helado, 2.Carne": a run-together list
        return BOUND, j, j
    if len(before) == 1 or abbreviation(w, before.lower()):
        return SKIP, i, j
    a = j
    while a < e and buf[a].isalpha():
        a += 1
    if a - j == 1 and a < e and buf[a] == ".":
        return SKIP, i, j  # Ph.D.
    if a - j == 2 and buf[j:a].lower() not in w.rules.titles:
        return SKIP, i, j  # "information.As": too short to be sure it is a new sentence
    if a < e and buf[a] == "." and a + 1 < e and buf[a + 1].isalpha():
        return SKIP, i, j  # a domain: testurl.Awesome.com
    return BOUND, j, j


def _after_space(w: TextWindow, i: int, b: int, kind: str, quote: bool) -> Decision:
    """The terminal run at ``i`` (with its closers) ends at ``b`` and a space follows."""
    buf = w.buf
    m = b
    newlines = 0
    if buf[b] == " " and b + 1 < len(buf) and not buf[b + 1].isspace():
        m = b + 1  # one space, then the next word: the loop below in one step
    while True:
        c = w.at(m)
        if c == EOF:
            return BOUND, b, b
        if not c.isspace():
            break
        if c == "\n" or (c in NEWLINES and c != "\r") or (c == "\r" and w.at(m + 1) != "\n"):
            newlines += 1
        m += 1
        if m - b > RUN_CAP:
            return BOUND, b, b  # a long run of whitespace after the mark
    if kind == "other":
        return BOUND, b, b  # a custom mark (punctuation_marks) followed by a space
    category, word, k = classify(w, i, kind)
    if newlines:
        if newlines == 1 and category in ("title", "never"):
            return SKIP, i, b
        return BOUND, b, b
    if category == "number" and kind == "period" and list_number(w, k):
        return SKIP, i, b  # "1. The first", "1. ¿Tienes", "2. 😊 Ábrela", "1. 打开设置"
    c = buf[m]
    if c in w.terms:
        if c == "." and w.at(m + 1) == ".":
            return BOUND, b, b
        return SKIP, i, b
    if c in _NOT_STARTERS:
        return SKIP, i, b
    if c in "¿¡":
        return BOUND, b, b
    if is_emoji(c):
        # "Great job! 🎉 Let's go": the emoji belongs to the sentence it decorates.
        if category in ("title", "never"):
            return SKIP, i, b
        e = m
        while is_emoji(w.at(e)):
            e += 1
        return BOUND, e, e
    if quote and c == "(":
        return _paren_after_quote(w, i, b, m)
    if c in _SENTENCE_OPENERS and (kind != "period" or category in ("", "plain")):
        return BOUND, b, b  # '... the end. "Next', '... done! **Bold** start': decided at once
    t = m
    while w.at(t) in TRANSPARENT and t - m < 8:
        t += 1
    first = w.at(t)
    if first == EOF or first in "¿¡" or first in BULLETS:
        return BOUND, b, b
    if first.islower():
        if kind in ("period", "strong") and category in ("", "plain", "number"):
            probe = w.at(t + 1), w.at(t + 2)
            if probe[0] in ".)" and (probe[1].isspace() or (probe[0] == "." and probe[1] == ")")):
                return BOUND, b, b  # "Smith. a. here it is": a lettered list item
            if _camel_case(w, t):
                # "Open the app. eBay will", "Done! iPhone users": lowercase by convention.
                if category == "number" and (list_number(w, k) or german_ordinal(w, k, word)):
                    return SKIP, i, b
                if kind == "strong" and word.lower() in w.rules.exclaim_names:
                    return SKIP, i, b
                return BOUND, b, b
        return SKIP, i, b
    if kind == "strong":
        if word.lower() in w.rules.exclaim_names:
            return SKIP, i, b
        return BOUND, b, b
    if kind != "period":
        return BOUND, b, b
    return after_period(w, i, b, t, first, category, word, k)


def _camel_case(w: TextWindow, t: int) -> bool:
    """Whether the lowercase word at ``t`` has a capital after its first letters: a name
    written lowercase by convention (eBay, iPhone, iOS, macOS), which can open a sentence."""
    k = t + 1
    while k - t <= 4:
        c = w.at(k)
        if c.isupper():
            return True
        if not c.islower():
            return False
        k += 1
    return False


def _paren_after_quote(w: TextWindow, i: int, b: int, m: int) -> Decision:
    # '..."house!' (Which was very likely true.)' keeps the remark with the quotation;
    # '"...think!" (Dinah was the cat.) "I hope' makes it a sentence of its own.
    buf = w.buf
    cap = m + 201  # whatever the character there is, the scan stops at it
    depth = 0
    r = m
    while True:
        found = _PAREN_WAKE(buf, r, cap)
        if found is None:
            if len(buf) > cap or w.final:
                return BOUND, b, b  # the cap, or the end of the text
            # Until a bracket or a line break arrives, or the text passes the cap, this scan
            # would only run into the end of the text again.
            raise Need(cap, _PAREN_WAKE)
        r = found.start()
        c = buf[r]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        else:
            return BOUND, b, b  # a line break
        r += 1
    t = r + 1
    while w.at(t) in SPACES and t - r < RUN_CAP:
        t += 1
    nxt = w.at(t)
    if nxt == EOF or nxt.islower() or nxt in ",;:":
        return SKIP, i, b
    return BOUND, b, b
