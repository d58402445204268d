"""Google credentials for Vertex: service-account keys, the managed key file, and access tokens.

A :class:`VertexClient` keeps the google-auth credentials next to the SDK client and refreshes
their access token under a lock, with one token request per refresh (no google-auth retries).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import anyio

from completions_core.errors import InvalidRequestError
from completions_core.redaction import Secret

from .errors import TokenEndpointError, invalid, managed_unavailable

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "GOOGLE_AUTH_MODULES",
    "GOOGLE_TOKEN_URI",
    "TOKEN_REQUEST_TIMEOUT",
    "ManagedFile",
    "VertexClient",
    "canonical_service_account",
    "parse_json_key",
]

#: Google's OAuth2 token endpoint: where service-account JWTs are exchanged for access tokens.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: Seconds one token request may take.
TOKEN_REQUEST_TIMEOUT = 30.0
# What a first request on a service account imports (prepare() does it at start-up).
GOOGLE_AUTH_MODULES = (
    "google.auth.exceptions",
    "google.auth.transport.requests",
    "google.oauth2.service_account",
    "anthropic.lib.vertex",
)
_SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key")


class _OneShotTokenRequest:
    """google-auth's HTTP transport, minus its retries.

    google-auth retries a token request that failed with 429/5xx itself (three attempts with one
    and two seconds of backoff, in a blocked thread). Retries belong to the proxy engine, so such
    an answer ends the attempt at once, as a :class:`TokenEndpointError`.
    """

    def __init__(self) -> None:
        from google.auth.transport.requests import Request

        self._request: Any = Request()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TOKEN_REQUEST_TIMEOUT)  # google-auth's own default is 120 s
        response = self._request(*args, **kwargs)
        if response.status == 429 or response.status >= 500:
            raise TokenEndpointError(int(response.status))
        return response

    def close(self) -> None:
        """Close the pooled connections to the token endpoint."""
        self._request.session.close()


class VertexClient:
    """An ``AsyncAnthropicVertex`` with the google-auth credentials it uses.

    The credentials live as long as the cached client, so their access token is reused until it
    expires; :meth:`messages` refreshes it under a lock, so concurrent requests on an expired
    token cause one token request, not one each.
    """

    def __init__(self, sdk: Any, credentials: Any = None) -> None:
        self.sdk = sdk
        self.credentials = credentials
        self._refresh_lock = anyio.Lock()
        self._token_request: Optional[_OneShotTokenRequest] = None

    async def messages(self) -> Any:
        """The SDK's ``messages`` resource, with a valid access token in place."""
        credentials = self.credentials
        if credentials is not None and (credentials.expired or not credentials.token):
            async with self._refresh_lock:
                if credentials.expired or not credentials.token:
                    if self._token_request is None:
                        self._token_request = _OneShotTokenRequest()
                    # google-auth's refresh blocks on HTTP: run it off the event loop, and let a
                    # cancelled request (the engine's timeout) go without waiting for the thread.
                    await anyio.to_thread.run_sync(credentials.refresh, self._token_request, abandon_on_cancel=True)
        return self.sdk.messages

    async def close(self) -> None:
        """Close the SDK client's connections (and the token endpoint's)."""
        await self.sdk.close()
        if self._token_request is not None:
            self._token_request.close()

    def __repr__(self) -> str:
        return f"<VertexClient region={self.sdk.region!r} project={self.sdk.project_id!r}>"


def canonical_service_account(info: Any, path: str) -> Secret:
    """Validate a parsed service-account key; return it as canonical JSON text (hashable, masked)."""
    if not isinstance(info, Mapping):
        raise invalid("must be a service-account JSON key (an object)", path)
    if info.get("type") != "service_account":
        raise invalid('must be a service-account key ("type": "service_account")', path)
    missing = [name for name in _SERVICE_ACCOUNT_FIELDS if not isinstance(info.get(name), str) or not info.get(name)]
    if missing:
        raise invalid(f"is missing {missing[0]!r}", path)
    universe = info.get("universe_domain", "googleapis.com")
    if universe != "googleapis.com":
        raise invalid("must belong to the googleapis.com universe", path)
    project = info.get("project_id")
    if project is not None and not isinstance(project, str):
        raise invalid("has a project_id that is not a string", path)
    return Secret(json.dumps(dict(info), sort_keys=True, separators=(",", ":")))


def parse_json_key(text: str, path: str) -> Secret:
    try:
        info = json.loads(text)
    except ValueError:
        # Never echo the text: it is a credential.
        raise invalid("is not valid service-account JSON", path) from None
    return canonical_service_account(info, path)


class ManagedFile:
    """The managed service-account file, re-read only when it changes (secrets get rotated)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int], Secret]] = {}

    def read(self, path: str) -> Secret:
        try:
            stat = os.stat(path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            raise managed_unavailable() from None
        try:
            secret = parse_json_key(text, "managed service account")
        except InvalidRequestError:
            raise managed_unavailable() from None
        self._cache[path] = (stamp, secret)
        return secret
