"""Load generator: concurrent streams against one target, timing every stream.

Targets speak one of two wire formats: ``sse`` (the OpenAI API itself: the mock called directly,
or LiteLLM's proxy) and ``ndjson`` (our proxy and the minimal baseline). For every stream it
records the time to the first content byte (first token), the time until the text holds its
first complete sentence (first sentence), and the total time.

A level has three phases. ``--ramp`` seconds in which the workers start one after the other (evenly
spaced, so that paced streams do not all receive their chunks in the same instant), ``--settle``
seconds more, then the measured window of ``--seconds``. Throughput, the latency percentiles (of
streams started in the window) and, with ``--cpu-pid``, the CPU time of that process tree come
from the window alone; streams still running when it closes finish outside it. CPU per stream is
the window's CPU over the streams' worth of content delivered in the window (content pieces
divided by the pieces of a whole stream), so that no stream is counted for a part of its cost.

``--burst`` measures something else: ``--concurrency`` fresh connections (no keep-alive, no
pool) released at the same instant, one stream each, as when a scale-up or a load balancer
reconnects. It reports the wave's time to first token (from the release, so a connection the
kernel dropped and the client re-sent counts with its retry), errors, and the deltas of the
kernel's ``TcpExt`` counters ListenOverflows and ListenDrops over the wave (machine-wide: any
other process's listen queue overflowing at the same time counts too).

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
from pathlib import Path
from typing import Any, Optional

import aiohttp

CLK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    pids = [pid]
    for child_dir in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child_dir / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            pids.extend(tree(int(child_dir.name)))
    return pids


def cpu0_busy_seconds() -> float:
    """Busy time of CPU 0 (where the bench pins the server under test), every process counted."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("cpu0 "):
                fields = [int(x) for x in line.split()[1:]]
                return (sum(fields[:8]) - fields[3] - fields[4]) / CLK  # all but idle and iowait
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int, pids: Optional[list[int]] = None) -> float:
    """utime+stime of ``pid``'s process tree (``pids`` when already known: a /proc walk is slow)."""
    total = 0
    for p in pids if pids is not None else tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def tcp_ext(*names: str) -> dict[str, int]:
    """The kernel's ``TcpExt`` counters named (all when none), from /proc/net/netstat (0 if absent)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return {name: 0 for name in names}
    for keys, values in zip(lines[::2], lines[1::2], strict=False):
        if keys.startswith("TcpExt:"):
            table = {k: int(v) for k, v in zip(keys.split()[1:], values.split()[1:], strict=True)}
            return {name: table.get(name, 0) for name in names} if names else table
    return {name: 0 for name in names}


@dataclass
class Sample:
    ttft: float
    first_sentence: float
    total: float
    started: float = 0.0  # perf_counter() when the request went out
    pieces: int = 0  # content pieces (deltas or sentences) the stream carried


@dataclass
class Window:
    """The measured part of a level: content pieces are counted while it is open."""

    open: bool = False
    start: float = 0.0
    end: float = float("inf")
    pieces: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds over the window, per process


@dataclass
class LevelResult:
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    window: Window = field(default_factory=Window)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> Optional[float]:
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        window = self.window
        seconds = window.end - window.start
        inside = [s for s in self.samples if window.start <= s.started < window.end] or self.samples
        per_stream = sum(s.pieces for s in self.samples) / len(self.samples) if self.samples else 0.0
        streams = window.pieces / per_stream if per_stream else 0.0  # streams' worth of content in the window
        ttft = [s.ttft for s in inside]
        sentence = [s.first_sentence for s in inside]
        out: dict[str, Any] = {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "throughput_rps": streams / seconds if seconds > 0 else 0.0,
            "ttft_p50_ms": pct(ttft, 0.5),
            "ttft_p99_ms": pct(ttft, 0.99),
            "first_sentence_p50_ms": pct(sentence, 0.5),
            "first_sentence_p99_ms": pct(sentence, 0.99),
            "total_p50_ms": pct([s.total for s in inside], 0.5),
            "error_examples": self.error_examples[:3],
            "window_seconds": round(seconds, 3),
            "window_streams": round(streams, 1),
            "latency_samples": len(inside),
        }
        for name, cpu in window.cpu.items():
            # The target's CPU per stream; the load generator's and the mock's share of their core;
            # what else ran on the target's core (other processes of the machine, idle peers).
            if name == "target":
                out["cpu_ms_per_stream"] = round(cpu * 1000 / streams, 3) if streams else None
            elif name == "cpu0":
                out["cpu0_others_util"] = round(max(0.0, cpu - window.cpu.get("target", 0.0)) / seconds, 3) \
                    if seconds > 0 else None
            else:
                out[f"{name}_cpu_util"] = round(cpu / seconds, 3) if seconds > 0 else None
        return out


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
                     headers: dict[str, str], window: Optional[Window] = None) -> Sample:
    window = window if window is not None else Window(open=True)
    pieces = 0
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
                pieces += 1
                if window.open:
                    window.pieces += 1
                now = time.perf_counter() - start
                if ttft is None:
                    ttft = now
                text += piece
                if sentence is None and "." in text:
                    sentence = now
    total = time.perf_counter() - start
    if ttft is None:
        raise RuntimeError("stream without content")
    return Sample(ttft=ttft, first_sentence=sentence if sentence is not None else total, total=total, started=start,
                  pieces=pieces)


async def run_level(url: str, fmt: str, concurrency: int, seconds: float, *, token: str = "", model: str = "gpt-mock",
                    sentences: bool = False, max_requests: Optional[int] = None,
                    extra_headers: Optional[dict[str, str]] = None, provider: str = "openai",
                    ramp: float = 0.0, settle: float = 0.0, cpu_pids: Optional[dict[str, int]] = None) -> LevelResult:
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(_body(fmt, model, sentences, provider)).encode()
    result = LevelResult(concurrency=concurrency)
    window = result.window
    trees = {name: tree(pid) for name, pid in (cpu_pids or {}).items()}

    def cpu_now() -> dict[str, float]:
        now = {name: cpu_seconds(0, pids) for name, pids in trees.items()}
        now["loadgen"] = time.process_time()
        now["cpu0"] = cpu0_busy_seconds()
        return now

    began = time.perf_counter()
    opens, deadline = began + ramp + settle, began + ramp + settle + seconds
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker(index: int) -> None:
            await asyncio.sleep(ramp * index / concurrency)
            while time.perf_counter() < deadline:
                if max_requests is not None and result.requests + result.errors >= max_requests:
                    return
                try:
                    result.samples.append(await one_stream(session, url, fmt, payload, headers, window))
                    result.requests += 1
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    result.errors += 1
                    if len(result.error_examples) < 5:
                        result.error_examples.append(f"{type(exc).__name__}: {exc}"[:300])

        async def measure() -> None:
            # The window opens and closes in this task, between two reads of the CPU counters, so
            # the pieces it counts and the CPU it reads cover the same instants.
            await asyncio.sleep(max(0.0, opens - time.perf_counter()))
            before = cpu_now()
            window.open, window.start = True, time.perf_counter()
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
            window.open, window.end = False, time.perf_counter()
            after = cpu_now()
            window.cpu = {name: after[name] - before[name] for name in after}

        await asyncio.gather(measure(), *(worker(i) for i in range(concurrency)))
        result.seconds = time.perf_counter() - began
    return result


async def run_burst(url: str, fmt: str, streams: int, *, token: str = "", model: str = "gpt-mock",
                    sentences: bool = False, extra_headers: Optional[dict[str, str]] = None,
                    provider: str = "openai", cpu_pid: Optional[int] = None) -> dict[str, Any]:
    """``streams`` fresh connections released at one instant, one stream each: the wave's figures
    (with ``cpu_pid``, that process tree's CPU over the wave and what else ran on CPU 0)."""
    pids = tree(cpu_pid) if cpu_pid else []
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(_body(fmt, model, sentences, provider)).encode()
    gate = asyncio.Event()
    samples: list[Sample] = []
    errors: list[str] = []
    # force_close: every stream on its own new connection, none kept for another.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one() -> None:
            await gate.wait()
            try:
                samples.append(await one_stream(session, url, fmt, payload, headers))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:300])

        tasks = [asyncio.create_task(one()) for _ in range(streams)]
        await asyncio.sleep(0.05)  # every task waits at the gate
        counters = ("ListenOverflows", "ListenDrops")
        before = tcp_ext(*counters)
        cpu_before, cpu0_before = cpu_seconds(0, pids), cpu0_busy_seconds()
        released = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        ended = time.perf_counter()
        cpu, cpu0 = cpu_seconds(0, pids) - cpu_before, cpu0_busy_seconds() - cpu0_before
        await asyncio.sleep(0.05)  # a late drop of this wave still lands in the count
        after = tcp_ext(*counters)

    def pct(values: list[float], q: float) -> Optional[float]:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) if ordered else None

    # From the release, not from each request's own start: the load generator's own delay in
    # sending the wave (``release_spread_ms``) and a SYN the kernel dropped are both in the figure.
    ttft = [s.started + s.ttft - released for s in samples]
    return {
        "burst": streams, "concurrency": streams, "requests": len(samples), "errors": len(errors),
        "ttft_p50_ms": pct(ttft, 0.5), "ttft_p99_ms": pct(ttft, 0.99), "ttft_max_ms": pct(ttft, 1.0),
        "total_max_ms": round((ended - released) * 1000, 1),
        "release_spread_ms": round((max(s.started for s in samples) - released) * 1000, 2) if samples else None,
        "listen_overflows": after["ListenOverflows"] - before["ListenOverflows"],
        "listen_drops": after["ListenDrops"] - before["ListenDrops"],
        "cpu_ms_per_stream": round(cpu * 1000 / len(samples), 3) if pids and samples else None,
        "cpu0_others_util": round(max(0.0, cpu0 - cpu) / (ended - released), 3) if pids else None,
        "error_examples": errors[:3],
    }


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
    parser.add_argument("--ramp", type=float, default=0.0, help="start the workers evenly over this many seconds")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds between the ramp and the measured window")
    parser.add_argument("--cpu-pid", type=int, help="report this process tree's CPU per stream over the window")
    parser.add_argument("--mock-pid", type=int, help="report this process tree's CPU share over the window")
    parser.add_argument("--burst", action="store_true",
                        help="one wave: --concurrency fresh connections at the same instant, one stream each")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                        help="this process's event loop (bench/run.py --harness-loop)")
    args = parser.parse_args()
    run: Any = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    extra_headers = dict(h.split(":", 1) for h in args.header)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.burst:
        print(json.dumps(run(run_burst(args.url, args.format, args.concurrency, token=args.token,
                                       model=args.model, sentences=args.sentences,
                                       extra_headers=extra_headers, provider=args.provider,
                                       cpu_pid=args.cpu_pid))))
        return
    result = run(run_level(args.url, args.format, args.concurrency, args.seconds, token=args.token,
                           model=args.model, sentences=args.sentences, max_requests=args.max_requests,
                           extra_headers=extra_headers, provider=args.provider, ramp=args.ramp,
                           settle=args.settle, cpu_pids={name: pid for name, pid in (
                               ("target", args.cpu_pid), ("mock", args.mock_pid)) if pid}))
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    main()
