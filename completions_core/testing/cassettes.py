"""Load recorded provider traffic (VCR-like YAML cassettes) into typed objects.

The format is the one described in ``shared/data/wire/README.md``::

    source: {repo, path, commit, license, ...}
    interactions:
    - request:  {method, uri, headers: {name: [values]}, body: "<raw JSON>"}
      response: {status: {code, message}, headers: {...}, body: {string: "<raw text>"}}
    version: 1

Replay matches a request on method + path, plus the query parameter that selects a different
response format (``?alt=sse`` for Gemini streams). Everything else in the URI (host, scheme, an
API key in the query) is ignored on purpose: the SDK under test is pointed at a loopback server, so
the host never matches. ``?beta=true`` is ignored too: older Anthropic SDKs added it for beta
messages and the recordings carry it, but anthropic 2.12 sends beta requests to plain
``/v1/messages``, and the API answers both the same way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

__all__ = [
    "MATCH_QUERY_KEYS",
    "Cassette",
    "CassetteError",
    "Interaction",
    "RecordedRequest",
    "RecordedResponse",
    "load_cassette",
    "match_path",
    "parse_cassette",
    "split_sse_events",
]

#: Query parameters that pick a different upstream behaviour and so take part in matching.
MATCH_QUERY_KEYS: tuple[str, ...] = ("alt",)

# An SSE event ends at a blank line; providers use LF (OpenAI, Anthropic) or CRLF (Gemini).
_SSE_EVENT_END = re.compile(r"(?<=\r\n\r\n)|(?<=\n\n)|(?<=\r\r)")


class CassetteError(ValueError):
    """A cassette file is not in the expected format."""


def match_path(path: str, query: Mapping[str, str]) -> str:
    """Return the key a request is matched on: ``path`` plus the endpoint-selecting query.

    >>> match_path("/v1beta/models/m:streamGenerateContent", {"alt": "sse", "key": "x"})
    '/v1beta/models/m:streamGenerateContent?alt=sse'
    """
    relevant = [f"{key}={query[key]}" for key in MATCH_QUERY_KEYS if key in query]
    return f"{path}?{'&'.join(relevant)}" if relevant else path


def split_sse_events(text: str) -> list[str]:
    """Split an SSE body into its events, each keeping its own terminating blank line.

    Joining the result gives back ``text`` exactly. Text after the last blank line (a stream that
    was cut short) is returned as a final, unterminated event.
    """
    return [part for part in _SSE_EVENT_END.split(text) if part]


def _header_map(raw: object, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CassetteError(f"{where}: headers must be a mapping, got {type(raw).__name__}")
    headers: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        items = values if isinstance(values, list) else [values]
        headers[str(name).lower()] = tuple(str(value) for value in items)
    return headers


def _first(headers: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    values = headers.get(name.lower())
    return values[0] if values else None


def _text(raw: object, where: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        # YAML ``!!binary`` bodies; the curated files hold decoded text, but stay tolerant.
        return raw.decode("utf-8")
    if isinstance(raw, str):
        return raw
    raise CassetteError(f"{where}: body must be a string, got {type(raw).__name__}")


@dataclass(frozen=True)
class RecordedRequest:
    """The request half of an interaction, as the SDK that made the recording sent it."""

    method: str
    uri: str
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: str = ""

    @property
    def path(self) -> str:
        """The decoded URI path, without host or query (``/v1/chat/completions``)."""
        # Decoded, like the path a server sees, so that ``%3A`` and ``:`` match.
        return unquote(urlsplit(self.uri).path)

    @property
    def query(self) -> dict[str, str]:
        """The URI query as a dict (the last value wins for repeated names)."""
        return dict(parse_qsl(urlsplit(self.uri).query, keep_blank_values=True))

    @property
    def match_path(self) -> str:
        """Path plus endpoint-selecting query: what replay matches on (``...?alt=sse``)."""
        return match_path(self.path, self.query)

    def header(self, name: str) -> str | None:
        """The first recorded value of header ``name`` (case-insensitive), if any."""
        return _first(self.headers, name)

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when the request had no body."""
        return json.loads(self.body) if self.body.strip() else None

    @property
    def stream_requested(self) -> bool:
        """Whether the request asked for a stream (``"stream": true`` or ``?alt=sse``).

        This differs from :attr:`RecordedResponse.is_streaming` for errors: a stream request that
        failed is answered with a plain JSON body.
        """
        if self.query.get("alt") == "sse":
            return True
        try:
            body = self.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("stream") is True


