"""Every number of an embedded script is bounded: a 400 naming the bound, never a sleep for ever or a 500."""

from __future__ import annotations

import math
from typing import Any

import pytest
from completions_embedded import EmbeddedAdapter, example_for_schema

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError
from completions_core.request import ProviderRequest
from completions_core.types import UserMessage


def _config(script: dict[str, Any]) -> Any:
    # Built by hand: the values here (NaN, 10**400) are ones the codec would refuse before the adapter.
    request = ProviderRequest(provider="embedded", model="m", messages=(UserMessage("hi"),),
                              provider_kwargs={"embedded": script})
    return EmbeddedAdapter().client_config(request, Credential("none"))


@pytest.mark.parametrize("knob", ["token_delay", "first_token_delay"])
@pytest.mark.parametrize("value", [1e308, -1e308, 60.001, -1, math.nan, math.inf, 10**400, "0.1", True, None])
def test_a_delay_outside_0_to_60_seconds_is_refused_naming_the_knob(knob: str, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match=rf"provider_kwargs\.embedded\.{knob}: .*embedded script bounds"):
        _config({knob: value})


@pytest.mark.parametrize(("knob", "value"), [
    ("status", 0), ("status", 200), ("status", 600), ("status", 1e308), ("status", 429.5), ("status", math.nan),
    ("times", -1), ("times", 10**400), ("times", 0.5), ("after_tokens", -1), ("after_tokens", 1e308),
    ("retry_after", 1e308), ("retry_after", -0.5), ("retry_after", math.inf),
])  # fmt: skip
def test_an_error_number_out_of_its_bounds_is_refused(knob: str, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match=rf"provider_kwargs\.embedded\.error\.{knob}: .*embedded script"):
        _config({"error": {"type": "rate_limit_error", "status": 429, knob: value}})


def test_values_inside_the_bounds_are_accepted() -> None:
    assert _config({"token_delay": 0, "first_token_delay": 60, "error": {
        "status": 599, "times": 1_000_000, "after_tokens": 0, "retry_after": 0.5}}) == "embedded"
    assert _config({"token_delay": -0.0, "error": {"status": 400, "retry_after": None}}) == "embedded"


@pytest.mark.parametrize("calls", [[{"nome": "t"}], "t", [{"name": ""}], [{"name": "t", "arguments": "x"}], [1]])
def test_malformed_scripted_tool_calls_are_refused_not_a_500(calls: Any) -> None:
    with pytest.raises(InvalidRequestError, match=r"provider_kwargs\.embedded\.tool_calls"):
        _config({"tool_calls": calls})


def test_a_scripted_error_type_must_be_a_documented_one() -> None:
    with pytest.raises(InvalidRequestError, match=r"provider_kwargs\.embedded\.error\.type"):
        _config({"error": {"type": "x" * 1000, "status": 400}})
    assert _config({"error": {"type": "overloaded_error", "status": 529}}) == "embedded"


@pytest.mark.parametrize("schema", [
    {"type": "array", "minItems": 10**9}, {"type": "string", "minLength": 10**12},
    {"type": "object", "properties": {"a": {"type": "array", "minItems": 10**7, "items": {"type": "string",
                                                                                    "minLength": 10**9}}}},
])  # fmt: skip
def test_an_example_for_a_huge_schema_stays_small(schema: dict[str, Any]) -> None:
    example = example_for_schema(schema)
    assert len(repr(example)) < 400_000
