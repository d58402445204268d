"""The OpenAPI description of the proxy's HTTP API, served at ``GET /openapi.json``.

Written by hand from the wire codec's rules (docs/protocol.md), so that clients in other
languages and fuzzers (schemathesis, in the test suite) know every route and field.
"""

from __future__ import annotations

from typing import Any

from completions_core.limits import DEFAULT_LIMITS as _L

__all__ = ["OPENAPI"]

_CACHE = {"type": "object", "properties": {"ttl": {"enum": ["5m", "1h"]}}, "additionalProperties": False}
_VR_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_TOOL_CALL = {
    "type": "object",
    "required": ["id", "function"],
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "arguments": {"type": ["object", "string"]}},
            "additionalProperties": False,
        },
        "index": {"type": "integer", "minimum": 0},
        "thought_signature": {"type": "string", "description": "standard or URL-safe base64"},
    },
    "additionalProperties": False,
}
_MESSAGE = {
    "oneOf": [
        {
            "type": "object",
            "required": ["role", "content"],
            "properties": {"role": {"const": "system"}, "content": {"type": "string"}, "vr_id": _VR_ID,
                           "cache_breakpoint": _CACHE},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["role", "content"],
            "properties": {"role": {"const": "user"}, "content": {"type": "string"}, "vr_id": _VR_ID,
                           "name": {"type": "string"}, "cache_breakpoint": _CACHE},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["role"],
            "properties": {"role": {"const": "assistant"}, "content": {"type": ["string", "null"]}, "vr_id": _VR_ID,
                           "tool_calls": {"type": "array", "items": _TOOL_CALL}, "cache_breakpoint": _CACHE,
                           "thought_signature": {"type": "string"}, "provider_state": {"type": "object"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["role", "tool_call_id", "content"],
            "properties": {"role": {"const": "tool"}, "tool_call_id": {"type": "string"},
                           "content": {"type": ["object", "string"]}, "vr_id": _VR_ID, "name": {"type": "string"},
                           "cache_breakpoint": _CACHE},
            "additionalProperties": False,
        },
    ]
}
_TOOL = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}, "description": {"type": "string"},
                           "parameters": {"type": "object"}, "strict": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "cache_breakpoint": _CACHE,
    },
    "additionalProperties": False,
}
_RETRY = {
    "type": "object",
    "properties": {"enabled": {"type": "boolean"},
                   "max_retries": {"type": "integer", "minimum": 0, "maximum": _L.max_retries},
                   "retry_delay": {"type": "number", "minimum": 0, "maximum": _L.max_retry_delay},
                   "backoff_multiplier": {"type": "number", "minimum": 1, "maximum": _L.max_backoff_multiplier}},
    "additionalProperties": False,
}
_COMMON: dict[str, Any] = {
    "provider": {"type": "string", "minLength": 1, "maxLength": _L.max_provider_chars},
    "model": {"type": "string", "minLength": 1, "maxLength": _L.max_model_chars},
    "messages": {"type": "array", "items": _MESSAGE, "maxItems": _L.max_messages},
    "temperature": {"type": "number", "minimum": 0, "maximum": _L.max_temperature},
    "tools": {"type": "array", "items": _TOOL, "maxItems": _L.max_tools},
    "tool_choice": {"type": "string"},
    "timeout": {"type": "number", "minimum": _L.min_timeout, "maximum": _L.max_timeout},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": _L.max_output_tokens},
    "response_schema": {"type": "object"},
    "retry": _RETRY,
    "provider_kwargs": {"type": "object", "additionalProperties": {"type": "object"}},
}
_CREDENTIALS = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [
            {"type": "object", "required": ["voicerun_managed"], "properties": {"voicerun_managed": {"const": True}},
             "additionalProperties": False},
            {"type": "object", "required": ["api_key"], "properties": {"api_key": {"type": "string", "minLength": 1}},
             "additionalProperties": False},
        ]
    },
}
_REQUEST = {
    "type": "object",
    "required": ["provider", "model", "messages"],
    "properties": {
        **_COMMON,
        "messages": {"type": "array", "items": _MESSAGE, "minItems": 1, "maxItems": _L.max_messages},
        "fallbacks": {"type": "array", "maxItems": _L.max_fallbacks,
                      "items": {"type": "object", "properties": _COMMON, "additionalProperties": False}},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"chunk_by_sentence": {"type": "boolean"}, "clean_sentences": {"type": "boolean"},
                           "min_sentence_length": {"type": "integer", "minimum": 0,
                                                   "maximum": _L.max_min_sentence_length},
                           "punctuation_marks": {"type": "array", "maxItems": _L.max_punctuation_marks,
                                                 "items": {"type": "string", "minLength": 1,
                                                           "maxLength": _L.max_punctuation_mark_chars}},
                           "punctuation_language": {"enum": ["en", "zh", "ko", "ja", "es", "fr", "it", "de"]},
                           "stream_sentences": {"type": "boolean", "deprecated": True}},
            "additionalProperties": False,
        },
        "credentials": _CREDENTIALS,
    },
    "additionalProperties": False,
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type"],
                             "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                                            "provider": {"type": "string"}, "provider_status": {"type": "integer"}}}},
}
_ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for code, text in [(400, "invalid request"), (401, "missing or invalid proxy token"), (403, "permission"),
                       (404, "unknown provider or model"), (405, "method not allowed"), (408, "body too slow"),
                       (413, "body too large"), (429, "rate limited"), (500, "internal error"),
                       (502, "provider failure"), (503, "overloaded or unavailable"), (504, "timeout")]
}
_JSON_OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}

