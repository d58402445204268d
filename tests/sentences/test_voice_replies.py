"""The classes of mistakes found on unseen voice-agent replies (issue 16), in every language.

Every case is fed in random pieces of 1 to 8 characters (several seeds), one character at a
time and whole, with its own language and with the multilingual default: the sentences must be
the expected ones every time, so they never depend on where the text was split.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from completions_core.sentences import SentenceChunker
from completions_core.types import StreamOptions

SEEDS = range(8)


def _feed(text: str, pieces: list[int], **options: Any) -> list[str]:
    chunker = SentenceChunker(StreamOptions(**options))
    sentences: list[str] = []
    k = 0
    for n in pieces:
        sentences += chunker.feed(text[k : k + n])
        k += n
    return sentences + chunker.flush()


def _cuts(text: str, seed: int) -> list[int]:
    rng = random.Random(seed)
    pieces: list[int] = []
    while sum(pieces) < len(text):
        pieces.append(rng.randint(1, 8))
    return pieces


def segment(text: str, language: str | None = None, **options: Any) -> list[str]:
    """The sentences of ``text``, after checking that every way of feeding it gives the same."""
    options.setdefault("clean_sentences", False)
    options.setdefault("min_sentence_length", 0)
    options["punctuation_language"] = language
    whole = _feed(text, [len(text)], **options)
    assert _feed(text, [1] * len(text), **options) == whole, "one character at a time"
    for seed in SEEDS:
        assert _feed(text, _cuts(text, seed), **options) == whole, f"random 1-8 pieces, seed {seed}"
    return whole


def check(language: str, text: str, expected: list[str]) -> None:
    assert segment(text, language) == expected
    assert segment(text, None) == expected  # the multilingual default


# --- 1. Numbered list markers belong to the item they start ------------------------------------

LISTS = [
    ("zh", "操作如下：\n1. 打开设置。\n2. 选择网络。", ["操作如下：", "1. 打开设置。", "2. 选择网络。"]),
    ("zh", "操作如下：\n１．打开设置。\n２．选择网络。", ["操作如下：", "１．打开设置。", "２．选择网络。"]),
    ("zh", "操作如下：\n1.打开设置。\n2.选择网络。", ["操作如下：", "1.打开设置。", "2.选择网络。"]),
    ("zh", "步骤如下：1. 打开设置。2. 选择网络。", ["步骤如下：1. 打开设置。", "2. 选择网络。"]),
    ("zh", "请照做。\n1) 重启路由器。\n2) 再试一次。", ["请照做。", "1) 重启路由器。", "2) 再试一次。"]),
    ("ja", "手順は次のとおりです：\n1. 設定を開きます。\n2. ネットワークを選びます。", ["手順は次のとおりです：", "1. 設定を開きます。", "2. ネットワークを選びます。"]),
    ("ja", "確認しました。\n1. アプリを開きます。\n2. 再起動します。", ["確認しました。", "1. アプリを開きます。", "2. 再起動します。"]),
    ("ja", "手順：1. 設定を開く。2. 保存する。", ["手順：1. 設定を開く。", "2. 保存する。"]),
    ("ko", "설정 방법은 다음과 같습니다:\n1. 설정을 엽니다.\n2. 네트워크를 선택합니다.", ["설정 방법은 다음과 같습니다:", "1. 설정을 엽니다.", "2. 네트워크를 선택합니다."]),
    ("ko", "순서는 이렇습니다. 1. 앱을 엽니다. 2. 다시 시작합니다.", ["순서는 이렇습니다.", "1. 앱을 엽니다.", "2. 다시 시작합니다."]),
    ("en", "Here is the plan:\n1. 東京 first.\n2. 京都 next.", ["Here is the plan:", "1. 東京 first.", "2. 京都 next."]),
    ("en", "Steps:\n1. open the app.\n2. 3 taps on Settings.", ["Steps:", "1. open the app.", "2. 3 taps on Settings."]),
    ("de", "So geht's:\n1. 東京 besuchen.\n2. 2 Tage bleiben.", ["So geht's:", "1. 東京 besuchen.", "2. 2 Tage bleiben."]),
    ("es", "Pasos:\n1. ¿Tienes la app?\n2. 😊 Ábrela.", ["Pasos:", "1. ¿Tienes la app?", "2. 😊 Ábrela."]),
    ("fr", "Étapes :\n1. « Ouvrez » l’app.\n2. 東京 ensuite.", ["Étapes :", "1. « Ouvrez » l’app.", "2. 東京 ensuite."]),
    ("it", "Passi:\n1. 東京 prima.\n2. 3 giorni a Kyoto.", ["Passi:", "1. 東京 prima.", "2. 3 giorni a Kyoto."]),
]
_BARE_MARKER = re.compile(r"\s*[0-9０-９]{1,3}[.．)）]\s*")
_TRAILING_MARKER = re.compile(r"\n\s*[0-9０-９]{1,3}[.．)）]\s*$")


@pytest.mark.parametrize(("language", "text", "expected"), LISTS, ids=[f"{c[0]}-{n}" for n, c in enumerate(LISTS)])
def test_a_list_marker_starts_its_item(language: str, text: str, expected: list[str]) -> None:
    check(language, text, expected)


@pytest.mark.parametrize(("language", "text", "expected"), LISTS, ids=[f"{c[0]}-{n}" for n, c in enumerate(LISTS)])
@pytest.mark.parametrize("options", [{"clean_sentences": True}, {"clean_sentences": True, "min_sentence_length": 6}, {"min_sentence_length": 6}])
def test_a_list_marker_is_never_alone_nor_at_the_end_of_a_line(
    language: str, text: str, expected: list[str], options: dict[str, Any]
) -> None:
    for sentence in segment(text, language, **options):
        assert not _BARE_MARKER.fullmatch(sentence), sentence
        assert not _TRAILING_MARKER.search(sentence), sentence


def test_cleaning_drops_the_marker_of_an_item_after_cjk_text() -> None:
    assert segment("操作如下：\n1. 打开设置。\n2. 选择网络。", "zh", clean_sentences=True) == ["操作如下：", "打开设置。", "选择网络。"]
    assert segment("설정:\n1. **Wi-Fi**를 켭니다.", "ko", clean_sentences=True) == ["설정:", "Wi-Fi를 켭니다."]


# --- 2. German street abbreviations before a house number ---------------------------------------

STREETS = [
    ("Die Praxis liegt in der Gartenstr. 7 im Hinterhof.", ["Die Praxis liegt in der Gartenstr. 7 im Hinterhof."]),
    ("Schickt es an Lindenstr. 3, 04109 Leipzig.", ["Schickt es an Lindenstr. 3, 04109 Leipzig."]),
    ("Wir wohnen in der Lindenstr. 3. Dort ist es ruhig.", ["Wir wohnen in der Lindenstr. 3.", "Dort ist es ruhig."]),
    ("Treffpunkt ist die Hauptstr. 12 vor der Bäckerei. Bis dann!", ["Treffpunkt ist die Hauptstr. 12 vor der Bäckerei.", "Bis dann!"]),
    ("Die Karl-Marx-Str. 5 ist gesperrt. Nimm die Bahnhofstr. 2a.", ["Die Karl-Marx-Str. 5 ist gesperrt.", "Nimm die Bahnhofstr. 2a."]),
    ("Das Büro ist in der Str. 17 des Gewerbeparks.", ["Das Büro ist in der Str. 17 des Gewerbeparks."]),
    ("Wir wohnen in der Hauptstr. Sie ist laut.", ["Wir wohnen in der Hauptstr.", "Sie ist laut."]),
    ("Die Hauptstr. Ecke Bahnhofstr. ist gesperrt.", ["Die Hauptstr. Ecke Bahnhofstr. ist gesperrt."]),
]


@pytest.mark.parametrize(("text", "expected"), STREETS, ids=[f"de-{n}" for n in range(len(STREETS))])
def test_german_street_abbreviations(text: str, expected: list[str]) -> None:
    check("de", text, expected)


def test_english_streets_take_suite_numbers_and_quadrants() -> None:
    check("en", "Our office is at 221 Baker St. Suite 4B today.", ["Our office is at 221 Baker St. Suite 4B today."])
    check("en", "It is at 1600 Pennsylvania Ave. NW in Washington.", ["It is at 1600 Pennsylvania Ave. NW in Washington."])
    check("en", "The entrance is on Main St. Then take the lift.", ["The entrance is on Main St.", "Then take the lift."])
    check("en", "Turn onto Sunset Blvd. Now look left.", ["Turn onto Sunset Blvd.", "Now look left."])
    check("en", "It is on North Main St. Then turn left.", ["It is on North Main St.", "Then turn left."])
    check("en", "We live near Sunset Dr. It is quiet.", ["We live near Sunset Dr.", "It is quiet."])
    # "St." and "Dr." anywhere else are Saint and Doctor, also after a capitalised word.
    check("en", "Visit St. Mary's church. Ask at St. Paul's too.", ["Visit St. Mary's church.", "Ask at St. Paul's too."])
    check("en", "We hiked Mount St. Helens last year.", ["We hiked Mount St. Helens last year."])
    check("en", "Fans of FC St. Pauli cheered loudly.", ["Fans of FC St. Pauli cheered loudly."])
    check("de", "Die Kirche St. Marien ist alt.", ["Die Kirche St. Marien ist alt."])
    check("de", "Der Termin bei Frau Dr. Schmidt ist morgen.", ["Der Termin bei Frau Dr. Schmidt ist morgen."])


# --- 3. A single letter after a number is a unit ------------------------------------------------

UNITS = [
    ("fr", "Le cours commence à 18 h. Venez un peu avant.", ["Le cours commence à 18 h.", "Venez un peu avant."]),
    ("fr", "On ouvre à 9 h. Fermeture à 19 h 30.", ["On ouvre à 9 h.", "Fermeture à 19 h 30."]),
    ("fr", "Rendez-vous à 14 h. Merci !", ["Rendez-vous à 14 h.", "Merci !"]),
    ("fr", "La piscine fait 25 m. Elle est chauffée.", ["La piscine fait 25 m.", "Elle est chauffée."]),
    ("es", "La clase dura 2 h. Luego descansamos.", ["La clase dura 2 h.", "Luego descansamos."]),
    ("de", "Die Fahrt dauert 3 h. Danach essen wir.", ["Die Fahrt dauert 3 h.", "Danach essen wir."]),
    ("it", "Il film dura 2 h. Poi andiamo a cena.", ["Il film dura 2 h.", "Poi andiamo a cena."]),
    ("en", "Add 200 g. Then stir well.", ["Add 200 g.", "Then stir well."]),
    # Initials are still initials.
    ("en", "My name is Jonas E. Smith. I am J. A. Smith.", ["My name is Jonas E. Smith.", "I am J. A. Smith."]),
]


@pytest.mark.parametrize(("language", "text", "expected"), UNITS, ids=[f"{c[0]}-{n}" for n, c in enumerate(UNITS)])
def test_a_letter_after_a_number_is_a_unit(language: str, text: str, expected: list[str]) -> None:
    check(language, text, expected)


# --- 4. Abbreviations at a sentence end, both directions -----------------------------------------

SAME_SENTENCE = [
    ("en", "We open at 9 a.m. Eastern on weekdays."),
    ("en", "Call before 6 p.m. PT if you can."),
    ("en", "The webinar starts at 10 a.m. GMT sharp."),
    ("en", "It opens at 8 a.m. Monday through Friday."),
    ("en", "The meeting is at 3 P.M. CET in Room 2."),
    ("es", "Abrimos a las 9 a. m. CET todos los días."),
    ("de", "Das Spiel beginnt um 9 p.m. EST in New York."),
    ("en", "The U.S. Government agreed to it."),
    ("en", "The GmbH & Co. KG is a partner."),
    ("de", "Wir treffen Dr. Müller morgen."),
    ("fr", "Nous verrons M. Dupont demain."),
    ("it", "Il Dott. Rossi arriva domani."),
    ("es", "El Dr. García llega hoy a la Av. Libertador 1250."),
    ("es", "Está en Bogotá, D.C. - Colombia."),
]
SPLIT = [
    ("en", "We sell apples, pears, etc. Everything is organic.", ["We sell apples, pears, etc.", "Everything is organic."]),
    ("en", "He moved to Washington, D.C. Friends visit often.", ["He moved to Washington, D.C.", "Friends visit often."]),
    ("en", "She works at Acme, Inc. Engineers love it there.", ["She works at Acme, Inc.", "Engineers love it there."]),
    ("en", "The store closes at 6 p.m. Tomorrow we open late.", ["The store closes at 6 p.m.", "Tomorrow we open late."]),
    ("de", "Wir haben Brot, Käse usw. Morgen kommt neue Ware.", ["Wir haben Brot, Käse usw.", "Morgen kommt neue Ware."]),
    ("de", "Wir haben Äpfel, Birnen etc. Alles ist frisch.", ["Wir haben Äpfel, Birnen etc.", "Alles ist frisch."]),
    ("es", "Cerramos a las 8 p. m. Mañana abrimos tarde.", ["Cerramos a las 8 p. m.", "Mañana abrimos tarde."]),
    ("es", "Vendemos pan, queso, etc. Todo es fresco.", ["Vendemos pan, queso, etc.", "Todo es fresco."]),
    ("es", "Cuesta 1.500 pesos aprox. Llega temprano.", ["Cuesta 1.500 pesos aprox.", "Llega temprano."]),
    ("fr", "Nous avons des pommes, des poires, etc. Tout est bio.", ["Nous avons des pommes, des poires, etc.", "Tout est bio."]),
    ("it", "Abbiamo mele, pere, ecc. Domani arriva la merce.", ["Abbiamo mele, pere, ecc.", "Domani arriva la merce."]),
    ("it", "Abbiamo mele, pere, etc. Presto ne avremo altre.", ["Abbiamo mele, pere, etc.", "Presto ne avremo altre."]),
]


@pytest.mark.parametrize(("language", "text"), SAME_SENTENCE, ids=[f"{c[0]}-{n}" for n, c in enumerate(SAME_SENTENCE)])
def test_an_abbreviation_before_what_usually_follows_it_continues(language: str, text: str) -> None:
    check(language, text, [text])


@pytest.mark.parametrize(("language", "text", "expected"), SPLIT, ids=[f"{c[0]}-{n}" for n, c in enumerate(SPLIT)])
def test_an_abbreviation_that_ends_a_phrase_ends_the_sentence(language: str, text: str, expected: list[str]) -> None:
    check(language, text, expected)


# --- 5. A sentence may start with a lowercase-by-convention name or a number ----------------------

OPENERS = [
    ("en", "Open the app. eBay will ask you to sign in.", ["Open the app.", "eBay will ask you to sign in."]),
    ("en", "Update your phone. iOS 18 is out now.", ["Update your phone.", "iOS 18 is out now."]),
    ("en", "Great news! iPhone owners get it free.", ["Great news!", "iPhone owners get it free."]),
    ("en", "That is all done. 3 items are in your cart.", ["That is all done.", "3 items are in your cart."]),
    ("de", "Öffne die App. eBay fragt nach dem Passwort.", ["Öffne die App.", "eBay fragt nach dem Passwort."]),
    ("de", "Das war alles. 3 Artikel sind im Warenkorb.", ["Das war alles.", "3 Artikel sind im Warenkorb."]),
    ("es", "Abre la aplicación. iPhone pedirá tu clave.", ["Abre la aplicación.", "iPhone pedirá tu clave."]),
    ("es", "Ya está listo. 2 paquetes salen hoy.", ["Ya está listo.", "2 paquetes salen hoy."]),
    ("fr", "Ouvrez l’application. iCloud demandera votre code.", ["Ouvrez l’application.", "iCloud demandera votre code."]),
    ("it", "Apri l'applicazione. eBay chiederà la password.", ["Apri l'applicazione.", "eBay chiederà la password."]),
    ("it", "Ho controllato tutto. 4 ordini sono pronti.", ["Ho controllato tutto.", "4 ordini sono pronti."]),
    # A lowercase word still continues, and an abbreviation still holds before a number.
    ("en", "Were Jane and co. at the party? Turn to p. 55 now.", ["Were Jane and co. at the party?", "Turn to p. 55 now."]),
]


@pytest.mark.parametrize(("language", "text", "expected"), OPENERS, ids=[f"{c[0]}-{n}" for n, c in enumerate(OPENERS)])
def test_a_lowercase_brand_or_a_number_opens_a_sentence(language: str, text: str, expected: list[str]) -> None:
    check(language, text, expected)


# --- 6. The interrobang and the rarer terminators, in every language ------------------------------

MARKS = ["‽", "⁈", "⁉", "⁇", "‼", "⸮", "！", "？", "﹗", "﹖", "︕", "︖"]
FULL_STOPS = ["。", "｡", "．"]
PAIRS = [
    ("en", "You finished already", "Nice work."),
    ("de", "Schon fertig", "Super gemacht."),
    ("es", "Ya terminaste", "Muy bien."),
    ("fr", "Déjà fini", "Bravo à toi."),
    ("it", "Hai già finito", "Bravo davvero."),
    ("ja", "もう終わった", "すごいですね。"),
    ("zh", "你已经做完了", "真棒。"),
    ("ko", "벌써 끝났어", "대단해요."),
]


@pytest.mark.parametrize("mark", MARKS)
@pytest.mark.parametrize(("language", "first", "second"), PAIRS, ids=[p[0] for p in PAIRS])
def test_rare_and_full_width_marks_end_a_sentence(language: str, mark: str, first: str, second: str) -> None:
    check(language, f"{first}{mark} {second}", [f"{first}{mark}", second])
    if language in ("ja", "zh") or mark not in "‽⁈⁉⁇‼⸮":
        check(language, f"{first}{mark}{second}", [f"{first}{mark}", second])  # no space needed


@pytest.mark.parametrize("mark", FULL_STOPS)
@pytest.mark.parametrize(("language", "first", "second"), PAIRS, ids=[p[0] for p in PAIRS])
def test_full_width_full_stops_end_a_sentence(language: str, mark: str, first: str, second: str) -> None:
    check(language, f"{first}{mark}{second}", [f"{first}{mark}", second])


def test_an_interrobang_before_a_lowercase_word_continues() -> None:
    check("en", "You did what‽ he asked.", ["You did what‽ he asked."])


# --- Latency: an abbreviation at a sentence end is emitted on the character that decides it ------


def _emission_index(text: str, sentence: str, language: str | None = None) -> int:
    chunker = SentenceChunker(
        StreamOptions(clean_sentences=False, min_sentence_length=0, punctuation_language=language)
    )
    for index, char in enumerate(text):
        if sentence in chunker.feed(char):
            return index
    raise AssertionError(f"{sentence!r} was not emitted before the end of the stream")


@pytest.mark.parametrize(
    ("language", "first", "rest"),
    [
        ("en", "The entrance is on Main St.", " Then take the lift."),
        ("en", "We sell apples, pears, etc.", " We also sell plums."),
        ("en", "He moved to Washington, D.C.", " Friends visit often."),
        ("de", "Wir haben Brot, Käse usw.", " Morgen kommt neue Ware."),
        ("de", "Wir wohnen in der Hauptstr.", " Dort ist es laut."),
        ("es", "Vendemos pan, queso, etc.", " Todo es fresco."),
        ("fr", "Nous avons des pommes, etc.", " Tout est bio."),
        ("it", "Abbiamo mele, pere, ecc.", " Domani arriva la merce."),
    ],
)
def test_an_abbreviation_at_a_sentence_end_is_emitted_on_the_next_character(language: str, first: str, rest: str) -> None:
    for lang in (language, None):
        assert _emission_index(first + rest, first, lang) == len(first) + 1


def test_a_time_is_emitted_as_soon_as_the_next_word_is_no_time_zone() -> None:
    # "T" may begin "Tue" or "Thursday"; "To" begins neither.
    text = "The store closes at 6 p.m. Tomorrow we open late."
    assert _emission_index(text, "The store closes at 6 p.m.") == len("The store closes at 6 p.m. To") - 1
    # "E" may begin "Eastern"; "Ev" cannot begin a sentence opener after "Inc." either way.
    text = "Call Acme Inc. It closed."
    assert _emission_index(text, "Call Acme Inc.") == len("Call Acme Inc. It")
