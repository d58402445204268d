"""clean_sentences: markdown is stripped so that text-to-speech does not read symbols."""

from __future__ import annotations

from collections.abc import Callable

from completions_core.sentences import SentenceChunker

Chunk = Callable[..., list[str]]


def test_bold_italics_and_strikethrough(chunk: Chunk) -> None:
    assert chunk("This is **bold**, *italic*, __strong__, _em_ and ~~gone~~ text.") == [
        "This is bold, italic, strong, em and gone text."
    ]


def test_inline_code_keeps_its_content(chunk: Chunk) -> None:
    assert chunk("Call `os.path.join()` or ``a `b` c`` now.") == ["Call os.path.join() or a `b` c now."]


def test_headings_lose_their_hashes(chunk: Chunk) -> None:
    assert chunk("# Title\n\n## Section two ##\nText.") == ["Title", "Section two", "Text."]


def test_list_markers_are_removed(chunk: Chunk) -> None:
    assert chunk("Steps:\n- first\n* second\n+ third\n1. fourth\n2) fifth\n• sixth\n- [x] done") == [
        "Steps:",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "done",
    ]


def test_block_quotes_are_removed(chunk: Chunk) -> None:
    assert chunk("> Quoted line. Another.\n> > Nested.") == ["Quoted line.", "Another.", "Nested."]


def test_links_and_images_keep_their_text(chunk: Chunk) -> None:
    assert chunk("See [the docs](https://example.com/a_(b)) and ![a cat](cat.png). Also [ref][1] <https://x.org>.") == [
        "See the docs and a cat.",
        "Also ref https://x.org.",
    ]


def test_tables_become_comma_separated_rows(chunk: Chunk) -> None:
    assert chunk("| Name | Age |\n|:-----|----:|\n| Bob | 3.5 |\n\nAfter.") == ["Name, Age", "Bob, 3.5", "After."]


def test_html_tags_and_entities(chunk: Chunk) -> None:
    assert chunk("<p>Hello <b>world</b>.</p><br>Fish &amp; chips.") == ["Hello world.", "Fish & chips."]


def test_thematic_breaks_footnotes_and_escapes(chunk: Chunk) -> None:
    assert chunk("Before.\n\n---\n\nAfter[^1] with \\*stars\\*.") == ["Before.", "After with *stars*."]


def test_words_and_math_are_not_mistaken_for_markup(chunk: Chunk) -> None:
    assert chunk("Use my_var_name and 2 * 3 = 6 or 5*3.") == ["Use my_var_name and 2 * 3 = 6 or 5*3."]


def test_emphasis_spanning_a_sentence_boundary(chunk: Chunk) -> None:
    assert chunk("**First sentence. Second sentence.** Third.") == ["First sentence.", "Second sentence.", "Third."]


def test_markers_split_across_deltas_are_recognised() -> None:
    chunker = SentenceChunker()
    sentences: list[str] = []
    for delta in ["*", "*bol", "d*", "* and [li", "nk](http://a", ".b/c).\n", "#", "# Next"]:
        sentences += chunker.feed(delta)
    sentences += chunker.flush()
    assert sentences == ["bold and link.", "Next"]


def test_cleaning_is_off_when_disabled(raw: Chunk) -> None:
    assert raw("# Title\n- **item**") == ["# Title", "- **item**"]
