"""One parse of a /v1/completions body into one object, and one credential shape on each side."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS
from completions_core.request import ProviderRequest
from completions_core.types import StreamOptions, UserMessage
from completions_proxy.wire import MANAGED, WireRequest, parse_credentials, parse_request
from primfunctions.completions.client import _Registration

KEY = "sk-wire-test-0123456789"


def _body(**extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_a_body_becomes_one_object_with_request_stream_options_and_credentials() -> None:
    body = _body(
        stream=True,
        stream_options={"chunk_by_sentence": True, "min_sentence_length": 4},
        credentials={" OpenAI ": {"api_key": f" {KEY} "}, "anthropic": {"voicerun_managed": True}},
        fallbacks=[{"provider": "anthropic", "model": "a"}],
    )
    parsed = parse_request(body)
    assert isinstance(parsed, WireRequest)
    primary, fallback = parsed.requests
    assert isinstance(primary, ProviderRequest) and isinstance(fallback, ProviderRequest)
    assert primary.provider == "openai" and primary.model == "m"
    assert [(type(m), m.content) for m in primary.messages] == [(UserMessage, "hi")]
    assert (fallback.provider, fallback.model) == ("anthropic", "a")
    assert fallback.messages == primary.messages  # a fallback inherits what it does not set
    assert parsed.stream is True
    assert parsed.stream_options.chunk_by_sentence is True and parsed.stream_options.min_sentence_length == 4
    # Names trimmed and lower-cased; the key trimmed; the managed one waits for the engine to read it.
    assert dict(parsed.credentials) == {"openai": Credential("customer", parsed.credentials["openai"].api_key),
                                        "anthropic": MANAGED}  # fmt: skip
    customer = parsed.credentials["openai"]
    assert customer.api_key is not None and customer.api_key.reveal() == KEY
    assert MANAGED == Credential("managed") and MANAGED.api_key is None


def test_the_defaults_are_no_stream_default_options_and_no_credentials() -> None:
    parsed = parse_request(_body())
    assert parsed.stream is False
    assert parsed.stream_options == StreamOptions()
    assert dict(parsed.credentials) == {}


def test_the_parse_leaves_the_body_as_it_was() -> None:
    body = _body(stream=False, credentials={"openai": {"api_key": KEY}})
    before = copy.deepcopy(body)
    parse_request(body)
    assert body == before


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ([], "", "the request body must be a JSON object"),
        (_body(stream="yes"), "stream", "expected true or false"),
        (_body(credentials=[]), "credentials", "expected an object mapping provider names to credentials"),
        (_body(credentials={"openai": {"api_key": KEY, "voicerun_managed": True}}), "credentials.openai",
         "exactly one of voicerun_managed or api_key must be set"),
        (_body(credentials={"openai": {"api_key": "a\r\nb"}}), "credentials.openai.api_key",
         "must not contain CR, LF or NUL characters"),
        (_body(stream_options={"chunk_by_word": True}), "stream_options", "chunk_by_word"),
        (_body(stram=True), "", "stream"),  # an unknown field's message lists the wire-only fields too
    ],
)
def test_every_part_is_checked_and_the_error_names_its_field(body: Any, path: str, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(body)
    assert caught.value.path.startswith(path) and message in caught.value.message
    assert KEY not in caught.value.message


def test_the_credentials_limit_is_named() -> None:
    many = {f"p{i}": {"voicerun_managed": True} for i in range(DEFAULT_LIMITS.max_credentials + 1)}
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(_body(credentials=many))
    assert "max_credentials" in caught.value.message and caught.value.path == "credentials"


@pytest.mark.parametrize(
    ("registration", "credential"),
    [
        (_Registration(managed=True, api_key=None), MANAGED),
        (_Registration(managed=False, api_key=KEY), Credential("customer")),
    ],
)
def test_the_clients_registration_is_the_wire_object_the_proxy_parses(
    registration: _Registration, credential: Credential
) -> None:
    wire = registration.to_wire()
    assert wire in ({"voicerun_managed": True}, {"api_key": KEY})  # the documented forms, nothing else
    parsed = parse_credentials({"openai": wire})["openai"]
    assert parsed.source == credential.source
    assert (parsed.api_key.reveal() if parsed.api_key else None) == registration.api_key
    assert KEY not in repr(registration) and KEY not in repr(parsed)
