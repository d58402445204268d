"""A micro-benchmark of building one upstream request on the prepared post (bench/README.md,
"Per-request and paced-256 cost (2026-12-07)").

The OpenAI client the adapter builds (its headers: the key, the SDK's default headers, the
HTTP client's own) and the bench's request body; two ways, in alternating rounds:

- ``httpx2``: ``httpx2.Request(..., headers=[...], content=...)``, as the prepared post built it
  before: httpx2 normalises every header, then again with the ``Host`` and ``Content-Length`` it adds;
- ``prepared``: ``PreparedPost.request``: the headers normalised once per client, copied per request.

Both make the same request (checked here, and in tests/core/test_prepared.py). The figure is the
time per request, best of ``--repeats``, on one core.

    python bench/prepared_request_bench.py --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import timeit
from typing import Any

from ab_report import report

BODY = {
    "model": "gpt-mock-itl20",
    "messages": [{"role": "user", "content": "Tell me about the weather in Lisbon."}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def _as_before(post: Any) -> Any:
    """The request as httpx2 builds it from the same parts (the prepared post's earlier code)."""
    import httpx2

    from completions_core.jsonutil import dumps

    limit = post.timeout
    value = str(limit.read).encode()
    headers = [*post.headers, *((name, value) for name in post.timeout_headers)]
    extensions = {**post.extensions, "timeout": limit.as_dict()}
    return httpx2.Request("POST", post.url, headers=headers, content=dumps(BODY), extensions=extensions)


async def run(rounds: int, repeats: int, number: int) -> dict[str, list[float]]:
    from completions_openai import OpenAIAdapter
    from completions_openai.sending import prepared_post

    from completions_core.adapter import Credential
    from completions_core.redaction import Secret
    from completions_core.testing.requests import provider_request

    adapter = OpenAIAdapter(base_url="http://127.0.0.1:9/v1")
    request = provider_request("openai", "gpt-mock")
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("bench-key"))))
    post = prepared_post(client)
    if post is None:
        raise RuntimeError("the client has no prepared post")
    made, before = post.request(BODY, None), _as_before(post)
    if made.headers.raw != before.headers.raw or made.content != before.content:
        raise RuntimeError("the two ways build different requests")
    ways = {"httpx2": lambda: _as_before(post), "prepared": lambda: post.request(BODY, None)}
    results: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(rounds):
        for name in list(ways) if round_ % 2 == 0 else list(ways)[::-1]:
            best = min(timeit.repeat(ways[name], number=number, repeat=repeats))
            results[name].append(best / number)
    await adapter.close_client(client)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    results = asyncio.run(run(args.rounds, args.repeats, args.number))
    report(results, "prepared", "httpx2", "request")


if __name__ == "__main__":
    main()
