"""Benchmark of the streaming sentence chunker (completions_core.sentences).

One run measures, on the same text (English golden-rule cases, about 8,000 characters):

1. cost per delta and throughput of ``SentenceChunker`` fed 4-character deltas, against the usual
   streaming use of pysbd: append the delta to the unemitted tail, segment the tail again, emit
   every sentence but the last (skipped with a message when pysbd is not installed);
2. how the chunker's cost grows with the size of the text (1x, 2x, 4x, 8x): linear means the
   cost per character stays flat;
3. the lookahead: fed one character at a time, how many characters (and how many non-space
   characters) arrive after a sentence's last character before the chunker emits it;
4. voice replies (``bench/data/voice_replies.txt``, hand-written, eight languages and mixed,
   markdown-rich) joined into one long reply and fed in random 1-8 character deltas with the
   options a voice agent uses (cleaning on, multilingual default language): throughput and cost
   per delta against pysbd on the same deltas, the cost of creating a chunker against the cost
   of feeding it 20 characters, and per language the share of sentences emitted within one
   non-space character of their end;
5. the golden-rule pass counts per language (the figures tests/sentences/test_golden_rules.py
   holds), so that a change's effect on accuracy shows next to its effect on speed.

Run ``python bench/sentences_bench.py`` (under a minute) or ``--quick`` for a CI smoke run
(a few seconds). ``--mypyc`` runs only section 4, twice, in child processes: with the modules
as they are, then with the same modules compiled by mypyc in a temporary copy (needs a C
compiler; about 40 s). Timings are the best CPU time of several repetitions, so that a busy machine
disturbs them less; the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# --mypyc runs this file again with CODE_ROOT set to a copy whose sentence modules are compiled.
CODE_ROOT = os.environ.get("SENTENCES_BENCH_CODE_ROOT", str(ROOT))
sys.path.insert(0, CODE_ROOT)

from completions_core.sentences import SentenceChunker  # noqa: E402
from completions_core.types import StreamOptions  # noqa: E402

DATA = ROOT / "tests" / "sentences" / "data" / "golden_rules_8lang.json"
REPLIES = ROOT / "bench" / "data" / "voice_replies.txt"
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


def random_deltas(text: str, seed: int = 16) -> list[str]:
    """``text`` cut into pieces of 1 to 8 characters (uniform, seeded: the same cut every run)."""
    rng = random.Random(seed)
    deltas: list[str] = []
    k = 0
    while k < len(text):
        n = rng.randint(1, 8)
        deltas.append(text[k : k + n])
        k += n
    return deltas


def load_replies() -> list[tuple[str, str]]:
    """(language, text) of every reply in ``bench/data/voice_replies.txt``."""
    replies: list[tuple[str, str]] = []
    for block in REPLIES.read_text("utf-8").split("\n=== ")[1:]:
        language, _, text = block.partition("\n")
        replies.append((language.strip(), text.strip("\n")))
    return replies


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


def pysbd_run(deltas: list[str], language: str = "en") -> Callable[[], int] | None:
    try:
        import pysbd
    except ImportError:
        return None
    segmenter = pysbd.Segmenter(language=language, clean=False)

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


def lookahead(text: str, language: str | None = None) -> tuple[list[int], list[int]]:
    """Characters (all, non-space) that arrived after each sentence's end before it came out."""
    chunker = SentenceChunker(
        StreamOptions(clean_sentences=False, min_sentence_length=0, punctuation_language=language)
    )
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


