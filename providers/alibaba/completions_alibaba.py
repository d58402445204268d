"""Alibaba provider plugin: Qwen models on DashScope's OpenAI-compatible mode.

The mapping is the OpenAI plugin's (DashScope's compatible mode speaks Chat Completions); only
the client differs: DashScope's regional endpoints and key, and the few Qwen differences DashScope
documents (see README.md). A request may pick a region with ``provider_kwargs.alibaba.base_url``,
but only one of the allowlisted DashScope endpoints: a managed key must never be sent to a host
the caller chose. When the operator set the endpoint (``COMPLETIONS_ALIBABA_BASE_URL``, a gateway),
the managed key always goes there, whatever region the request names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Optional

from completions_openai import OpenAIAdapter, OpenAIClientConfig

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError
from completions_core.hookspecs import Register, hookimpl
from completions_core.request import ProviderRequest
from completions_core.schemas import Target

__all__ = ["DASHSCOPE_ENDPOINTS", "AlibabaAdapter", "allowed_endpoint", "register_providers"]

#: DashScope's OpenAI-compatible endpoints, by region (the API reference's list).
DASHSCOPE_ENDPOINTS: dict[str, str] = {
    "singapore": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "virginia": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
    "beijing": "https://dashscope.aliyuncs.com/compatible-mode/v1",
}

_HOSTS: dict[str, str] = {url.split("/")[2]: url for url in DASHSCOPE_ENDPOINTS.values()}
_PATHS = frozenset({"/compatible-mode/v1", "/compatible-mode/v1/"})
_SCHEME = "https://"
# Characters that have no place in an allowlisted endpoint and only serve to smuggle another
# host or path past a parser: userinfo, percent-encoding, query, fragment, backslash, IPv6 brackets.
_FORBIDDEN = frozenset("@%?#\\[];")
_MAX_LENGTH = 200
_WHERE = "provider_kwargs.alibaba.base_url"


def _refuse() -> InvalidRequestError:
    # The rejected value is not echoed: it may carry credentials (userinfo) or be arbitrarily long.
    allowed = ", ".join(f"{url} ({region})" for region, url in DASHSCOPE_ENDPOINTS.items())
    return InvalidRequestError(f"is not an allowed DashScope endpoint; use one of: {allowed}", _WHERE)


def allowed_endpoint(value: object) -> str:
    """The canonical DashScope endpoint that ``value`` names, or :class:`InvalidRequestError`.

    Strict: ``https`` only; the host exactly one of the allowlisted ones (case-insensitive, as DNS
    is; no trailing dot, no IP address, no IDN); no userinfo; no port but 443; the path
    ``/compatible-mode/v1`` with an optional trailing slash; no query, fragment or percent-encoding.
    The result is taken from the allowlist, never rebuilt from the input.
    """
    if not isinstance(value, str):
        raise InvalidRequestError(f"expected a string, got {type(value).__name__}", _WHERE)
    if not value or len(value) > _MAX_LENGTH or not value.isascii() or not value.isprintable():
        raise _refuse()
    if any(ch.isspace() or ch in _FORBIDDEN for ch in value):
        raise _refuse()
    if value[: len(_SCHEME)].lower() != _SCHEME:
        raise _refuse()
    authority, slash, rest = value[len(_SCHEME) :].partition("/")
    host, colon, port = authority.partition(":")
    if colon and port != "443":
        raise _refuse()
    canonical = _HOSTS.get(host.lower())
    if canonical is None or (slash + rest) not in _PATHS:
        raise _refuse()
    return canonical


class AlibabaAdapter(OpenAIAdapter):
    """Qwen on DashScope's OpenAI-compatible mode: the OpenAI mapping, DashScope's endpoints and key."""

    name = "alibaba"
    aliases = ("qwen", "dashscope")
    managed_key_env = ("DASHSCOPE_API_KEY",)

    default_base_url: ClassVar[str] = DASHSCOPE_ENDPOINTS["singapore"]
    base_url_env: ClassVar[str] = "COMPLETIONS_ALIBABA_BASE_URL"
    option_keys: ClassVar[frozenset[str]] = frozenset({"base_url", "enable_search"})
    # max_tokens_field stays max_completion_tokens: Model Studio moved every OpenAI-compatible
    # model to it on 2026-04-20 and retired max_tokens by 2026-05-30.

    def __init__(self, base_url: Optional[str] = None) -> None:
        """``base_url`` (else ``COMPLETIONS_ALIBABA_BASE_URL``) is the operator's endpoint."""
        super().__init__(base_url)
        #: Whether the operator chose the endpoint: then managed keys go nowhere else.
        self.operator_endpoint = bool(base_url or os.environ.get(self.base_url_env))

    def client_config(self, request: ProviderRequest, credential: Credential) -> OpenAIClientConfig:
        """The request's region for a customer key; for the managed key, the operator's endpoint if set."""
        config = super().client_config(request, credential)  # checks the model and the region
        if credential.source == "managed" and self.operator_endpoint and config.base_url != self.base_url:
            # The operator's setting wins (a gateway that audits, or the only region its key is for).
            return OpenAIClientConfig(base_url=self.base_url, api_key=credential.api_key)
        return config

    def endpoint(self, request: ProviderRequest) -> str:
        """The operator's endpoint, or the allowlisted region the request names."""
        options = request.provider_kwargs.get(self.name)
        if options is None:
            return self.base_url
        chosen = options.get("base_url")
        return self.base_url if chosen is None else allowed_endpoint(chosen)

    def schema_target(self, strict: bool) -> Target:
        """Qwen's dialect: DashScope does not resolve ``$ref``/``$defs``, so references are inlined."""
        return "inlined"

    def apply_options(
        self, options: Mapping[str, Any], params: dict[str, Any], request: ProviderRequest, *, stream: bool
    ) -> None:
        """``enable_search``, and thinking turned off where DashScope requires it."""
        extra: dict[str, Any] = {}
        search = options.get("enable_search")
        if search is not None:
            if not isinstance(search, bool):
                self._refuse("provider_kwargs.alibaba.enable_search must be true or false")
            extra["enable_search"] = search
        if not stream or request.response_schema is not None:
            # DashScope refuses thinking outside streaming ("parameter.enable_thinking must be set
            # to false for non-streaming calls", Qwen3 open-source models think by default), and
            # structured output works only in non-thinking mode.
            extra["enable_thinking"] = False
        if extra:
            params["extra_body"] = {**params.get("extra_body", {}), **extra}


@hookimpl
def register_providers(register: Register) -> None:
    """Register the Alibaba (DashScope) provider."""
    register(AlibabaAdapter())
