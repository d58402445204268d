"""The documented ways to serve the app with hypercorn really serve it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

TOKEN = "serving-test-token-0000000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("target", ["completions_proxy.app:app", "completions_proxy.app:create_app()"])
def test_hypercorn_serves_the_documented_application_paths(target: str) -> None:
    port = _free_port()
    env = dict(os.environ, COMPLETIONS_PROXY_TOKENS=TOKEN, COMPLETIONS_PLUGINS="embedded")
    process = subprocess.Popen([sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", target],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status = None
        for _ in range(300):
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/providers",
                                                 headers={"Authorization": f"Bearer {TOKEN}"})
                with urllib.request.urlopen(request, timeout=1) as resp:
                    status = resp.status
                    body = resp.read()
                break
            except OSError:
                time.sleep(0.05)
        assert status == 200 and b"embedded" in body
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.slow
def test_a_configuration_mistake_stops_hypercorn_at_start_up_with_the_message() -> None:
    """Not a 500 for every request: the server does not start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLETIONS_PROXY_TOKEN")}
    result = subprocess.run([sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{_free_port()}",
                             "completions_proxy.app:app"], env=env, capture_output=True, text=True, timeout=60)
    # The server stops instead of serving (hypercorn's own exit status for a failed worker is 0;
    # `completions-proxy` checks the configuration first and exits with 2).
    assert "Lifespan failure in startup" in result.stderr
    assert "COMPLETIONS_PROXY_TOKENS" in result.stderr
