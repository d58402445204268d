"""A decision that asked for more text is not tried again until the new text can change it."""

from __future__ import annotations

import random

from completions_core.sentences import SentenceChunker
from completions_core.types import StreamOptions


def _feed_counting(text: str) -> tuple[list[str], int]:
    """Feed ``text`` one character at a time; the sentences and the number of decisions taken
    (by the full rules, or by the scanner's fast path when it decides)."""
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    scanner = chunker._scanner
    calls: list[int] = []
    decide = scanner._decide
    fast = scanner.fast_terminal

    def counting(i: int, token: str) -> tuple[int, int, int]:
        calls.append(i)
        return decide(i, token)

    def counting_fast(buf: str, i: int, c: str) -> tuple[int, int, int] | None:
        decision = fast(buf, i, c)
        if decision is not None:
            calls.append(i)  # when it does not decide, the full rules do (counted above)
        return decision

    scanner._decide = counting  # type: ignore[method-assign]
    scanner.fast_terminal = counting_fast
    sentences: list[str] = []
    for char in text:
        sentences += chunker.feed(char)
    return sentences + chunker.flush(), len(calls)


def test_a_remark_in_brackets_after_a_quotation_is_decided_once_it_closes() -> None:
    remark = "which was " + "very " * 30 + "likely true."
    text = f"'I shall fall off the top of the house!' ({remark}) she thought. Then she fell."
    sentences, decisions = _feed_counting(text)
    assert sentences == [f"'I shall fall off the top of the house!' ({remark}) she thought.", "Then she fell."]
    # Not one retry per character of the remark: the wait is for the closing bracket.
    assert decisions < 20


def test_a_run_together_token_is_decided_once_it_ends() -> None:
    token = "www.Example" + "x" * 60 + ".com"
    sentences, decisions = _feed_counting(f"I visited the {token} last year. Next one.")
    assert sentences == [f"I visited the {token} last year.", "Next one."]
    assert decisions < 20


def test_postponed_decisions_give_the_same_sentences_as_the_whole_text() -> None:
    text = (
        "'Stop!' (He did not stop, of course.) \"Why?\" (No answer (none at all).) "
        "See www.Example.Com/Path. 1.) First 2.) Second. Hello world.Today is Tuesday."
    )
    whole = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    expected = whole.feed(text) + whole.flush()
    sentences, _ = _feed_counting(text)
    assert sentences == expected


def test_a_list_number_is_decided_once_its_delimiter_and_a_space_arrived() -> None:
    # "2. T" settles the list marker: the decision on "2." does not wait for eight characters.
    text = "Steps:\n1. Open the app.\n2. Tap Settings.\n3. Done now.\n"
    sentences, decisions = _feed_counting(text)
    assert sentences == ["Steps:", "1. Open the app.", "2. Tap Settings.", "3. Done now."]
    # Seven candidates (the line break after "Steps:", three list periods, three sentence
    # ends), each decided once, with no retry.
    assert decisions == 7


def test_a_number_without_a_delimiter_still_waits_for_one() -> None:
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    # "1" may become "12." or "1)": the marker is not settled, and neither is the sentence.
    assert chunker.feed("Intro.\n1") == ["Intro."]
    assert chunker.feed("2. Twelve. Thirteen") == ["12. Twelve."]


def test_a_period_after_a_closer_at_a_line_end_is_decided_with_the_line_break() -> None:
    """The sentence comes out with the line break: the next line (not arrived) cannot change it."""
    for line in ("Öffne die **Einstellungen**.", "Touchez « Paramètres ».", 'Tap "Account".', "Ruf (Q1).", "Die „Uhr“."):
        chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
        assert chunker.feed(line) == []
        assert chunker.feed("\n") == [line], line
        assert chunker.feed("2. Next") == []
        assert chunker.flush() == ["2. Next"]



