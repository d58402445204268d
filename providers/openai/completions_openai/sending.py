"""Sending a streaming Chat Completions request through core's prepared post
(:mod:`completions_core.prepared`): the URL and the SDK's headers made once per client the adapter
builds, sent on the SDK client's own pool, failures raised as the SDK's public error types.

What is OpenAI's here: the SDK's errors (:func:`status_error` builds the status error the SDK
would, with the body it keeps). A client the adapter did not build has no prepared post: the SDK sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from completions_core.jsonutil import loads
from completions_core.prepared import PreparedPost, SDKErrors, prepared_post
from completions_core.prepared import remember as remember_post

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI

__all__ = ["PreparedPost", "prepared_post", "remember", "status_error"]


def _timeout_error(request: httpx2.Request) -> Exception:
    import openai

    return openai.APITimeoutError(request=request)


def _connection_error(request: httpx2.Request) -> Exception:
    import openai

    return openai.APIConnectionError(request=request)


def status_error(response: httpx2.Response) -> Exception:
    """The SDK's public error for a failed status, with the body it would have kept."""
    import openai

    message = f"Error code: {response.status_code}"
    text = response.text.strip()
    body: object = text
    try:
        body = loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, Mapping) else None
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
    data = body.get("error", body) if isinstance(body, Mapping) else body
    return openai.APIStatusError(message, response=response, body=data)


ERRORS = SDKErrors(timeout=_timeout_error, connection=_connection_error, status=status_error)


def remember(client: AsyncOpenAI, http: httpx2.AsyncClient, path: str) -> None:
    """Prepare ``client``'s streaming post (the adapter built it, with ``http`` as its HTTP client).

    A base URL with a query, or default query parameters, are merged by the SDK in ways this
    does not repeat: such a client keeps the SDK's own sending."""
    remember_post(client, http, path, ERRORS)
