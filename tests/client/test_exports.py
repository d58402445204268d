"""The client's public names."""

from __future__ import annotations

import pytest


def test_the_client_exports_its_validation_error() -> None:
    import primfunctions.completions as completions
    from completions_core.errors import InvalidRequestError

    assert completions.InvalidRequestError is InvalidRequestError
    assert "InvalidRequestError" in completions.__all__ and issubclass(InvalidRequestError, ValueError)


@pytest.mark.anyio
async def test_a_request_refused_before_sending_raises_the_exported_error(client_reset: None) -> None:
    import primfunctions.completions as completions

    completions.configure("http://127.0.0.1:9", "client-token-0123456789")
    completions.configure_provider("openai", voicerun_managed=True)
    with pytest.raises(completions.InvalidRequestError) as caught:
        await completions.generate_chat_completion(
            {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}],
             "retry": {"max_retries": 10**9}}
        )
    assert caught.value.path == "retry.max_retries" and "(max_retries)" in str(caught.value)

