"""Sentence boundaries in English text: abbreviations, numbers, addresses, ellipses, quotes, lists."""

from __future__ import annotations

from collections.abc import Callable

Chunk = Callable[..., list[str]]


def test_simple_terminal_marks_end_sentences(raw: Chunk) -> None:
    assert raw("Hello World. What is it? There it is! Done") == ["Hello World.", "What is it?", "There it is!", "Done"]


def test_titles_before_names_are_not_boundaries(raw: Chunk) -> None:
    assert raw("Dr. Smith met Mrs. Jones and Prof. Lee at St. Mary's. They talked.") == [
        "Dr. Smith met Mrs. Jones and Prof. Lee at St. Mary's.",
        "They talked.",
    ]


def test_abbreviations_end_a_sentence_only_before_a_typical_opener(raw: Chunk) -> None:
    assert raw("They work for Pitt, Briggs & Co. It closed. The GmbH & Co. KG is a partner.") == [
        "They work for Pitt, Briggs & Co.",
        "It closed.",
        "The GmbH & Co. KG is a partner.",
    ]
    assert raw("Bring fruit, e.g. Apples and pears, etc. We leave soon.") == [
        "Bring fruit, e.g. Apples and pears, etc.",
        "We leave soon.",
    ]


def test_a_lowercase_word_after_a_period_continues_the_sentence(raw: Chunk) -> None:
    assert raw("Were Jane and co. at the party? The med. staff is kind.") == [
        "Were Jane and co. at the party?",
        "The med. staff is kind.",
    ]


def test_initials_are_not_boundaries_but_the_pronoun_i_can_be(raw: Chunk) -> None:
    assert raw("My name is Jonas E. Smith. We make a good team, you and I. Did you see Albert I. Jones?") == [
        "My name is Jonas E. Smith.",
        "We make a good team, you and I.",
        "Did you see Albert I. Jones?",
    ]


def test_multi_period_abbreviations(raw: Chunk) -> None:
    assert raw("I live in the U.S. How about you? The U.S. Government agreed. I went to J.C. Penney.") == [
        "I live in the U.S.",
        "How about you?",
        "The U.S. Government agreed.",
        "I went to J.C. Penney.",
    ]


def test_times_with_am_and_pm(raw: Chunk) -> None:
    assert raw("The game is at 10 p.m. I'm going. He left at 6 A.M. Travelers who waited until 5 A.M. left later.") == [
        "The game is at 10 p.m.",
        "I'm going.",
        "He left at 6 A.M.",
        "Travelers who waited until 5 A.M. left later.",
    ]


def test_decimals_and_thousands_separators(raw: Chunk) -> None:
    assert raw("She has $1,000.50 in her bag. It grew 12.5% to 3.14159. Pi is nice.") == [
        "She has $1,000.50 in her bag.",
        "It grew 12.5% to 3.14159.",
        "Pi is nice.",
    ]


def test_a_number_can_end_a_sentence(raw: Chunk) -> None:
    assert raw("I have 600. How many do you have? Turn to p. 55. He is no. 5 today.") == [
        "I have 600.",
        "How many do you have?",
        "Turn to p. 55.",
        "He is no. 5 today.",
    ]


def test_version_numbers(raw: Chunk) -> None:
    assert raw("Python 3.11.2 is out. Upgrade from v2.0. It is faster.") == [
        "Python 3.11.2 is out.",
        "Upgrade from v2.0.",
        "It is faster.",
    ]


def test_urls_emails_and_file_names(raw: Chunk) -> None:
    text = (
        "Mail jane.doe@example.com. See https://www.example.com/a.b/c.html?q=1. "
        "Open www.test.Awesome.com today. Edit config.yaml. Images come as .jpeg files."
    )
    assert raw(text) == [
        "Mail jane.doe@example.com.",
        "See https://www.example.com/a.b/c.html?q=1.",
        "Open www.test.Awesome.com today.",
        "Edit config.yaml.",
        "Images come as .jpeg files.",
    ]


def test_sentences_without_a_space_between_them(raw: Chunk) -> None:
    assert raw("Hello world.Today is Tuesday.Mr. Smith bought 1,000.That is a lot.") == [
        "Hello world.",
        "Today is Tuesday.",
        "Mr. Smith bought 1,000.",
        "That is a lot.",
    ]


def test_ellipses_three_dots_and_the_ellipsis_character(raw: Chunk) -> None:
    assert raw("He talks slowly... And then stops. I mean...see, it is … well. Wait… What?") == [
        "He talks slowly...",
        "And then stops.",
        "I mean...see, it is … well.",
        "Wait…",
        "What?",
    ]


def test_repeated_marks_stay_together(raw: Chunk) -> None:
    assert raw("Hello!! Really?! Yes?? Unbelievable??!?!") == ["Hello!!", "Really?!", "Yes??", "Unbelievable??!?!"]


def test_closing_quotes_and_brackets_stay_with_their_sentence(raw: Chunk) -> None:
    assert raw('She said, "This is great." She left. (He agreed.) Then “Go!” Done.') == [
        'She said, "This is great."',
        "She left.",
        "(He agreed.)",
        "Then “Go!”",
        "Done.",
    ]


def test_a_quote_followed_by_lowercase_continues(raw: Chunk) -> None:
    assert raw("'This is great.' she said. \"Help yourself,\" he shouted.") == [
        "'This is great.' she said.",
        '"Help yourself," he shouted.',
    ]


def test_sentences_inside_a_closed_quotation_stay_one_sentence(raw: Chunk) -> None:
    assert raw('He said, "Stop. Think. Then act." Everyone listened.') == [
        'He said, "Stop. Think. Then act."',
        "Everyone listened.",
    ]


def test_parenthetical_inside_a_sentence(raw: Chunk) -> None:
    assert raw("He teaches (He worked as an engineer.) at the university. Charles (Ind.) said he.") == [
        "He teaches (He worked as an engineer.) at the university.",
        "Charles (Ind.) said he.",
    ]


def test_exclamation_inside_names_and_words(raw: Chunk) -> None:
    assert raw("She works at Yahoo! in the accounting department. He speaks !Xun well.") == [
        "She works at Yahoo! in the accounting department.",
        "He speaks !Xun well.",
    ]


def test_footnote_references_stay_with_their_sentence(raw: Chunk) -> None:
    assert raw("He was a martyr.[1] The emperor decreed it.[2][3] It was done.") == [
        "He was a martyr.[1]",
        "The emperor decreed it.[2][3]",
        "It was done.",
    ]


def test_inline_numbered_and_lettered_lists(raw: Chunk) -> None:
    assert raw("1. The first item 2. The second item 3. The third") == [
        "1. The first item",
        "2. The second item",
        "3. The third",
    ]
    assert raw("a) here it is b) another c) one more") == ["a) here it is", "b) another", "c) one more"]
    assert raw("• 9. The first item • 10. The second item") == ["• 9. The first item", "• 10. The second item"]


def test_a_list_marker_at_sentence_start_is_not_a_boundary(raw: Chunk) -> None:
    assert raw("1. This is a list item. Q. What is his name? A. His name is Al.") == [
        "1. This is a list item.",
        "Q. What is his name?",
        "A. His name is Al.",
    ]


def test_an_interrupted_quotation_ends_a_sentence(raw: Chunk) -> None:
    assert raw('"We were doing our best, to--" At this moment, Five called out.') == [
        '"We were doing our best, to--"',
        "At this moment, Five called out.",
    ]