_CACHE_CONTROL = {"type": "object", "properties": {"type": {"const": "ephemeral"}, "ttl": {"enum": ["5m", "1h"]}}}
_TEXT_PARTS = {"type": "array", "items": {"type": "object", "required": ["type", "text"], "properties": {
    "type": {"const": "text"}, "text": {"type": "string"}, "cache_control": _CACHE_CONTROL}}}
_OPENAI_TOOL_CALL = {"type": "object", "required": ["id", "type", "function"], "properties": {
    "id": {"type": "string"}, "type": {"const": "function"},
    "function": {"type": "object", "required": ["name", "arguments"],
                 "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}}}}}
_NAMED_FUNCTION = {"type": "object", "properties": {
    "type": {"const": "function"}, "function": {"type": "object", "properties": {"name": {"type": "string"}}}}}
_OPENAI_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"anyOf": [{"type": "string"}, _TEXT_PARTS, {"type": "null"}]},
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
        "tool_calls": {"type": "array", "items": _OPENAI_TOOL_CALL},
        "cache_breakpoint": _CACHE,
    },
}
_OPENAI_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "description": "OpenAI Chat Completions (docs/openai-compatible.md); fields not listed are a 400",
    "properties": {
        "model": {"type": "string", "minLength": 1, "description": "provider/model, or a name from "
                  "COMPLETIONS_OPENAI_MODEL_MAP"},
        "messages": {"type": "array", "items": _OPENAI_MESSAGE, "minItems": 1, "maxItems": 1000},
        "tools": _COMMON["tools"],
        "tool_choice": {"anyOf": [{"enum": ["auto", "none", "required"]}, _NAMED_FUNCTION]},
        "response_format": {"type": "object", "properties": {"type": {"enum": ["text", "json_object", "json_schema"]},
                                                             "json_schema": {"type": "object"}}},
        "temperature": {"type": "number", "minimum": 0},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "n": {"const": 1},
        "user": {"type": "string"},
        "timeout": _COMMON["timeout"],
        "retry": _RETRY,
        "provider_kwargs": _COMMON["provider_kwargs"],
        "fallbacks": {"type": "array", "maxItems": 8, "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        "sentences": {"anyOf": [{"type": "boolean"}, {"type": "object"}]},
    },
}
_OPENAI_ERRORS = {
    code: {"description": value["description"], "content": {"application/json": {"schema": {
        "type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message", "type", "param", "code"]}}}}}}
    for code, value in _ERRORS.items()
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "completions proxy", "version": "1", "description": "See docs/protocol.md."},
    "components": {"securitySchemes": {"proxyToken": {"type": "http", "scheme": "bearer"}}},
    "security": [{"proxyToken": []}],
    "paths": {
        "/v1/completions": {
            "post": {
                "operationId": "completions",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
                "responses": {
                    "200": {"description": "the answer: JSON, or NDJSON chunks when stream is true",
                            "content": {"application/json": {"schema": {"type": "object"}},
                                        "application/x-ndjson": {"schema": {"type": "string"}}}},
                    **_ERRORS,
                },
            }
        },
        "/v1/warm": {
            "post": {
                "operationId": "warm",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["provider"],
                    "properties": {"provider": {"type": "string"}, "model": {"type": "string"},
                                   "credentials": _CREDENTIALS},
                    "additionalProperties": False}}}},
                "responses": {"202": _JSON_OK, **_ERRORS},
            }
        },
        "/v1/chat/completions": {
            "post": {
                "operationId": "chat_completions",
                "description": "OpenAI-compatible (docs/openai-compatible.md); errors in the OpenAI shape",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _OPENAI_REQUEST}}},
                "responses": {
                    "200": {"description": "a chat.completion object, or server-sent chat.completion.chunk events",
                            "content": {"application/json": {"schema": {"type": "object"}},
                                        "text/event-stream": {"schema": {"type": "string"}}}},
                    **_OPENAI_ERRORS,
                },
            }
        },
        "/v1/models": {"get": {"operationId": "models", "responses": {"200": _JSON_OK, **_OPENAI_ERRORS}}},
        "/v1/providers": {"get": {"operationId": "providers", "responses": {"200": _JSON_OK, **_ERRORS}}},
        "/metrics": {"get": {"operationId": "metrics", "responses": {
            "200": {"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}},
            **_ERRORS}}},
        "/healthz": {"get": {"operationId": "healthz", "security": [], "responses": {"200": _JSON_OK}}},
        "/readyz": {"get": {"operationId": "readyz", "security": [], "responses": {"200": _JSON_OK, "503": _JSON_OK}}},
    },
}
