"""Outages and overload, in one run: what a caller hears with the breaker, the retry budget and admission control.

Against loopback upstreams with injected faults (this process, pinned to CPU 1, also runs the
load), the proxy under test on hypercorn, pinned to CPU 0, restarted for every configuration:

- **outage**: the primary (Anthropic-shaped, its own upstream) (a) refuses connections, (b)
  answers 503, (c) hangs before the headers, for ``--outage`` seconds; the fallback
  (OpenAI-shaped, another upstream) stays healthy; ``--streams`` concurrent streams all along.
  Time to first chunk p50/p99 before, during and after the outage, with the breaker on and off,
  next to the fallback's own figure measured in the same run; how long after the primary heals
  it answers again; every stream must complete or end with an explicit error.
- **retry storm**: the primary answers 503 to everything, no fallback, every caller sets
  ``retry`` (3 retries): upstream calls per caller request, retry budget on and off.
- **overload**: twice the streams the worker admits (``COMPLETIONS_MAX_INFLIGHT``): admitted
  streams' p99 time to first chunk against the unloaded figure, how fast the rest get a 503;
  and the same load without the limit.

    python bench/outage.py                         # the full run (60 s outages: about 15 minutes)
    python bench/outage.py --outage 10 --quick     # a short version
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mock_upstream import make_app  # noqa: E402
from run import free_port, pinned, start, stop, wait_http  # noqa: E402

PY = sys.executable
COOLDOWN = 5.0
FIRST_TOKEN_TIMEOUT = 1.0


# -- the upstreams ----------------------------------------------------------------------------


class Primary:
    """The primary's upstream: the mock, with a fault switch (ok, refuse, 503, hang) and a call counter."""

    def __init__(self, port: int, ttft_ms: float, tokens: int) -> None:
        self.port = port
        self.mode = "ok"
        self.calls = 0
        self.app = make_app(ttft_ms=ttft_ms, tokens=tokens)
        self.app.middlewares.append(self._fault)
        self.runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        self.site: Optional[web.TCPSite] = None

    @web.middleware
    async def _fault(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls += 1
        if self.mode == "refuse":  # a connection kept alive from before: reset it (new ones are refused)
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=503)
        if self.mode == "503":
            return web.json_response(
                {"type": "error", "error": {"type": "overloaded_error", "message": "injected outage"}}, status=503
            )
        if self.mode == "hang":
            await asyncio.sleep(3600)
        response: web.StreamResponse = await handler(request)
        return response

    async def start(self) -> None:
        await self.runner.setup()
        await self.listen()

    async def listen(self) -> None:
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()

    async def set(self, mode: str) -> None:
        if mode == "refuse" and self.site is not None:
            await self.site.stop()
            self.site = None
        if mode != "refuse" and self.site is None:
            await self.listen()
        self.mode = mode

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve_fallback(port: int, ttft_ms: float, tokens: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(ttft_ms=ttft_ms, tokens=tokens), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


# -- the proxy --------------------------------------------------------------------------------


class Proxy:
    def __init__(self, primary_port: int, fallback_port: int, env: dict[str, str]) -> None:
        self.port, self.token = free_port(), secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = start(
            pinned(0, [PY, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]),
            {
                "COMPLETIONS_PROXY_TOKENS": self.token, "COMPLETIONS_PLUGINS": "openai,anthropic",
                "OPENAI_API_KEY": "sk-bench", "ANTHROPIC_API_KEY": "sk-ant-bench",
                "COMPLETIONS_OPENAI_BASE_URL": f"http://127.0.0.1:{fallback_port}/v1",
                "COMPLETIONS_ANTHROPIC_BASE_URL": f"http://127.0.0.1:{primary_port}",
                "COMPLETIONS_LOG_FORMAT": "json", "COMPLETIONS_BREAKER_COOLDOWN": str(COOLDOWN), **env,
            },
        )

    async def ready(self) -> None:
        await asyncio.to_thread(wait_http, self.url + "/healthz", 60)

    def close(self) -> None:
        stop(self.process)


# -- the callers ------------------------------------------------------------------------------


@dataclass
class Call:
    started: float
    status: int = 0
    ttft: Optional[float] = None
    total: float = 0.0
    provider: Optional[str] = None
    ending: str = "none"  # response | error | http_error | lost
    attempts: int = 0
    error: str = ""


def body(primary: bool = True, fallback: bool = True, retry: Optional[dict[str, Any]] = None,
         itl: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "provider": "anthropic" if primary else "openai",
        "model": "claude-mock" if primary else "gpt-mock",
        "stream": True, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Tell me something."}],
        "credentials": {"anthropic": {"voicerun_managed": True}, "openai": {"voicerun_managed": True}},
    }
    if primary and fallback:
        out["fallbacks"] = [{"provider": "openai", "model": "gpt-mock"}]
    if retry is not None:
        out["retry"] = retry
    if itl:
        out["model"] = "gpt-mock-slow"  # the mock spaces its tokens 20 ms apart: streams that stay open
    return out


async def call(session: aiohttp.ClientSession, proxy: Proxy, payload: bytes, clock0: float) -> Call:
    started = time.perf_counter()
    result = Call(started=started - clock0)
    headers = {"Authorization": f"Bearer {proxy.token}", "Content-Type": "application/json"}
    try:
        async with session.post(proxy.url + "/v1/completions", data=payload, headers=headers) as resp:
            result.status = resp.status
            result.attempts = len(json.loads(resp.headers.get("X-Completions-Attempts", "[]")))
            if resp.status != 200:
                answer = (await resp.read())[:200]
                result.error = f"{resp.status} {answer!r} {resp.headers.get('X-Completions-Attempts')}"
                result.ending = "http_error"
                return result
            async for raw in resp.content:
                line = raw.strip()
                if not line:
                    continue
                record = json.loads(line)
                if result.ttft is None and record.get("type") in ("content_delta", "content_sentence"):
                    result.ttft = time.perf_counter() - started
                if record.get("type") == "response":
                    result.ending, result.provider = "response", record["response"]["provider"]
                elif record.get("type") == "error":
                    result.ending, result.error = "error", str(record)[:300]
            if result.ending == "none":
                result.ending = "lost"
    except aiohttp.ClientError as exc:
        result.ending, result.error = "lost", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        result.total = time.perf_counter() - started
    return result


async def load(proxy: Proxy, payload: bytes, streams: int, seconds: float, clock0: float,
               pause_after_reject: float = 0.0) -> list[Call]:
    calls: list[Call] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                result = await call(session, proxy, payload, clock0)
                calls.append(result)
                if result.status == 503 and pause_after_reject:
                    await asyncio.sleep(pause_after_reject)  # a refused caller goes elsewhere; a new one comes
        await asyncio.gather(*(worker() for _ in range(streams)))
    return calls


def pct(values: list[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def summary(calls: list[Call]) -> dict[str, Any]:
    ttft = [c.ttft for c in calls if c.ttft is not None]
    endings: dict[str, int] = {}
    for c in calls:
        endings[c.ending] = endings.get(c.ending, 0) + 1
    errors = [c.error for c in calls if c.error][:3]
    return {"requests": len(calls), "ttft_p50_ms": pct(ttft, 0.5), "ttft_p99_ms": pct(ttft, 0.99), "endings": endings,
            "error_examples": errors}


# -- the scenarios ----------------------------------------------------------------------------


@dataclass
class Setup:
    primary: Primary
    fallback_port: int
    streams: int
    results: dict[str, Any] = field(default_factory=dict)


async def outage(setup: Setup, fault: str, breaker: bool, before: float, during: float, after: float) -> dict[str, Any]:
    env = {"COMPLETIONS_FIRST_TOKEN_TIMEOUT": str(FIRST_TOKEN_TIMEOUT)}
    if not breaker:
        env["COMPLETIONS_BREAKER_FAILURES"] = "0"
    await setup.primary.set("ok")
    proxy = Proxy(setup.primary.port, setup.fallback_port, env)
    try:
        await proxy.ready()
        await load(proxy, json.dumps(body()).encode(), 4, 1.0, time.perf_counter())  # warm up both clients
        own = await load(proxy, json.dumps(body(primary=False)).encode(), setup.streams, before, time.perf_counter())
        clock0 = time.perf_counter()

        async def script() -> tuple[float, float]:
            await asyncio.sleep(before)
            await setup.primary.set(fault)
            fault_at = time.perf_counter() - clock0
            await asyncio.sleep(during)
            await setup.primary.set("ok")
            return fault_at, time.perf_counter() - clock0

        (fault_at, healed_at), calls = await asyncio.gather(
            script(), load(proxy, json.dumps(body()).encode(), setup.streams, before + during + after, clock0)
        )
    finally:
        proxy.close()
    phases = {
        "before": [c for c in calls if c.started < fault_at],
        "during": [c for c in calls if fault_at <= c.started < healed_at],
        # Once the breaker has opened: skip the first cool-down's worth of the outage.
        "during_settled": [c for c in calls if fault_at + COOLDOWN <= c.started < healed_at],
        "after": [c for c in calls if c.started >= healed_at + COOLDOWN],
    }
    back = [c.started for c in calls if c.started >= healed_at and c.provider == "anthropic"]
    row: dict[str, Any] = {
        "fault": fault, "breaker": breaker, "fallback_own": summary(own),
        **{name: summary(group) for name, group in phases.items()},
        "recovered_after_s": round(min(back) - healed_at, 2) if back else None,
        "lost": sum(1 for c in calls if c.ending == "lost"),
    }
    print(f"  {fault:>7} breaker {'on ' if breaker else 'off'}: "
          f"fallback own p99 {row['fallback_own']['ttft_p99_ms']} ms"
          f" | before p50/p99 {row['before']['ttft_p50_ms']}/{row['before']['ttft_p99_ms']}"
          f" | during {row['during']['ttft_p50_ms']}/{row['during']['ttft_p99_ms']}"
          f" (settled {row['during_settled']['ttft_p50_ms']}/{row['during_settled']['ttft_p99_ms']})"
          f" | after {row['after']['ttft_p50_ms']}/{row['after']['ttft_p99_ms']}"
          f" | primary back after {row['recovered_after_s']} s | lost {row['lost']}", flush=True)
    return row


async def storm(setup: Setup, budget: bool, seconds: float, callers: int) -> dict[str, Any]:
    env = {} if budget else {"COMPLETIONS_RETRY_BUDGET_RATIO": "off"}
    await setup.primary.set("ok")
    proxy = Proxy(setup.primary.port, setup.fallback_port, env)
    try:
        await proxy.ready()
        await load(proxy, json.dumps(body(fallback=False)).encode(), 4, 1.0, time.perf_counter())
        await setup.primary.set("503")
        before = setup.primary.calls
        retry = {"max_retries": 3, "retry_delay": 0.05, "backoff_multiplier": 2.0}
        calls = await load(proxy, json.dumps(body(fallback=False, retry=retry)).encode(), callers, seconds,
                           time.perf_counter())
        upstream = setup.primary.calls - before
    finally:
        proxy.close()
        await setup.primary.set("ok")
    row = {"budget": budget, "caller_requests": len(calls), "upstream_calls": upstream,
           "calls_per_request": round(upstream / len(calls), 3) if calls else None,
           "http_errors": sum(1 for c in calls if c.ending == "http_error")}
    print(f"  retry storm, budget {'on ' if budget else 'off'}: {row['caller_requests']} requests, "
          f"{upstream} upstream calls ({row['calls_per_request']} per request)", flush=True)
    return row


async def capacity(setup: Setup, seconds: float, unloaded_p99: float) -> tuple[int, list[dict[str, Any]]]:
    """The most concurrent streams the worker serves with p99 time to first chunk within 2x the unloaded figure."""
    payload = json.dumps(body(primary=False, itl=True)).encode()
    proxy = Proxy(setup.primary.port, setup.fallback_port, {"COMPLETIONS_MAX_INFLIGHT": "0"})
    served, ramp = 4, []
    try:
        await proxy.ready()
        await load(proxy, payload, 4, 1.0, time.perf_counter())
        for level in (8, 16, 32, 64, 128, 256, 512):
            calls = await load(proxy, payload, level, seconds, time.perf_counter())
            row = {"streams": level, **summary(calls)}
            ramp.append(row)
            print(f"  capacity ramp: {level} streams, p99 {row['ttft_p99_ms']} ms", flush=True)
            if row["ttft_p99_ms"] is None or row["ttft_p99_ms"] > 2 * unloaded_p99 or row["endings"].get("lost"):
                break
            served = level
    finally:
        proxy.close()
    return served, ramp


async def overload(setup: Setup, limit: int, seconds: float) -> dict[str, Any]:
    """Twice the streams the worker serves: with admission control (limit) and without."""
    payload = json.dumps(body(primary=False, itl=True)).encode()

    probes: list[float] = []

    async def probe(proxy: Proxy, until: float) -> None:
        # The event loop's own delay under the same load: GET /healthz, which does no work either.
        async with aiohttp.ClientSession() as session:
            while time.perf_counter() < until:
                started = time.perf_counter()
                async with session.get(proxy.url + "/healthz") as resp:
                    await resp.read()
                probes.append(time.perf_counter() - started)
                await asyncio.sleep(0.1)

    async def run(cap: int, streams: int) -> list[Call]:
        proxy = Proxy(setup.primary.port, setup.fallback_port, {"COMPLETIONS_MAX_INFLIGHT": str(cap)})
        probes.clear()
        try:
            await proxy.ready()
            await load(proxy, payload, 4, 1.0, time.perf_counter())
            # A refused caller honours Retry-After (1 s) or goes to another replica.
            calls, _ = await asyncio.gather(
                load(proxy, payload, streams, seconds, time.perf_counter(), pause_after_reject=1.0),
                probe(proxy, time.perf_counter() + seconds),
            )
            return calls
        finally:
            proxy.close()

    unloaded = summary(await run(0, 4))
    unloaded["healthz_p50_ms"] = pct(probes, 0.5)
    print(f"  overload: unloaded (4 streams) p50/p99 {unloaded['ttft_p50_ms']}/{unloaded['ttft_p99_ms']} ms",
          flush=True)
    ramp: list[dict[str, Any]] = []
    if not limit:
        limit, ramp = await capacity(setup, min(seconds, 4.0), unloaded["ttft_p99_ms"] or 1.0)
    rows: dict[str, Any] = {"limit": limit, "load": 2 * limit, "unloaded": unloaded, "ramp": ramp}
    for name, cap in (("admission_on", limit), ("admission_off", 0)):
        calls = await run(cap, 2 * limit)
        admitted = [c for c in calls if c.status == 200]
        rejected = [c.total for c in calls if c.status == 503]
        rows[name] = {**summary(admitted), "rejected": len(rejected), "rejected_p50_ms": pct(rejected, 0.5),
                      "rejected_p99_ms": pct(rejected, 0.99), "healthz_p50_ms": pct(probes, 0.5),
                      "healthz_p99_ms": pct(probes, 0.99),
                      "other": sum(1 for c in calls if c.status not in (200, 503))}
        print(f"  overload {name:>13} ({2 * limit} streams, limit {cap or 'none'}): admitted p50/p99 "
              f"{rows[name]['ttft_p50_ms']}/{rows[name]['ttft_p99_ms']} ms, {len(admitted)} admitted, "
              f"{len(rejected)} refused (p50/p99 {rows[name]['rejected_p50_ms']}/{rows[name]['rejected_p99_ms']} ms; "
              f"/healthz meanwhile {rows[name]['healthz_p50_ms']}/{rows[name]['healthz_p99_ms']} ms)",
              flush=True)
    return rows


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    primary = Primary(free_port(), args.ttft_ms, args.tokens)
    await primary.start()
    fallback_port = free_port()
    fallback = await serve_fallback(fallback_port, args.ttft_ms, args.tokens)
    setup = Setup(primary, fallback_port, args.streams)
    results: dict[str, Any] = {"outage_s": args.outage, "streams": args.streams, "upstream_ttft_ms": args.ttft_ms,
                               "tokens": args.tokens, "cooldown_s": COOLDOWN,
                               "first_token_timeout_s": FIRST_TOKEN_TIMEOUT, "outages": [], "storm": []}
    try:
        only = set(args.only.split(","))
        if "outage" in only:
            print(f"outage ({args.outage:g} s, {args.streams} concurrent streams)", flush=True)
            for fault in args.faults.split(","):
                for breaker in (True, False):
                    results["outages"].append(
                        await outage(setup, fault, breaker, args.before, args.outage, args.after)
                    )
        if "storm" in only:
            print("retry storm", flush=True)
            for budget in (True, False):
                results["storm"].append(await storm(setup, budget, args.storm_seconds, args.callers))
        if "overload" in only:
            print("overload", flush=True)
            results["overload"] = await overload(setup, args.limit, args.overload_seconds)
    finally:
        await primary.close()
        await fallback.cleanup()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds of each outage")
    parser.add_argument("--before", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=15.0)
    parser.add_argument("--faults", default="refuse,503,hang")
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--ttft-ms", type=float, default=50.0, help="the upstreams' own time to first token")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0,
                        help="COMPLETIONS_MAX_INFLIGHT in the overload scenario (0: what the worker serves, measured)")
    parser.add_argument("--overload-seconds", type=float, default=10.0)
    parser.add_argument("--only", default="outage,storm,overload", help="scenarios to run (comma list)")
    parser.add_argument("--quick", action="store_true", help="short phases (smoke run)")
    parser.add_argument("--output", default=str(HERE / "results" / "outage.json"))
    args = parser.parse_args()
    if args.quick:
        args.before, args.after, args.storm_seconds, args.overload_seconds = 4.0, 8.0, 4.0, 4.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # the proxy has CPU 0
    results = asyncio.run(main_async(args))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
