"""Every built-in provider adapter, pointed at one loopback replay server, through its real SDK.

A :class:`Case` knows how to build the adapter, the credential, a request and the paths its SDK
posts to, so one test can run the same hostile upstream against every provider, streaming and not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

from completions_core.adapter import Completion, Credential, ProviderAdapter
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.replay import Body, ReplayServer, Stream
from completions_core.types import UserMessage

PROVIDERS = ("openai", "alibaba", "anthropic", "anthropic_vertex", "google")
PROJECT = "voicerun-test-1"
REGION = "us-east5"
#: The access token the replay server mints for the Vertex service account.
MINTED = "ya29.c.b0AXv0zTMinted-Vertex-Token-4f3e2d1c0b9a8877"
#: Keys deliberately shaped like nothing in particular: only knowing them can mask them.
KEYS = {
    "openai": "proj-live-Oq3xT7vNw2Lk9Rb4Ym8Hc1Zp6",
    "alibaba": "dash-live-Hd83kWq0Tz5Nv1Mx7Cb2Rj4",
    "anthropic": "ant-api03-Wm4Nq8Rt2Ys6Vb0Xc3Zd7Lf1",
    "google": "gem-live-Pz2Wx8Qc5Tv0Yn3Km7Lb4Rd9",
}


@cache
def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account_json() -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": private_key_pem(),
            "client_email": f"completions@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "123456789012345678901",
            "token_uri": "https://oauth2.googleapis.com/token",
            "universe_domain": "googleapis.com",
        }
    )


@dataclass
class Case:
    """One provider against one replay server."""

    provider: str
    server: ReplayServer
    model: str = ""

    def __post_init__(self) -> None:
        if not self.model:
            self.model = {
                "openai": "gpt-4o-mini",
                "alibaba": "qwen-plus",
                "anthropic": "claude-haiku-4-5",
                "anthropic_vertex": "claude-haiku-4-5@20251001",
                "google": "gemini-2.5-flash",
            }[self.provider]

    # -- who to talk to -------------------------------------------------------------------------

    def adapter(self) -> ProviderAdapter:
        url = self.server.url
        if self.provider == "openai":
            from completions_openai import OpenAIAdapter

            return OpenAIAdapter(base_url=url + "/v1")
        if self.provider == "alibaba":
            from completions_alibaba import AlibabaAdapter

            return AlibabaAdapter(base_url=url + "/compatible-mode/v1")
        if self.provider == "anthropic":
            from completions_anthropic import AnthropicAdapter

            return AnthropicAdapter(base_url=url)
        if self.provider == "anthropic_vertex":
            from completions_anthropic_vertex import AnthropicVertexAdapter

            return AnthropicVertexAdapter(base_url=url + "/v1", region=REGION, token_uri=url + "/token")
        from completions_google import GoogleAdapter

        return GoogleAdapter(base_url=url)

    def credential(self, source: str = "managed") -> Credential:
        if self.provider == "anthropic_vertex":
            return Credential("managed" if source == "managed" else "customer", Secret(service_account_json()))
        return Credential(source, Secret(KEYS[self.provider]))  # type: ignore[arg-type]

    @property
    def secret(self) -> str:
        """The credential that travels in the request's headers."""
        return MINTED if self.provider == "anthropic_vertex" else KEYS[self.provider]

    def request(self, **fields: Any) -> ProviderRequest:
        # Built by hand, not through the codec: these tests hand adapters model names the codec
        # would refuse first, to check the adapters' own checks.
        values: dict[str, Any] = {"provider": self.provider, "model": self.model, "messages": (UserMessage("Hi"),)}
        values.update(fields)
        return ProviderRequest(**values)

    def path(self, stream: bool) -> str:
        if self.provider == "openai":
            return "/v1/chat/completions"
        if self.provider == "alibaba":
            return "/compatible-mode/v1/chat/completions"
        if self.provider == "anthropic":
            return "/v1/messages"
        if self.provider == "anthropic_vertex":
            verb = "streamRawPredict" if stream else "rawPredict"
            return f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/anthropic/models/{self.model}:{verb}"
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/v1beta/models/{self.model}:{verb}"

    def before_call(self) -> None:
        """Queue what the SDK asks before the call itself (Vertex mints a token first)."""
        if self.provider == "anthropic_vertex":
            self.server.enqueue_json(
                200, {"access_token": MINTED, "expires_in": 3600, "token_type": "Bearer"}, method="POST", path="/token"
            )

    def enqueue(self, reply: Body | Stream, stream: bool) -> None:
        self.before_call()
        self.server.enqueue(reply, method="POST", path=self.path(stream))

    def error_event(self, message: str) -> str:
        """An error sent inside a stream that started with 200, in this provider's format."""
        if self.provider in ("anthropic", "anthropic_vertex"):
            payload = {"type": "error", "error": {"type": "overloaded_error", "message": message}}
            return "event: error\ndata: " + json.dumps(payload) + "\n\n"
        if self.provider == "google":
            return "data: " + json.dumps({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}}) + "\n\n"
        return "data: " + json.dumps({"error": {"message": message, "type": "server_error", "code": None}}) + "\n\n"

    def good_body(self) -> dict[str, Any]:
        """A valid non-streaming answer (used to build truncated copies)."""
        if self.provider in ("anthropic", "anthropic_vertex"):
            return {
                "id": "msg_01", "type": "message", "role": "assistant", "model": self.model,
                "content": [{"type": "text", "text": "Hello there."}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 4},
            }  # fmt: skip
        if self.provider == "google":
            return {
                "candidates": [
                    {"content": {"parts": [{"text": "Hello there."}], "role": "model"}, "finishReason": "STOP"}
                ],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
                "modelVersion": self.model,
            }
        return {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }  # fmt: skip