def replies_section(repeats: int, pysbd_repeats: int, quick: bool) -> None:
    """Throughput, cost per delta, creation cost and per-language lookahead on the replies."""
    replies = load_replies()
    text = "\n\n".join(reply for _, reply in replies)
    if quick:
        text = text[: len(text) // 3]
    deltas = random_deltas(text)
    megabytes = len(text.encode("utf-8")) / 1e6
    options = StreamOptions()
    print(
        f"## Voice replies: {len(replies)} replies joined, {len(text)} characters ({megabytes * 1e6:.0f} bytes), "
        f"{len(deltas)} random deltas of 1-8 characters, defaults (clean, min 6, multilingual)\n"
    )
    print("| segmenter | sentences | total ms | us per delta | MB/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    seconds, count = best_of(repeats, chunker_run(deltas, options))
    per_delta = seconds / len(deltas) * 1e6
    rate = megabytes / seconds
    print(f"| SentenceChunker (defaults) | {count} | {seconds * 1e3:.2f} | {per_delta:.2f} | {rate:.2f} |")
    run = pysbd_run(deltas)
    if run is None:
        print("\npysbd is not installed: skipping the comparison (pip install pysbd)\n")
    else:
        pysbd_seconds, pysbd_count = best_of(pysbd_repeats, run)
        pysbd_per_delta = pysbd_seconds / len(deltas) * 1e6
        print(
            f"| pysbd (en), tail re-segmented after every delta | {pysbd_count} | {pysbd_seconds * 1e3:.1f} "
            f"| {pysbd_per_delta:.1f} | {megabytes / pysbd_seconds:.3f} |"
        )
        print(f"\n- SentenceChunker: {pysbd_seconds / seconds:.0f}x cheaper per delta than pysbd (goal: 300x)")
    print(f"- SentenceChunker: {megabytes / seconds:.2f} MB/s (goal: 3 MB/s)")

    # Creating a chunker (the proxy creates one per request, from the request's options)
    # against feeding 20 characters of the same text at the rate measured above.
    creations = 2000 if quick else 20000

    def create() -> int:
        for _ in range(creations):
            SentenceChunker(options)
        return creations

    create_seconds, _ = best_of(repeats, create)
    per_creation = create_seconds / creations * 1e6
    twenty = seconds / len(text) * 20 * 1e6
    print(
        f"- creating a chunker: {per_creation:.2f} us; feeding it 20 characters: {twenty:.2f} us "
        f"({per_creation / twenty:.2f} of it; goal: at most 1)\n"
    )

    print("### Lookahead per language (one character per delta, raw sentences, multilingual default)\n")
    print("| language | replies | sentences | within 1 non-space character | 2-4 | 5 or more |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    languages = list(dict.fromkeys(language for language, _ in replies))
    total: list[int] = []
    for language in languages:
        texts = [reply for name, reply in replies if name == language]
        non_space: list[int] = []
        for reply in texts:
            non_space += lookahead(reply)[1]
        total += non_space
        n = len(non_space)
        first = sum(1 for v in non_space if v <= 1)
        middle = sum(1 for v in non_space if 2 <= v <= 4)
        print(
            f"| {language} | {len(texts)} | {n} | {first / n:.1%} | {middle / n:.1%} | {(n - first - middle) / n:.1%} |"
        )
    first = sum(1 for v in total if v <= 1)
    print(f"| all | {len(replies)} | {len(total)} | {first / len(total):.1%} | | |\n")


def golden_section() -> None:
    """Golden-rule cases passed per language, as tests/sentences/test_golden_rules.py runs them."""
    cases = json.loads(DATA.read_text("utf-8"))
    print("## Golden rules passed (raw sentences, min 0)\n")
    languages = list(dict.fromkeys(case["lang"] for case in cases))
    print("| run | " + " | ".join(languages) + " | all |")
    print("| --- |" + " ---: |" * (len(languages) + 1))
    for label, step, multilingual in (
        ("3-character deltas, case language", 3, False),
        ("1-character deltas, case language", 1, False),
        ("4-character deltas, multilingual", 4, True),
    ):
        passed: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for case in cases:
            options = StreamOptions(
                clean_sentences=False,
                min_sentence_length=0,
                punctuation_language=None if multilingual else case["lang"],
            )
            chunker = SentenceChunker(options)
            sentences: list[str] = []
            for delta in deltas_of(case["text"], step):
                sentences += chunker.feed(delta)
            total[case["lang"]] += 1
            passed[case["lang"]] += sentences + chunker.flush() == case["expected"]
        cells = " | ".join(f"{passed[lang]}/{total[lang]}" for lang in languages)
        print(f"| {label} | {cells} | {sum(passed.values())}/{sum(total.values())} |")
    print()


def mypyc_section(quick: bool) -> None:
    """The voice-replies section twice, in child processes: the modules as they are, then the
    same modules compiled with mypyc (in a temporary copy; nothing in the tree changes)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            ROOT / "completions_core", Path(tmp) / "completions_core", ignore=shutil.ignore_patterns("__pycache__")
        )
        modules = sorted(str(p.relative_to(tmp)) for p in (Path(tmp) / "completions_core" / "sentences").glob("_*.py"))
        print(f"Compiling {len(modules)} modules of completions_core/sentences with mypyc ...", flush=True)
        subprocess.run([sys.executable, "-m", "mypyc", *modules], cwd=tmp, check=True, capture_output=True)
        for label, code_root in (("interpreted", str(ROOT)), ("compiled with mypyc", tmp)):
            print(f"\n# {label}\n", flush=True)
            child = [sys.executable, __file__, "--replies-only", *(["--quick"] if quick else [])]
            env = {**os.environ, "SENTENCES_BENCH_CODE_ROOT": code_root}
            subprocess.run(child, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small texts, few repetitions (CI smoke run)")
    parser.add_argument(
        "--mypyc",
        action="store_true",
        help="only the voice replies, interpreted and then compiled with mypyc (needs a C compiler)",
    )
    parser.add_argument("--replies-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size, repeats, pysbd_repeats = (2000, 3, 1) if args.quick else (8000, 15, 2)
    if args.mypyc:
        mypyc_section(args.quick)
        return
    if args.replies_only:
        print(f"(the scanner loaded from {sys.modules['completions_core.sentences._scanner'].__file__})\n")
        replies_section(repeats, pysbd_repeats, args.quick)
        return
    texts = build_texts(size)

    golden_section()
    replies_section(repeats, pysbd_repeats, args.quick)

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
