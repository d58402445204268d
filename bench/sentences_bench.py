"""Benchmark of the streaming sentence chunker (completions_core.sentences).

One run measures, on the same text (English golden-rule cases, about 8,000 characters):

1. cost per delta and throughput of ``SentenceChunker`` fed 4-character deltas, against the usual
   streaming use of pysbd: append the delta to the unemitted tail, segment the tail again, emit
   every sentence but the last (skipped with a message when pysbd is not installed);
2. how the chunker's cost grows with the size of the text (1x, 2x, 4x, 8x): linear means the
   cost per character stays flat;
3. the lookahead: fed one character at a time, how many characters (and how many non-space
   characters) arrive after a sentence's last character before the chunker emits it.

Run ``python bench/sentences_bench.py`` (under a minute) or ``--quick`` for a CI smoke run
(a few seconds). Timings are the best CPU time of several repetitions, so that a busy machine
disturbs them less; the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from completions_core.sentences import SentenceChunker  # noqa: E402
from completions_core.types import StreamOptions  # noqa: E402

DATA = ROOT / "tests" / "sentences" / "data" / "golden_rules_8lang.json"
DELTA = 4


def build_texts(size: int) -> dict[str, str]:
    """Two texts of about ``size`` characters from the golden-rule data.

    "golden mix": the short English cases in file order, joined by spaces. Dense in what is hard
    (61 characters per sentence, abbreviations, numbers, lists, quotes), so it is the harder text
    for the chunker and the kinder one for pysbd (short tails to re-segment).
    "prose": the opening of Alice in Wonderland (case en-187), paragraphs and dialogue.
    """
    cases = json.loads(DATA.read_text("utf-8"))
    parts: list[str] = []
    length = 0
    for case in cases:
        text = " ".join(case["text"].split())
        if case["lang"] != "en" or len(text) > 1500 or not text:
            continue
        parts.append(text)
        length += len(text) + 1
        if length >= size:
            break
    alice = next(case["text"] for case in cases if case["id"] == "en-187")[:size]
    return {"golden mix": " ".join(parts), "prose": alice[: alice.rfind(".") + 1]}


def deltas_of(text: str, size: int = DELTA) -> list[str]:
    return [text[k : k + size] for k in range(0, len(text), size)]


def best_of(repeats: int, run: Callable[[], int]) -> tuple[float, int]:
    """Best CPU time of ``repeats`` runs, and what the last run returned.

    CPU time of this process, not wall time: other processes on a busy machine then cost this
    one cache and cores, not its whole waiting time.
    """
    best = float("inf")
    result = 0
    for _ in range(repeats):
        start = time.process_time()
        result = run()
        best = min(best, time.process_time() - start)
    return best, result


def chunker_run(deltas: list[str], options: StreamOptions) -> Callable[[], int]:
    def run() -> int:
        chunker = SentenceChunker(options)
        count = 0
        for delta in deltas:
            count += len(chunker.feed(delta))
        return count + len(chunker.flush())

    return run


def pysbd_run(deltas: list[str]) -> Callable[[], int] | None:
    try:
        import pysbd
    except ImportError:
        return None
    segmenter = pysbd.Segmenter(language="en", clean=False)

    def run() -> int:
        tail = ""
        count = 0
        for delta in deltas:
            tail += delta
            sentences = segmenter.segment(tail)
            if len(sentences) > 1:
                count += len(sentences) - 1
                # pysbd strips trailing spaces from its sentences: keep the tail's own end.
                tail = tail[tail.rfind(sentences[-1]) :] if sentences[-1] in tail else sentences[-1]
        return count + (1 if tail.strip() else 0)

    return run


def lookahead(text: str) -> tuple[list[int], list[int]]:
    """Characters (all, non-space) that arrived after each sentence's end before it came out."""
    chunker = SentenceChunker(StreamOptions(clean_sentences=False, min_sentence_length=0))
    everything: list[int] = []
    non_space: list[int] = []
    position = 0
    for index, char in enumerate(text):
        for sentence in chunker.feed(char):
            end = text.index(sentence, position) + len(sentence)
            position = end
            after = text[end : index + 1]
            everything.append(len(after))
            non_space.append(len("".join(after.split())))
    return everything, non_space


