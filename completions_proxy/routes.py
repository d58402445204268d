"""The HTTP routes. Authentication is checked by one wrapper around each protected endpoint, on the
routed path (:func:`guarded`, and :func:`with_turn` for the endpoints that run a completion)."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from types import CoroutineType
from typing import Any, Optional, TypeVar, cast

import anyio
import anyio.to_thread
import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from completions_core.codec import decode_request, message_to_wire, response_to_wire
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.jsonutil import loads
from completions_core.limits import DEFAULT_LIMITS
from completions_core.request import ProviderRequest
from completions_core.types import StreamOptions
from completions_proxy.auth import authenticate
from completions_proxy.openapi import OPENAPI
from completions_proxy.responses import (
    ChunkStreamResponse,
    _Resume,
    error_response,
    json_response,
    provider_error_response,
)
from completions_proxy.settings import Settings
from completions_proxy.state import ProxyState
from completions_proxy.turns import Target, Turn
from completions_proxy.wire import parse_credentials, parse_request

__all__ = [
    "answer",
    "asked",
    "guarded",
    "header_deadlines",
    "read_json",
    "report",
    "routes",
    "stream_response",
    "with_turn",
]

logger = structlog.get_logger("completions_proxy.routes")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _BodyTooLarge(Exception):
    pass


def _state(request: Request) -> ProxyState:
    state: ProxyState = request.app.state.proxy
    return state


#: The scope key of the request's headers by name (:func:`header`), made at the first look-up.
_HEADERS = "completions.headers"


def header(request: Request, name: str) -> Optional[str]:
    """``request.headers.get(name)``: the first value of the header ``name``, or None.

    A route looks up eight headers or so (the token, the request id, the trace context, the
    body's length, the deadlines), most of them absent; Starlette's ``Headers`` scans the whole
    list for each (and raises and catches a ``KeyError`` for an absent one). This scans it once
    per request into a dict kept in the scope (as many entries as the request has headers).
    """
    scope = request.scope
    found: Optional[dict[bytes, bytes]] = scope.get(_HEADERS)
    if found is None:
        found = {}
        for key, value in scope["headers"]:
            if key not in found:  # the first value, as Headers.get gives it
                found[key] = value
        scope[_HEADERS] = found
    value = found.get(name.lower().encode("latin-1"))
    return None if value is None else value.decode("latin-1")


def _request_id(request: Request) -> str:
    given = header(request, "x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return new_request_id()


#: The bits :class:`uuid.UUID` clears and sets for a version 4 (random) UUID: the variant and the version.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_request_id(random: Optional[bytes] = None) -> str:
    """``uuid.uuid4().hex`` (``random``: its 16 random bytes), without building the UUID object:
    the same bits set, at half the cost, once for every request that brings no id of its own."""
    value = int.from_bytes(os.urandom(16) if random is None else random, "big")
    return f"{value & _UUID4_CLEAR | _UUID4_SET:032x}"


async def _read_body(request: Request, limit: int, first: Optional[Message] = None) -> bytes:
    """The body from ``request``'s messages (``first``: the first one, already received), as
    Starlette's ``Request.stream`` reads them: a disconnect raises ``ClientDisconnect``."""
    receive = request.receive
    parts: list[bytes] = []
    size = 0
    message = first if first is not None else await receive()
    while True:
        kind = message["type"]
        if kind == "http.request":
            part = message.get("body", b"")
            size += len(part)
            if size > limit:
                raise _BodyTooLarge
            if part:
                parts.append(part)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)
        elif kind == "http.disconnect":
            raise ClientDisconnect()
        message = await receive()


