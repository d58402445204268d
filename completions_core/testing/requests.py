"""Requests for adapter tests, built the way the proxy builds them."""

from __future__ import annotations

from typing import Any

from completions_core.codec import decode_request
from completions_core.request import ProviderRequest
from completions_core.types import UserMessage

__all__ = ["provider_request"]


def provider_request(provider: str, model: str = "test-model", messages: Any = None, **fields: Any) -> ProviderRequest:
    """The :class:`ProviderRequest` an adapter gets for these public request fields.

    The fields take the public API's loose forms (dicts or dataclasses, lists, a provider enum) and
    go through the codec as a proxy request does, so a test never hands an adapter anything the
    proxy would not. ``messages`` defaults to one user message; ``fallbacks`` are not allowed here
    (an adapter sees one provider's request).
    """
    if "fallbacks" in fields:
        raise TypeError("provider_request builds one provider's request; decode_request resolves fallbacks")
    body = {"provider": provider, "model": model, "messages": messages or [UserMessage("Say hello.")], **fields}
    return decode_request(body)[0]
