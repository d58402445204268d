"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI-compatible front door.

Same token, same body limits, same engine (plan, retries, fallbacks, deadlines, hedging,
breaker), same client cache and credentials, same telemetry record as ``POST /v1/completions``;
only the request's shape and the answer's encoding differ (docs/openai-compatible.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from completions_core.errors import InvalidRequestError, ProviderError
from completions_proxy.openai_compat.encode import SSEStreamResponse, completion_to_openai
from completions_proxy.openai_compat.errors import (
    invalid_request_response,
    openai_error_response,
    provider_failure_response,
)
from completions_proxy.openai_compat.translate import OpenAIRequest, translate_request
from completions_proxy.responses import json_response
from completions_proxy.routes import (
    _request_id,
    _state,
    _turn_headers,
    answer,
    asked,
    guarded,
    header_deadlines,
    read_json,
    report,
    stream_response,
    with_turn,
)
from completions_proxy.state import ProxyState
from completions_proxy.turns import Turn

__all__ = ["openai_routes"]


def _model_map(request: Request) -> Mapping[str, tuple[str, str]]:
    mapped: Mapping[str, tuple[str, str]] = getattr(request.app.state, "openai_model_map", {})
    return mapped


def _unauthorized(headers: dict[str, str]) -> Response:
    return openai_error_response(
        "missing or invalid API key: send the proxy token as the OpenAI API key ('Authorization: Bearer <token>')",
        "authentication_error",
        401,
        headers={**headers, "WWW-Authenticate": "Bearer"},
        code="invalid_api_key",
    )


@with_turn(_unauthorized)
async def chat_completions(request: Request, turn: Turn) -> Response | SSEStreamResponse:
    """``POST /v1/chat/completions``: a ``chat.completion`` object, or SSE chunks when ``stream`` is true."""
    state = _state(request)
    headers = {"X-Request-ID": turn.request_id}
    try:
        data = await read_json(request, state)
        parsed = translate_request(data, request.headers, _model_map(request))
        asked(state, turn, parsed.requests, parsed.stream)
        targets = state.engine.plan(parsed.requests, parsed.credentials)
        # Read here, inside the try: a deadline header out of bounds is a 400 in the OpenAI shape.
        deadlines = header_deadlines(request, state.settings)
    except ClientDisconnect:
        return answer(state, turn, Response(status_code=499), "client_disconnected")
    except InvalidRequestError as exc:
        return answer(state, turn, invalid_request_response(exc, headers), "invalid_request", exc.error_type)
    if not parsed.stream:
        try:
            completed = await state.engine.complete(targets, turn)
        except ProviderError as exc:
            failed = provider_failure_response(exc, {**headers, **_turn_headers(turn)})
            return answer(state, turn, failed, "error", exc.error_type)
        except anyio.get_cancelled_exc_class():
            report(state, turn, "client_disconnected", 499)
            raise
        body = completion_to_openai(completed, turn, parsed.model)
        return answer(state, turn, json_response(body, headers={**headers, **_turn_headers(turn)}), "ok")
    return _stream(state, turn, parsed, targets, headers, deadlines)


def _stream(
    state: ProxyState,
    turn: Turn,
    parsed: OpenAIRequest,
    targets: list[Any],
    headers: dict[str, str],
    deadlines: tuple[Optional[float], Optional[float], Optional[float]],
) -> SSEStreamResponse:
    return stream_response(
        SSEStreamResponse, state, turn, targets, parsed.options, deadlines, headers,
        turn=turn, requested=parsed.model, include_usage=parsed.include_usage,
    )


def model_list(state: ProxyState, model_map: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The operator's mapped names, then ``<provider>/*`` for every installed provider (any model of it)."""
    installed = set(state.registry.names())
    out: list[dict[str, Any]] = []
    for alias, (provider, model) in model_map.items():
        adapter = state.registry.get(provider)
        if adapter is None:
            continue
        target = f"{provider}/{model}"
        out.append({"id": alias, "object": "model", "created": 0, "owned_by": adapter.name, "maps_to": target})
    for name in sorted(installed):
        out.append({"id": f"{name}/*", "object": "model", "created": 0, "owned_by": name})
    return out


@guarded(_unauthorized)
async def models(request: Request) -> Response:
    """``GET /v1/models``: what this proxy offers, in OpenAI's list shape."""
    state = _state(request)
    headers = {"X-Request-ID": _request_id(request)}
    return json_response({"object": "list", "data": model_list(state, _model_map(request))}, headers=headers)


openai_routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
]
