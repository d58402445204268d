"""Per-chunk cost of the OpenAI streaming path: the SDK's pydantic chunks versus raw SSE + orjson.

Both paths turn the same recorded SSE lines into our normalized events. The SDK path builds a
``ChatCompletionChunk`` per line the way ``AsyncStream`` does (``construct_type``), then maps it;
the raw path parses the line with orjson and maps the dict. Reported as microseconds per chunk
and as a ratio, measured in one run.

    python bench/openai_parse_bench.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from completions_openai.response import StreamTranslator
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk

from completions_core.jsonutil import loads
from completions_core.testing.cassettes import load_cassette

CASSETTES = Path(__file__).resolve().parents[1] / "providers" / "openai" / "tests" / "cassettes"


def _lines() -> list[str]:
    lines = []
    for name in ("chat_stream_text.yaml", "chat_stream_tool_calls.yaml", "chat_stream_tool_then_text.yaml"):
        for interaction in load_cassette(CASSETTES / name).interactions:
            for line in interaction.response.body.splitlines():
                if line.startswith("data: ") and "[DONE]" not in line:
                    lines.append(line[6:])
    return lines


def _sdk(lines: list[str]) -> None:
    # Only what the SDK itself does per chunk (json + model construction): a lower bound of the
    # old path, which then also mapped the model's attributes.
    for line in lines:
        construct_type(type_=ChatCompletionChunk, value=json.loads(line))


def _raw(lines: list[str]) -> None:
    translator = StreamTranslator()
    for line in lines:
        translator.feed(loads(line))


def _time(fn: Any, lines: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            fn(lines)
        best = min(best, time.process_time() - start)
    return best / (rounds * len(lines)) * 1e6


def main() -> None:
    lines = _lines()
    sdk = _time(_sdk, lines, 200)
    raw = _time(_raw, lines, 200)
    print(f"{len(lines)} recorded chunks")
    print(f"SDK parse to ChatCompletionChunk (no mapping): {sdk:6.2f} us per chunk")
    print(f"raw line -> orjson -> our events (mapping included): {raw:6.2f} us per chunk")
    print(f"ratio: {sdk / raw:.1f}x cheaper")


if __name__ == "__main__":
    main()
