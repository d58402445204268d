"""A micro-benchmark of one paced stream chunk's whole way through the proxy, from the upstream read
to the server's ``send`` (bench/README.md, "The per-chunk path, end to end (2026-12-07)").

One long OpenAI stream at a time from a loopback SSE server in this process, in lock-step: the
server writes the first event at once and every next one only when the app under test has sent
the previous chunk on (its ``send`` is called with a body), so every chunk is its own upstream
read, wake-up and write, as on a paced stream. Two apps, driven over ASGI in alternating rounds:

- ``ours``: the proxy (``create_app`` with the OpenAI plugin, as ``bench/run.py`` starts it): the
  adapter's read, SSE split and parse, the translator, the assembler, the attempt, the engine,
  the NDJSON writer;
- ``baseline``: the minimal re-encoder (``bench/baseline_app.py``): aiohttp's line iteration,
  ``json.loads``, one lookup chain, ``json.dumps``, Starlette's ``StreamingResponse``.

With ``--upstream memory`` there is no socket: the OpenAI client's ``post`` (and the re-encoder's
aiohttp session) answer with a body held in memory that gives one event per event-loop step
(``asyncio.sleep(0)``), the same bytes; what is left is the apps' own per-chunk code, the
event-loop step and the ASGI ``send``, with much less noise than the sockets' part.

The figure is this process's CPU time per chunk of the whole stream (``--chunks`` content events,
then the finish, usage and ``[DONE]`` events; the request's set-up is spread over them), best of
``--repeats`` per round; the server's writes are in both. With ``--ab-ref DIR`` each round runs
twice more in child processes, once with ``DIR`` (a tree of the project, e.g. main's from ``git
archive``) first on ``PYTHONPATH`` and once with this tree, alternating, so that ``ours``,
``ours@ref`` and the re-encoder are compared round by round.

    python bench/chunk_path_bench.py --chunks 2000 --rounds 6 2>/dev/null  # the proxy logs each stream
    python bench/chunk_path_bench.py --rounds 6 --ab-ref /tmp/chunk2-main
    python bench/chunk_path_bench.py --upstream memory --rounds 10 --ab-ref /tmp/chunk2-main
    python bench/chunk_path_bench.py --profile ours.prof   # cProfile of ``ours`` only

With ``--provider anthropic``, ``ours`` is an Anthropic stream through the proxy (the Anthropic
plugin; the upstream's bytes are ``bench/mock_upstream.py``'s: ``event:`` and ``data:`` lines,
message_start, a text block with a ping, the deltas, message_delta, message_stop), and a third
target ``openai`` is the OpenAI stream through the same app, so that ``ours / openai`` is the
Anthropic path over the OpenAI path, round by round:

    python bench/chunk_path_bench.py --provider anthropic --upstream memory --rounds 10 --only-proxy
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
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BODY = (
    b'{"provider": "openai", "model": "gpt-mock", "stream": true, '
    b'"messages": [{"role": "user", "content": "Tell me something."}], '
    b'"credentials": {"openai": {"voicerun_managed": true}}}'
)


def _event(delta: dict[str, Any], finish: Optional[str] = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1796613309,
        "model": "gpt-mock",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


TOKENS = [_event({"content": f" tok{i % 10}"}) for i in range(10)]
FIRST = _event({"role": "assistant", "content": ""})
TAIL = (
    _event({}, "stop")
    + _event({}, None, {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
    + b"data: [DONE]\n\n"
)
ANTHROPIC_BODY = (
    b'{"provider": "anthropic", "model": "claude-mock", "stream": true, '
    b'"messages": [{"role": "user", "content": "Tell me something."}], '
    b'"credentials": {"anthropic": {"voicerun_managed": true}}}'
)


def _anthropic_stream() -> tuple[bytes, list[bytes], bytes]:
    """The first read, the ten token events and the tail of an Anthropic stream, as the bench's mock serves it."""
    sys.path.insert(0, str(HERE))
    from mock_upstream import _anthropic_event, _anthropic_token

    first = _anthropic_event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_mock", "type": "message", "role": "assistant", "model": "claude-mock", "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
    ) + _anthropic_event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ) + _anthropic_event("ping", {"type": "ping"})  # fmt: skip
    tail = (
        _anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + _anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 7},
            },
        )
        + _anthropic_event("message_stop", {"type": "message_stop"})
    )
    return first, [_anthropic_token(i) for i in range(10)], tail


#: Events a read with ``--upstream memory`` (``--per-read``).
PER_READ = [1]
#: Each stream's (first event, token events, tail), by the upstream path asked for.
STREAMS: dict[str, tuple[bytes, list[bytes], bytes]] = {"openai": (FIRST, TOKENS, TAIL)}


