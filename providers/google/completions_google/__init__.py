"""Google Gemini (Gemini Developer API, google-genai) as a completions proxy provider.

Registers :class:`GoogleAdapter` as provider ``"google"``. The managed key comes from
``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``); the endpoint from ``COMPLETIONS_GOOGLE_BASE_URL``
(operator configuration), else Google's. ``provider_kwargs={"google": {"thinking_config": {...}}}``
is passed to Gemini as ``ThinkingConfig``. See README.md for every mapping choice.

Importing this module is cheap: google-genai and httpx2 are imported by :meth:`GoogleAdapter.prepare`
(the proxy calls it at start-up, off the event loop), else on first use.
"""

from __future__ import annotations

from completions_core.hookspecs import Register, hookimpl

from .adapter import BASE_URL_ENV, PREPARED_MODULES, GoogleAdapter, GoogleClient

__all__ = ["BASE_URL_ENV", "PREPARED_MODULES", "GoogleAdapter", "GoogleClient", "register_providers"]


@hookimpl
def register_providers(register: Register) -> None:
    """Register the Gemini provider."""
    register(GoogleAdapter())
