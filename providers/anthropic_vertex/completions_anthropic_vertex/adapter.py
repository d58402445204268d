"""The Anthropic-on-Vertex adapter: the Anthropic adapter with Vertex's destination and credentials."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from completions_anthropic import DEFAULT_MAX_TOKENS, AnthropicAdapter, Plan
from completions_anthropic.adapter import CLIENT_TIMEOUT, PREPARED_MODULES, http_client, prepare, rehearse

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.redaction import Secret, fingerprint
from completions_core.request import ProviderRequest

from .auth import (
    CLOUD_PLATFORM_SCOPE,
    GOOGLE_AUTH_MODULES,
    GOOGLE_TOKEN_URI,
    ManagedFile,
    VertexClient,
    canonical_service_account,
    parse_json_key,
)
from .errors import invalid, map_token_error

__all__ = [
    "VERTEX_ANTHROPIC_VERSION",
    "VERTEX_NATIVE_STRUCTURED_OUTPUT_MODELS",
    "VERTEX_REGIONS",
    "AnthropicVertexAdapter",
    "VertexClientConfig",
    "vertex_base_url",
]

#: The body field Vertex requires (anthropic 2.12 would otherwise send its own API version).
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
#: Google Cloud regions that serve Vertex AI, plus the global and multi-region endpoints. Which
#: Claude models a region offers varies; Vertex answers 404 for one it does not serve.
VERTEX_REGIONS: frozenset[str] = frozenset(
    {
        "global", "us", "eu",
        "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
        "us-west1", "us-west2", "us-west3", "us-west4",
        "northamerica-northeast1", "northamerica-northeast2", "southamerica-east1", "southamerica-west1",
        "europe-central2", "europe-north1", "europe-southwest1", "europe-west1", "europe-west2",
        "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9", "europe-west12",
        "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
        "asia-south1", "asia-southeast1", "asia-southeast2",
        "australia-southeast1", "australia-southeast2",
        "me-central1", "me-central2", "me-west1", "africa-south1",
    }
)  # fmt: skip
#: Models Vertex documents native structured output for. Vertex keeps the feature off unless the
#: organization policy ``constraints/vertexai.allowedPartnerModelFeatures`` allows it, so the
#: adapter uses them only when the operator opts in; otherwise every model gets the forced tool.
VERTEX_NATIVE_STRUCTURED_OUTPUT_MODELS: tuple[str, ...] = ("claude-opus-4-7", "claude-sonnet-4-6", "claude-opus-4-6")

# Google Cloud project ids: 6-30 characters, lower-case letters, digits and hyphens, starting with
# a letter and not ending with a hyphen. (Legacy domain-scoped ids are not accepted.)
_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_KWARGS = "provider_kwargs.anthropic_vertex"
_TRUE = frozenset({"1", "true", "yes", "on"})


def vertex_base_url(region: str) -> str:
    """The Vertex AI endpoint for ``region`` (the same hosts the anthropic SDK would use)."""
    if region == "global":
        return "https://aiplatform.googleapis.com/v1"
    if region in ("us", "eu"):
        return f"https://aiplatform.{region}.rep.googleapis.com/v1"
    return f"https://{region}-aiplatform.googleapis.com/v1"


@dataclass(frozen=True, repr=False)
class VertexClientConfig:
    """Who to talk to on Vertex; hashable, and its repr shows fingerprints, never credentials.

    Exactly one of ``service_account`` (canonical service-account JSON text) and
    ``access_token`` is set.
    """

    project_id: str
    region: str
    base_url: str
    token_uri: str
    service_account: Optional[Secret] = None
    access_token: Optional[Secret] = None

    def __repr__(self) -> str:
        if self.service_account is not None:
            credential = f"service_account:{fingerprint(self.service_account)}"
        else:
            credential = f"access_token:{fingerprint(self.access_token or Secret(''))}"
        return (
            f"VertexClientConfig(project_id={self.project_id!r}, region={self.region!r}, "
            f"base_url={self.base_url!r}, credential={credential})"
        )

    __str__ = __repr__


class AnthropicVertexAdapter(AnthropicAdapter):
    """Claude on Vertex AI (``rawPredict`` / ``streamRawPredict``), sharing the Anthropic mapping."""

    name: ClassVar[str] = "anthropic_vertex"
    aliases: ClassVar[tuple[str, ...]] = ("vertex_anthropic",)
    #: google-auth mints the access token from the service account.
    sdk_loggers: ClassVar[tuple[str, ...]] = ("anthropic", "google")
    managed_key_env: ClassVar[tuple[str, ...]] = (
        "COMPLETIONS_VERTEX_SERVICE_ACCOUNT_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
    )
    option_keys: ClassVar[frozenset[str]] = frozenset(
        {"thinking", "project_id", "region", "service_account_credentials"}
    )
    # The SDK puts the model into the URL path (.../models/{model}:rawPredict): nothing that could
    # end or change a path segment (no / : ? # % or whitespace).
    model_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
    model_rule: ClassVar[str] = (
        "a Vertex model id such as claude-haiku-4-5@20251001: 1-128 letters, digits and . _ - @"
    )

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        project_id: Optional[str] = None,
        region: Optional[str] = None,
        token_uri: Optional[str] = None,
        native_structured_output: Optional[bool] = None,
        default_max_tokens: Optional[int] = None,
        allowed_projects: Optional[Iterable[str]] = None,
    ) -> None:
        """Operator settings; each falls back to an environment variable.

        ``base_url`` (``COMPLETIONS_ANTHROPIC_VERTEX_BASE_URL``) replaces the regional Vertex host
        (including ``/v1``); ``project_id`` / ``region`` (``COMPLETIONS_ANTHROPIC_VERTEX_PROJECT_ID``
        / ``..._REGION``, default ``global``) apply when the request names none; ``token_uri``
        (``COMPLETIONS_VERTEX_TOKEN_URI``) is where service-account tokens are minted;
        ``native_structured_output`` (``COMPLETIONS_ANTHROPIC_VERTEX_NATIVE_STRUCTURED_OUTPUT``)
        turns on Vertex's native structured output for the models that have it;
        ``allowed_projects`` (``COMPLETIONS_ANTHROPIC_VERTEX_ALLOWED_PROJECTS``, comma-separated) are
        the projects a request on the managed service account may name (default: the operator's
        ``project_id`` and the service account's own ``project_id``).
        """
        # AnthropicAdapter.__init__ only resolves Anthropic's own endpoint, which Vertex never uses.
        env = os.environ
        self.default_max_tokens = DEFAULT_MAX_TOKENS if default_max_tokens is None else default_max_tokens
        #: The operator's Vertex endpoint ("" = the regional Google host for each request's region).
        self.base_url = (base_url or env.get("COMPLETIONS_ANTHROPIC_VERTEX_BASE_URL") or "").rstrip("/")
        self.project_id = project_id or env.get("COMPLETIONS_ANTHROPIC_VERTEX_PROJECT_ID") or None
        self.region = region or env.get("COMPLETIONS_ANTHROPIC_VERTEX_REGION") or "global"
        self.token_uri = token_uri or env.get("COMPLETIONS_VERTEX_TOKEN_URI") or GOOGLE_TOKEN_URI
        if allowed_projects is None:
            raw = env.get("COMPLETIONS_ANTHROPIC_VERTEX_ALLOWED_PROJECTS", "")
            allowed_projects = [item.strip() for item in raw.split(",") if item.strip()]
        #: Projects the managed service account may be used for (empty: the operator's default
        #: project and the service account's own).
        self.allowed_projects: frozenset[str] = frozenset(allowed_projects)
        if native_structured_output is None:
            flag = env.get("COMPLETIONS_ANTHROPIC_VERTEX_NATIVE_STRUCTURED_OUTPUT", "")
            native_structured_output = flag.strip().lower() in _TRUE
        self.native_structured_output_models = (
            VERTEX_NATIVE_STRUCTURED_OUTPUT_MODELS if native_structured_output else ()
        )
        self._managed_file = ManagedFile()

    # -- who to talk to ----------------------------------------------------------------------

    def managed_projects(self, own_project: Optional[str]) -> frozenset[str]:
        """The projects a managed-credential request may go to."""
        if self.allowed_projects:
            return self.allowed_projects
        return frozenset(p for p in (self.project_id, own_project) if isinstance(p, str) and p)

    def _credential(
        self, options: Mapping[str, Any], credential: Credential
    ) -> tuple[Optional[Secret], Optional[Secret]]:
        """(service-account JSON, access token): exactly one is set."""
        if "service_account_credentials" in options:
            path = f"{_KWARGS}.service_account_credentials"
            return canonical_service_account(options["service_account_credentials"], path), None
        if credential.api_key is None:
            raise ProviderError("no Vertex credentials were resolved", "authentication_error", provider=self.name)
        text = credential.api_key.reveal().strip()
        if credential.source == "managed":
            # The operator's value: the mounted JSON itself, or the path of the key file.
            if text.startswith("{"):
                return parse_json_key(text, "managed service account"), None
            return self._managed_file.read(text), None
        if text.startswith("{"):
            return parse_json_key(text, "credentials.anthropic_vertex.api_key"), None
        # A caller's non-JSON key is an OAuth2 access token; it is never read as a file path.
        return None, Secret(text)

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        """Project, region, endpoint and credentials; refuse anything that could redirect the call."""
        self.check_model(request.model)
        options = request.provider_kwargs.get(self.name) or {}
        service_account, access_token = self._credential(options, credential)
        region = options.get("region", self.region)
        if not isinstance(region, str) or region not in VERTEX_REGIONS:
            raise invalid(
                f"{region!r} is not a Vertex AI region (e.g. us-east5, europe-west1, global)", f"{_KWARGS}.region"
            )
        own_project = json.loads(service_account.reveal()).get("project_id") if service_account else None
        managed = credential.source == "managed" and "service_account_credentials" not in options
        if managed:
            project = options.get("project_id") or self.project_id or own_project
        else:
            # A caller's own service account bills its own project unless the caller names another.
            project = options.get("project_id") or own_project or self.project_id
        if project is None:
            raise invalid(
                "is required: name the Google Cloud project (or use a service account that has one)",
                f"{_KWARGS}.project_id",
            )
        if not isinstance(project, str) or not _PROJECT_ID.fullmatch(project):
            raise invalid(
                f"{project!r} is not a Google Cloud project id (6-30 lower-case letters, digits and hyphens)",
                f"{_KWARGS}.project_id",
            )
        if managed and project not in self.managed_projects(own_project):
            # The platform's service account may only be spent on the operator's projects.
            raise InvalidRequestError(
                "is not a project the managed Vertex service account may be used for; leave it out, ask the "
                "operator, or register your own with "
                'configure_provider("anthropic_vertex", api_key=<service-account JSON>)',
                f"{_KWARGS}.project_id",
                error_type="permission_error",
            )
        return VertexClientConfig(
            project_id=project,
            region=region,
            base_url=self.base_url or vertex_base_url(region),
            token_uri=self.token_uri,
            service_account=service_account,
            access_token=access_token,
        )

    def create_client(self, config: Any) -> VertexClient:
        """An ``AsyncAnthropicVertex`` (SDK retries off) with cached, refreshable credentials."""
        import anthropic
        import httpx2

        assert isinstance(config, VertexClientConfig)
        credentials = None
        if config.service_account is not None:
            from google.oauth2 import service_account

            info = json.loads(config.service_account.reveal())
            # The token endpoint is the operator's, never the one a key file names.
            info["token_uri"] = config.token_uri
            load: Any = service_account.Credentials.from_service_account_info  # google-auth is untyped
            try:
                credentials = load(info, scopes=[CLOUD_PLATFORM_SCOPE])
            except (ValueError, TypeError, KeyError):
                raise ProviderError(
                    "the service account's private key could not be loaded",
                    "authentication_error",
                    provider=self.name,
                    retryable=False,
                ) from None
        sdk = anthropic.AsyncAnthropicVertex(
            region=config.region,
            project_id=config.project_id,
            credentials=credentials,
            access_token=config.access_token.reveal() if config.access_token is not None else None,
            base_url=config.base_url,
            max_retries=0,
            timeout=httpx2.Timeout(CLIENT_TIMEOUT[0], connect=CLIENT_TIMEOUT[1]),
            http_client=http_client(),
        )
        return VertexClient(sdk, credentials)

    def prepare(self) -> None:
        """Import the SDK and google-auth, build (and close) one client with a placeholder token, off the loop."""
        config = VertexClientConfig(
            project_id="prepare-only",
            region=self.region,
            base_url=self.base_url or vertex_base_url(self.region),
            token_uri=self.token_uri,
            access_token=Secret("prepare-only-placeholder"),
        )
        prepare(self, PREPARED_MODULES + GOOGLE_AUTH_MODULES, config)
        rehearse(self, self.rehearsal_client)

    def rehearsal_client(self, http: Any) -> VertexClient:
        """A Vertex client on ``http`` (a mock transport) for :meth:`prepare`'s rehearsal."""
        import anthropic

        sdk = anthropic.AsyncAnthropicVertex(
            region=self.region,
            project_id="prepare-only",
            access_token="prepare-only-placeholder",
            base_url="http://prepare.invalid/v1",
            max_retries=0,
            http_client=http,
        )
        return VertexClient(sdk)

    async def warm(self, client: Any) -> None:
        """Mint the access token ahead of the first request (best effort)."""
        try:
            await self.messages_api(client)
        except Exception:  # noqa: BLE001 - warming must never fail a request; the real call reports
            pass

    # -- what differs from Anthropic's API ------------------------------------------------------

    async def messages_api(self, client: Any) -> Any:
        """The SDK's ``messages``, after refreshing the access token if it expired."""
        assert isinstance(client, VertexClient)
        return await client.messages()

    def extra_body(self, plan: Plan) -> dict[str, Any]:
        """Vertex reads the API version from the body."""
        return {**plan.extra_body, "anthropic_version": VERTEX_ANTHROPIC_VERSION}

    def client_secrets(self, client: Any) -> list[Optional[str]]:
        """The access token in use (minted or the caller's) and the service account's private key id."""
        found: list[Optional[str]] = []
        if isinstance(client, VertexClient):
            found.append(getattr(client.sdk, "access_token", None))
            credentials = client.credentials
            if credentials is not None:
                found += [getattr(credentials, "token", None), getattr(credentials, "_private_key_id", None)]
        return [value if isinstance(value, str) else None for value in found]

    def map_error(self, exc: BaseException) -> Optional[ProviderError]:
        """Token failures (google-auth) first, then everything the Anthropic adapter maps."""
        mapped = map_token_error(exc, self.name)
        return mapped if mapped is not None else super().map_error(exc)
