"""The OpenAI Chat Completions front door (docs/openai-compatible.md), on the proxy's own engine."""

from __future__ import annotations

from completions_proxy.openai_compat.models import MODEL_MAP_ENV, parse_model_map
from completions_proxy.openai_compat.routes import openai_routes

__all__ = ["MODEL_MAP_ENV", "openai_routes", "parse_model_map"]
