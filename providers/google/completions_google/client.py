"""Who to talk to: an authenticated google-genai client for one key and one endpoint.

Transport: streams are sent by sending.py, through an aiohttp session of the client's own (made
at its first stream) or, with ``COMPLETIONS_GOOGLE_TRANSPORT=httpx2`` or a mock transport, the
httpx2 client below. Non-streamed calls go through google-genai, which uses aiohttp whenever it is
importable and httpx2 otherwise; this adapter hands it its own ``httpx2.AsyncClient``, which forces
httpx2, deliberately:

- google-genai 3.4's aiohttp path subclasses ``aiohttp.ClientSession``, which aiohttp 3.14
  answers with a DeprecationWarning on the first request (fatal under ``-W error``);
- aiohttp gets ``ClientTimeout(total=timeout)``, a limit on the whole response; httpx2 applies the
  timeout to each connect/read, which matches the proxy's "nothing for N seconds" rule;
- httpx2 parses the JSON error body Gemini labels ``text/event-stream`` on streaming requests
  (aiohttp leaves it as raw text, see the wire README, gotcha 2);
- the connection pool is ours, so closing the client closes it for sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Optional

from completions_core.adapter import http_transport
from completions_core.redaction import Secret
from completions_core.tls import shared_ssl_context

if TYPE_CHECKING:
    import aiohttp
    import httpx2
    from google import genai

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "TRANSPORT_ENV",
    "ClientConfig",
    "GoogleClient",
    "build_client",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
# google-genai 3.x defaults the Gemini Developer API to v1; thought signatures, function-call ids,
# responseJsonSchema and every recording are v1beta.
API_VERSION = "v1beta"
# Seconds, when the request sets no timeout (the OpenAI and Anthropic SDKs' default too).
DEFAULT_TIMEOUT = 600.0
_CONNECT_TIMEOUT = 10.0
#: ``httpx2`` sends streams through the SDK's httpx2 client instead of aiohttp (for comparison, or
#: as a way out): read when a client is built.
TRANSPORT_ENV = "COMPLETIONS_GOOGLE_TRANSPORT"


#: Connections one client's stream session may hold open at once: a stream holds its connection
#: for its whole length, so a small pool (aiohttp's default is 100) makes the 101st concurrent
#: stream wait for another to end (seen in bench/: 88 paced streams/s at 256 streams, first-token
#: p99 2.2 s). 1,000 is the OpenAI and Anthropic SDKs' default; the proxy admits fewer requests
#: than that at once (``COMPLETIONS_MAX_INFLIGHT``, 512 by default).
MAX_CONNECTIONS = 1000


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client is built from; equal configs share one cached client."""

    base_url: str
    api_key: Secret


class GoogleClient:
    """A ``google.genai.Client`` plus the httpx2 pool it runs on, closed together."""

    def __init__(
        self,
        genai_client: genai.Client,
        http: httpx2.AsyncClient,
        api_key: Secret,
        base_url: str,
        transport: Literal["aiohttp", "httpx2"] = "httpx2",
    ) -> None:
        self.genai = genai_client
        #: The SDK's pool (``generate_content``), and the streams' with the httpx2 transport.
        self.http = http
        self.base_url = base_url.rstrip("/")
        #: What streams are sent on (sending.py): an aiohttp session of this client's own, made
        #: at the first stream (in the event loop that sends), or ``http``.
        self.transport = transport
        self._session: Optional[aiohttp.ClientSession] = None
        #: Kept to scrub it out of error messages, and for the streams' headers.
        self.api_key = api_key
        #: The streams' headers but the timeout, and the default timeout's aiohttp limits: made
        #: by sending.py at the first stream.
        self.stream_head: Optional[dict[str, str]] = None
        self.stream_timeout: Optional[aiohttp.ClientTimeout] = None
        self.closed = False

    async def aclose(self) -> None:
        """Close the async and sync sides of the SDK client and the connection pool."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._session is not None:
                await self._session.close()
            await self.genai.aio.aclose()
        finally:
            try:
                # google-genai builds a sync httpx2 client as well, even when only aio is used.
                self.genai.close()
            finally:
                await self.http.aclose()

    def aiohttp_session(self) -> Optional[aiohttp.ClientSession]:
        """The aiohttp session streams are sent on (made now if this is the first), or None when
        they go through ``http``."""
        if self.transport != "aiohttp":
            return None
        if self.closed:
            raise RuntimeError("this Gemini client is closed")
        if self._session is None:
            import aiohttp

            # One connection per open stream, up to the OpenAI and Anthropic SDKs' default pool
            # (MAX_CONNECTIONS); the shared TLS context.
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=shared_ssl_context())
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return self._session

    def __repr__(self) -> str:
        return f"<GoogleClient closed={self.closed} transport={self.transport}>"


def build_client(config: ClientConfig, transport: Any = None) -> GoogleClient:
    """A client for ``config``: API version pinned, SDK retries off, no environment consulted.

    ``transport`` replaces the network (the adapter's start-up rehearsal passes a mock one); the
    streams then go through it too.
    """
    import httpx2
    from google import genai
    from google.genai import types
    from google.genai.client import DebugConfig

    http = httpx2.AsyncClient(
        timeout=httpx2.Timeout(DEFAULT_TIMEOUT, connect=_CONNECT_TIMEOUT),
        verify=shared_ssl_context(),  # built once: loading the CA bundle per client blocks the loop
        **({"transport": transport} if transport is not None else {}),
    )
    options = types.HttpOptions(
        base_url=config.base_url,
        api_version=API_VERSION,
        timeout=int(DEFAULT_TIMEOUT * 1000),
        # attempts=1 also stops the one implicit retry google-genai makes on connection errors;
        # retries and fallbacks belong to the proxy.
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=http,
        # google-genai also builds a sync client and a websocket TLS context, each loading the CA
        # bundle unless given one: the shared context (the async client is ours, above).
        client_args={"verify": shared_ssl_context()},
        async_client_args={"ssl": shared_ssl_context()},
    )
    kwargs: dict[str, Any] = {
        "api_key": config.api_key.reveal(),
        # Explicit, so GOOGLE_GENAI_USE_VERTEXAI / ..._USE_ENTERPRISE in the environment cannot
        # switch this client to Vertex, and GOOGLE_GENAI_CLIENT_MODE cannot make it a replay client.
        "vertexai": False,
        "debug_config": DebugConfig(client_mode=None, replays_directory=None, replay_id=None),
        "http_options": options,
    }
    # An httpx2 pool holds no connection until its first request: nothing to close if this fails.
    streams = http_transport(TRANSPORT_ENV) if transport is None else "httpx2"
    return GoogleClient(genai.Client(**kwargs), http, config.api_key, config.base_url, streams)
