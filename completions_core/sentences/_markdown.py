"""Markdown cleaning for text-to-speech: keep the words, drop the symbols.

Cleaning works on one whole sentence at a time, after the chunker has cut it, so a marker that
arrived split across deltas ("*" then "*bold") is already whole here. Markers that a sentence
boundary separated from their partner ("**First. Second.**") are removed on each side alone,
which is why emphasis runs are recognised by their position (at a word's edge), not by pairing.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean"]

_FENCE_LINE = re.compile(r"^\s{0,3}(?:`{3,}|~{3,})[^`]*$")
_RULE_LINE = re.compile(r"^\s{0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,}|=+\s*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)")
_HEADING_CLOSE = re.compile(r"\s+#+\s*$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
# The first characters of a line that the patterns above can match at.
_DROP_STARTS = "*-_=|:["
_LIST_STARTS = "-*+•⁃·▪◦‣"
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•⁃·▪◦‣]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REF_LINK = re.compile(r"!?\[([^\]\n]+)\]\[[^\]\n]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]+\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+|[^<>\s@]+@[^<>\s@]+)>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HTML_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>")
# Tags inside a line of text vanish; the others (br, p, li, td, ...) separate words.
_INLINE_TAGS = frozenset(
    "a abbr b bdi bdo cite code del dfn em i ins kbd mark q s samp small span strong sub sup time u var".split()
)
# A run of * or _ at the edge of a word; "_" inside a word (snake_case) and a lone "*" between
# spaces or digits (2 * 3, 5*3) are text. Scripts written without spaces (CJK, kana, Hangul)
# do not count as word characters here: "打开**设置**。", "**Wi-Fi**를".
_CASELESS = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = f"[^\\W{_CASELESS}]"
# Written so that every alternative starts with a literal marker character (the lookbehinds on
# the character before the run come after its first marker): the search then skips ahead to the
# next "*", "_" or "~" instead of trying the lookbehinds at every position (three times faster).
_EMPHASIS = re.compile(
    f"(?:\\*|_)(?:(?<!{_WORD}[*_])(?<![*_][*_])[*_]{{0,2}}(?=[^\\s*_])"
    f"|(?<=[^\\s*_][*_])[*_]{{0,2}}(?!{_WORD})(?![*_]))|~~"
)
# A sentence in which none of these matches has no markdown in it (the common case): emphasis,
# code and escape characters, line breaks, links, footnotes, tags, autolinks, entities.
# Every alternative starts with a literal character (no leading character class), so that the
# search skips ahead on the set of first characters: four times faster on a plain sentence.
_MARKUP_OR_LINES = re.compile(
    r"\*|_|`|~|\\|\n|\r|\u2028|\u2029|\]\(|\]\[|\[\^|<[/!A-Za-z]|<(?:https?|ftp|mailto):|&#?\w+;|@[^\s>]*>"
)
_BLOCK_MARKUP = frozenset("-*+•⁃·▪◦‣#>|`~=_[0123456789")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def clean(text: str, at_line_start: bool, code: bool = False) -> str:
    """Return ``text`` without markdown, on one line, stripped.

    ``at_line_start`` says whether the text begins a line (so a leading "# " or "- " is markup);
    ``code`` marks a line inside a fenced code block, which is kept as written.
    """
    stripped = text.strip()
    if not code and _MARKUP_OR_LINES.search(stripped) is None:
        if stripped and at_line_start and stripped[0] in _BLOCK_MARKUP:
            # One line, block markup only ("1. Unplug it.", "## Title"): no inline pass.
            block = _block(stripped)
            if block is None:
                return ""
            stripped = block.strip()
        return stripped if "  " not in stripped and "\t" not in stripped else " ".join(stripped.split())
    if (
        not code
        and stripped[0] not in "`~"
        and "\n" not in stripped
        and "\r" not in text
        and "\u2028" not in text
        and "\u2029" not in text
    ):
        # One line of text with inline markup ("2. Wait **30 seconds**.", "- **Laptop**: $1"),
        # the common markdown sentence: what the loop below does with it, without splitting the
        # text into lines (its leading and trailing whitespace lines change nothing). A line
        # that may open a fence ("```", "~~~") and text with "\r" or a Unicode line break take
        # the loop.
        # The line that holds the text, with its spaces ("* " is a list marker, "*" is not).
        lead = len(text) - len(text.lstrip())
        k = text.rfind("\n", 0, lead)
        end = text.find("\n", lead)
        line = text[k + 1 : end] if end >= 0 else text[k + 1 :]
        if k >= 0 or at_line_start:
            block = _block(line)
            if block is None:
                return ""
            line = block
        return " ".join(_inline(line).split())
    return _clean_lines(text, at_line_start, code)


def _clean_lines(text: str, at_line_start: bool, code: bool) -> str:
    """The general path of :func:`clean`: the text line by line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _FENCE_LINE.match(line):
            continue
        if code or not (index > 0 or at_line_start):
            kept.append(line)
            continue
        block = _block(line)
        if block is not None:
            kept.append(block)
    text = " ".join(kept)
    if not code:
        text = _inline(text)
    return " ".join(text.split())


def _block(line: str) -> str | None:
    """Strip the block markup at the start of a line; None drops the line."""
    # Each pattern runs only when the line's first non-space character can start a match.
    first = line.lstrip()[:1]
    if not first:
        return line  # an empty line: nothing to strip
    if first in _DROP_STARTS and (
        (first in "*-_=" and _RULE_LINE.match(line))
        or (first in "|:-" and _TABLE_SEPARATOR.match(line))
        or (first == "[" and _REF_DEFINITION.match(line))
    ):
        return None
    if first == ">":
        line = _QUOTE.sub("", line)
        first = line.lstrip()[:1]
    if first == "#" and _HEADING.match(line):
        line = _HEADING_CLOSE.sub("", _HEADING.sub("", line))
        first = line.lstrip()[:1]
    if first in _LIST_STARTS or first.isdigit():
        line = _LIST_MARKER.sub("", line)
    stripped = line.strip()
    if stripped.startswith("|") or (stripped.endswith("|") and "|" in stripped[:-1]):
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        line = ", ".join(cell for cell in cells if cell)
    return line


def _inline(text: str) -> str:
    saved: list[str] = []

    def keep(value: str) -> str:
        saved.append(value)
        return f"\ue000{len(saved) - 1}\ue001"

    # Code spans and escaped characters are literal text: set them aside first. Each pass runs
    # only when the character that every one of its matches contains is there.
    if "`" in text:
        text = _CODE_SPAN.sub(lambda m: keep(m.group(2).strip()), text)
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: keep(m.group(1)), text)
    if "<" in text:
        text = _HTML_COMMENT.sub(" ", text)
        text = _AUTOLINK.sub(lambda m: keep(m.group(1)), text)
    if "[" in text:
        text = _IMAGE_OR_LINK.sub(r"\1", text)
        text = _REF_LINK.sub(r"\1", text)
        text = _FOOTNOTE_REF.sub("", text)
    if "<" in text:
        text = _HTML_TAG.sub(lambda m: "" if m.group(1).lower() in _INLINE_TAGS else " ", text)
    if "*" in text or "_" in text or "~" in text:
        text = _EMPHASIS.sub("", text)
    if "`" in text:
        text = text.replace("`", "")
    if saved:
        text = _PLACEHOLDER.sub(lambda m: saved[int(m.group(1))], text)
    return html.unescape(text) if "&" in text else text