async def _read_body_in_time(request: Request, limit: int, seconds: float) -> bytes:
    """The body within ``seconds``: a client that trickles its body (slowloris) must not hold a
    worker's connection forever. asyncio's own timeout (the same TimeoutError at a third of
    anyio.fail_after's cost), set only when a message is not there at once: the first receive is
    stepped by hand, and a body that is all there already (nearly every request) needs no timer."""
    declared = header(request, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    waiting = request.receive()
    if type(waiting) is not CoroutineType:  # a server whose receive is another kind of awaitable
        async with asyncio.timeout(seconds):
            return await _read_body(request, limit, await waiting)
    step = cast("CoroutineType[Any, Any, Message]", waiting)
    try:
        suspended = step.send(None)
    except StopIteration as ready:
        first: Message = ready.value
        if first["type"] == "http.request" and not first.get("more_body", False):
            return await _read_body(request, limit, first)  # all there: nothing can wait
        async with asyncio.timeout(seconds):
            return await _read_body(request, limit, first)
    async with asyncio.timeout(seconds):
        try:
            first = await _Resume(step, suspended)
        except BaseException:
            step.close()
            raise
        return await _read_body(request, limit, first)


def _caller(request: Request, state: ProxyState) -> Optional[str]:
    """The caller's keyed id, or None without a valid proxy token."""
    settings = state.settings
    return authenticate(header(request, "authorization"), settings.proxy_tokens, settings.caller_id_key)


def _unauthorized(headers: dict[str, str]) -> Response:
    return error_response(
        "missing or invalid proxy token: send 'Authorization: Bearer <token>'",
        "authentication_error",
        401,
        headers={**headers, "WWW-Authenticate": "Bearer"},
    )


#: Builds the 401 a caller without a valid proxy token gets (native or OpenAI shape), given its headers.
Refusal = Callable[[dict[str, str]], Response]
Endpoint = Callable[[Request], Awaitable[Any]]
TurnEndpoint = Callable[[Request, Turn], Awaitable[Any]]


def guarded(refuse: Refusal = _unauthorized) -> Callable[[Endpoint], Endpoint]:
    """Wrap an endpoint that needs the proxy token: a caller without one gets ``refuse``'s 401."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def checked(request: Request) -> Any:
            if _caller(request, _state(request)) is None:
                return refuse({"X-Request-ID": _request_id(request)})
            return await endpoint(request)

        return checked

    return wrap


def with_turn(refuse: Refusal = _unauthorized) -> Callable[[TurnEndpoint], Endpoint]:
    """Wrap an endpoint that runs a completion: it gets the request's :class:`Turn`, which records
    the caller; a caller without a valid token gets ``refuse``'s 401, recorded as ``unauthorized``."""

    def wrap(endpoint: TurnEndpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def checked(request: Request) -> Any:
            state = _state(request)
            caller = _caller(request, state)
            trace = (header(request, "traceparent"), header(request, "tracestate"))
            turn = Turn(_request_id(request), caller=caller, trace=trace)
            if caller is None:
                refused = refuse({"X-Request-ID": turn.request_id})
                return answer(state, turn, refused, "unauthorized", "authentication_error")
            return await endpoint(request, turn)

        return checked

    return wrap


def report(state: ProxyState, turn: Turn, outcome: str, status: int, error_type: Optional[str] = None) -> None:
    """Close the turn's record with how the request ended and hand it to telemetry, the first time only."""
    if turn.finish(outcome, status, error_type):
        state.telemetry.emit(turn.record)


def asked(state: ProxyState, turn: Turn, requests: tuple[ProviderRequest, ...], stream: bool) -> None:
    """Record on the turn what the caller asked for: the primary request, and its messages in
    their wire form when content logging is on."""
    primary = requests[0]
    messages = [message_to_wire(m) for m in primary.messages] if state.settings.log_content else None
    turn.asked(primary, stream=stream, messages=messages)


ResponseT = TypeVar("ResponseT", bound=Response)


def answer(
    state: ProxyState, turn: Turn, response: ResponseT, outcome: str, error_type: Optional[str] = None
) -> ResponseT:
    """:func:`report` the turn with ``response``'s status, and return the response."""
    report(state, turn, outcome, response.status_code, error_type)
    return response


class _Disconnected(Response):
    """The client went away before its body arrived: nobody reads this answer (499 in telemetry)."""

    def __init__(self) -> None:
        super().__init__(status_code=499)


async def read_json(request: Request, state: ProxyState) -> Any:
    """The request's JSON body, within the body size and time limits (also used by the OpenAI routes).

    Raises :class:`InvalidRequestError` (408, 413 or 400) when the body is late, too large,
    empty or not JSON, and lets :class:`ClientDisconnect` through (the app logs it quietly).
    """
    try:
        body = await _read_body_in_time(request, state.settings.max_body_bytes, state.settings.body_timeout)
    except TimeoutError:
        raise InvalidRequestError(
            f"the request body did not arrive within {state.settings.body_timeout:g} s (COMPLETIONS_BODY_TIMEOUT)",
            error_type="request_timeout_error",
        ) from None
    except _BodyTooLarge:
        raise InvalidRequestError(
            f"request body is larger than the limit of {state.settings.max_body_bytes} bytes "
            "(COMPLETIONS_MAX_BODY_BYTES)",
            error_type="request_too_large_error",
        ) from None
    if not body:
        raise InvalidRequestError("request body is empty; send a JSON object")
    try:
        return loads(body)
    except ValueError as exc:
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None


async def _parse_json(request: Request, state: ProxyState, headers: dict[str, str]) -> Any | Response:
    try:
        return await read_json(request, state)
    except ClientDisconnect:
        # Ordinary on a network: one quiet line, no traceback.
        logger.info("client_disconnected", path=request.url.path, request_id=headers.get("X-Request-ID"))
        return _Disconnected()
    except InvalidRequestError as exc:
        return error_response(exc.message, exc.error_type, exc.status_code, headers=headers)


@with_turn()
async def completions(request: Request, turn: Turn) -> Response | ChunkStreamResponse:
    """``POST /v1/completions``: a JSON response, or NDJSON chunks when ``stream`` is true."""
    state = _state(request)
    headers = {"X-Request-ID": turn.request_id}
    data = await _parse_json(request, state, headers)
    if isinstance(data, _Disconnected):
        return answer(state, turn, data, "client_disconnected")
    if isinstance(data, Response):
        return answer(state, turn, data, "invalid_request", "invalid_request_error")
    try:
        call = parse_request(data)
        asked(state, turn, call.requests, call.stream)
        _check_provider_kwargs(call.requests, state)
        deadlines = header_deadlines(request, state.settings)
        targets = state.engine.plan(call.requests, call.credentials)
    except InvalidRequestError as exc:
        response = error_response(exc.message, exc.error_type, exc.status_code, headers=headers)
        return answer(state, turn, response, "invalid_request", exc.error_type)
    if not call.stream:
        try:
            completed = await state.engine.complete(targets, turn)
        except ProviderError as exc:
            failed = provider_error_response(exc, {**headers, **_turn_headers(turn)})
            return answer(state, turn, failed, "error", exc.error_type)
        except anyio.get_cancelled_exc_class():
            report(state, turn, "client_disconnected", 499)
            raise
        ok = json_response(response_to_wire(completed), headers={**headers, **_turn_headers(turn)})
        return answer(state, turn, ok, "ok")
    return stream_response(ChunkStreamResponse, state, turn, targets, call.stream_options, deadlines, headers)


StreamResponseT = TypeVar("StreamResponseT", bound=ChunkStreamResponse)


def stream_response(
    response_class: type[StreamResponseT],
    state: ProxyState,
    turn: Turn,
    targets: list[Target],
    options: StreamOptions,
    deadlines: tuple[Optional[float], Optional[float], Optional[float]],
    headers: dict[str, str],
    /,
    **encoding: Any,
) -> StreamResponseT:
    """The engine's stream for ``targets`` as a ``response_class`` response (NDJSON, or the
    OpenAI route's SSE with its ``encoding`` options), counted in flight; the turn is reported when it ends."""
    first_token_timeout, idle_timeout, hedge_after = deadlines
    chunks = state.engine.stream(
        targets,
        options,
        turn,
        first_token_timeout=first_token_timeout,
        idle_timeout=idle_timeout,
        hedge_after=hedge_after,
    )
    state.metrics.inflight.inc()

    def finished(outcome: str, status: int, error_type: Optional[str]) -> None:
        state.metrics.inflight.dec()
        report(state, turn, outcome, status, error_type)

    return response_class(
        chunks,
        headers,
        keepalive=state.settings.keepalive_interval,
        late_headers=lambda: _turn_headers(turn),
        on_finish=finished,
        registry=state.streams,
        **encoding,
    )


def _check_provider_kwargs(requests: tuple[ProviderRequest, ...], state: ProxyState) -> None:
    """``provider_kwargs`` keys are installed providers' names: a typo is a 400, never silently ignored."""
    if not any(request.provider_kwargs for request in requests):
        return  # most requests: nothing to check (and no sorted list of names to build)
    installed = state.registry.names()
    for i, request in enumerate(requests):
        if i and request.provider_kwargs is requests[0].provider_kwargs:
            continue  # inherited from the primary, checked there
        path = f"fallbacks[{i - 1}].provider_kwargs" if i else "provider_kwargs"
        for key in request.provider_kwargs:
            if key in installed:
                continue
            shown = key if len(key) <= 64 else f"{key[:64]}..."
            adapter = state.registry.get(key)
            if adapter is not None:
                raise InvalidRequestError(f"write the provider's name as {adapter.name!r}", f"{path}.{shown}")
            raise InvalidRequestError(
                f"unknown provider {shown!r}; provider_kwargs keys are installed provider names: "
                f"{', '.join(installed) or 'none'}",
                f"{path}.{shown}",
            )


def header_deadlines(request: Request, settings: Settings) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """The first-token, idle and hedge deadlines: the request's headers, else the operator's settings."""
    return (
        _header_seconds(request, "X-Completions-First-Token-Timeout", settings.first_token_timeout),
        _header_seconds(request, "X-Completions-Idle-Timeout", settings.idle_timeout),
        _header_seconds(request, "X-Completions-Hedge-After", settings.hedge_after),
    )


def _header_seconds(request: Request, name: str, default: Optional[float]) -> Optional[float]:
    """A per-request deadline header in seconds; a value that is not one is a 400 naming the bounds."""
    raw = header(request, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    low, high = DEFAULT_LIMITS.min_timeout, DEFAULT_LIMITS.max_timeout
    if not low <= value <= high:
        raise InvalidRequestError(
            f"header {name}: must be a number of seconds between {low:g} (min_timeout) and {high:g} (max_timeout)"
        )
    return value


#: The longest model name an attempt shows in ``X-Completions-Attempts`` (cut with ``...``).
_HEADER_MODEL_CHARS = 128
#: Compact JSON; ensure_ascii: a model name may hold any character, a header only Latin-1 ones.
#: One encoder for every request (``json.dumps`` with options builds a new one per call).
_HEADER_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False).encode


def header_json(data: dict[str, Any]) -> str:
    """``data`` (one attempt: a flat object of strings, numbers, booleans and nulls) as
    :data:`_HEADER_JSON` writes it, through orjson when orjson writes the very same text (at a
    tenth of the cost): no float in scientific notation (below 1e-4 or from 1e16 up, or not
    finite), no integer beyond 64 bits, and only ASCII other than DEL (which ``json`` escapes)."""
    for value in data.values():
        if isinstance(value, float) and value != 0.0 and not 1e-4 <= abs(value) < 1e16:
            return _HEADER_JSON(data)
    try:
        out = orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a type orjson does not write
        return _HEADER_JSON(data)
    if out.isascii() and b"\x7f" not in out:
        return out.decode()
    return _HEADER_JSON(data)


def _turn_headers(turn: Turn) -> dict[str, str]:
    """Every attempt so far (compact JSON) and the proxy's own overhead so far, in milliseconds.

    The attempts header stays under ``max_header_bytes``: attempts that do not fit are left out
    (the list stays valid JSON) and ``X-Completions-Attempts-Omitted`` says how many.
    """
    budget = DEFAULT_LIMITS.max_header_bytes - 2
    parts: list[str] = []
    for attempt in turn.attempts:
        data = attempt.as_dict()
        model = data.get("model")
        if isinstance(model, str) and len(model) > _HEADER_MODEL_CHARS:
            data["model"] = model[:_HEADER_MODEL_CHARS] + "..."
        part = header_json(data)
        if len(part) + 1 > budget:
            break
        budget -= len(part) + 1
        parts.append(part)
    headers = {
        "X-Completions-Attempts": f"[{','.join(parts)}]",
        "X-Completions-Overhead-Ms": f"{turn.overhead_ms():.2f}",
    }
    omitted = len(turn.attempts) - len(parts)
    if omitted:
        headers["X-Completions-Attempts-Omitted"] = str(omitted)
    return headers


@guarded()
async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus metrics (needs the proxy token, like every non-health route)."""
    state = _state(request)
    # Labels are bounded (telemetry.Labels), so the text is small; rendering it in a thread keeps
    # even a slow scrape off the event loop.
    body = await anyio.to_thread.run_sync(generate_latest, state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@guarded()
async def warm(request: Request) -> Response:
    """``POST /v1/warm``: open (or keep) the SDK client and its connection for a provider."""
    state = _state(request)
    headers = {"X-Request-ID": _request_id(request)}
    data = await _parse_json(request, state, headers)
    if isinstance(data, Response):
        return data
    try:
        if not isinstance(data, dict):
            raise InvalidRequestError("the request body must be a JSON object")
        _check_warm_keys(data)
        provider = data.get("provider")
        if not isinstance(provider, str) or not provider:
            raise InvalidRequestError("is required (a provider name)", "provider")
        credentials = parse_credentials(data.get("credentials"))
        model = data.get("model") if isinstance(data.get("model"), str) else "warm"
        targets = state.engine.plan(
            decode_request({"provider": provider, "model": model, "messages": [{"role": "user", "content": "."}]}),
            credentials,
        )
    except InvalidRequestError as exc:
        return error_response(exc.message, exc.error_type, exc.status_code, headers=headers)
    target = targets[0]
    held = ExitStack()
    try:
        # Leased for as long as the warm-up runs: the cache never closes a client in use.
        client = held.enter_context(state.engine.lease(target))
    except ProviderError as exc:
        return provider_error_response(exc, headers)
    except InvalidRequestError as exc:
        return error_response(exc.message, exc.error_type, exc.status_code, headers=headers)

    async def warm_then_release() -> None:
        with held:
            await target.adapter.warm(client)

    state.spawn(warm_then_release())
    return json_response({"provider": target.provider, "warm": True}, 202, headers)


_WARM_FIELDS = frozenset({"provider", "model", "credentials"})


def _check_warm_keys(data: dict[str, Any]) -> None:
    for key in data:
        if key not in _WARM_FIELDS:
            shown = key if len(key) <= 64 else f"{key[:64]}..."
            raise InvalidRequestError(
                f"unknown field {shown!r} in a warm request; allowed fields: {', '.join(sorted(_WARM_FIELDS))}", shown
            )


@guarded()
async def providers(request: Request) -> Response:
    """``GET /v1/providers``: the provider plugins this proxy has loaded."""
    state = _state(request)
    return json_response({"providers": state.registry.names()})


@guarded()
async def openapi(request: Request) -> Response:
    """``GET /openapi.json``: the OpenAPI description of these routes."""
    return json_response(OPENAPI)


async def healthz(request: Request) -> Response:
    """Liveness: the process is up and serving."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: plugins loaded and prepared, at least one provider, not draining, not at the admission limit."""
    state: Optional[ProxyState] = getattr(request.app.state, "proxy", None)
    if state is not None and state.admission.saturated:
        error = {"message": "not ready: saturated (COMPLETIONS_MAX_INFLIGHT)", "type": "overloaded_error"}
        return json_response({"status": "unavailable", "reason": "saturated", "error": error}, 503)
    if state is None or state.draining or not state.prepared or len(state.registry) == 0:
        reason = "draining" if state is not None and state.draining else "no provider plugin loaded"
        if state is not None and not state.draining and not state.prepared:
            reason = "starting: provider SDKs are being loaded"
        error = {"message": f"not ready: {reason}", "type": "unavailable_error"}
        return json_response({"status": "unavailable", "reason": reason, "error": error}, 503)
    return json_response({"status": "ready", "providers": state.registry.names()})


routes = [
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/warm", warm, methods=["POST"]),
    Route("/v1/providers", providers, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
