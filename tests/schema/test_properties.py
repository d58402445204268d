"""Property tests: for random schemas, every target's output follows that target's rules, and
data valid under the original schema stays valid under the rewritten one."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from completions_core.schemas import SchemaError, sanitize_schema
from tests.schema.checkers import (
    META,
    check_inlined,
    check_openapi,
    check_strict,
    is_valid,
    openapi_as_json_schema,
    strict_instance,
    validation_error,
)
from tests.schema.instances import instances
from tests.schema.strategies import schemas

# Property-based (hypothesis): slow, run by ./dev.sh test-all, tox -e slow and CI.
pytestmark = pytest.mark.slow

SETTINGS = settings(
    # SCHEMA_EXAMPLES=5000 for a longer hunt; 200 keeps the suite quick.
    max_examples=int(os.environ.get("SCHEMA_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
STRICT_REFUSALS = ("cannot be strict", "at the root", "nesting depth", "has no schema")


def _draw_instance(data: st.DataObject, schema: dict[str, Any]) -> Any:
    value = data.draw(instances(schema), label="instance")
    assume(is_valid(schema, value))  # candidates are loose; only valid data says anything
    return value


@SETTINGS
@given(schemas())
def test_openapi_output_always_fits_openapi_rules(schema: dict[str, Any]) -> None:
    try:
        out = sanitize_schema(schema, "openapi")
    except SchemaError as error:
        assert "nesting depth" in error.reason
        return
    check_openapi(out)


@SETTINGS
@given(schemas())
def test_strict_output_always_fits_strict_rules_or_is_refused_with_a_reason(
    schema: dict[str, Any],
) -> None:
    try:
        out = sanitize_schema(schema, "strict")
    except SchemaError as error:
        assert any(reason in error.reason for reason in STRICT_REFUSALS), str(error)
        return
    check_strict(out)


@SETTINGS
@given(schemas(strict_friendly=True))
def test_strict_takes_every_typed_closed_schema(schema: dict[str, Any]) -> None:
    check_strict(sanitize_schema(schema, "strict"))


@SETTINGS
@given(schemas())
def test_qwen_output_has_no_references_or_meta_keywords(schema: dict[str, Any]) -> None:
    check_inlined(sanitize_schema(schema, "inlined"))


@pytest.mark.parametrize("target", ["json_schema"])
@SETTINGS
@given(schema=schemas())
def test_light_targets_only_drop_meta_keywords(target: str, schema: dict[str, Any]) -> None:
    out = sanitize_schema(schema, target)  # type: ignore[arg-type]
    assert out == {k: v for k, v in schema.items() if k not in META}


@SETTINGS
@given(st.data())
def test_data_valid_under_the_original_stays_valid_for_openapi(data: st.DataObject) -> None:
    schema = data.draw(schemas(), label="schema")
    value = _draw_instance(data, schema)
    try:
        out = sanitize_schema(schema, "openapi")
    except SchemaError:
        return  # too deep: refused, nothing to compare
    as_json_schema = openapi_as_json_schema(out)
    assert is_valid(as_json_schema, value), validation_error(as_json_schema, value)


@SETTINGS
@given(st.data())
def test_data_valid_under_the_original_stays_valid_for_openai_strict(data: st.DataObject) -> None:
    schema = data.draw(schemas(strict_friendly=True), label="schema")
    value = _draw_instance(data, schema)
    out = sanitize_schema(schema, "strict")
    mapped = strict_instance(out, value)
    assert is_valid(out, mapped), validation_error(out, mapped)


@pytest.mark.parametrize("target", ["inlined", "json_schema"])
@SETTINGS
@given(data=st.data())
def test_data_valid_under_the_original_stays_valid_for_light_targets(target: str, data: st.DataObject) -> None:
    schema = data.draw(schemas(), label="schema")
    value = _draw_instance(data, schema)
    out = sanitize_schema(schema, target)  # type: ignore[arg-type]
    assert is_valid(out, value), validation_error(out, value)