def test_the_whitespace_after_a_cut_is_skipped_when_it_arrives_in_pieces() -> None:
    """Fed whole, the whitespace that opens the next sentence is skipped by the search; fed one
    character at a time it is too: no line break in it is decided on its own."""
    text = "Done.\n\n \nNext line.\n\n\nLast:\n\n- item"
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    scanner = chunker._scanner
    decided: list[int] = []
    decide = scanner._decide

    def recording(i: int, token: str) -> tuple[int, int, int]:
        decided.append(i)
        return decide(i, token)

    scanner._decide = recording  # type: ignore[method-assign]
    sentences: list[str] = []
    for char in text:
        sentences += chunker.feed(char)
    assert sentences + chunker.flush() == ["Done.", "Next line.", "Last:", "- item"]
    openings = [k for k in range(len(text)) if text[k] == "\n" and text[k - 1] in "\n "]
    assert decided and not set(decided) & set(openings), (decided, openings)


def test_a_word_after_an_abbreviation_is_read_once_it_ends() -> None:
    """A time before a possible time zone, a street before a possible "Suite", an abbreviation
    before a possible sentence opener: the letters that keep the word a possible match are only
    appended; the decision is taken again at the character that ends the word."""
    cases = [
        ("We meet at 9 a.m. Wednesday in the lobby.", ["We meet at 9 a.m. Wednesday in the lobby."]),
        ("Call before 6 p.m. Eastern time.", ["Call before 6 p.m. Eastern time."]),
        ("Ship it to 221 Baker St. Suite 4 today.", ["Ship it to 221 Baker St. Suite 4 today."]),
        ("It opens at 3 p.m. Therefore we wait.", ["It opens at 3 p.m.", "Therefore we wait."]),
    ]
    for text, expected in cases:
        sentences, decisions = _feed_counting(text)
        assert sentences == expected, text
        # Each period is decided once, but the one after the abbreviation is tried twice: on the
        # first letter of the next word, and at the character that decides (before: once more
        # per letter in between, 12, 10, 7 and 5 decisions).
        assert decisions == text.count(".") + 1, (text, decisions)


def test_a_letter_that_leaves_every_possible_word_decides_at_once() -> None:
    """The lookahead is unchanged: "Wx" begins no time zone or weekday, so the "x" decides."""
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed("We open at 9 a.m. W") == []
    assert chunker.feed("e") == []  # "We" may still become "Wednesday"
    assert chunker.feed("x") == ["We open at 9 a.m."]
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed("Ship it to Baker St. Su") == []
    assert chunker.feed("n") == ["Ship it to Baker St."]
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    assert chunker.feed("Ship it to Baker St. Su") == []
    assert chunker.feed("ite") == []
    assert chunker.feed(" 4. Then") == ["Ship it to Baker St. Suite 4."]


def test_words_after_abbreviations_give_the_same_sentences_in_any_split() -> None:
    """The search that stands in for the retries must find every character that can decide."""
    text = (
        "Open at 9 a.m. Wed. Then at 6 p.m. PT and 7 p.m. CEST. Meet at 8 a.m. Wx or 5 p.m. Mond. "
        "Go to 1 Main St. Ste 4, 2 Elm St. Sui 5, 3 Oak St. Suite's door. We sell pears, etc. "
        "Therefore it's fine, e.g. I'm sure. Am 3. Oktober und am 4. Okt'ber. Fin à 18 h. Venez. "
        "Zeit 9 a.m. ΣΟΣ und ΟΔΟΣ. Das ist etc. Mittwoch."
    )
    for language in ("en", "de", None):
        options = StreamOptions(clean_sentences=False, min_sentence_length=0, punctuation_language=language)
        whole = SentenceChunker(options)
        expected = whole.feed(text) + whole.flush()
        rng = random.Random(16)
        for _ in range(300):
            chunker = SentenceChunker(options)
            sentences: list[str] = []
            k = 0
            while k < len(text):
                n = rng.randint(1, 6)
                sentences += chunker.feed(text[k : k + n])
                k += n
            assert sentences + chunker.flush() == expected, language