class Upstream:
    """The loopback SSE server; ``go()`` lets it write the next event of the stream it serves."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self._go: asyncio.Queue[None] = asyncio.Queue()

    def go(self) -> None:
        self._go.put_nowait(None)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = 0
        request_line = await reader.readline()
        first, tokens, tail = STREAMS["anthropic" if b"/messages" in request_line else "openai"]
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        while not self._go.empty():
            self._go.get_nowait()
        # The first event carries no text (nothing is sent on for it): the first token comes with it.
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n" + first + tokens[0]
        )
        for i in range(1, self.chunks):
            await self._go.get()
            writer.write(tokens[i % 10])
        await self._go.get()
        writer.write(tail)
        writer.close()


class MemoryBody:
    """The upstream's answer held in memory: the same events, one per event-loop step."""

    def __init__(self, upstream: Upstream, send: Any, provider: str = "openai") -> None:
        self.chunks = upstream.chunks
        self.stream = STREAMS[provider]
        upstream.go = send  # type: ignore[method-assign]  # nothing to let go: each event is there

    async def aiter_bytes(self) -> Any:  # the adapters' read of the raw response
        first, tokens, tail = self.stream
        yield first + tokens[0]
        # --per-read N: N events a read, as an unpaced stream comes (the last read a partial group).
        per_read = PER_READ[0]
        for i in range(1, self.chunks, per_read):
            await asyncio.sleep(0)
            yield b"".join(tokens[j % 10] for j in range(i, min(i + per_read, self.chunks)))
        await asyncio.sleep(0)
        yield tail

    async def aclose(self) -> None:
        return None

    async def lines(self) -> Any:  # aiohttp's line iteration, for the re-encoder
        async for data in self.aiter_bytes():
            for line in data.splitlines(keepends=True):
                yield line


class MemoryClient:
    """Stands for the OpenAI SDK client (its ``post``) and for the re-encoder's aiohttp session."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.api_key = "sk-bench"

    async def post(self, *args: Any, **kwargs: Any) -> MemoryBody:
        return MemoryBody(self.upstream, lambda: None)

    def __call__(self) -> MemoryClient:  # baseline_app._client
        return self

    async def close(self) -> None:
        return None


class MemoryPost:
    """Stands for an Anthropic client's prepared post (completions_core.prepared): the memory body."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def send(self, body: Any, timeout: Any) -> MemoryBody:  # noqa: ASYNC109 - the prepared post's signature
        return MemoryBody(self.upstream, lambda: None, "anthropic")


class _Baseline:
    def __init__(self, client: MemoryClient) -> None:
        self.client = client

    def post(self, *args: Any, **kwargs: Any) -> _Session:
        return _Session(MemoryBody(self.client.upstream, lambda: None))

    async def close(self) -> None:
        return None


class _Session:
    def __init__(self, body: MemoryBody) -> None:
        self.content = body.lines()

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def one(app: Any, upstream: Upstream, path: str, headers: list[tuple[bytes, bytes]], body: bytes = BODY) -> float:
    """This process's CPU time per content chunk of one stream through ``app``."""
    done = asyncio.Event()
    given: list[bool] = []
    chunks = 0

    async def receive() -> Any:
        if not given:
            given.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        nonlocal chunks
        if message["type"] == "http.response.body" and b"content_delta" in message.get("body", b""):
            chunks += message["body"].count(b"content_delta")
            upstream.go()

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
    }
    start = time.process_time()
    await app(scope, receive, send)
    spent = time.process_time() - start
    done.set()
    if chunks != upstream.chunks:
        raise RuntimeError(f"{chunks} content chunks where {upstream.chunks} were sent")
    return spent / chunks