async def run(case: Case, stream: bool, request: Optional[ProviderRequest] = None) -> Completion | list[Any]:
    """One call through the adapter's real SDK client (a fresh client, closed afterwards)."""
    adapter = case.adapter()
    request = request or case.request()
    client = adapter.create_client(adapter.client_config(request, case.credential()))
    try:
        if not stream:
            return await adapter.complete(client, request)
        events: list[Any] = []
        iterator = adapter.stream(client, request)
        try:
            async for event in iterator:
                events.append(event)
        finally:
            await iterator.aclose()  # type: ignore[attr-defined]
        return events
    finally:
        await adapter.close_client(client)


class EchoBody(Body):
    """An upstream error whose message repeats the credential headers of the request it answers."""

    def __init__(self, server: ReplayServer, status: int, render: Callable[[dict[str, str]], str]) -> None:
        super().__init__(b"", status=status, content_type="application/json")
        self._server = server
        self._render = render

    def __repr__(self) -> str:
        return f"EchoBody(status={self.status})"

    @property  # type: ignore[override]
    def body(self) -> bytes:
        headers = self._server.requests[-1].headers
        message = self._render(headers)
        payload = {"error": {"type": "authentication_error", "code": self.status, "status": "UNAUTHENTICATED",
                             "message": message}}  # fmt: skip
        return json.dumps(payload).encode()

    @body.setter
    def body(self, value: bytes) -> None:
        pass


class EchoStream(Stream):
    """A 200 stream whose one event is an error repeating the request's credential headers."""

    def __init__(self, server: ReplayServer, event: Callable[[dict[str, str]], str]) -> None:
        super().__init__(())
        self._server = server
        self._event = event

    def __repr__(self) -> str:
        return "EchoStream()"

    @property  # type: ignore[override]
    def events(self) -> tuple[str, ...]:
        return (self._event(self._server.requests[-1].headers),)

    @events.setter
    def events(self, value: tuple[str, ...]) -> None:
        pass
