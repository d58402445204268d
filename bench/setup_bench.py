"""A micro-benchmark of one request's set-up: from its arrival at the app to the upstream request
being written, and on to the first chunk written back (bench/README.md, "Burst set-up
(2026-12-07)").

The proxy (``create_app`` with the OpenAI plugin, as ``bench/run.py`` starts it) and the minimal
re-encoder (``bench/baseline_app.py``) are driven over ASGI in this process, one request at a
time, the whole body in one ``http.request`` message; the mock (``mock_upstream.py``, 2 tokens)
runs in a child process, so its CPU is not counted. Per request, this process's CPU time:

- ``to_upstream``: from the app's call to the first write on a socket (the upstream request: the
  app's own client side is the only socket here);
- ``to_first``: from the app's call to the first non-empty ``http.response.body``;
- ``whole``: the whole request, the stream's end included;

and the event-loop work in between: ``steps`` (callbacks the loop runs: task steps, I/O
callbacks, timers) and ``iterations`` (passes of the loop, each one ``select``), to the upstream
write and to the first chunk. Medians over ``--requests``, in alternating rounds.

    python bench/setup_bench.py --rounds 4 --requests 400

``--httpx2-send`` sends the prepared post through httpx2's ``AsyncClient.send`` (the path before
the direct route to the aiohttp session, bench/README.md "Upstream exchange"), for an A/B in one tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from asyncio import events
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
BODY = (b'{"provider": "openai", "model": "gpt-mock", "stream": true, '
        b'"messages": [{"role": "user", "content": "Tell me something."}], '
        b'"credentials": {"openai": {"voicerun_managed": true}}}')  # loadgen.py's body


class Probe:
    """Counts the loop's callbacks and passes, and notes the CPU time of marked moments."""

    def __init__(self) -> None:
        self.steps = 0
        self.iterations = 0
        self.marks: dict[str, tuple[float, int, int]] = {}

    def mark(self, name: str) -> None:
        if name not in self.marks:
            self.marks[name] = (time.process_time(), self.steps, self.iterations)

    def install(self) -> None:
        probe = self
        handle_run = events.Handle._run
        run_once = asyncio.BaseEventLoop._run_once  # type: ignore[attr-defined]
        from asyncio.selector_events import _SelectorSocketTransport  # type: ignore[attr-defined]

        write = _SelectorSocketTransport.write

        def counted_run(self: Any) -> None:
            probe.steps += 1
            handle_run(self)

        def counted_once(self: Any) -> None:
            probe.iterations += 1
            run_once(self)

        def marked_write(self: Any, data: Any) -> None:
            probe.mark("upstream")
            write(self, data)

        events.Handle._run = counted_run  # type: ignore[method-assign]
        asyncio.BaseEventLoop._run_once = counted_once  # type: ignore[attr-defined]
        _SelectorSocketTransport.write = marked_write


#: The proxy's stages, in the order a request passes their marks (``start``: the app is called).
STAGES = (
    ("start", "route", "Starlette's stack, admission and the turn (token check, request id)"),
    ("route", "json", "reading the body and its JSON"),
    ("json", "parsed", "parse_request"),
    ("parsed", "response", "the record of what was asked, the plan and the response"),
    ("response", "adapter", "the response start, engine and attempt up to the adapter's request building"),
    ("adapter", "post", "the adapter's request building, up to the prepared post"),
    ("post", "upstream", "the prepared post, httpx2 and aiohttp up to the write (not the proxy's own)"),
    ("upstream", "first", "from the upstream write to the first chunk written back"),
    ("first", "emit", "the rest of the stream, up to its telemetry"),
    ("emit", "emitted", "telemetry: the record, the log line, the metrics"),
    ("emitted", "end", "after telemetry, to the app's return"),
)


def wrap_marks(probe: Probe, owner: Any, name: str, before: Optional[str], after: Optional[str] = None) -> None:
    """Replace ``owner.name`` (a function or coroutine function) with one that marks ``before`` on
    the probe when it is called and ``after`` when it returns."""
    import functools

    inner = getattr(owner, name)
    if asyncio.iscoroutinefunction(inner):

        @functools.wraps(inner)
        async def marked_async(*args: Any, **kwargs: Any) -> Any:
            if before:
                probe.mark(before)
            out = await inner(*args, **kwargs)
            if after:
                probe.mark(after)
            return out

        setattr(owner, name, marked_async)
        return

    @functools.wraps(inner)
    def marked(*args: Any, **kwargs: Any) -> Any:
        if before:
            probe.mark(before)
        out = inner(*args, **kwargs)
        if after:
            probe.mark(after)
        return out

    setattr(owner, name, marked)


