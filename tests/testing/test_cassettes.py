"""The cassette loader: typed interactions, match paths, parsed bodies, SSE splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from completions_core.testing.cassettes import (
    CassetteError,
    load_cassette,
    match_path,
    parse_cassette,
    split_sse_events,
)

CASSETTES = Path(__file__).parent / "cassettes"


def test_every_copied_cassette_loads_with_its_provenance() -> None:
    files = sorted(CASSETTES.glob("*/*.yaml"))
    assert len(files) == 12
    for file in files:
        cassette = load_cassette(file)
        assert cassette.interactions, file
        assert cassette.source["repo"] and len(cassette.source["commit"]) == 40, file
        assert cassette.source["license"] in {"MIT", "Apache-2.0"}, file


def test_interaction_fields_are_typed() -> None:
    cassette = load_cassette(CASSETTES / "openai/chat_text.yaml")
    interaction = cassette[0]
    assert len(cassette) == 1 and interaction.index == 0
    assert interaction.request.method == "POST"
    assert interaction.request.uri == "https://api.openai.com/v1/chat/completions"
    assert interaction.request.header("Content-Type") == "application/json"
    assert interaction.response.status == 200 and interaction.response.reason == "OK"
    assert interaction.response.header("X-Request-Id") == "req_58cff97afd0e7c0bba910ccf0b044a6f"


def test_request_path_drops_host_and_keeps_no_query() -> None:
    interaction = load_cassette(CASSETTES / "gemini/stream_text.yaml")[0]
    assert interaction.request.path == "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent"
    assert interaction.request.query == {"alt": "sse"}


def test_match_path_keeps_alt_sse_for_gemini_streams() -> None:
    interaction = load_cassette(CASSETTES / "gemini/stream_text.yaml")[0]
    assert interaction.request.match_path == "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse"


def test_match_path_drops_beta_true_that_anthropic_2_12_no_longer_sends() -> None:
    interaction = load_cassette(CASSETTES / "anthropic/messages_error_400_invalid_request.yaml")[0]
    assert interaction.request.query == {"beta": "true"}
    assert interaction.request.match_path == "/v1/messages"


def test_match_path_ignores_other_query_parameters() -> None:
    assert match_path("/v1/models/x:generateContent", {"key": "secret", "alt": "sse", "beta": "true"}) == (
        "/v1/models/x:generateContent?alt=sse"
    )
    assert match_path("/v1/messages", {}) == "/v1/messages"


def test_request_body_is_parsed_as_json() -> None:
    interaction = load_cassette(CASSETTES / "openai/chat_stream_text.yaml")[0]
    assert interaction.request.json() == {
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "model": "gpt-4",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_streaming_is_read_from_the_response_content_type() -> None:
    stream = load_cassette(CASSETTES / "openai/chat_stream_text.yaml")[0]
    text = load_cassette(CASSETTES / "openai/chat_text.yaml")[0]
    assert stream.response.is_streaming and stream.response.content_type.startswith("text/event-stream")
    assert not text.response.is_streaming


def test_a_failed_stream_request_asked_for_a_stream_but_got_json() -> None:
    interaction = load_cassette(CASSETTES / "openai/chat_error_401_invalid_api_key_stream.yaml")[0]
    assert interaction.request.stream_requested
    assert not interaction.response.is_streaming
    assert interaction.response.json()["error"]["code"] == "invalid_api_key"


def test_gemini_error_labelled_as_event_stream_still_counts_as_streaming() -> None:
    interaction = load_cassette(CASSETTES / "gemini/error_400_api_key_invalid_stream.yaml")[0]
    assert interaction.response.is_streaming
    assert interaction.response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_sse_events_split_on_crlf_blank_lines_and_join_back_exactly() -> None:
    body = load_cassette(CASSETTES / "gemini/stream_text.yaml")[0].response.body
    events = split_sse_events(body)
    assert len(events) == 3
    assert all(event.startswith("data: ") and event.endswith("\r\n\r\n") for event in events)
    assert "".join(events) == body


def test_sse_events_split_on_lf_blank_lines() -> None:
    events = load_cassette(CASSETTES / "anthropic/messages_stream_text.yaml")[0].response.sse_events()
    assert events[0].startswith("event: message_start\ndata: ")
    assert events[-1].startswith("event: message_stop\n")
    assert all(event.endswith("\n\n") for event in events)


def test_unterminated_tail_is_kept_as_a_last_event() -> None:
    assert split_sse_events("data: 1\n\ndata: 2") == ["data: 1\n\n", "data: 2"]


def test_a_cassette_without_interactions_list_is_rejected() -> None:
    with pytest.raises(CassetteError, match="'interactions' must be a list"):
        parse_cassette({"source": {}, "interactions": "nope"})


def test_an_interaction_without_status_code_is_rejected_with_its_position() -> None:
    data = {
        "interactions": [
            {
                "request": {"method": "POST", "uri": "https://x/v1", "body": ""},
                "response": {"status": {"message": "OK"}, "body": {"string": ""}},
            }
        ]
    }
    with pytest.raises(CassetteError, match=r"interactions\[0\]\.response\.status"):
        parse_cassette(data)