@dataclass(frozen=True)
class RecordedResponse:
    """The response half of an interaction, exactly as the provider answered."""

    status: int
    reason: str
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: str = ""

    def header(self, name: str) -> str | None:
        """The first recorded value of header ``name`` (case-insensitive), if any."""
        return _first(self.headers, name)

    @property
    def content_type(self) -> str:
        """The recorded content-type, with parameters (``text/event-stream; charset=utf-8``)."""
        return self.header("content-type") or ""

    @property
    def is_streaming(self) -> bool:
        """Whether the body is labelled as an SSE stream (``text/event-stream``)."""
        return self.content_type.split(";", 1)[0].strip().lower() == "text/event-stream"

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` for SSE or other non-JSON bodies)."""
        return json.loads(self.body)

    def sse_events(self) -> list[str]:
        """The body split into SSE events (see :func:`split_sse_events`)."""
        return split_sse_events(self.body)


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair; ``index`` is its position in the cassette."""

    request: RecordedRequest
    response: RecordedResponse
    index: int = 0


@dataclass(frozen=True)
class Cassette:
    """A whole cassette: where it came from and its interactions, in recorded order."""

    interactions: tuple[Interaction, ...]
    source: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    version: int = 1

    def __len__(self) -> int:
        return len(self.interactions)

    def __getitem__(self, index: int) -> Interaction:
        return self.interactions[index]


def _interaction(raw: object, index: int, where: str) -> Interaction:
    here = f"{where}: interactions[{index}]"
    if not isinstance(raw, Mapping):
        raise CassetteError(f"{here} must be a mapping")
    request = raw.get("request")
    response = raw.get("response")
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise CassetteError(f"{here} needs a 'request' and a 'response' mapping")
    method = request.get("method")
    uri = request.get("uri")
    if not isinstance(method, str) or not isinstance(uri, str):
        raise CassetteError(f"{here}.request needs string 'method' and 'uri'")
    status = response.get("status")
    if not isinstance(status, Mapping) or not isinstance(status.get("code"), int):
        raise CassetteError(f"{here}.response.status needs an integer 'code'")
    body = response.get("body")
    body_text = body.get("string") if isinstance(body, Mapping) else body
    return Interaction(
        request=RecordedRequest(
            method=method.upper(),
            uri=uri,
            headers=_header_map(request.get("headers"), f"{here}.request"),
            body=_text(request.get("body"), f"{here}.request"),
        ),
        response=RecordedResponse(
            status=int(status["code"]),
            reason=str(status.get("message") or ""),
            headers=_header_map(response.get("headers"), f"{here}.response"),
            body=_text(body_text, f"{here}.response"),
        ),
        index=index,
    )


def parse_cassette(data: object, *, path: Path | None = None) -> Cassette:
    """Build a :class:`Cassette` from already-parsed YAML (a mapping)."""
    where = str(path) if path is not None else "<cassette>"
    if not isinstance(data, Mapping):
        raise CassetteError(f"{where}: top level must be a mapping")
    raw_interactions = data.get("interactions")
    if not isinstance(raw_interactions, Sequence) or isinstance(raw_interactions, str):
        raise CassetteError(f"{where}: 'interactions' must be a list")
    source = data.get("source") or {}
    if not isinstance(source, Mapping):
        raise CassetteError(f"{where}: 'source' must be a mapping")
    return Cassette(
        interactions=tuple(_interaction(raw, index, where) for index, raw in enumerate(raw_interactions)),
        source=dict(source),
        path=path,
        version=int(data.get("version", 1)),
    )


def load_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read and parse the cassette file at ``path``."""
    file = Path(path)
    with file.open(encoding="utf-8") as stream:
        # safe_load: cassettes are data, and a copied file must never run code.
        data = yaml.safe_load(stream)
    return parse_cassette(data, path=file)
