"""Bearer-token authentication with the proxy token, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Optional

from completions_core.secrets import Secret, fingerprint

__all__ = ["authenticate"]


def authenticate(header: Optional[str], tokens: tuple[Secret, ...]) -> Optional[str]:
    """Return a non-reversible id of the caller's token when ``header`` carries a valid one.

    Every configured token is compared (no early exit), so the time taken does not tell which
    one nearly matched.
    """
    if not header:
        return None
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    candidate = presented.strip().encode()
    matched: Optional[Secret] = None
    for token in tokens:
        if hmac.compare_digest(candidate, token.reveal().encode()):
            matched = token
    return fingerprint(matched) if matched is not None else None
