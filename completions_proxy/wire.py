"""The proxy's side of the native wire format: a request body parsed once, into one object.

``POST /v1/completions`` carries the request (docs/protocol.md) plus three fields only the proxy
reads: ``stream``, ``stream_options`` and ``credentials``. :func:`parse_request` decodes all of
them together into a :class:`WireRequest`; nothing downstream looks at the body again. A
credential is the adapters' own :class:`~completions_core.adapter.Credential` from here on: a
customer's key, or a managed one that the engine resolves when an attempt needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from completions_core.adapter import Credential
from completions_core.codec import decode_request, stream_options_from_wire
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.types import StreamOptions

__all__ = ["MANAGED", "WireRequest", "parse_credentials", "parse_request"]

#: A provider registered with ``{"voicerun_managed": true}``: the proxy's key, read at attempt time.
MANAGED = Credential("managed")


@dataclass(frozen=True)
class WireRequest:
    """Everything a ``POST /v1/completions`` body says, decoded and checked."""

    #: The decoded request: the primary, then each fallback with what it inherits (``decode_request``).
    requests: tuple[ProviderRequest, ...]
    stream: bool = False
    stream_options: StreamOptions = field(default_factory=StreamOptions)
    #: Canonical-cased provider name (trimmed, lower case) -> its credential.
    credentials: Mapping[str, Credential] = field(default_factory=dict)


def parse_request(data: Any) -> WireRequest:
    """Decode a ``POST /v1/completions`` body; :class:`InvalidRequestError` names the field at fault."""
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    rest = dict(data)
    stream = rest.pop("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequestError("expected true or false", "stream")
    raw_options = rest.pop("stream_options", None)
    credentials = parse_credentials(rest.pop("credentials", None))
    requests = decode_request(rest, wire=True)
    options, _deprecated = stream_options_from_wire(raw_options)
    return WireRequest(requests, stream, options, credentials)


def parse_credentials(value: Any) -> dict[str, Credential]:
    """Decode the request's ``credentials`` object: ``{provider: {"voicerun_managed": true} | {"api_key": "..."}}``.

    A key travels in an HTTP header to the provider, so it must be printable Latin-1 without
    CR, LF or NUL, and at most ``max_key_chars`` long; a message never repeats the key.
    """
    if value is None:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):  # a JSON object first: the ABC check is slower
        raise InvalidRequestError("expected an object mapping provider names to credentials", "credentials")
    if len(value) > DEFAULT_LIMITS.max_credentials:
        raise DEFAULT_LIMITS.too_many("providers", len(value), "max_credentials", "credentials")
    out: dict[str, Credential] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not name.strip() or len(name) > DEFAULT_LIMITS.max_provider_chars:
            raise InvalidRequestError(
                f"each key is a provider name of 1 to {DEFAULT_LIMITS.max_provider_chars} characters "
                "(max_provider_chars)",
                "credentials",
            )
        path = f"credentials.{name}"
        if type(spec) is not dict and not isinstance(spec, Mapping):
            raise InvalidRequestError('expected {"voicerun_managed": true} or {"api_key": "..."}', path)
        if any(key not in _CREDENTIAL_FIELDS for key in spec):
            unknown = set(spec) - _CREDENTIAL_FIELDS
            raise InvalidRequestError(
                f"unknown field {sorted(unknown)[0][:64]!r}; allowed fields: api_key, voicerun_managed", path
            )
        managed = spec.get("voicerun_managed") is True
        key = spec.get("api_key")
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise InvalidRequestError("api_key must be a non-empty string", path)
        if managed == bool(key):
            raise InvalidRequestError("exactly one of voicerun_managed or api_key must be set", path)
        if key is not None:
            _check_key(key, f"{path}.api_key")
        out[name.strip().lower()] = Credential("customer", Secret(key.strip())) if key else MANAGED
    return out


_CREDENTIAL_FIELDS = frozenset({"voicerun_managed", "api_key"})


def _check_key(key: str, path: str) -> None:
    if len(key) > DEFAULT_LIMITS.max_key_chars:
        raise InvalidRequestError(
            f"is {len(key)} characters long, over the limit of {DEFAULT_LIMITS.max_key_chars} (max_key_chars)", path
        )
    # Never name the offending character's neighbours: they are part of the key.
    if any(ch in key for ch in "\r\n\0"):
        raise InvalidRequestError("must not contain CR, LF or NUL characters (check how the key was read)", path)
    if any(ord(ch) > 0xFF or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key.strip()):
        raise InvalidRequestError("must hold only printable Latin-1 characters (it is sent in an HTTP header)", path)
