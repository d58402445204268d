"""Load generator: concurrent streams against one target, timing every stream.

Targets speak one of two wire formats: ``sse`` (the OpenAI API itself: the mock called directly,
or LiteLLM's proxy) and ``ndjson`` (our proxy and the minimal baseline). For every stream it
records the time to the first content byte (first token), the time until the text holds its
first complete sentence (first sentence), and the total time.

    python bench/loadgen.py --url http://127.0.0.1:8080/v1/completions --format ndjson \
        --concurrency 16 --seconds 4 --token TOKEN
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import aiohttp


@dataclass
class Sample:
    ttft: float
    first_sentence: float
    total: float


@dataclass
class LevelResult:
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> Optional[float]:
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        ttft = [s.ttft for s in self.samples]
        sentence = [s.first_sentence for s in self.samples]
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "throughput_rps": self.requests / self.seconds if self.seconds else 0.0,
            "ttft_p50_ms": pct(ttft, 0.5),
            "ttft_p99_ms": pct(ttft, 0.99),
            "first_sentence_p50_ms": pct(sentence, 0.5),
            "first_sentence_p99_ms": pct(sentence, 0.99),
            "total_p50_ms": pct([s.total for s in self.samples], 0.5),
            "error_examples": self.error_examples[:3],
        }


def _body(fmt: str, model: str, sentences: bool, provider: str = "openai") -> dict[str, Any]:
    messages = [{"role": "user", "content": "Tell me something."}]
    if fmt == "sse":
        return {"model": model, "messages": messages, "stream": True}
    body: dict[str, Any] = {"provider": provider, "model": model, "messages": messages, "stream": True,
                            "credentials": {provider: {"voicerun_managed": True}}}
    if sentences:
        body["stream_options"] = {"chunk_by_sentence": True}
    return body


async def one_stream(session: aiohttp.ClientSession, url: str, fmt: str, payload: bytes,
                     headers: dict[str, str]) -> Sample:
    start = time.perf_counter()
    ttft: Optional[float] = None
    sentence: Optional[float] = None
    text = ""
    async with session.post(url, data=payload, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
        async for raw in resp.content:
            line = raw.strip()
            if not line:
                continue
            piece = ""
            if fmt == "sse":
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices", []):
                    piece += choice.get("delta", {}).get("content") or ""
            else:
                record = json.loads(line)
                kind = record.get("type")
                if kind == "error":
                    raise RuntimeError(f"error record: {record}")
                if kind == "content_delta":
                    piece = record["delta"]
                elif kind == "content_sentence":
                    piece = record["sentence"] + " "
                    if sentence is None:
                        sentence = time.perf_counter() - start
            if piece:
                now = time.perf_counter() - start
                if ttft is None:
                    ttft = now
                text += piece
                if sentence is None and "." in text:
                    sentence = now
    total = time.perf_counter() - start
    if ttft is None:
        raise RuntimeError("stream without content")
    return Sample(ttft=ttft, first_sentence=sentence if sentence is not None else total, total=total)


async def run_level(url: str, fmt: str, concurrency: int, seconds: float, *, token: str = "", model: str = "gpt-mock",
                    sentences: bool = False, max_requests: Optional[int] = None,
                    extra_headers: Optional[dict[str, str]] = None, provider: str = "openai") -> LevelResult:
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(_body(fmt, model, sentences, provider)).encode()
    result = LevelResult(concurrency=concurrency)
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                if max_requests is not None and result.requests + result.errors >= max_requests:
                    return
                try:
                    result.samples.append(await one_stream(session, url, fmt, payload, headers))
                    result.requests += 1
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    result.errors += 1
                    if len(result.error_examples) < 5:
                        result.error_examples.append(f"{type(exc).__name__}: {exc}"[:300])
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--format", choices=["sse", "ndjson"], required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--max-requests", type=int)
    parser.add_argument("--token", default="")
    parser.add_argument("--model", default="gpt-mock")
    parser.add_argument("--sentences", action="store_true")
    parser.add_argument("--provider", default="openai", help="the proxy's provider for the ndjson format")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument("--header", action="append", default=[], help="NAME:VALUE, sent with every request")
    args = parser.parse_args()
    extra_headers = dict(h.split(":", 1) for h in args.header)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    result = asyncio.run(run_level(args.url, args.format, args.concurrency, args.seconds, token=args.token,
                                   model=args.model, sentences=args.sentences, max_requests=args.max_requests,
                                   extra_headers=extra_headers, provider=args.provider))
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    main()
