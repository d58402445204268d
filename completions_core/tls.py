"""One TLS client context for every provider SDK client the proxy builds.

Building an SSL context loads the whole CA bundle (``load_verify_locations``): 50 ms or more of
CPU on the event loop, for each new SDK client, i.e. for each new customer key a caller sends.
A burst of new keys then blocked the loop (``/healthz`` took 400 ms in the hostile-caller suite).
The context holds only the trust store and the verification settings, no per-connection state,
so every client can share it: it is built once, the way the SDKs' own HTTP clients build theirs
(``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured), and certificates are verified exactly as before.
"""

from __future__ import annotations

import functools
import ssl

__all__ = ["shared_ssl_context"]


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The process's TLS client context, built on first use (verification on, hostnames checked)."""
    try:
        import httpx2
    except ImportError:  # no SDK installed that uses httpx2: the standard library's defaults
        return ssl.create_default_context()
    context: ssl.SSLContext = httpx2.create_ssl_context()
    return context