def compare(name: str, text: str, repeats: int, pysbd_repeats: int) -> None:
    deltas = deltas_of(text)
    megabytes = len(text.encode("utf-8")) / 1e6
    print(f"### {name}: {len(text)} characters, {len(deltas)} deltas of {DELTA} characters\n")
    print("| segmenter | sentences | total ms | us per delta | MB/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    results: dict[str, float] = {}
    for label, options in (
        ("SentenceChunker (defaults: clean, min 6)", StreamOptions()),
        ("SentenceChunker (raw: no cleaning, min 0)", StreamOptions(clean_sentences=False, min_sentence_length=0)),
    ):
        seconds, count = best_of(repeats, chunker_run(deltas, options))
        results[label] = seconds
        per_delta = seconds / len(deltas) * 1e6
        print(f"| {label} | {count} | {seconds * 1e3:.2f} | {per_delta:.2f} | {megabytes / seconds:.2f} |")
    run = pysbd_run(deltas)
    if run is None:
        print("\npysbd is not installed: skipping the comparison (pip install pysbd)\n")
        return
    seconds, count = best_of(pysbd_repeats, run)
    per_delta = seconds / len(deltas) * 1e6
    label = "pysbd, tail re-segmented after every delta"
    print(f"| {label} | {count} | {seconds * 1e3:.1f} | {per_delta:.1f} | {megabytes / seconds:.3f} |")
    print()
    for label, chunker_seconds in results.items():
        print(f"- {label}: {seconds / chunker_seconds:.0f}x cheaper per delta than pysbd")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small texts, few repetitions (CI smoke run)")
    args = parser.parse_args()
    size, repeats, pysbd_repeats = (2000, 3, 1) if args.quick else (8000, 15, 2)
    texts = build_texts(size)

    print("## Cost per delta and throughput (4-character deltas, CPU time)\n")
    for name, text in texts.items():
        compare(name, text, repeats, pysbd_repeats)

    text = texts["golden mix"]
    default = StreamOptions()
    print("## Growth with the text size (golden mix, defaults, 4-character deltas)\n")
    print("| size | characters | total ms | ns per character | vs 1x |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = 0.0
    for factor in (1, 2, 4, 8):
        big = " ".join([text] * factor)
        seconds, _ = best_of(max(2, repeats // factor), chunker_run(deltas_of(big), default))
        per_char = seconds / len(big) * 1e9
        base = base or per_char
        print(f"| {factor}x | {len(big)} | {seconds * 1e3:.2f} | {per_char:.0f} | {per_char / base:.2f} |")

    for name, text in texts.items():
        print(f"\n## Lookahead, {name} (one character per delta, raw sentences, emitted before the flush)\n")
        everything, non_space = lookahead(text)
        histogram = Counter(min(n, 5) for n in non_space)
        print("| non-space characters after the sentence end | sentences | share |")
        print("| --- | ---: | ---: |")
        for n in range(6):
            label = f"{n}" if n < 5 else "5 or more"
            print(f"| {label} | {histogram[n]} | {histogram[n] / len(non_space):.1%} |")
        at_most_one = sum(1 for n in non_space if n <= 1) / len(non_space)
        quantiles = statistics.quantiles(everything, n=100, method="inclusive")
        print(
            f"\n{len(non_space)} sentences: {at_most_one:.1%} emitted within one non-space character of their end. "
            f"All characters (spaces included): median {statistics.median(everything):.0f}, "
            f"p90 {quantiles[89]:.0f}, p99 {quantiles[98]:.0f}, max {max(everything)}."
        )


if __name__ == "__main__":
    main()
