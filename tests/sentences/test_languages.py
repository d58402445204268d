"""Language rules: German, Spanish, French, Italian, Japanese, Chinese, Korean and mixed text.

The Korean, Chinese and French cases are written from each language's punctuation rules (the
golden-rule data has no Korean, two Chinese and five French cases).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Chunk = Callable[..., list[str]]

KOREAN = [
    ("안녕하세요. 만나서 반갑습니다.", ["안녕하세요.", "만나서 반갑습니다."]),
    ("오늘 날씨가 어때요? 정말 좋아요!", ["오늘 날씨가 어때요?", "정말 좋아요!"]),
    ("가격은 3.5달러입니다. 할인은 10%예요.", ["가격은 3.5달러입니다.", "할인은 10%예요."]),
    ("정말요?? 네!! 알겠습니다.", ["정말요??", "네!!", "알겠습니다."]),
    ("그가 “정말이야?”라고 물었다. 나는 웃었다.", ["그가 “정말이야?”라고 물었다.", "나는 웃었다."]),
    ("그는 말했다. “내일 보자.” 그리고 떠났다.", ["그는 말했다.", "“내일 보자.”", "그리고 떠났다."]),
    ("저는 U.S.A.에서 왔어요. 반가워요.", ["저는 U.S.A.에서 왔어요.", "반가워요."]),
    (
        "서울(Seoul)은 한국의 수도입니다. 인구는 약 950만 명입니다.",
        ["서울(Seoul)은 한국의 수도입니다.", "인구는 약 950만 명입니다."],
    ),
    ("버전 2.0.1이 나왔습니다. 설치하세요.", ["버전 2.0.1이 나왔습니다.", "설치하세요."]),
    ("잠깐만요… 생각해 볼게요.", ["잠깐만요…", "생각해 볼게요."]),
]

CHINESE = [
    ("今天天气很好。我们去公园吧！你觉得呢？", ["今天天气很好。", "我们去公园吧！", "你觉得呢？"]),
    ("价格是3.5元。很便宜。", ["价格是3.5元。", "很便宜。"]),
    ("他说：“我明天来。”然后就走了。", ["他说：“我明天来。”", "然后就走了。"]),
    ("他问：“你去哪儿？”我说：“回家。”", ["他问：“你去哪儿？”", "我说：“回家。”"]),
    ("这是《红楼梦》。那是《西游记》。", ["这是《红楼梦》。", "那是《西游记》。"]),
    ("我们明天一起去看《摔跤吧！爸爸》好吗？好！", ["我们明天一起去看《摔跤吧！爸爸》好吗？", "好！"]),
    ("（注：这是一个例子。）接下来是正文。", ["（注：这是一个例子。）", "接下来是正文。"]),
    ("他犹豫了一下……然后说好。真的吗？！当然。", ["他犹豫了一下……然后说好。", "真的吗？！", "当然。"]),
    ("增长了１２．５％。不错。", ["增长了１２．５％。", "不错。"]),
    ("我喜欢Python语言。它很简单。", ["我喜欢Python语言。", "它很简单。"]),
]

FRENCH = [
    ("Bonjour ! Comment allez-vous ? Très bien, merci.", ["Bonjour !", "Comment allez-vous ?", "Très bien, merci."]),
    ("Quoi\u202f? Vraiment\u202f! Oui.", ["Quoi\u202f?", "Vraiment\u202f!", "Oui."]),
    ("Il a dit : « Je viens ! » Puis il est parti.", ["Il a dit : « Je viens ! »", "Puis il est parti."]),
    ("« Tu viens ? » demanda-t-il. Non.", ["« Tu viens ? » demanda-t-il.", "Non."]),
    ("M. Dupont et Mme Durand sont arrivés. Ils sont là.", ["M. Dupont et Mme Durand sont arrivés.", "Ils sont là."]),
    ("Voir p. 12 et le chap. 3. La suite est claire.", ["Voir p. 12 et le chap. 3.", "La suite est claire."]),
    ("Il y a des fruits, des légumes, etc. Ensuite, rien.", ["Il y a des fruits, des légumes, etc.", "Ensuite, rien."]),
    ("Le prix est de 1 234,56 €. Merci.", ["Le prix est de 1 234,56 €.", "Merci."]),
    ("Qu’est-ce que c’est ? C’est un livre.", ["Qu’est-ce que c’est ?", "C’est un livre."]),
    (
        "Elle assure que ce mouvement « n’aura aucun impact ». Voilà.",
        ["Elle assure que ce mouvement « n’aura aucun impact ».", "Voilà."],
    ),
]


@pytest.mark.parametrize(("text", "expected"), KOREAN, ids=[f"ko-{n}" for n in range(len(KOREAN))])
def test_korean_sentences(raw: Chunk, text: str, expected: list[str]) -> None:
    assert raw(text, punctuation_language="ko") == expected
    assert raw(text, step=1) == expected


@pytest.mark.parametrize(("text", "expected"), CHINESE, ids=[f"zh-{n}" for n in range(len(CHINESE))])
def test_chinese_sentences(raw: Chunk, text: str, expected: list[str]) -> None:
    assert raw(text, punctuation_language="zh") == expected
    assert raw(text, step=1) == expected


@pytest.mark.parametrize(("text", "expected"), FRENCH, ids=[f"fr-{n}" for n in range(len(FRENCH))])
def test_french_sentences(raw: Chunk, text: str, expected: list[str]) -> None:
    assert raw(text, punctuation_language="fr") == expected
    assert raw(text, step=1) == expected


def test_german_ordinals_after_articles_and_before_months(raw: Chunk) -> None:
    text = "Wir treffen uns am 3. Oktober. Er wurde im 2. Weltkrieg verletzt. Es war der 1. -3. Jahrhundert. Gut."
    assert raw(text, punctuation_language="de") == [
        "Wir treffen uns am 3. Oktober.",
        "Er wurde im 2. Weltkrieg verletzt.",
        "Es war der 1. -3. Jahrhundert.",
        "Gut.",
    ]


def test_german_cardinal_number_ends_a_sentence(raw: Chunk) -> None:
    assert raw("Die Information steht auf Seite 12. Dort kannst du nachlesen.", punctuation_language="de") == [
        "Die Information steht auf Seite 12.",
        "Dort kannst du nachlesen.",
    ]


def test_german_abbreviations(raw: Chunk) -> None:
    text = "Das ist z. B. ein Test. Wir trafen Dr. med. Meyer. Siehe S. 12 bzw. Kap. 3. Danach kommt nichts usw. Dann ist Schluss."
    assert raw(text, punctuation_language="de") == [
        "Das ist z. B. ein Test.",
        "Wir trafen Dr. med. Meyer.",
        "Siehe S. 12 bzw. Kap. 3.",
        "Danach kommt nichts usw.",
        "Dann ist Schluss.",
    ]


def test_german_quotation_marks(raw: Chunk) -> None:
    text = "„Ich habe keine Zeit“, sagte sie leise: „Und auch keine Lust.“ Wir haben 1.000.000 Euro."
    assert raw(text, punctuation_language="de") == [
        "„Ich habe keine Zeit“, sagte sie leise: „Und auch keine Lust.“",
        "Wir haben 1.000.000 Euro.",
    ]


def test_spanish_inverted_marks_open_a_sentence(raw: Chunk) -> None:
    assert raw("Pablo, ¿adónde vas? ¡¿Qué viste?! ¿Cómo está hoy? Espero que bien.", punctuation_language="es") == [
        "Pablo, ¿adónde vas?",
        "¡¿Qué viste?!",
        "¿Cómo está hoy?",
        "Espero que bien.",
    ]


def test_spanish_abbreviations_and_numbers(raw: Chunk) -> None:
    text = "Hola Srta. Ledesma. El Dr. Naser llegó el 30 Ago. 1984. ¡La casa cuesta $170.500.000,00! Sí."
    assert raw(text, punctuation_language="es") == [
        "Hola Srta. Ledesma.",
        "El Dr. Naser llegó el 30 Ago. 1984.",
        "¡La casa cuesta $170.500.000,00!",
        "Sí.",
    ]


def test_italian_elided_titles(raw: Chunk) -> None:
    assert raw("Buongiorno! Sono l'Ing. Mengozzi. È presente l'Avv. Cassioni?", punctuation_language="it") == [
        "Buongiorno!",
        "Sono l'Ing. Mengozzi.",
        "È presente l'Avv. Cassioni?",
    ]


def test_japanese_full_width_marks_need_no_space(raw: Chunk) -> None:
    assert raw("これはペンです。それは何ですか？良かったね！", punctuation_language="ja") == [
        "これはペンです。",
        "それは何ですか？",
        "良かったね！",
    ]


def test_japanese_quotation_followed_by_to_continues(raw: Chunk) -> None:
    assert raw("「はい。」と彼は言った。今日は晴れです。", punctuation_language="ja") == [
        "「はい。」と彼は言った。",
        "今日は晴れです。",
    ]


def test_japanese_full_width_decimal_point(raw: Chunk) -> None:
    assert raw("引き下げ幅は３．２９％以上です。決定しました。", punctuation_language="ja") == [
        "引き下げ幅は３．２９％以上です。",
        "決定しました。",
    ]


def test_mixed_scripts_split_with_the_default_multilingual_set(raw: Chunk) -> None:
    text = "I love 東京. 東京は美しい。Let's go! Bonjour ! ¿Qué tal? 안녕하세요. Ende."
    assert raw(text) == [
        "I love 東京.",
        "東京は美しい。",
        "Let's go!",
        "Bonjour !",
        "¿Qué tal?",
        "안녕하세요.",
        "Ende.",
    ]


def test_language_tables_are_specific_to_the_language(raw: Chunk) -> None:
    # "kath." is a German abbreviation: in German it does not end the sentence.
    text = "Sie besucht eine kath. Schule. Gut."
    assert raw(text, punctuation_language="de") == ["Sie besucht eine kath. Schule.", "Gut."]
    assert raw(text, punctuation_language="en") == ["Sie besucht eine kath.", "Schule.", "Gut."]
