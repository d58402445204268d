"""Sending a streaming Messages request through core's prepared post
(:mod:`completions_core.prepared`): the URL and the SDK's headers made once per client the adapter
builds, sent on the SDK client's own pool, failures raised as the SDK's public error types.

What is Anthropic's here: the path, the SDK's errors (:func:`status_error` builds the status error
the SDK would, with its message and the whole body it keeps), and the two headers that carry the
request's timeout. A client the adapter did not build (a Vertex client, whose token is minted per
request) has no prepared post: the SDK sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from completions_core.jsonutil import loads
from completions_core.prepared import SDKErrors, prepared_post
from completions_core.prepared import remember as remember_post

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

__all__ = ["MESSAGES_PATH", "prepared_post", "remember", "status_error"]

#: The Messages API, under the client's base URL.
MESSAGES_PATH = "/v1/messages"
#: The SDK sends the request's read timeout under both names.
TIMEOUT_HEADERS = ("x-stainless-timeout", "x-stainless-read-timeout")


def _timeout_error(request: httpx2.Request) -> Exception:
    import anthropic

    return anthropic.APITimeoutError(request=request)


def _connection_error(request: httpx2.Request) -> Exception:
    import anthropic

    return anthropic.APIConnectionError(request=request)


def status_error(response: httpx2.Response) -> Exception:
    """The SDK's public status error for a failed status: its message, and the body it keeps
    (parsed JSON, else the text)."""
    import anthropic

    text = response.text.strip()
    body: object = text
    try:
        body = loads(text)
    except ValueError:
        message = text or f"Error code: {response.status_code}"
    else:
        message = f"Error code: {response.status_code} - {body}"
    return anthropic.APIStatusError(message, response=response, body=body)


ERRORS = SDKErrors(timeout=_timeout_error, connection=_connection_error, status=status_error)


def remember(client: AsyncAnthropic, http: httpx2.AsyncClient) -> None:
    """Prepare ``client``'s streaming post (the adapter built it, with ``http`` as its HTTP client)."""
    remember_post(client, http, MESSAGES_PATH, ERRORS, TIMEOUT_HEADERS)
