"""The hostile-caller suite's fixtures: the proxy as its own process, a /healthz prober, an echoing upstream.

- :class:`ProxyProcess` runs the proxy exactly as an operator would (``python -m hypercorn
  completions_proxy.app:app`` in one process, on loopback, on a free port), with sentinel managed
  keys in its environment, the root logger at DEBUG (a ``--log-config`` file) and the access log
  on, its stdout and stderr captured to one file.
- :class:`Prober` asks ``/healthz`` again and again from another process, on its own connection,
  and reports every latency: the test process's own work cannot delay it.
- :class:`EchoingUpstream` is the upstream every real provider is pointed at
  (``COMPLETIONS_<PROVIDER>_BASE_URL``): it answers with the recorded error body of the provider,
  its message extended with every request header it received (the managed or customer key
  included), the way a careless gateway does; a model named ``ok`` gets the recorded answer and
  one named ``fail503`` a 503. It counts the requests it saw.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: The root logger at DEBUG, every record to stderr: what an operator turning on DEBUG gets.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}},
    "root": {"level": "DEBUG", "handlers": ["stderr"]},
}


def _raise_priority() -> None:
    """Run before exec in the server and the prober: ahead of other work on a shared machine, where allowed.

    The bound on ``/healthz`` is about the proxy's event loop, not about the machine's other
    processes taking its cores; without the privilege (most CI runners), nothing changes.
    """
    try:
        os.nice(-10)
    except OSError:
        pass


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _recorded_body(provider: str, cassette: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "providers" / provider / "tests" / "cassettes" / cassette).read_text())
    body: dict[str, Any] = json.loads(data["interactions"][0]["response"]["body"]["string"])
    return body


class EchoingUpstream:
    """A loopback upstream that repeats every request header back in its error messages."""

    def __init__(self) -> None:
        self.requests = 0
        self.by_model: dict[str, int] = {}
        #: The request headers of every call, as echoed back (so a test can tell which keys were in play).
        self.echoed: list[str] = []
        self._lock = threading.Lock()
        answers = {
            "openai_ok": _recorded_body("openai", "chat_text.yaml"),
            "openai_error": _recorded_body("openai", "chat_error_401_invalid_api_key.yaml"),
            "anthropic_error": _recorded_body("anthropic", "messages_error_401_authentication.yaml"),
            "google_error": _recorded_body("google", "error_400_api_key_invalid.yaml"),
        }
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    model = str(json.loads(raw).get("model", ""))
                except (ValueError, AttributeError):
                    model = ""
                if ":generateContent" in self.path or ":streamGenerateContent" in self.path:
                    model = self.path.rsplit("/", 1)[-1].split(":", 1)[0]
                with outer._lock:
                    outer.requests += 1
                    outer.by_model[model] = outer.by_model.get(model, 0) + 1
                echoed = "; ".join(f"{name}: {value}" for name, value in self.headers.items())
                with outer._lock:
                    outer.echoed.append(echoed)
                if model == "ok" and self.path.endswith("/chat/completions"):
                    self._answer(200, answers["openai_ok"])
                    return
                status = 503 if model == "fail503" else 401
                if self.path.endswith("/messages"):
                    body = json.loads(json.dumps(answers["anthropic_error"]))
                    body["error"]["message"] += f" (you sent {echoed})"
                elif "generateContent" in self.path:
                    body = json.loads(json.dumps(answers["google_error"]))
                    body["error"]["message"] += f" (you sent {echoed}; path {self.path})"
                    status = 503 if model == "fail503" else 400
                else:
                    body = json.loads(json.dumps(answers["openai_error"]))
                    body["error"]["message"] += f" (you sent {echoed})"
                self._answer(status, body)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EchoingUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class ProxyProcess:
    """``python -m hypercorn completions_proxy.app:app`` as its own process, logging at DEBUG to a file."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "proxy.log"
        config = workdir / "logging.json"
        config.write_text(json.dumps(LOG_CONFIG))
        base = {k: v for k, v in os.environ.items() if not k.startswith("COMPLETIONS_") and not k.endswith("_API_KEY")}
        self.env = {**base, **env}
        self.argv = [
            sys.executable, "-m", "hypercorn", "--workers", "0", "--bind", f"127.0.0.1:{self.port}",
            "--log-config", f"json:{config}", "--log-level", "DEBUG", "--access-logfile", "-",
            "completions_proxy.app:app",
        ]  # fmt: skip
        self.process: Optional[subprocess.Popen[bytes]] = None

    def __enter__(self) -> ProxyProcess:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            preexec_fn=_raise_priority,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the proxy exited at start-up:\n{self.log_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                ready = conn.getresponse().status == 200
                conn.close()
                if ready:
                    return self
            except OSError:
                pass
            time.sleep(0.05)  # polling for start-up, not synchronising with a request
        raise AssertionError(f"the proxy did not become ready within 60 s:\n{self.log_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory_mb(self) -> dict[str, float]:
        """VmRSS (now) and VmHWM (the peak so far) of the server process, in MB."""
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) / 1024
        return out

    def log_text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")


_PROBE = r"""
import http.client, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        return
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
threading.Thread(target=control.serve_forever, daemon=True).start()
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

def probe(port, path, out, failures):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        at = time.time()
        started = time.perf_counter()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failures.append("status %d" % resp.status)
        except Exception as exc:
            failures.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        out.append((at, time.perf_counter() - started))
        stop.wait(0.005)

probes, controls, failures, control_failures = [], [], [], []
threads = [threading.Thread(target=probe, args=(int(sys.argv[1]), "/healthz", probes, failures)),
           threading.Thread(target=probe, args=(control.server_address[1], "/", controls, control_failures))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"probes": probes, "controls": controls, "failures": failures}))
"""


class Prober:
    """``/healthz`` every 5 ms from its own process and connection, until stopped.

    Beside it, the same process probes a trivial control server of its own, so that a stall of the
    machine (the prober or every process descheduled on a shared runner) can be told from a stall
    of the proxy's event loop: :meth:`stalls` keeps the slow ``/healthz`` answers during which the
    control kept answering quickly.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        #: (wall-clock start, latency in seconds) of every probe, and of every control probe.
        self.probes: list[tuple[float, float]] = []
        self.controls: list[tuple[float, float]] = []
        self.failures: list[str] = []
        self.process: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> Prober:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PROBE, str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=_raise_priority,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        out, _ = self.process.communicate("", timeout=30)
        result = json.loads(out)
        self.probes = [(at, latency) for at, latency in result["probes"]]
        self.controls = [(at, latency) for at, latency in result["controls"]]
        self.failures = result["failures"]

    def stalls(self, bound: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(the proxy's stalls, the machine's): ``/healthz`` answers slower than ``bound``, split by
        whether a control probe overlapping the same window was also slow (over half the bound)."""
        proxy, machine = [], []
        for at, latency in self.probes:
            if latency < bound:
                continue
            overlapping = [c for c_at, c in self.controls if c_at <= at + latency and at <= c_at + c]
            (machine if any(c >= bound / 2 for c in overlapping) else proxy).append((at, latency))
        return proxy, machine
