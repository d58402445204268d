"""Anthropic on Vertex AI: the Anthropic plugin's mapping with an ``AsyncAnthropicVertex`` client.

Registers :class:`AnthropicVertexAdapter` under the name ``anthropic_vertex``. Only "who to talk
to" differs from :mod:`completions_anthropic`: a Google Cloud project and region, and Google
credentials instead of an API key. Every request body, stream and error goes through the same
code as the Anthropic provider.

Credentials, in order of preference:

1. ``provider_kwargs["anthropic_vertex"]["service_account_credentials"]``: a parsed
   service-account JSON key (a dict);
2. the key the session registered with ``configure_provider("anthropic_vertex", api_key=...)``:
   the service-account JSON *text*, or else an OAuth2 access token used as is (never refreshed);
3. the managed service account (``voicerun_managed=True``): the mounted secret
   ``<secrets dir>/anthropic_vertex`` holding the JSON, or the file named by
   ``COMPLETIONS_VERTEX_SERVICE_ACCOUNT_FILE`` / ``GOOGLE_APPLICATION_CREDENTIALS``.

A caller never picks a destination: the region must be a Vertex AI region (or ``global``, ``us``,
``eu``), the project id must have Google Cloud's project-id syntax, the Vertex host follows from
the region, and a service account's ``token_uri`` is replaced by the operator's token endpoint.
The managed service account only serves the operator's allowed projects
(``COMPLETIONS_ANTHROPIC_VERTEX_ALLOWED_PROJECTS``); a caller's own service account serves its own
``project_id`` unless the caller names another.
"""

from __future__ import annotations

from completions_core.hookspecs import Register, hookimpl

from .adapter import (
    VERTEX_ANTHROPIC_VERSION,
    VERTEX_NATIVE_STRUCTURED_OUTPUT_MODELS,
    VERTEX_REGIONS,
    AnthropicVertexAdapter,
    VertexClientConfig,
    vertex_base_url,
)
from .auth import CLOUD_PLATFORM_SCOPE, GOOGLE_TOKEN_URI, TOKEN_REQUEST_TIMEOUT, VertexClient
from .errors import TokenEndpointError

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "TOKEN_REQUEST_TIMEOUT",
    "VERTEX_ANTHROPIC_VERSION",
    "VERTEX_NATIVE_STRUCTURED_OUTPUT_MODELS",
    "VERTEX_REGIONS",
    "AnthropicVertexAdapter",
    "TokenEndpointError",
    "VertexClient",
    "VertexClientConfig",
    "register_providers",
    "vertex_base_url",
]


@hookimpl
def register_providers(register: Register) -> None:
    """Register the Anthropic-on-Vertex provider."""
    register(AnthropicVertexAdapter())
