"""Benchmark the proxy against the direct baseline, a minimal re-encoding app, and LiteLLM, in one run.

Layout on a 2-core machine: the server under test is pinned to CPU 0; the mock upstream and the
load generator share CPU 1. For each target and each concurrency level the load generator runs
for a fixed time; the server's CPU time (utime+stime of its processes) and resident memory are
read from /proc. Every figure is reported next to the same figure of the baselines, measured in
the same run.

    python bench/run.py                      # full run (installs LiteLLM into bench/.venv-litellm)
    python bench/run.py --quick --skip-litellm   # CI smoke: tiny, no thresholds
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
LITELLM_VERSION = "1.82.6"  # the last release before the compromised 1.82.7/1.82.8 uploads (March 2026)
CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if os.path.exists("/usr/bin/taskset") else command


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    pids = [pid]
    for child_dir in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child_dir / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            pids.extend(tree(int(child_dir.name)))
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class PeakRSS:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_http(url: str, seconds: float = 60, method: str = "GET") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, method=method)
            with urllib.request.urlopen(req, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # the server answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {seconds:.0f} s")


def loadgen(url: str, fmt: str, concurrency: int, seconds: float, **extra: Any) -> dict[str, Any]:
    command = [PY, str(HERE / "loadgen.py"), "--url", url, "--format", fmt, "--concurrency", str(concurrency),
               "--seconds", str(seconds), "--cpu", "1"]
    for key, value in extra.items():
        if value is True:
            command.append(f"--{key}")
        elif value not in (None, False):
            command.extend([f"--{key}", str(value)])
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(name: str, pid: Optional[int], url: str, fmt: str, levels: list[int], seconds: float,
            **extra: Any) -> list[dict[str, Any]]:
    rows = []
    # Warm up (imports, SDK clients, connection pools) outside the measurement.
    loadgen(url, fmt, 4, 1.0, **extra)
    for level in levels:
        before = cpu_seconds(pid) if pid else 0.0
        if pid:
            with PeakRSS(pid) as peak:
                row = loadgen(url, fmt, level, seconds, **extra)
            row["rss_peak_mb"] = round(peak.peak, 1)
        else:
            row = loadgen(url, fmt, level, seconds, **extra)
        cpu = (cpu_seconds(pid) - before) if pid else None
        row["target"] = name
        row["cpu_s_per_1000"] = round(cpu * 1000 / row["requests"], 3) if cpu is not None and row["requests"] else None
        rows.append(row)
        print(f"  {name:>16} c={level:<4} {row['throughput_rps']:8.1f} req/s  "
              f"ttft p50 {row['ttft_p50_ms'] or 0:7.2f} ms  cpu/1000 {row['cpu_s_per_1000']}  errors {row['errors']}",
              flush=True)
    return rows


def start(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def litellm_venv() -> Path:
    venv = HERE / ".venv-litellm"
    marker = venv / f".litellm-{LITELLM_VERSION}"
    if not marker.exists():
        subprocess.run([PY, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True)
        marker.touch()
    return venv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (CI)")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="1,16,64,256")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    seconds = args.seconds
    if args.quick:
        levels, seconds = [1, 8], 1.0

    mock_port = free_port()
    mock = start(pinned(1, [PY, str(HERE / "mock_upstream.py"), "--port", str(mock_port), "--tokens", "50"]), {})
    upstream = f"http://127.0.0.1:{mock_port}"
    results: dict[str, Any] = {"levels": levels, "seconds_per_level": seconds, "tokens_per_stream": 50,
                               "machine": {"cpus": os.cpu_count()}, "rows": []}
    try:
        wait_http(upstream + "/", 30)
        print("direct (the mock, called by the load generator itself)")
        results["rows"] += measure("direct", None, upstream + "/v1/chat/completions", "sse", levels, seconds)

        port = free_port()
        baseline = start(pinned(0, [PY, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "baseline_app:app"]),
                         {"BASELINE_UPSTREAM": upstream}, cwd=HERE)
        try:
            wait_http(f"http://127.0.0.1:{port}/v1/completions", 30)
            print("baseline (minimal Starlette re-encoder on hypercorn)")
            results["rows"] += measure("baseline", baseline.pid, f"http://127.0.0.1:{port}/v1/completions",
                                       "ndjson", levels, seconds)
        finally:
            stop(baseline)

        port, token = free_port(), secrets.token_urlsafe(24)
        ours = start(
            pinned(0, [PY, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}",
                       "--workers", str(args.workers)]),
            {"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_PLUGINS": "openai", "OPENAI_API_KEY": "sk-bench",
             "COMPLETIONS_OPENAI_BASE_URL": upstream + "/v1", "COMPLETIONS_LOG_FORMAT": "json"},
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", 60)
            url = f"http://127.0.0.1:{port}/v1/completions"
            print("ours (token deltas)")
            results["rows"] += measure("ours", ours.pid, url, "ndjson", levels, seconds, token=token)
            print("ours (sentence chunking)")
            results["rows"] += measure("ours+sentences", ours.pid, url, "ndjson", levels, seconds, token=token,
                                       sentences=True)
            print("ours: 256 streams held open (memory)")
            with PeakRSS(ours.pid) as peak:
                held = loadgen(url, "ndjson", 256, max(seconds, 3.0), token=token, model="gpt-mock-slow")
            results["held_256"] = {"target": "ours", "rss_peak_mb": round(peak.peak, 1), **held}
            print(f"  peak RSS {peak.peak:.1f} MB with 256 streams open, errors {held['errors']}")
        finally:
            stop(ours)

        if not args.skip_litellm:
            venv = litellm_venv()
            config = HERE / "results" / "litellm_config.yaml"
            config.write_text(
                "model_list:\n  - model_name: gpt-mock\n    litellm_params:\n      model: openai/gpt-mock\n"
                f"      api_base: {upstream}/v1\n      api_key: sk-bench\n"
                "litellm_settings:\n  telemetry: false\n"
            )
            port = free_port()
            litellm = start(pinned(0, [str(venv / "bin/litellm"), "--config", str(config), "--port", str(port),
                                       "--host", "127.0.0.1", "--num_workers", "1"]),
                            {"LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true"})
            try:
                wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180)
                print(f"litellm {LITELLM_VERSION}")
                results["rows"] += measure("litellm", litellm.pid, f"http://127.0.0.1:{port}/v1/chat/completions",
                                           "sse", levels, seconds)
            finally:
                stop(litellm)
    finally:
        stop(mock)

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    return 0


def table(results: dict[str, Any]) -> str:
    rows = results["rows"]
    direct = {r["concurrency"]: r for r in rows if r["target"] == "direct"}
    base = {r["concurrency"]: r for r in rows if r["target"] == "baseline"}
    out = ["| target | conc. | req/s | added TTFT p50 / p99 (ms) | added 1st sentence p50 (ms) | CPU s / 1000 req | "
           "x baseline CPU | peak RSS (MB) | errors |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        d = direct.get(r["concurrency"], {})
        b = base.get(r["concurrency"], {})

        def added(key: str, r: dict[str, Any] = r, d: dict[str, Any] = d) -> str:
            if r["target"] == "direct":
                return f"{r.get(key) or 0:.2f} (abs)"
            if r.get(key) is None or d.get(key) is None:
                return "-"
            return f"{r[key] - d[key]:+.2f}"

        ratio = (f"{r['cpu_s_per_1000'] / b['cpu_s_per_1000']:.2f}"
                 if r.get("cpu_s_per_1000") and b.get("cpu_s_per_1000") else "-")
        out.append(
            f"| {r['target']} | {r['concurrency']} | {r['throughput_rps']:.1f} | "
            f"{added('ttft_p50_ms')} / {added('ttft_p99_ms')} | {added('first_sentence_p50_ms')} | "
            f"{r.get('cpu_s_per_1000') if r.get('cpu_s_per_1000') is not None else '-'} | {ratio} | "
            f"{r.get('rss_peak_mb', '-')} | {r['errors']} |"
        )
    held = results.get("held_256")
    if held:
        out.append(f"\n256 streams held open at once (20 ms between tokens): ours peaks at {held['rss_peak_mb']} MB "
                   f"resident, {held['errors']} errors.")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
