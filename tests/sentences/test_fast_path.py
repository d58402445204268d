"""The scanner's fast path for common terminal decisions against the full rules (differential).

The scanner decides the common cases of ".", "!" and "?" (a period inside a word or number, a
plain word then a capital, a title then anything) with a few string tests and set lookups, and
leaves every other candidate to the rule modules. These tests run the same text through the
chunker twice, with the fast path on and off, and require the same sentences emitted after the
same deltas: on the golden rules, the voice replies of the bench and cases written for the fast
path's edges, one character at a time, whole, and in random pieces. The fast set here runs a few
option sets; the slow test runs every option set on every text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from completions_core.sentences import SentenceChunker
from completions_core.sentences._scanner import Scanner
from completions_core.types import StreamOptions

ROOT = Path(__file__).resolve().parents[2]
GOLDEN: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "golden_rules_8lang.json").read_text("utf-8")
)


def _replies() -> list[tuple[str, str]]:
    text = (ROOT / "bench" / "data" / "voice_replies.txt").read_text("utf-8")
    replies: list[tuple[str, str]] = []
    for block in text.split("\n=== ")[1:]:
        language, _, body = block.partition("\n")
        replies.append((language.strip(), body.strip("\n")))
    return replies


REPLIES = _replies()

# Texts at the edges of the fast path: each one is decided by it in one place and handed to the
# full rules in a place that looks alike (abbreviations, streets, names after "!", decimals,
# capitals that are not letters, custom marks, quotes, line breaks).
EDGES = [
    "Dr. Smith is in. Mr. Jones is out. St. Louis is far. He lives on Main St. Then he left.",
    "Call Dr. Who! John! Mary? Yes. Wow! Jesus. Go! Lord knows.",
    "Prices rose 3.14 percent. e.g. this one. i.e. that one. U.S. Army. Inc. Board.",
    "Die Praxis liegt in der Gartenstr. 7 im Hinterhof. Schickt es an Lindenstr. 3. Dort ist es.",
    "We sell apples, pears, etc. Everything is organic. We open at 9 a.m. Eastern on weekdays.",
    "Das ist gut. Äpfel sind rot. Élan vital. Ⓐ is a letter? Ⅳ. Ⅻ is a numeral. ǅ digraph. Ok.",
    'He said "Stop. Now." Then he left. (It was late. Very.) After that. «Viens. Maintenant.»',
    "First line.\nSecond line. Third.\n\n1. One. Two.\n2. Three. Four.\n- Item. Next.",
    "Done. 3 items. Open the app. eBay will ask. Go! iPhone users. A. B. C. Ab. Cd. x. Y.",
    "Sr. Martínez llegó. Sra. López. Hr. Müller kommt. Fr. Schmidt. M. Dupont. Mme. Curie.",
    "Wait... What? Really!? Yes!! No?! Ok. 你好。世界！ Hello. 1.5. Fine. end. Str. Lang.",
    "Intro:\n\nCerto! Ecco.\nDone. Next.\n\tDr. Smith.\nad\nes. Vale.\nGartenstr. 7.\nJohn! Go.\nStr. Ab.",
    "Liste:\n1. Eins. 2. Zwei.\n12. Zwölf.\n1234. Nope.\n- 3. Drei.\n\n完成。下一步！好的？「はい。」と言った。３．５。",
    "Version 3.1 is out. Use v2.0 now. a.b c. 1. One 2.5 two 2. Three. x 1.a b 2.c. e.g. f.e. Fin.",
    "**Bold.** Next. _It._ Now. `code.` Then. [link](http://x.y/z.html). Here. <b>Tag.</b> Fin.",
    "手順：\n1. 設定を開く。\n2. 選ぶ！\n\n完了。\r\n次へ？\u3000はい。\n３．\n４。\n「はい。」\nと言った。\n",
    "내일 도착합니다. 총 3개. Done. 3 items. Go! 3 more. Shinjuku. 新宿. Wow! 7. etc. 3 Dr. 5 St. 한\n\nDone. 3",
    "Il treno parte alle 13. Ab. Piso 3. La. $25. You. B12. Go. Am 3. Oktober. Am 3. Mai. 2023. Then.",
    "1. One 2. Two 3. Three. 555-0199. We. ¥50,000. En. 19 h 30. No. - 4. Vier. 如下：1. Open. 12,5. X. 3/4. Y.",
    "a) A 2. B. 5. No. 7. Seven\n8. Eight 9. Nine. Call 911. Now. 2. Jan. 10. März ist es. ab 2. Juni. I. 4. Z.",
    "Open 9 a.m. to 5 p.m. and Sat. nights, 5 min. or less, e.g. this, the U.S. in 2020, U.S. ok. a.b.c.d. x. ab.cd. e",
    "He left, Washington, D.C. and all. Jan. and Feb. are cold. Gartenstr. und so. No. one. Dr. who. ad es. se. etc. as",
    "Ok. ² squared. Fin. ½ cup. Mr. 新. John! 3. Gartenstr. 7. Haupt. ǅ. x. 3. es. 3. ad es. 3 ej. 4",
    "Run `brew`. Then `x`! Go **Bold**. Next _it_? Yes “Quote”. Then (see). Now [1]. Ok »x». Y ~~s~~. Ö",
    "Bien sûr ! Venez. Oui ? 3 fois. Go ! 新 ok. “it’s”. Yes l'“x”. Z `a` . B 1`. 2 **3**. 4 `etc`. Ab. *x*. e",
    "Kostet 5,49 €. Die Ware. Es sind 50%. Der Rest. Bei 12°. Dann. Siehe n°. 5 und N°. Sechs. ¡Claro! Para. “Dr. X",
    "Por favor. ¿Algo más? Sí! ¡Claro! Dr. ¿Qué? a. ¿B? 3. ¿C? Ab.¿D? etc. ¡E! 12a. ¿F? Es. ¿G? x1. ¡H!",
    "In der Gartenstr. 7 und Hauptstr. 12. Str. 3 ist es. Karl-Marx-Str. 5. Gartenstr. Drei. Walstr. ３. Str. 4",
    "\n\n¡Claro! Vale. ¿Qué? Nada. **Mr. Smith** kam. -Word. Next. 3/4. Ok. 1:2. Ja. great😊. Yes. a-b. C. x/. Y",
    "설정:\n3. **Wi-Fi**를 켭니다.\n手順：\n2. 「Wi-Fi」を選ぶ。\n1. ¿Tienes? 4. (a) b. 12. “Q” 1234. *x* 5. - y",
    "Am 3. **Mai** kam er. 3. „Ja“. Seite 12. [1] Fin. 7. 😊 Ok. 2. . x 9.  *y* 1.\t_z_ 8. ‘q’ 3. ... 0. -1",
    # Tokens of digits before a capital (decided without classify) and tokens that look alike.
    "Code " + "1" * 70 + ". Then. Tab\t12. Next. Line\n34. Go. Sup ²³. X. Arab ٣٤. Y. Full ３４. Z. Am\t3. Mai.",
    "은 32,500원입니다. 배송 조. B12a. Go. x2y! Hi. (3a. B. 5,b. C. 1.a. D. v2.0beta. E. 4x. 3. 2h. Ok. «b3c. D",
    "A3-b? Sie. v2.x. Go. 12a\nb3c. Done. 7b-es. 2. ad-es. 3. 3.12.x. iOS. 3.12.X. Fin. " + "9" * 40 + "ab. Z",
    "Am 24. Dezember. dem 1. -3. Mai. - 12. Zwölf. (12. X. a 99. B 2023. Im 2. Jahr. 1. Eins 2. Zwei 3. Drei",
]

OPTION_SETS: list[dict[str, Any]] = [
    {"clean_sentences": False, "min_sentence_length": 0},
    {},  # the defaults: cleaning on, min 6, multilingual
    *({"punctuation_language": lang} for lang in ("en", "de", "es", "fr", "it", "ja", "zh", "ko")),
    {"punctuation_marks": [".", "!"], "min_sentence_length": 0},
    {"punctuation_marks": ["。", "?"], "clean_sentences": False},
    {"min_sentence_length": 20},
]


def _emissions(text: str, pieces: list[str], options: dict[str, Any], fast: bool) -> list[tuple[int, str]]:
    """(index of the delta that completed it, sentence) for every sentence; -1 for the flush."""
    original = Scanner.fast_path
    Scanner.fast_path = fast
    try:
        chunker = SentenceChunker(StreamOptions(**options))
        out: list[tuple[int, str]] = []
        for index, piece in enumerate(pieces):
            out += [(index, sentence) for sentence in chunker.feed(piece)]
        return out + [(-1, sentence) for sentence in chunker.flush()]
    finally:
        Scanner.fast_path = original


def _splits(text: str, seeds: int) -> Iterator[list[str]]:
    yield list(text)
    yield [text]
    for seed in range(seeds):
        rng = random.Random(seed)
        pieces: list[str] = []
        k = 0
        while k < len(text):
            n = rng.randint(1, 8)
            pieces.append(text[k : k + n])
            k += n
        yield pieces


# Pieces of text the random texts below are made of: the words and marks the fast path looks at,
# next to what leaves a decision to the full rules.
_WORDS = (
    "Dr St es ej ad p str Gartenstr word Word John wow e g i U S a m etc 3 12 1234 0 Mme M x "
    "iPhone eBay 設 한 Ⓐ É é Ⅻ 😊 1. 2) a) [1] <b> ** ... … 。 ！ ． 、 「 」 » « ¿ ¡ ` * - • , : ( ) \" '"
)
_PIECES = [*_WORDS.split(), " ", " ", " ", "  ", "\n", "\n\n", "\t", ".", ".", ".", "!", "?"]


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 40)))


def _random_pieces(text: str, rng: random.Random) -> list[str]:
    size = rng.choice([1, len(text), 0])
    pieces: list[str] = []
    k = 0
    while k < len(text):
        n = size or rng.randint(1, 8)
        pieces.append(text[k : k + n])
        k += n
    return pieces


def _check_random(seed: int, count: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        text = _random_text(rng)
        options = rng.choice(OPTION_SETS)
        pieces = _random_pieces(text, rng)
        fast = _emissions(text, pieces, options, fast=True)
        assert fast == _emissions(text, pieces, options, fast=False), (text, options, pieces)


def _check(text: str, options: dict[str, Any], seeds: int) -> None:
    for pieces in _splits(text, seeds):
        fast = _emissions(text, pieces, options, fast=True)
        assert fast == _emissions(text, pieces, options, fast=False), (options, pieces[:5])


def test_the_fast_path_is_on_by_default_and_decides_cases() -> None:
    assert Scanner.fast_path is True
    # The switch the comparisons use does change which code decides: count the full rules' calls.
    calls = 0
    original = Scanner._decide

    def counting(self: Scanner, i: int, token: str) -> Any:
        nonlocal calls
        calls += 1
        return original(self, i, token)

    text = "This is one. This is two. Prices rose 3.14 percent. Dr. Smith said so. "
    Scanner._decide = counting  # type: ignore[method-assign]
    try:
        _emissions(text, [text], {}, fast=True)
        with_fast = calls
        calls = 0
        _emissions(text, [text], {}, fast=False)
        without = calls
    finally:
        Scanner._decide = original  # type: ignore[method-assign]
    assert with_fast < without


@pytest.mark.parametrize("options", OPTION_SETS[:3], ids=["raw", "defaults", "en"])
def test_fast_path_equals_full_rules_on_edges(options: dict[str, Any]) -> None:
    for text in EDGES:
        _check(text, options, seeds=2)


def test_fast_path_equals_full_rules_on_golden_rules() -> None:
    for case in GOLDEN:
        _check(case["text"], {"clean_sentences": False, "min_sentence_length": 0, "punctuation_language": case["lang"]}, 1)


@pytest.mark.parametrize("options", OPTION_SETS[:2], ids=["raw", "defaults"])
def test_fast_path_equals_full_rules_on_voice_replies(options: dict[str, Any]) -> None:
    for _, text in REPLIES:
        _check(text, options, seeds=1)
    joined = "\n\n".join(text for _, text in REPLIES)
    _check(joined, options, seeds=1)


def test_fast_path_equals_full_rules_on_random_texts() -> None:
    _check_random(seed=16, count=400)


# Words and what follows them around the cases added to the fast path later: a number's period
# before a capital (inline lists, ordinals, list markers), an abbreviation before a lowercase
# word, a digit or a caseless letter after a plain word, a full-width mark before a line break.
_LATER_WORDS = (
    "13 3 1 2 4) 2023 B12 $25 12,5 am im dem - • a.m p.m U.S e.g min Fri etc Dr es ad ej p Mo No "
    "Ab Mai Oktober Then the word Done Go iOS eBay 한 총 新宿 設定 ² ½ 「はい」 **Bold** “q” »"
).split()
_LATER_SEPARATORS = [" ", " ", ". ", ". ", ".", "! ", "? ", ", ", "．", "。"]
_LATER_SEPARATORS += ["\n", ".\n", "。\n", "！\n", ".\r\n", "：\n"]


def test_fast_path_equals_full_rules_on_random_texts_around_the_later_cases() -> None:
    rng = random.Random(294)
    for _ in range(600):
        words = rng.randint(1, 16)
        text = "".join(rng.choice(_LATER_WORDS) + rng.choice(_LATER_SEPARATORS) for _ in range(words))
        options = rng.choice(OPTION_SETS)
        pieces = _random_pieces(text, rng)
        fast = _emissions(text, pieces, options, fast=True)
        assert fast == _emissions(text, pieces, options, fast=False), (text, options, pieces)


# Words around the case of a mark after markup, a closer or a space ("`code`. Then", "sûr !
# Venez"): tokens that end in markup, quotes or brackets, with apostrophes, numbers and
# abbreviations inside them, and the marks after them with or without a space before.
_CLOSER_WORDS = (
    "`code` **Bold** _it_ ~~s~~ “q” \"q\" (see) [1] »x» « sûr `etc` etc` **Dr** (3) 3` `3` ’90` l'x` "
    "x'` it’s” a.m` `e.g` 新 iOS eBay Then the Ö é 3 12 - • * € 5,49 50% 12° n° N° 3/4 1:2 a-b ¡Claro ¿Qué "
    "“Yes -word —Dr «etc **Mr _St ¡es 😊 great😊 x/ 3- ½ ² Gartenstr str Str Karl-Marx-Str Hauptstr Bistro"
).split()
_CLOSER_SEPARATORS = [" ", " ", ". ", "! ", "? ", " ! ", " ? ", " . ", ".", "\n", ".\n", "! \n", "。", ", "]


def test_fast_path_equals_full_rules_on_random_texts_around_marks_after_closers() -> None:
    rng = random.Random(16)
    for _ in range(500):
        words = rng.randint(1, 14)
        text = "".join(rng.choice(_CLOSER_WORDS) + rng.choice(_CLOSER_SEPARATORS) for _ in range(words))
        options = rng.choice(OPTION_SETS)
        pieces = _random_pieces(text, rng)
        fast = _emissions(text, pieces, options, fast=True)
        assert fast == _emissions(text, pieces, options, fast=False), (text, options, pieces)


# Words around a list number that opens a sentence before markup, a quote, a bracket or an
# inverted mark ("3. **Wi-Fi**", "2. 「Wi-Fi」"), and the same numbers elsewhere in a sentence.
_NUMBER_WORDS = (
    "1. 3. 12. 1234. 2) 0. **Wi-Fi**를 **Mai** 「Wi-Fi」 “Q” „Ja“ (a) [1] ¿Tienes ¡Sí *x* _z_ ‘q’ 😊 - • "
    "... . Am Seite Kapitel the word 설정 手順 Dr etc 3 12"
).split()
_NUMBER_SEPARATORS = [" ", " ", " ", "\n", "\n\n", ". ", ".", "  ", "\t", "：\n", ":\n"]


def test_fast_path_equals_full_rules_on_random_texts_around_list_numbers_before_markup() -> None:
    rng = random.Random(3)
    for _ in range(500):
        words = rng.randint(1, 14)
        text = "".join(rng.choice(_NUMBER_WORDS) + rng.choice(_NUMBER_SEPARATORS) for _ in range(words))
        options = rng.choice(OPTION_SETS)
        pieces = _random_pieces(text, rng)
        fast = _emissions(text, pieces, options, fast=True)
        assert fast == _emissions(text, pieces, options, fast=False), (text, options, pieces)


def test_a_mark_after_only_whitespace_is_left_to_the_full_rules() -> None:
    # The "word" before the mark is a tab: no word at all (this once raised IndexError).
    for text in ("\t! Go on.", "Hi.\n\t. Next", " \n? Why"):
        _check(text, {"min_sentence_length": 0}, seeds=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_full_rules_on_many_random_texts(seed: int) -> None:
    _check_random(seed=seed, count=5000)


@pytest.mark.slow
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_fast_path_equals_full_rules_everywhere(options: dict[str, Any]) -> None:
    texts = [case["text"] for case in GOLDEN] + [text for _, text in REPLIES] + EDGES
    texts.append("\n\n".join(text for _, text in REPLIES))
    for text in texts:
        _check(text, options, seeds=3)


def test_a_token_of_digits_before_a_capital_is_decided_without_classify(monkeypatch: pytest.MonkeyPatch) -> None:
    """"BahnCard 50. Sie", "in 2023. That": the fast path knows what classify says of them."""
    from completions_core.sentences import _fast
    from completions_core.sentences._words import classify

    classified: list[int] = []

    def counting(w: Any, i: int, kind: str) -> tuple[str, str, int]:
        classified.append(i)
        return classify(w, i, kind)

    monkeypatch.setattr(_fast, "classify", counting)
    options = StreamOptions(clean_sentences=False, min_sentence_length=0)
    chunker = SentenceChunker(options)
    text = "Die BahnCard 50. Sie gilt ab 2023. Das ist gut. Am 24. Dezember. Gleis 4. Dann"
    assert chunker.feed(text) + chunker.flush() == [
        "Die BahnCard 50.",
        "Sie gilt ab 2023.",
        "Das ist gut.",
        "Am 24. Dezember.",
        "Gleis 4.",
        "Dann",
    ]
    assert classified == []
    chunker = SentenceChunker(options)
    assert chunker.feed("It is free over $25. You pay") == ["It is free over $25."]
    assert len(classified) == 1  # "$25" is left to classify
