"""A hostile caller, against the real server run as its own process: every field at its extremes.

The proxy runs exactly as an operator runs it (``python -m hypercorn completions_proxy.app:app``,
one process, loopback, a free port) with sentinel managed keys in its environment, the root
logger at DEBUG and its whole output captured to a file; every real provider is pointed at an
upstream that echoes the request headers (keys included) back in its error messages. One caller
holding a valid token then sends, field by field (top level, ``retry``, ``fallbacks[i]``,
``stream_options``, the embedded provider's ``provider_kwargs``, the ``X-Completions-*`` deadline
headers), the largest value each limit allows, the first value over it and absurd ones (a
400-digit integer, ``1e308``, ``-0``, ``NaN``/``Infinity`` tokens), the longest string allowed
in every string field, many fallbacks, retries at their maximum against a failing provider,
hundreds of made-up names, warm-ups with many customer keys, deep JSON and a 4 MiB body.
Throughout:

- every value over a limit is a 4xx whose message names the limit (``(max_retries)``, ...); every
  value at a limit is served; nothing is a 5xx of the proxy's own making, nothing hangs;
- the total upstream attempts of one request stay within ``COMPLETIONS_MAX_ATTEMPTS``;
- ``/healthz``, asked every 5 ms from another process on its own connection, answers every time
  within 100 ms (the largest latency is printed);
- the server process's peak memory (``VmHWM``) stays under a stated bound;
- no secret (the proxy token, a managed key, a customer key) appears in any response, headers
  included, or anywhere in the server's output at DEBUG level.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest
import structlog

from completions_core.limits import DEFAULT_LIMITS as L
from completions_proxy.testing import running_proxy
from tests.helpers import FAST, KeyedAdapter, registry
from tests.proxy.hostile_server import EchoingUpstream, Prober, ProxyProcess

HEALTH_BOUND_S = 0.100  # every /healthz answer, while the hostile caller works
PEAK_RSS_BOUND_MB = 700.0  # VmHWM of the server process over the whole suite
RSS_GROWTH_BOUND_MB = 300.0  # VmHWM at the end minus VmRSS once ready
HANG_S = 5.0  # no answer, whole body included, within this long: a hang
MAX_ATTEMPTS = 8  # COMPLETIONS_MAX_ATTEMPTS's default

BASE: dict[str, Any] = {
    "provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}], "provider_kwargs": FAST
}
FAILING = {"embedded": {**FAST["embedded"], "error": {"type": "unavailable_error", "status": 503, "message": "down"}}}


def _with(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


def _nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _sentinel(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(16)}"


#: One case: (what, body, expectation). A body is a dict, or bytes sent as they are. An
#: expectation is ("ok",): a 2xx; ("limit", name): a 4xx naming ``(name)``; ("refused", names):
#: a 4xx naming one of ``names``; ("sane",): anything but a 5xx; ("any",): neither a hang nor an internal error.
Case = tuple[str, Any, tuple[Any, ...]]


def _over_the_limit() -> list[tuple[str, dict[str, Any], str]]:
    """(what, request, the limit the 4xx must name)."""
    tool = {"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": {}}}
    cases: list[tuple[str, dict[str, Any], str]] = []
    for where, wrap in (("", lambda f: _with(**f)), ("fallback ", lambda f: _with(fallbacks=[f]))):
        cases += [
            (f"{where}max_retries 10**15", wrap({"retry": {"max_retries": 10**15}}), "max_retries"),
            (f"{where}max_retries +1", wrap({"retry": {"max_retries": L.max_retries + 1}}), "max_retries"),
            (f"{where}retry_delay 1e300", wrap({"retry": {"retry_delay": 1e300}}), "max_retry_delay"),
            (f"{where}backoff 1e300", wrap({"retry": {"backoff_multiplier": 1e300}}), "max_backoff_multiplier"),
            (f"{where}timeout 1e300", wrap({"timeout": 1e300}), "max_timeout"),
            (f"{where}timeout 1e-9", wrap({"timeout": 1e-9}), "min_timeout"),
            (f"{where}temperature 1e300", wrap({"temperature": 1e300}), "max_temperature"),
            (f"{where}max_tokens 2**62", wrap({"max_tokens": 2**62}), "max_output_tokens"),
            (f"{where}model 1 MB", wrap({"model": "m" * 1_000_000}), "max_model_chars"),
            (f"{where}model +1", wrap({"model": "m" * (L.max_model_chars + 1)}), "max_model_chars"),
            (f"{where}tools +1", wrap({"tools": [
                {**tool, "function": {**tool["function"], "name": f"t{i}"}} for i in range(L.max_tools + 1)]}),
             "max_tools"),
            (f"{where}schema depth", wrap({"response_schema": _nested(L.max_depth + 1)}), "max_depth"),
            (f"{where}kwargs nodes", wrap({"provider_kwargs": {"embedded": {"x": list(range(L.max_json_nodes))}}}),
             "max_json_nodes"),
        ]
    cases += [
        ("provider +1", _with(provider="p" * (L.max_provider_chars + 1)), "max_provider_chars"),
        ("messages +1", _with(messages=[{"role": "user", "content": "x"}] * (L.max_messages + 1)), "max_messages"),
        ("fallbacks +1", _with(fallbacks=[{"model": "f"}] * (L.max_fallbacks + 1)), "max_fallbacks"),
        ("content +1", _with(messages=[{"role": "user", "content": "x" * (L.max_string_chars + 1)}]),
         "max_string_chars"),
        ("tool_calls +1", _with(messages=[{"role": "user", "content": "x"},
                                          {"role": "assistant", "tool_calls": [call] * (L.max_tool_calls + 1)}]),
         "max_tool_calls"),
        ("tool call index", _with(messages=[{"role": "user", "content": "x"},
                                            {"role": "assistant", "tool_calls": [{**call, "index": 10**15}]}]),
         "max_tool_call_index"),
        ("min_sentence_length", _with(stream=True, stream_options={"min_sentence_length": 10**15}),
         "max_min_sentence_length"),
        ("punctuation marks +1", _with(stream=True, stream_options={"punctuation_marks": ["."] * 65}),
         "max_punctuation_marks"),
        ("punctuation mark chars", _with(stream=True, stream_options={"punctuation_marks": ["." * 17]}),
         "max_punctuation_mark_chars"),
        ("credentials +1", _with(credentials={f"p{i}": {"voicerun_managed": True} for i in range(17)}),
         "max_credentials"),
        ("api_key +1", _with(provider="openai", credentials={"openai": {"api_key": "k" * (L.max_key_chars + 1)}}),
         "max_key_chars"),
    ]
    return cases


def _at_the_limit() -> list[tuple[str, dict[str, Any]]]:
    """(what, request) with every value as large (or long) as the limits allow: each must be served."""
    biggest = "x" * L.max_string_chars
    tool = {"type": "function", "function": {"name": "lookup", "description": biggest, "parameters": {"type": "object"}}}
    return [
        ("numbers at their maximum", _with(
            retry={"max_retries": L.max_retries, "retry_delay": L.max_retry_delay,
                   "backoff_multiplier": L.max_backoff_multiplier},
            timeout=L.max_timeout, temperature=L.max_temperature, max_tokens=L.max_output_tokens,
            fallbacks=[{"model": f"f{i}", "retry": {"max_retries": L.max_retries}} for i in range(L.max_fallbacks)],
        )),
        ("numbers at their minimum", _with(retry={"max_retries": 0, "retry_delay": 0, "backoff_multiplier": 1},
                                           timeout=5.0, temperature=0, max_tokens=1)),
        ("longest model", _with(model="\U0001f600" * L.max_model_chars)),
        ("longest content", _with(messages=[{"role": "system", "content": "s"}, {"role": "user", "content": biggest}])),
        ("longest tool description", _with(tools=[tool], tool_choice="none")),
        ("longest vr_id", _with(messages=[{"role": "user", "content": "hi", "vr_id": "v" * 64}])),
        ("longest user name", _with(messages=[{"role": "user", "content": "hi", "name": biggest}])),
        ("longest tool call and result", _with(messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "i" * 1000, "function": {"name": "lookup", "arguments": {
                "q": "a" * 300_000}}}]},
            {"role": "tool", "tool_call_id": "i" * 1000, "name": "lookup", "content": "r" * 500_000},
        ])),
        ("longest tool_choice", _with(tools=[{**tool, "function": {**tool["function"], "description": "d",
                                                                    "name": "n" * 500_000}}],
                                      tool_choice="n" * 500_000)),
        ("most messages", _with(messages=[{"role": "user", "content": "hi"}] * L.max_messages)),
        ("longest customer key", _with(provider="openai", model="ok", credentials={"openai": {"api_key": LONGEST_KEY}})),
        ("stream options at the limit", _with(stream=True, stream_options={
            "chunk_by_sentence": True, "min_sentence_length": L.max_min_sentence_length,
            "punctuation_marks": ["!" * L.max_punctuation_mark_chars] * L.max_punctuation_marks})),
        ("deepest schema", _with(response_schema=_nested(L.max_depth - 1))),
    ]


#: The longest customer key allowed, made of a random sentinel (searched for in every output).
LONGEST_KEY = (_sentinel("sk-longest-customer") * 400)[: L.max_key_chars]

_PLACEHOLDER = "@@VALUE@@"
#: Absurd number tokens, each refused with a 4xx (the JSON parser's or the field's limit).
_ABSURD = ("1" + "0" * 400, "-" + "1" + "0" * 400, "1e308", "-1e308", "1e400", "NaN", "Infinity", "-Infinity")


def _token_body(body: dict[str, Any], token: str) -> bytes:
    """``body`` with the JSON token ``token`` (as written, NaN and 400-digit integers included) in place."""
    return json.dumps(body).replace(json.dumps(_PLACEHOLDER), token).encode()


def _numeric_fields() -> list[tuple[str, dict[str, Any], str, str, str]]:
    """(path, request with the placeholder, value at the maximum, first value over it, the limit named)."""
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": {}}}
    v = _PLACEHOLDER
    top: list[tuple[str, dict[str, Any], str, str, str]] = []
    per_target = [
        ("temperature", {"temperature": v}, "2", "2.000001", "max_temperature"),
        ("max_tokens", {"max_tokens": v}, str(L.max_output_tokens), str(L.max_output_tokens + 1), "max_output_tokens"),
        ("timeout", {"timeout": v}, "3600", "3600.001", "max_timeout"),
        ("retry.max_retries", {"retry": {"max_retries": v}}, "10", "11", "max_retries"),
        ("retry.retry_delay", {"retry": {"retry_delay": v}}, "30", "30.001", "max_retry_delay"),
        ("retry.backoff_multiplier", {"retry": {"backoff_multiplier": v}}, "10", "10.001", "max_backoff_multiplier"),
    ]
    for path, fields, at, over, limit in per_target:
        top.append((path, _with(**fields), at, over, limit))
        top.append((f"fallbacks[1].{path}", _with(fallbacks=[{"model": "f0"}, {"model": "f1", **fields}]), at, over,
                    limit))
    top += [
        ("stream_options.min_sentence_length",
         _with(stream=True, stream_options={"chunk_by_sentence": True, "min_sentence_length": v}),
         str(L.max_min_sentence_length), str(L.max_min_sentence_length + 1), "max_min_sentence_length"),
        ("messages[1].tool_calls[0].index",
         _with(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{**call, "index": v}]},
                         {"role": "tool", "tool_call_id": "c1", "name": "t", "content": "r"}]),
         str(L.max_tool_call_index), str(L.max_tool_call_index + 1), "max_tool_call_index"),
    ]
    # The embedded provider's own knobs (its script bounds).
    for knob in ("token_delay", "first_token_delay"):
        top.append((f"provider_kwargs.embedded.{knob}",
                    _with(stream=True, provider_kwargs={"embedded": {**FAST["embedded"], knob: v}}), "0", "60.001",
                    "embedded script bounds"))
    for knob, at, over in (("after_tokens", "0", "1000001"), ("times", "1000000", "1000001"), ("status", "599", "600"),
                           ("retry_after", "60", "60.001")):
        error = {"type": "rate_limit_error", "status": 429, "message": "scripted", knob: v}
        top.append((f"provider_kwargs.embedded.error.{knob}", _with(
            retry={"max_retries": 0}, provider_kwargs={"embedded": {**FAST["embedded"], "error": error}}), at, over,
                    "embedded script bounds"))
    return top


def _numeric_cases() -> list[Case]:
    cases: list[Case] = []
    for path, body, at, over, limit in _numeric_fields():
        scripted_error = ".error." in path  # at its maximum, the scripted error itself (a 4xx or 5xx of its own)
        cases.append((f"{path} at its maximum {at}", _token_body(body, at), ("any",) if scripted_error else ("ok",)))
        cases.append((f"{path} just over, {over}", _token_body(body, over), ("limit", limit)))
        for token in _ABSURD:
            cases.append((f"{path} = {token[:12]}", _token_body(body, token), ("refused", (limit, "JSON", path))))
        for token in ("-0", "-0.0"):
            cases.append((f"{path} = {token}", _token_body(body, token), ("any",) if scripted_error else ("sane",)))
    cases.append(("timeout just under the minimum", _with(timeout=L.min_timeout * 0.9), ("limit", "min_timeout")))
    return cases


_DEADLINE_HEADERS = ("X-Completions-First-Token-Timeout", "X-Completions-Idle-Timeout", "X-Completions-Hedge-After")


def _header_cases() -> list[tuple[str, dict[str, str], tuple[Any, ...]]]:
    """(what, headers, expectation) for the header-borne deadlines."""
    cases: list[tuple[str, dict[str, str], tuple[Any, ...]]] = []
    for name in _DEADLINE_HEADERS:
        cases.append((f"{name} at its maximum", {name: "3600"}, ("ok",)))
        for value in ("3600.001", "0.009", "1e308", "-1e308", "inf", "-inf", "nan", "-0", "1" + "0" * 400,
                      "9" * 4000, "0x10", "1e", " ", "\u00e9"):
            cases.append((f"{name}: {value[:12]!r}", {name: value}, ("refused", ("max_timeout", "min_timeout"))))
    cases.append(("the longest X-Request-ID", {"X-Request-ID": "r" * 128}, ("ok",)))
    cases.append(("an over-long X-Request-ID", {"X-Request-ID": "r" * 8000}, ("ok",)))
    return cases


def _openai_route_cases() -> list[Case]:
    """``POST /v1/chat/completions`` with extreme values (the same limits behind another shape)."""
    base = {"model": "embedded/m", "messages": [{"role": "user", "content": "hi"}]}
    v = _PLACEHOLDER
    cases: list[Case] = [
        ("openai: at the limits", {**base, "temperature": 2, "max_tokens": L.max_output_tokens, "timeout": 3600,
                                   "retry": {"max_retries": 10}}, ("ok",)),
        ("openai: messages +1", {**base, "messages": [{"role": "user", "content": "x"}] * (L.max_messages + 1)},
         ("limit", "max_messages")),
        ("openai: model 1 MB", {**base, "model": "embedded/" + "m" * 1_000_000}, ("refused", ("model",))),
        ("openai: n huge", _token_body({**base, "n": v}, "1" + "0" * 400), ("refused", ("n", "JSON"))),
        ("openai: stream huge", {**base, "stream": 10**30}, ("refused", ("stream",))),
    ]
    for field, limit in (("temperature", "max_temperature"), ("max_tokens", "max_output_tokens"),
                         ("max_completion_tokens", "max_output_tokens"), ("timeout", "max_timeout")):
        for token in ("1e308", "1" + "0" * 400, "NaN", "-Infinity"):
            cases.append((f"openai: {field} = {token[:12]}", _token_body({**base, field: v}, token),
                          ("refused", (limit, "JSON", "min_timeout", field))))
    cases.append(("openai: retry 10**15", {**base, "retry": {"max_retries": 10**15}}, ("limit", "max_retries")))
    return cases


def _body_cases() -> list[Case]:
    """Whole bodies shaped to hurt: deep nesting, a 4 MiB body of small messages, one byte over the body limit."""
    # 32000 messages of 100 characters. The worst shape, 139000 one-character messages, costs
    # 60-100 ms of parsing (orjson) on a loaded 2-core runner, too close to the /healthz bound to
    # assert there: see SECURITY.md (the body limit bounds it).
    many = {**BASE, "messages": [{"role": "user", "content": "x" * 100}] * 32_000}
    four_mib = json.dumps(many, separators=(",", ":")).encode()
    assert len(four_mib) < 4 * 1024 * 1024
    over = {**BASE, "messages": [{"role": "user", "content": "x" * (4 * 1024 * 1024)}]}
    return [
        ("a 4 MiB body of small messages", four_mib, ("limit", "max_messages")),
        ("a body one byte over the limit", json.dumps(over).encode()[: 4 * 1024 * 1024 + 1],
         ("limit", "COMPLETIONS_MAX_BODY_BYTES")),
        ("200000 nested arrays", b"[" * 200_000 + b"]" * 200_000, ("refused", ("JSON", "object"))),
        ("200000 nested objects in a body", b'{"a":' * 200_000 + b"1" + b"}" * 200_000, ("refused", ("JSON", "a"))),
        ("nested provider_kwargs", _with(provider_kwargs={"embedded": _nested(400)}), ("limit", "max_depth")),
        ("nested tool arguments", _with(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "t", "arguments": _nested(400)}}]}]), ("limit", "max_depth")),
        ("nested schema", _with(response_schema=_nested(400)), ("limit", "max_depth")),
        ("a schema asking for 10**9 items", _with(response_schema={"type": "array", "minItems": 10**9}), ("ok",)),
        ("a schema asking for a 10**12-character string", _with(response_schema={"type": "string",
                                                                                 "minLength": 10**12}), ("ok",)),
        ("a malformed scripted tool call", _with(provider_kwargs={"embedded": {"tool_calls": [{"nome": "t"}]}}),
         ("refused", ("provider_kwargs.embedded.tool_calls",))),
        ("a 1000-character scripted error type", _with(provider_kwargs={"embedded": {
            "error": {"type": "x" * 1000, "status": 400}}}), ("refused", ("provider_kwargs.embedded.error.type",))),
        ("many fallbacks, each at every limit", _with(fallbacks=[
            {"provider": "embedded", "model": "m" * L.max_model_chars, "timeout": 3600, "temperature": 2,
             "max_tokens": L.max_output_tokens, "retry": {"max_retries": 10, "retry_delay": 30,
                                                          "backoff_multiplier": 10}}
        ] * L.max_fallbacks), ("ok",)),
    ]


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}")
        except Exception:  # noqa: BLE001 - keep what can be kept
            self.lines.append(f"{record.name} {record.msg!r} {record.args!r}")


@contextmanager
def _all_logs_at_debug() -> Iterator[list[str]]:
    """Every stdlib log record at DEBUG and up, and every structlog event, as text."""
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    old = structlog.get_config()
    events: list[str] = handler.lines

    def capture(logger: Any, method: str, event: Any) -> Any:
        events.append(repr(event))
        return event

    structlog.configure(
        processors=[capture, *old["processors"]],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield events
    finally:
        structlog.configure(**old)
        root.removeHandler(handler)
        root.setLevel(old_level)


class _Caller:
    """One keep-alive connection to the proxy; every response (status, headers, body) is kept for the scan."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.seen: list[str] = []
        #: (started, ended, what) of every request, to name the request a slow /healthz answer overlapped.
        self.timeline: list[tuple[float, float, str]] = []
        self.label = ""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_S)

    def send(self, method: str, path: str, body: Optional[bytes] = None,
             headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], str]:
        sent = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})}
        started = time.time()
        try:
            return self._send(method, path, body, sent)
        finally:
            self.timeline.append((started, time.time(), self.label or path))

    def _send(self, method: str, path: str, body: Optional[bytes],
              sent: dict[str, str]) -> tuple[int, dict[str, str], str]:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except TimeoutError:
                # A hang: reported as a 599 (not a status the proxy uses), on a new connection.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_S)
                return 599, {}, "no complete answer within the hang bound"
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server may close a connection after refusing a body: one new connection, once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_S)
                if attempt:
                    raise
        got = {name: value for name, value in resp.getheaders()}
        self.seen.append(json.dumps(got) + "\n" + text)
        if resp.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_S)
        return resp.status, got, text

    def close(self) -> None:
        self.conn.close()

    def oversized(self, body: bytes) -> tuple[int, dict[str, str], str]:
        """Send a body the server refuses before it has all arrived; read its answer even if the send breaks."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=HANG_S) as sock:
            head = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            try:
                sock.sendall(head.encode() + body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused early: the answer is already there
            answer = b""
            try:
                while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 100:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        text = answer.decode("utf-8", "replace")
        self.seen.append(text)
        status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
        return status, {}, text

    def completion(self, body: Any, headers: Optional[dict[str, str]] = None,
                   path: str = "/v1/completions") -> tuple[int, dict[str, str], str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.send("POST", path, data, headers)


def _judge(what: str, expectation: tuple[Any, ...], status: int, text: str) -> Optional[str]:
    """None when the answer meets the expectation, else what was wrong."""
    brief = f"{what}: {status} {text[:300]!r}"
    if expectation[0] == "any":  # the scripted error's own status; only a hang or a bug is wrong
        return f"a hang or a bug: {brief}" if status == 599 or '"internal_error"' in text else None
    if status >= 500:
        return f"a 5xx: {brief}"
    if len(text) > 20_000 and status >= 400:
        return f"an error of {len(text)} characters (the hostile value echoed?): {brief}"
    kind = expectation[0]
    if kind == "ok" and not 200 <= status < 300:
        return f"not served: {brief}"
    if kind == "limit" and not (400 <= status < 500 and f"({expectation[1]})" in text):
        return f"not a 4xx naming ({expectation[1]}): {brief}"
    if kind == "refused" and not (400 <= status < 500 and any(name in text for name in expectation[1])):
        return f"not a 4xx naming one of {expectation[1]}: {brief}"
    return None


def _attempts(headers: dict[str, str]) -> int:
    listed = json.loads(headers.get("X-Completions-Attempts") or headers.get("x-completions-attempts") or "[]")
    omitted = int(headers.get("X-Completions-Attempts-Omitted") or headers.get("x-completions-attempts-omitted") or 0)
    return len(listed) + omitted


@pytest.mark.slow
def test_a_hostile_caller_cannot_freeze_flood_or_read_secrets_of_the_proxy_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _sentinel("proxy-token")
    managed = {
        "OPENAI_API_KEY": _sentinel("sk-managed-openai"),
        "ANTHROPIC_API_KEY": _sentinel("sk-ant-managed"),
        "GEMINI_API_KEY": _sentinel("AIzaManagedGemini"),
        "DASHSCOPE_API_KEY": _sentinel("sk-managed-dashscope"),
    }
    customers = {name: _sentinel(f"sk-customer-{name}") for name in ("openai", "anthropic", "google", "alibaba")}
    secret_values = [token, *managed.values(), *customers.values(), LONGEST_KEY[:45]]
    problems: list[str] = []

    cases: list[Case] = [(what, body, ("limit", limit)) for what, body, limit in _over_the_limit()]
    cases += [(what, body, ("ok",)) for what, body in _at_the_limit()]
    cases += _numeric_cases() + _body_cases()
    encoded = [(what, body if isinstance(body, bytes) else json.dumps(body).encode(), exp) for what, body, exp in cases]

    with EchoingUpstream() as upstream:
        env = {
            "COMPLETIONS_PROXY_TOKENS": token, **managed, "COMPLETIONS_LOG_FORMAT": "json",
            "COMPLETIONS_EMBEDDED_TOKEN_DELAY": "0", "COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY": "0",
            **{f"COMPLETIONS_{p.upper()}_BASE_URL": upstream.url + "/v1" for p in ("openai", "alibaba", "anthropic")},
            "COMPLETIONS_GOOGLE_BASE_URL": upstream.url,
        }
        with ProxyProcess(tmp_path, env) as proxy:
            ready_rss = proxy.memory_mb()["VmRSS"]
            caller = _Caller(proxy.port, token)
            with Prober(proxy.port) as prober:
                # 1. Every field at its extremes, every string at its longest, hostile bodies.
                for what, body, expectation in encoded:
                    caller.label = what
                    too_big = len(body) > 4 * 1024 * 1024
                    status, _, text = caller.oversized(body) if too_big else caller.completion(body)
                    problem = _judge(what, expectation, status, text)
                    if problem:
                        problems.append(problem)
                for what, headers, expectation in _header_cases():
                    caller.label = what
                    body = _with(stream=True, fallbacks=[{"model": "f"}])
                    status, got, text = caller.completion(body, headers)
                    problem = _judge(what, expectation, status, text)
                    if problem:
                        problems.append(problem)
                    if len(got.get("X-Request-ID", got.get("x-request-id", ""))) > 128:
                        problems.append(f"{what}: X-Request-ID came back over 128 characters")
                for what, body, expectation in _openai_route_cases():
                    caller.label = what
                    status, _, text = caller.completion(body, path="/v1/chat/completions")
                    problem = _judge(what, expectation, status, text)
                    if problem:
                        problems.append(problem)

                # 2. Retries at their maximum, and many fallbacks, against a provider that always fails:
                # the attempts stop at COMPLETIONS_MAX_ATTEMPTS, streamed or not.
                retry = {"max_retries": L.max_retries, "retry_delay": 0, "backoff_multiplier": 1}
                storm = _with(provider_kwargs=FAILING, retry=retry,
                              fallbacks=[{"model": f"f{i}", "retry": retry} for i in range(L.max_fallbacks)])
                for stream in (False, True):
                    caller.label = f"attempt storm, stream={stream}"
                    status, got, text = caller.completion({**storm, "stream": stream})
                    if _attempts(got) != MAX_ATTEMPTS:
                        problems.append(f"attempt storm (stream={stream}): {_attempts(got)} attempts, "
                                        f"not {MAX_ATTEMPTS}: {got.get('X-Completions-Attempts', '')[:200]}")
                # The same against a real SDK on the managed key: the upstream sees at most that many calls.
                fan_out = {"provider": "openai", "model": "fail503", "messages": BASE["messages"], "retry": retry,
                           "credentials": {"openai": {"voicerun_managed": True}}}
                caller.label = "managed-key fan-out"
                caller.completion(fan_out)
                if upstream.by_model.get("fail503", 0) > MAX_ATTEMPTS:
                    problems.append(f"the upstream got {upstream.by_model['fail503']} calls for one request")

                # 3. Every provider, managed key and customer key, streamed or not, against an upstream
                # that repeats the key it received: the answer is an error, never the key.
                models = {"openai": "gpt-echo", "anthropic": "claude-echo", "google": "gemini-echo",
                          "alibaba": "qwen-echo"}
                for provider, model in models.items():
                    caller.label = f"echoing upstream: {provider}"
                    for credentials in ({provider: {"voicerun_managed": True}},
                                        {provider: {"api_key": customers[provider]}}):
                        for stream in (False, True):
                            body = {"provider": provider, "model": model, "messages": BASE["messages"],
                                    "stream": stream, "credentials": credentials}
                            caller.label = f"echoing upstream: {provider} {list(credentials[provider])} stream={stream}"
                            status, _, text = caller.completion(body)
                            if status == 500 or '"internal_error"' in text:
                                problems.append(f"echoing upstream, {provider} {list(credentials[provider])} "
                                                f"stream={stream}: {status} {text[:300]}")
                            openai_body = {"model": f"{provider}/{model}", "messages": BASE["messages"],
                                           "stream": stream}
                            caller.label = f"echoing upstream, OpenAI route: {provider} stream={stream}"
                            caller.completion(openai_body, path="/v1/chat/completions")

                # 4. Warm-ups with many customer keys: each a 202, the managed path still served after.
                caller.label = "warm-ups"
                for i in range(100):
                    key = f"{customers['openai']}-{i}"
                    status, _, text = caller.completion({"provider": "openai", "credentials": {
                        "openai": {"api_key": key}}}, path="/v1/warm")
                    if status != 202:
                        problems.append(f"warm {i}: {status} {text[:200]}")
                        break
                status, _, text = caller.completion({"provider": "openai", "model": "ok", "messages": BASE["messages"],
                                                     "credentials": {"openai": {"voicerun_managed": True}}})
                if status != 200:
                    problems.append(f"managed request after 100 customer warm-ups: {status} {text[:200]}")

                # 5. 300 made-up providers and 300 answered models, then a scrape: the exposition stays small.
                caller.label = "made-up names"
                for i in range(300):
                    status, _, _ = caller.completion(_with(provider=f"nope-{i}", model=f"m-{i}" * 20))
                    if status != 404:
                        problems.append(f"made-up provider {i}: {status}")
                    caller.completion(_with(model=f"unique-model-{i}-" + "x" * 100))
                caller.label = "/metrics"
                status, _, exposition = caller.send("GET", "/metrics")
                if status != 200 or len(exposition) > 150_000:
                    problems.append(f"/metrics: {status}, {len(exposition)} bytes")

                # 6. An HTTP/2 (h2c) request: hpack would log its token at DEBUG.
                h2_status = asyncio.run(_h2_request(proxy.port, token, json.dumps(BASE).encode()))
                if h2_status != 200:
                    problems.append(f"h2c request: {h2_status}")
            caller.close()
            memory = proxy.memory_mb()
        log = proxy.log_text()

    latencies = sorted(latency for _, latency in prober.probes)
    slowest = latencies[-1] if latencies else float("inf")
    slow, excused = prober.stalls(HEALTH_BOUND_S)
    during = sorted({what for at, latency in slow for t0, t1, what in caller.timeline if t0 <= at + latency and at <= t1})
    with capsys.disabled():
        print(f"\nhostile suite (server pid {proxy.pid}): {len(encoded)} body cases; /healthz slowest "
              f"{slowest * 1000:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms over "
              f"{len(latencies)} probes ({len(slow)} over {HEALTH_BOUND_S * 1000:.0f} ms, {len(excused)} more while the "
              f"machine stalled too); RSS once ready {ready_rss:.0f} MB, at the end {memory['VmRSS']:.0f} MB, "
              f"peak {memory['VmHWM']:.0f} MB; /metrics {len(exposition)} bytes; upstream calls {upstream.requests}; "
              f"server output {len(log)} characters")
    assert not problems, "\n".join(problems[:40])
    assert len(latencies) > 50 and not prober.failures, prober.failures[:5]
    assert not slow, f"/healthz took up to {max(lat for _, lat in slow) * 1000:.0f} ms ({len(slow)} slow), during {during[:10]}"
    assert memory["VmHWM"] < PEAK_RSS_BOUND_MB, memory
    assert memory["VmHWM"] - ready_rss < RSS_GROWTH_BOUND_MB, (ready_rss, memory)
    # The line format of hostile_server.LOG_CONFIG: the root logger at DEBUG was in force.
    assert "INFO hypercorn.error Running on" in log, "the --log-config (root logger at DEBUG) was not applied"
    assert '"event":"completion"' in log.replace(" ", ""), "the server's output has no completion event"
    # Every managed and customer key reached the upstream, which echoed it back: the scrubbing was tested.
    for key in [*managed.values(), *customers.values()]:
        assert any(key in echoed for echoed in upstream.echoed), f"{key[:12]}... never reached the upstream"
    for secret in secret_values:
        core = secret.rsplit("-", 1)[-1]
        assert not [t for t in caller.seen if secret in t or core in t], "a secret came back in a response"
        assert secret not in log and core not in log, "a secret is in the server's output"


async def _h2_request(port: int, token: str, body: bytes) -> int:
    """One HTTP/2 request with prior knowledge (h2c), the way hpack would see the token."""
    import h2.config
    import h2.connection
    import h2.events

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    stream_id = connection.get_next_available_stream_id()
    connection.send_headers(stream_id, [
        (":method", "POST"), (":path", "/v1/completions"), (":scheme", "http"), (":authority", "127.0.0.1"),
        ("authorization", f"Bearer {token}"), ("content-type", "application/json"),
        ("content-length", str(len(body))),
    ])
    connection.send_data(stream_id, body, end_stream=True)
    writer.write(connection.data_to_send())
    await writer.drain()
    status = 0
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), 10)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                if isinstance(event, h2.events.StreamEnded):
                    return status
            writer.write(connection.data_to_send())
            await writer.drain()
    finally:
        writer.close()
    return status


@pytest.mark.anyio
async def test_no_log_level_shows_the_token_of_an_http2_request_in_process() -> None:
    customer = "sk-h2-customer-" + "q" * 30
    body = json.dumps(_with(provider="keyed", credentials={"keyed": {"api_key": customer}})).encode()
    async with running_proxy(registry(KeyedAdapter())) as proxy:
        with _all_logs_at_debug() as logs:
            port = int(proxy.url.rsplit(":", 1)[1])
            assert await _h2_request(port, proxy.token, body) == 200
    assert logs, "the log capture saw nothing"
    assert not [line for line in logs if proxy.token in line or customer in line], "a secret was logged at DEBUG"