async def run(
    chunks: int,
    rounds: int,
    repeats: int,
    only: Optional[str],
    profile: Optional[str],
    memory: bool = False,
    provider: str = "openai",
) -> dict[str, list[float]]:
    upstream = Upstream(chunks)
    server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    token = "bench-token-" + "x" * 20
    os.environ["BASELINE_UPSTREAM"] = url
    os.environ.update(
        {
            "COMPLETIONS_PROXY_TOKENS": token,
            "COMPLETIONS_PLUGINS": "openai" if provider == "openai" else "openai,anthropic",
            "OPENAI_API_KEY": "sk-bench",
            "COMPLETIONS_OPENAI_BASE_URL": url + "/v1",
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            "COMPLETIONS_ANTHROPIC_BASE_URL": url,
            "COMPLETIONS_LOG_FORMAT": "json",
            "COMPLETIONS_LOG_LEVEL": "warning",
        }
    )
    sys.path.insert(0, str(HERE))
    import baseline_app

    from completions_proxy.app import create_app

    if memory:
        from completions_openai.adapter import OpenAIAdapter

        client = MemoryClient(upstream)
        OpenAIAdapter.create_client = lambda self, config: client  # type: ignore[method-assign]
        baseline_app._client = lambda: _Baseline(client)  # type: ignore[assignment]
        if provider == "anthropic":
            import completions_anthropic.adapter as anthropic_adapter

            anthropic_post = MemoryPost(upstream)
            anthropic_adapter.prepared_post = lambda client: anthropic_post  # type: ignore[assignment]
    ours = create_app()
    auth = [(b"authorization", f"Bearer {token}".encode())]
    targets: dict[str, tuple[Any, str, list[tuple[bytes, bytes]], bytes]] = {
        "ours": (ours, "/v1/completions", auth, BODY),
        "baseline": (baseline_app.app, "/v1/completions", [], BODY),
    }
    if provider == "anthropic":
        STREAMS["anthropic"] = _anthropic_stream()
        # The re-encoder reads OpenAI's stream: the OpenAI path through the same app is the reference.
        targets = {"ours": (ours, "/v1/completions", auth, ANTHROPIC_BODY), "openai": targets["ours"]}
    if only:
        targets = {only: targets[only]}
    results: dict[str, list[float]] = {name: [] for name in targets}
    async with ours.router.lifespan_context(ours):
        upstream.chunks = 50
        for app, path, headers, body in targets.values():  # warm: the first request builds clients, pools
            for _ in range(5):
                await one(app, upstream, path, headers, body)
        upstream.chunks = chunks
        profiler: Any = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for round_ in range(rounds):
            names = list(targets) if round_ % 2 == 0 else list(targets)[::-1]
            for name in names:
                app, path, headers, body = targets[name]
                results[name].append(min([await one(app, upstream, path, headers, body) for _ in range(repeats)]))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        if baseline_app._session:
            await baseline_app._session[0].close()
    server.close()
    return results


def _child(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    paths = [str(tree)] + [str(p) for p in sorted((tree / "providers").glob("*")) if p.is_dir()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--chunks",
            str(args.chunks),
            "--rounds",
            "1",
            "--repeats",
            str(args.repeats),
            "--json",
            "--upstream",
            args.upstream,
            "--provider",
            args.provider,
            "--per-read",
            str(args.per_read),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=str(tree),
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    data: dict[str, list[float]] = json.loads(line[len("RESULT ") :])
    return {name: figures[0] for name, figures in data.items()}


def _ab(args: argparse.Namespace) -> None:
    ref = Path(args.ab_ref).resolve()
    other = "openai" if args.provider == "anthropic" else "baseline"
    rows: dict[str, list[float]] = {"ours": [], "ours@ref": [], other: [], other + "@ref": []}
    for round_ in range(args.rounds):
        order = [(ROOT, ""), (ref, "@ref")] if round_ % 2 == 0 else [(ref, "@ref"), (ROOT, "")]
        for tree, tag in order:
            got = _child(tree, args)
            rows["ours" + tag].append(got["ours"])
            rows[other + tag].append(got[other])
        print(
            f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1] * 1e6:.2f}" for k, v in rows.items()) + " us", flush=True
        )
    _print(rows)
    pairs = [("ours", "ours@ref"), ("ours", other), ("ours@ref", other + "@ref")]
    for new, old in pairs:
        ratios = [n / o for n, o in zip(rows[new], rows[old], strict=True)]
        print(
            f"{new} / {old} per round: "
            + ", ".join(f"{r:.3f}" for r in ratios)
            + f"  (median {statistics.median(ratios):.3f})"
        )


def _print(rows: dict[str, list[float]]) -> None:
    width = max(map(len, rows)) + 1
    for name, figures in rows.items():
        print(
            f"{name:{width}} per chunk: "
            + ", ".join(f"{f * 1e6:.2f}" for f in figures)
            + f" us (median {statistics.median(figures) * 1e6:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("ours", "baseline", "openai"))
    parser.add_argument("--upstream", choices=("socket", "memory"), default="socket")
    parser.add_argument(
        "--provider", choices=("openai", "anthropic"), default="openai", help="whose stream ``ours`` is"
    )
    parser.add_argument("--per-read", type=int, default=1, help="events a read with --upstream memory (unpaced)")
    parser.add_argument("--ab-ref", help="a tree of the project to compare with, round by round")
    parser.add_argument("--profile", help="write a cProfile of the rounds here")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    PER_READ[0] = max(1, args.per_read)
    if args.ab_ref:
        _ab(args)
        return
    results = asyncio.run(
        run(args.chunks, args.rounds, args.repeats, args.only, args.profile, args.upstream == "memory", args.provider)
    )
    if args.json:
        print("RESULT " + json.dumps(results))
        return
    _print(results)
    for other in ("baseline", "openai"):
        if "ours" in results and other in results:
            ratios = [n / o for n, o in zip(results["ours"], results[other], strict=True)]
            print(
                f"ours / {other} per round: "
                + ", ".join(f"{r:.3f}" for r in ratios)
                + f"  (median {statistics.median(ratios):.3f})"
            )


if __name__ == "__main__":
    main()
