"""An upstream that repeats the request's credentials in its error never gets them to the caller.

The replay server echoes the ``Authorization`` / ``x-api-key`` / ``x-goog-api-key`` header it
received (as sent, in other cases, with one character changed, truncated, URL-encoded) in its
error message: for every provider, streaming and not, as an HTTP error and as an error event
inside a 200 stream, no piece of the key (or of the minted Vertex token) reaches the
``ProviderError`` or a log record.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from completions_core.errors import ProviderError
from completions_core.secrets import MASK, Secret, scrub, scrub_error
from completions_core.testing.replay import ReplayServer
from tests.adapters.harness import PROVIDERS, Case, EchoBody, EchoStream, run

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


def _one_changed(value: str) -> str:
    middle = len(value) // 2
    return value[:middle] + ("Q" if value[middle] != "Q" else "R") + value[middle + 1 :]


def echo(headers: dict[str, str]) -> str:
    """What a careless upstream says: every credential header it got, and variations of it."""
    sent = {name: headers[name] for name in _CREDENTIAL_HEADERS if name in headers}
    assert sent, f"the SDK sent no credential header: {sorted(headers)}"
    parts = ["Invalid credentials."]
    for name, value in sent.items():
        bare = value.split()[-1]
        parts += [
            f"{name}: {value}",
            f"{name.upper()}={value.swapcase()}",
            f"{{'{name.title()}': '{value}'}}",
            f"we saw {bare.upper()} and {bare.lower()} and {_one_changed(bare)}",
            f"(truncated: {bare[:-4]}) url: https://x.test/?key={quote(bare, safe='')}",
            bare,
        ]
    return " ".join(parts)


def secret_pieces(secret: str) -> set[str]:
    """Every 8-character piece of ``secret``, lower case: none may show."""
    lowered = secret.lower()
    return {lowered[i : i + 8] for i in range(len(lowered) - 7)}


def assert_no_piece(secret: str, texts: list[str]) -> None:
    pieces = secret_pieces(secret)
    for text in texts:
        found = [piece for piece in pieces if piece in text.lower()]
        assert not found, f"a piece of the credential reached {text[:200]!r}"


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [401, 400, 500])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_echoed_credential_never_reaches_the_caller(
    provider: str, status: int, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.enqueue(EchoBody(server, status, echo), stream)
        with pytest.raises(ProviderError) as info:
            await run(case, stream)
        server.assert_all_used()
        sent = " ".join(server.requests[-1].headers.get(name, "") for name in _CREDENTIAL_HEADERS)
    assert case.secret in sent  # the upstream really saw (and repeated) the credential
    error = info.value
    assert error.message.startswith("Invalid credentials") or "Invalid credentials" in error.message
    assert MASK in error.message
    assert_no_piece(case.secret, [error.message, str(error), repr(error), *map(str, error.args)])
    assert error.__cause__ is None or case.secret not in str(error.__cause__)
    assert_no_piece(case.secret, _log_texts(caplog))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_event_in_a_stream_never_repeats_the_credential(
    provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.enqueue(EchoStream(server, lambda headers: case.error_event(echo(headers))), True)
        with pytest.raises(ProviderError) as info:
            await run(case, True)
        server.assert_all_used()
    error = info.value
    assert "Invalid credentials" in error.message and MASK in error.message
    assert_no_piece(case.secret, [error.message, str(error), repr(error)])
    assert_no_piece(case.secret, _log_texts(caplog))


# -- the scrubber on its own -----------------------------------------------------------------------

KEY = "Zk81mQ0pLr7sWt3vXy6nBc2d"


@pytest.mark.parametrize(
    "text",
    [
        f"bad key {KEY}",
        f"bad key {KEY.upper()}",
        f"bad key {KEY.lower()}",
        f"bad key {KEY[:10]}X{KEY[11:]}",
        f"bad key {KEY[:-5]}",
        f"key=%2B{quote(KEY)}",
        f"{KEY[:12]}\r\n{KEY[12:]}",
    ],
)
def test_a_known_key_is_masked_in_any_form(text: str) -> None:
    out = scrub(text, [Secret(KEY)])
    assert_no_piece(KEY, [out])


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        ("authorization: bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        ('{"x-api-key": "k-998877665544"}', "k-998877665544"),
        ("X-Goog-Api-Key=q1w2e3r4t5y6", "q1w2e3r4t5y6"),
        ("GET /v1/models?alt=json&key=q1w2e3r4t5y6 failed", "q1w2e3r4t5y6"),
        ("Incorrect API key provided: sk-proj-AbCdEf0123456789", "sk-proj-AbCdEf0123456789"),
        ("invalid x sk-ant-api03-AbCdEf0123456789-xyz", "sk-ant-api03-AbCdEf0123456789-xyz"),
        ("key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv not valid", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv"),
        ("token ya29.a0AfH6SMBx-yz_12 expired", "ya29.a0AfH6SMBx-yz_12"),
        ("hex 0123456789abcdef0123456789abcdef01234567 seen", "0123456789abcdef0123456789abcdef01234567"),
        ("b64 QWxhZGRpbjpvcGVuIHNlc2FtZQ0123456789AbCdEfGhIj= seen", "QWxhZGRpbjpvcGVuIHNlc2FtZQ0123456789AbCdEfGhIj"),
    ],
)
def test_credential_shapes_are_masked_without_knowing_them(text: str, secret: str) -> None:
    out = scrub(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: Field required",
        "The model `claude-3-5-sonnet-20241022` does not exist or you do not have access to it.",
        "Request too large for gpt-4o-mini in organization org-abc on tokens per min (TPM): Limit 200000",
        "projects/voicerun-test-1/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5",
    ],
)
def test_ordinary_error_text_is_kept(text: str) -> None:
    assert scrub(text, [Secret(KEY)]) == text


def test_scrub_error_rewrites_message_and_args() -> None:
    error = ProviderError(f"no: {KEY}", "authentication_error", provider="x")
    assert scrub_error(error, [KEY]) is error
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)


def test_a_huge_upstream_text_is_cut_and_still_scrubbed() -> None:
    text = f"Authorization: Bearer {KEY} " + "<p>error page</p>" * 200_000 + KEY
    out = scrub(text, [Secret(KEY)])
    assert len(out) <= 4001 and out.endswith("…")
    assert_no_piece(KEY, [out])


def test_a_key_made_of_short_runs_is_masked_whole() -> None:
    key = "ab1.cd2.ef3.gh4"
    assert scrub(f"token was {key.upper()} here", [key]) == f"token was {MASK} here"