def mark_stages(probe: Probe) -> None:
    """Wrap the proxy's functions at its stages' edges so that each marks the probe (see STAGES)."""

    from completions_openai import adapter as openai_adapter

    from completions_core import prepared
    from completions_proxy import routes, telemetry

    def around(owner: Any, name: str, before: Optional[str], after: Optional[str]) -> None:
        wrap_marks(probe, owner, name, before, after)

    around(routes, "read_json", "route", "json")
    around(routes, "parse_request", None, "parsed")
    around(routes, "stream_response", None, "response")
    around(openai_adapter.OpenAIAdapter, "build_request", "adapter", None)
    around(prepared.PreparedPost, "send", "post", None)
    around(telemetry.Telemetry, "emit", "emit", "emitted")


async def one(app: Any, probe: Probe, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, float]:
    sent: list[bytes] = []
    done = asyncio.Event()
    given: list[bool] = []

    async def receive() -> Any:
        if not given:
            given.append(True)
            return {"type": "http.request", "body": BODY, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            probe.mark("first")
        sent.append(message.get("body", b""))

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [(b"content-type", b"application/json"),
                                               (b"content-length", str(len(BODY)).encode()), *headers],
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "http_version": "1.1", "asgi": {"version": "3.0", "spec_version": "2.3"}}
    probe.marks.clear()
    probe.mark("start")
    await app(scope, receive, send)
    probe.mark("end")
    done.set()
    body = b"".join(sent)
    last = json.loads(body.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    if b"content_delta" not in body or last.get("type") != "response":
        raise RuntimeError(f"unexpected answer: {body[:300]!r}")
    (t0, s0, i0) = probe.marks["start"]
    out = {"whole": probe.marks["end"][0] - t0}
    for name in ("upstream", "first"):
        t, s, i = probe.marks[name]
        out[f"{name}_cpu"], out[f"{name}_steps"], out[f"{name}_iterations"] = t - t0, s - s0, i - i0
    for since, until, _what in STAGES:
        if since in probe.marks and until in probe.marks:
            out[f"stage:{since}"] = probe.marks[until][0] - probe.marks[since][0]
    return out


async def run(upstream: str, rounds: int, requests: int, stages: bool = False) -> dict[str, list[dict[str, float]]]:
    os.environ["BASELINE_UPSTREAM"] = upstream
    token = "bench-token-" + "x" * 20
    os.environ.update({"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_PLUGINS": "openai",
                       "OPENAI_API_KEY": "sk-bench", "COMPLETIONS_OPENAI_BASE_URL": upstream + "/v1",
                       "COMPLETIONS_LOG_FORMAT": "json"})
    sys.path.insert(0, str(HERE))
    import baseline_app

    from completions_proxy.app import create_app

    ours = create_app()
    targets: dict[str, tuple[Any, str, list[tuple[bytes, bytes]]]] = {
        "baseline": (baseline_app.app, "/v1/completions", []),
        "ours": (ours, "/v1/completions", [(b"authorization", f"Bearer {token}".encode())]),
    }
    probe = Probe()
    probe.install()
    if stages:
        mark_stages(probe)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    async with ours.router.lifespan_context(ours):
        for app, path, headers in targets.values():  # warm: the first request builds clients, pools
            for _ in range(20):
                await one(app, probe, path, headers)
        for round_ in range(rounds):
            names = list(targets) if round_ % 2 == 0 else list(targets)[::-1]
            for name in names:
                app, path, headers = targets[name]
                results[name].extend([await one(app, probe, path, headers) for _ in range(requests)])
        session = baseline_app._session
        if session:
            await session[0].close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--port", type=int, default=0, help="an already running mock's port (else one is started)")
    parser.add_argument("--httpx2-send", action="store_true", help="the prepared post sends through httpx2's send")
    parser.add_argument("--stages", action="store_true", help="also mark the proxy's own stages (STAGES)")
    args = parser.parse_args()
    if args.httpx2_send:
        from completions_core import prepared

        prepared._Route.find = classmethod(lambda cls, post: None)  # type: ignore[method-assign,assignment]
    mock: Optional[subprocess.Popen[bytes]] = None
    port = args.port
    if not port:
        sys.path.insert(0, str(HERE))
        from run import free_port, wait_http

        port = free_port()
        mock = subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), "--port", str(port), "--tokens", "2"])
        wait_http(f"http://127.0.0.1:{port}/v1/chat/completions", 30)
    try:
        results = asyncio.run(run(f"http://127.0.0.1:{port}", args.rounds, args.requests, args.stages))
    finally:
        if mock is not None:
            mock.terminate()
            mock.wait()
    for name, rows in results.items():
        med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(f"{name:8} to upstream write: {med['upstream_cpu'] * 1e6:6.0f} us CPU, "
              f"{med['upstream_steps']:.0f} steps, {med['upstream_iterations']:.0f} loop passes; "
              f"to first chunk: {med['first_cpu'] * 1e6:6.0f} us, {med['first_steps']:.0f} steps, "
              f"{med['first_iterations']:.0f} passes; whole: {med['whole'] * 1e6:.0f} us")
        for since, until, what in STAGES:
            if f"stage:{since}" in med:
                print(f"    {since:>8} -> {until:<8} {med[f'stage:{since}'] * 1e6:6.1f} us  {what}")


if __name__ == "__main__":
    main()
