"""The report the A/B micro-benchmarks share (``body_send_bench.py``, ``upstream_read_bench.py``,
``prepared_request_bench.py``): each measures two ways of doing one thing in alternating rounds."""

from __future__ import annotations


def report(results: dict[str, list[float]], new: str, old: str, unit: str) -> None:
    """Print every way's best time per ``unit`` in each round, then ``new`` over ``old`` per round
    (a ratio is only taken within a round)."""
    width = max(map(len, results)) + 1
    for name, figures in results.items():
        print(f"{name:{width}} per {unit}: " + ", ".join(f"{f * 1e6:.2f}" for f in figures) + " us")
    ratios = [n / o for n, o in zip(results[new], results[old], strict=True)]
    print(f"{new} / {old} per round: " + ", ".join(f"{r:.3f}" for r in ratios))
