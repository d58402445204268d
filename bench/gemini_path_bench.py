"""A micro-benchmark of Google's streaming path against OpenAI's, adapter only, in one process
(bench/README.md, "Gemini's stream path against OpenAI's (2026-12-07)").

Each adapter's ``stream`` is driven over a body held in memory, the mock's own bytes
(``mock_upstream.py``: Gemini's chunks, OpenAI's events), ``--per-read`` events per read as on an
unpaced stream. Gemini's request goes through its real send (``_open_aiohttp``: the request body,
headers, URL and timeout) up to a stand-in session's ``post``; OpenAI's through its prepared post
up to its stand-in ``send``, its body read through core's ``AiohttpBody`` as on its direct route.
Figures are this process's CPU time:

- ``request``: a stream of one token (the set-up, the one event, the finish);
- ``event``: the extra cost per token, from a stream of ``--tokens`` tokens;

best of ``--repeats`` per round, medians and ranges over ``--rounds``; ``google/openai`` is the
ratio within each round.

    python bench/gemini_path_bench.py --rounds 6
    python bench/gemini_path_bench.py --profile google.prof   # cProfile of Google's streams
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mock_upstream  # noqa: E402

from completions_core.adapter import Credential  # noqa: E402
from completions_core.jsonutil import dumps  # noqa: E402
from completions_core.prepared import AiohttpBody  # noqa: E402
from completions_core.redaction import Secret  # noqa: E402
from completions_core.request import ProviderRequest  # noqa: E402
from completions_core.types import UserMessage  # noqa: E402


def gemini_bytes(tokens: int) -> list[bytes]:
    return [mock_upstream._gemini_chunk(i, i == tokens - 1) for i in range(tokens)]


def openai_bytes(tokens: int) -> list[bytes]:
    created = 1796613309
    events = [mock_upstream._openai_chunk(created, {"role": "assistant", "content": ""})]
    events += [mock_upstream._openai_token(created, i) for i in range(tokens)]
    events.append(mock_upstream._openai_chunk(created, {}, "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}
    events.append(mock_upstream._openai_chunk(created, {}, None, usage))
    events.append(b"data: [DONE]\n\n")
    return events


def reads(events: list[bytes], per_read: int) -> list[bytes]:
    return [b"".join(events[i : i + per_read]) for i in range(0, len(events), per_read)]


class Content:
    """aiohttp's ``StreamReader`` as the body read uses it."""

    def __init__(self, data: list[bytes]) -> None:
        self.data = iter(data)
        self.done = False

    async def readany(self) -> bytes:
        chunk = next(self.data, b"")
        self.done = not chunk
        return chunk

    def at_eof(self) -> bool:
        return self.done


class Response:
    status = 200
    reason = "OK"
    connection = None

    def __init__(self, data: list[bytes]) -> None:
        self.content = Content(data)
        self.headers: dict[str, str] = {}

    async def aiter_bytes(self) -> Any:  # the OpenAI adapter's read
        for chunk in self.content.data:
            yield chunk

    async def aclose(self) -> None:
        return None

    def release(self) -> None:
        return None

    def close(self) -> None:
        return None


class Session:
    """Gemini's aiohttp session: ``post`` answers with the body in memory."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def post(self, *args: Any, **kwargs: Any) -> Response:
        return Response(self.data)


class Post:
    """OpenAI's prepared post: ``send`` answers with the body in memory."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def send(self, body: Any, seconds: Any) -> Body:
        dumps(body)  # what its real send does with the body before aiohttp's post
        return Body(Response(self.data))


class Body:
    """OpenAI's body on the direct route (core's ``_DirectBody``): read through core's AiohttpBody."""

    def __init__(self, response: Response) -> None:
        self._body = AiohttpBody(response, response.aclose)  # type: ignore[arg-type]

    def aiter_bytes(self) -> Any:
        return self._body.aiter_bytes()

    async def aclose(self) -> None:
        await self._body.aclose()


def setup() -> dict[str, Any]:
    from completions_google import GoogleAdapter
    from completions_openai import adapter as openai_module

    google = GoogleAdapter(base_url="http://127.0.0.1:9")
    g_request = ProviderRequest(provider="google", model="gemini-mock", messages=(UserMessage("Tell me something."),))
    g_client = google.create_client(google.client_config(g_request, Credential("customer", Secret("bench-key"))))
    session = Session()
    g_client.aiohttp_session = lambda: session  # type: ignore[method-assign]

    openai = openai_module.OpenAIAdapter()
    o_request = ProviderRequest(provider="openai", model="gpt-mock", messages=(UserMessage("Tell me something."),))
    o_client = openai.create_client(openai.client_config(o_request, Credential("customer", Secret("sk-bench"))))
    post = Post()
    openai_module.prepared_post = lambda client: post  # type: ignore[assignment]
    return {
        "google": (google, g_client, g_request, session, gemini_bytes),
        "openai": (openai, o_client, o_request, post, openai_bytes),
    }


async def one(target: Any, tokens: int, per_read: int) -> float:
    adapter, client, request, holder, make = target
    data = reads(make(tokens), per_read)
    holder.data = data
    start = time.process_time()
    async for _ in adapter.stream(client, request):
        pass
    return time.process_time() - start


async def measure(target: Any, tokens: int, per_read: int, repeats: int, streams: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        spent = 0.0
        for _ in range(streams):
            spent += await one(target, tokens, per_read)
        best = min(best, spent / streams)
    return best


def _fmt(values: list[float], scale: float, unit: str) -> str:
    values = [v * scale for v in values]
    return f"{statistics.median(values):8.2f} {unit} ({min(values):.2f}-{max(values):.2f})"


async def main(args: argparse.Namespace) -> None:
    targets = setup()
    for target in targets.values():  # warm-up: imports, caches
        await measure(target, args.tokens, args.per_read, 1, 20)
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        await measure(targets["google"], args.tokens, args.per_read, 1, args.streams)
        await measure(targets["google"], 1, args.per_read, 1, args.streams * 10)
        profiler.disable()
        profiler.dump_stats(args.profile)
        return
    figures: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        row: dict[str, float] = {}
        for name in ("google", "openai") if len(figures) % 2 == 0 else ("openai", "google"):
            row[name + " request"] = await measure(targets[name], 1, args.per_read, args.repeats, args.streams * 10)
            whole = await measure(targets[name], args.tokens, args.per_read, args.repeats, args.streams)
            row[name + " event"] = (whole - row[name + " request"]) / (args.tokens - 1)
        row["ratio request"] = row["google request"] / row["openai request"]
        row["ratio event"] = row["google event"] / row["openai event"]
        for key, value in row.items():
            figures.setdefault(key, []).append(value)
    for key, values in figures.items():
        if key.startswith("ratio"):
            print(f"google/openai {key[6:]:8s} {_fmt(values, 1, 'x ')}")
        else:
            print(f"{key:22s} {_fmt(values, 1e6, 'us')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--per-read", type=int, default=4)
    parser.add_argument("--profile")
    asyncio.run(main(parser.parse_args()))
