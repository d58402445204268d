"""The client on its own: what a voice runtime installs (the root distribution without extras).

tox's ``client`` environment runs this module with neither the proxy's web stack nor any plugin
installed, so it may import only the client, the core and the loopback test server; a stand-in
proxy (the replay server) answers in the documented wire protocol (docs/protocol.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from completions_core.testing.replay import Body, ReplayServer, Stream
from primfunctions.completions import (
    CompletionsProxyError,
    ContentSentenceChunk,
    FinalResponseChunk,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)

TOKEN = "client-alone-token-0000000"
REQUEST = {"provider": "anthropic", "model": "m", "messages": [{"role": "user", "content": "Hi"}]}
RESPONSE = {"message": {"role": "assistant", "content": "Hello there. How can I help?", "vr_id": "abcdefgh"},
            "finish_reason": "stop", "usage": None, "provider": "anthropic", "model": "m", "request_id": "r1"}
#: The top-level modules of the [proxy] extra (completions_proxy.cli.PROXY_EXTRA_MODULES).
PROXY_MODULES = ("starlette", "hypercorn", "structlog", "prometheus_client")


@pytest.fixture
async def proxy(client_reset: None) -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        server.enqueue(Body.from_json({"provider": "anthropic", "warm": True}, status=202), path="/v1/warm")
        configure(server.url, TOKEN)
        configure_provider("anthropic", voicerun_managed=True)
        yield server


@pytest.mark.anyio
async def test_a_whole_answer_comes_back_typed(proxy: ReplayServer) -> None:
    proxy.enqueue(Body.from_json(RESPONSE), path="/v1/completions")
    response = await generate_chat_completion(REQUEST)  # type: ignore[arg-type]
    assert response.message.content == "Hello there. How can I help?"
    assert response.provider == "anthropic"
    sent = next(r for r in proxy.requests if r.path == "/v1/completions")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json()["credentials"] == {"anthropic": {"voicerun_managed": True}}


@pytest.mark.anyio
async def test_a_stream_yields_sentences_then_the_final_response(proxy: ReplayServer) -> None:
    lines = [json.dumps({"type": "content_sentence", "sentence": "Hello there."}) + "\n",
             json.dumps({"type": "content_sentence", "sentence": "How can I help?"}) + "\n",
             json.dumps({"type": "finish_reason", "finish_reason": "stop"}) + "\n",
             json.dumps({"type": "response", "response": RESPONSE}) + "\n"]
    proxy.enqueue(Stream(lines, content_type="application/x-ndjson"), path="/v1/completions")
    stream = await generate_chat_completion_stream(REQUEST, stream_options={"chunk_by_sentence": True})  # type: ignore[arg-type]
    chunks = [chunk async for chunk in stream]
    assert [c.sentence for c in chunks if isinstance(c, ContentSentenceChunk)] == ["Hello there.", "How can I help?"]
    assert isinstance(chunks[-1], FinalResponseChunk)


@pytest.mark.anyio
async def test_an_error_envelope_keeps_its_status_and_type(proxy: ReplayServer) -> None:
    error = {"error": {"message": "slow down", "type": "rate_limit_error", "provider": "anthropic"}}
    proxy.enqueue(Body.from_json(error, status=429), path="/v1/completions")
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(REQUEST)  # type: ignore[arg-type]
    assert info.value.status_code == 429
    assert "slow down" in str(info.value)


@pytest.mark.parametrize(("module", "prog"), [("cli", "completions-proxy"), ("demo", "completions-demo")])
def test_without_the_proxy_extra_each_console_script_exits_2_with_one_line(module: str, prog: str) -> None:
    # Where the extra is installed, the bootstrap hides it (a None entry in sys.modules makes the
    # module unimportable); in tox's client environment it is really absent.
    bootstrap = (
        f"import sys; sys.modules.update(dict.fromkeys({PROXY_MODULES!r})); "
        f"from completions_proxy.{module} import main; raise SystemExit(main([]))"
    )
    result = subprocess.run([sys.executable, "-c", bootstrap], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"{prog}: the proxy is not installed (missing: starlette, hypercorn, structlog, ")
    assert "pip install '.[proxy]'" in result.stderr
