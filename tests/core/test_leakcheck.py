"""The suite-wide leak check itself: it learns secrets and would catch a leak."""

from __future__ import annotations

import logging

from completions_core.redaction import Secret
from completions_core.testing import leakcheck


def test_secrets_are_learned_when_wrapped() -> None:
    Secret("sk-leakcheck-selftest-123456")
    assert "sk-leakcheck-selftest-123456" in leakcheck._known


def test_find_leaks_reports_where_a_secret_appeared_without_printing_it() -> None:
    found = leakcheck.find_leaks(
        {"sk-abcdefgh-1234"}, [("log a", "fine"), ("http /v1/completions 401", "token sk-abcdefgh-1234 rejected")]
    )
    assert found == ["http /v1/completions 401: contains a secret starting 'sk-a'"]


def test_log_records_at_info_and_above_are_captured() -> None:
    _, before = leakcheck.counts()
    logging.getLogger("completions.selftest").warning("a harmless line")
    logging.getLogger("completions.selftest").debug("not captured: below INFO")
    _, after = leakcheck.counts()
    assert after == before + 1
