"""What the engine, its attempts and its hedges share about one request: the turn, its targets,
and the credentials the client registered.

Imports flow one way: :mod:`~completions_proxy.engine` -> :mod:`~completions_proxy.hedging` ->
:mod:`~completions_proxy.attempts` -> this module, which knows none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from completions_core.adapter import ProviderAdapter
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS
from completions_core.records import AttemptRecord
from completions_core.redaction import Secret
from completions_core.types import ChatCompletionRequest, ChatCompletionResponse, RetryConfiguration
from completions_core.usage import NormalizedUsage, chat_completions_usage

__all__ = ["CredentialSpec", "Target", "Turn", "parse_credentials"]


@dataclass(frozen=True)
class CredentialSpec:
    """What the client registered for one provider: the managed key, or its own key."""

    managed: bool
    api_key: Optional[Secret] = None


def parse_credentials(value: Any) -> dict[str, CredentialSpec]:
    """Decode the request's ``credentials`` object: ``{provider: {"voicerun_managed": true} | {"api_key": "..."}}``.

    A key travels in an HTTP header to the provider, so it must be printable Latin-1 without
    CR, LF or NUL, and at most ``max_key_chars`` long; a message never repeats the key.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError("expected an object mapping provider names to credentials", "credentials")
    if len(value) > DEFAULT_LIMITS.max_credentials:
        raise DEFAULT_LIMITS.too_many("providers", len(value), "max_credentials", "credentials")
    out: dict[str, CredentialSpec] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not name.strip() or len(name) > DEFAULT_LIMITS.max_provider_chars:
            raise InvalidRequestError(
                f"each key is a provider name of 1 to {DEFAULT_LIMITS.max_provider_chars} characters "
                "(max_provider_chars)",
                "credentials",
            )
        path = f"credentials.{name}"
        if not isinstance(spec, Mapping):
            raise InvalidRequestError('expected {"voicerun_managed": true} or {"api_key": "..."}', path)
        unknown = set(spec) - {"voicerun_managed", "api_key"}
        if unknown:
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
        out[name.strip().lower()] = CredentialSpec(managed=managed, api_key=Secret(key.strip()) if key else None)
    return out


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


@dataclass
class Target:
    """One provider to try, with the request as that provider will see it."""

    adapter: ProviderAdapter
    request: ChatCompletionRequest
    credential: CredentialSpec
    retry: RetryConfiguration

    @property
    def provider(self) -> str:
        """The provider's canonical name."""
        return self.adapter.name




@dataclass
class Turn:
    """The state of one request through the engine: attempts so far and who answered."""

    request_id: str
    attempts: list[AttemptRecord] = field(default_factory=list)
    provider: Optional[str] = None
    model: Optional[str] = None
    first_chunk_at: Optional[float] = None
    first_sentence_at: Optional[float] = None
    started_at: float = field(default_factory=time.perf_counter)
    provider_wait: float = 0.0
    backoff_wait: float = 0.0
    usage: Optional[dict[str, Any]] = None
    #: Reads ``usage`` with the answering adapter's meaning (its ``normalize_usage``).
    usage_reader: Callable[[Optional[Mapping[str, Any]]], NormalizedUsage] = field(default=chat_completions_usage)
    finish_reason: Optional[str] = None
    chunks: int = 0
    sentences: int = 0
    response: Optional[ChatCompletionResponse] = None
    last_target: int = 0  # the plan's last target: the breaker never skips it
