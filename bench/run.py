"""Benchmark the proxy against the direct baseline, a minimal re-encoding app, Portkey and LiteLLM, in one run.

Layout on a 2-core machine: the server under test is pinned to CPU 0; the mock upstream and the
load generator share CPU 1. Two scenarios: *paced* (the headline: tokens 20 ms apart, as real
providers send them, so every chunk is its own read, wake-up and send) and *unpaced* (tokens back
to back). For each target, scenario and concurrency level the load generator runs for a fixed
time; the server's CPU time (utime+stime of its process tree) and resident memory are read from
/proc, and the kernel's listen-queue overflow counter is read around each level. Every figure is
reported next to the same figure of the baselines, measured in the same run.

    python bench/run.py                      # full run (installs LiteLLM into bench/.venv-litellm
                                             # and Portkey into bench/portkey/node_modules)
    python bench/run.py --quick --skip-litellm   # CI smoke: tiny, no thresholds, no Portkey
    python bench/run.py --only baseline,ours --paced-levels 256 --levels ''   # one comparison
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
LITELLM_VERSION = "1.82.6"  # the last release before the compromised 1.82.7/1.82.8 uploads (March 2026)
PORTKEY_VERSION = "1.15.2"  # bench/portkey/package.json; @hono/node-server held at 1.13.8 (see there)
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


def loadgen(url: str, fmt: str, concurrency: int, seconds: float, *, headers: Optional[dict[str, str]] = None,
            **extra: Any) -> dict[str, Any]:
    command = [PY, str(HERE / "loadgen.py"), "--url", url, "--format", fmt, "--concurrency", str(concurrency),
               "--seconds", str(seconds), "--cpu", "1"]
    for key, value in extra.items():
        if value is True:
            command.append(f"--{key}")
        elif value not in (None, False):
            command.extend([f"--{key}", str(value)])
    for name, value in (headers or {}).items():
        command.extend(["--header", f"{name}:{value}"])
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all sockets)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", 0))
    return 0


@dataclass(frozen=True)
class Scenario:
    """How the mock paces tokens (through the model name, which every proxy forwards)."""

    name: str
    model: str
    levels: list[int]


def measure(name: str, pid: Optional[int], url: str, fmt: str, scenarios: list[Scenario], seconds: float,
            **extra: Any) -> list[dict[str, Any]]:
    rows = []
    # Warm up (imports, SDK clients, connection pools) outside the measurement.
    loadgen(url, fmt, 4, 1.0, model=scenarios[0].model, **extra)
    for scenario in scenarios:
        for level in scenario.levels:
            before = cpu_seconds(pid) if pid else 0.0
            dropped = listen_overflows()
            if pid:
                with PeakRSS(pid) as peak:
                    row = loadgen(url, fmt, level, seconds, model=scenario.model, **extra)
                row["rss_peak_mb"] = round(peak.peak, 1)
            else:
                row = loadgen(url, fmt, level, seconds, model=scenario.model, **extra)
            cpu = (cpu_seconds(pid) - before) if pid else None
            row["listen_overflows"] = listen_overflows() - dropped
            row["target"] = name
            row["scenario"] = scenario.name
            # CPU seconds per 1000 streams = CPU milliseconds per stream.
            row["cpu_ms_per_stream"] = round(cpu * 1000 / row["requests"], 3) if cpu is not None and row["requests"] \
                else None
            rows.append(row)
            print(f"  {name:>16} {scenario.name:>7} c={level:<4} {row['throughput_rps']:8.1f} streams/s  "
                  f"ttft p50 {row['ttft_p50_ms'] or 0:7.2f} p99 {row['ttft_p99_ms'] or 0:8.2f} ms  "
                  f"cpu/stream {row['cpu_ms_per_stream']} ms  errors {row['errors']}  "
                  f"listen drops {row['listen_overflows']}", flush=True)
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


def portkey_install() -> Path:
    """``npm ci`` of bench/portkey (the gateway, pinned by package-lock.json) into its node_modules."""
    folder = HERE / "portkey"
    lock = folder / "package-lock.json"
    marker = folder / "node_modules" / ".bench-installed"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not marker.exists() or marker.read_text() != digest:
        # --ignore-scripts: the gateway's postinstall (patch-package) has nothing to patch in the
        # published package, and no install script of a peer runs on this machine.
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=folder, check=True, timeout=600)
        marker.write_text(digest)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (CI); implies --skip-portkey")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-portkey", action="store_true", help="no Portkey peer (no npm/Node needed)")
    parser.add_argument("--only", default="", help="comma-separated targets to run (direct,baseline,ours,litellm,"
                                                   "portkey); default all")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="1,16,64,256", help="unpaced concurrency levels")
    parser.add_argument("--paced-levels", default="64,256", help="paced concurrency levels")
    parser.add_argument("--itl-ms", type=int, default=20, help="time between tokens in the paced scenario")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    paced_levels = [int(x) for x in args.paced_levels.split(",") if x]
    seconds = args.seconds
    if args.quick:
        levels, paced_levels, seconds = [1, 8], [8], 1.5
    scenarios = [Scenario("paced", f"gpt-mock-itl{args.itl_ms}", paced_levels), Scenario("unpaced", "gpt-mock", levels)]
    scenarios = [s for s in scenarios if s.levels]
    only = {x for x in args.only.split(",") if x}

    def wanted(name: str) -> bool:
        return not only or name in only

    mock_port = free_port()
    mock = start(pinned(1, [PY, str(HERE / "mock_upstream.py"), "--port", str(mock_port), "--tokens", "50"]), {})
    upstream = f"http://127.0.0.1:{mock_port}"
    results: dict[str, Any] = {
        "scenarios": {s.name: {"model": s.model, "levels": s.levels} for s in scenarios},
        "seconds_per_level": seconds, "tokens_per_stream": 50, "itl_ms_paced": args.itl_ms,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}, "rows": [],
    }
    try:
        wait_http(upstream + "/", 30)
        if wanted("direct"):
            print("direct (the mock, called by the load generator itself)")
            results["rows"] += measure("direct", None, upstream + "/v1/chat/completions", "sse", scenarios, seconds)

        if wanted("baseline"):
            port = free_port()
            baseline = start(pinned(0, [PY, "-m", "hypercorn", "--backlog", "2048", "--bind", f"127.0.0.1:{port}",
                                        "baseline_app:app"]), {"BASELINE_UPSTREAM": upstream}, cwd=HERE)
            try:
                wait_http(f"http://127.0.0.1:{port}/v1/completions", 30)
                print("baseline (minimal Starlette re-encoder on hypercorn)")
                results["rows"] += measure("baseline", baseline.pid, f"http://127.0.0.1:{port}/v1/completions",
                                           "ndjson", scenarios, seconds)
            finally:
                stop(baseline)

        if wanted("ours"):
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
                results["rows"] += measure("ours", ours.pid, url, "ndjson", scenarios, seconds, token=token)
                print("ours (sentence chunking)")
                results["rows"] += measure("ours+sentences", ours.pid, url, "ndjson", scenarios, seconds, token=token,
                                           sentences=True)
                print("ours: 256 streams held open (memory)")
                with PeakRSS(ours.pid) as peak:
                    held = loadgen(url, "ndjson", 256, max(seconds, 3.0), token=token, model="gpt-mock-slow")
                results["held_256"] = {"target": "ours", "rss_peak_mb": round(peak.peak, 1), **held}
                print(f"  peak RSS {peak.peak:.1f} MB with 256 streams open, errors {held['errors']}")
            finally:
                stop(ours)

        if wanted("portkey") and not args.skip_portkey and not args.quick:
            if shutil.which("node") is None or shutil.which("npm") is None:
                raise SystemExit("the Portkey peer needs Node 20 and npm on PATH (or pass --skip-portkey)")
            folder = portkey_install()
            port = free_port()
            portkey = start(pinned(0, ["node", "loopback.mjs", f"--port={port}", "--headless"]),
                            {"NODE_ENV": "production"}, cwd=folder)
            try:
                wait_http(f"http://127.0.0.1:{port}/", 60)
                print(f"portkey {PORTKEY_VERSION}")
                headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream + "/v1",
                           "Authorization": "Bearer sk-bench"}
                results["rows"] += measure("portkey", portkey.pid, f"http://127.0.0.1:{port}/v1/chat/completions",
                                           "sse", scenarios, seconds, headers=headers)
            finally:
                stop(portkey)

        if wanted("litellm") and not args.skip_litellm:
            venv = litellm_venv()
            config = HERE / "results" / "litellm_config.yaml"
            config.write_text("model_list:\n" + "".join(
                f"  - model_name: {s.model}\n    litellm_params:\n      model: openai/{s.model}\n"
                f"      api_base: {upstream}/v1\n      api_key: sk-bench\n" for s in scenarios
            ) + "litellm_settings:\n  telemetry: false\n")
            port = free_port()
            litellm = start(pinned(0, [str(venv / "bin/litellm"), "--config", str(config), "--port", str(port),
                                       "--host", "127.0.0.1", "--num_workers", "1"]),
                            {"LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true"})
            try:
                wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180)
                print(f"litellm {LITELLM_VERSION}")
                results["rows"] += measure("litellm", litellm.pid, f"http://127.0.0.1:{port}/v1/chat/completions",
                                           "sse", scenarios, seconds)
            finally:
                stop(litellm)
    finally:
        stop(mock)

    results["machine"]["loadavg_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    return 0


def _fmt(value: Optional[float], spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: dict[str, Any]) -> str:
    """Markdown tables: every figure next to the minimal re-encoder's and Portkey's of the same run."""
    rows = results["rows"]
    by = {(r["target"], r["scenario"], r["concurrency"]): r for r in rows}
    out: list[str] = []
    for scenario in results["scenarios"]:
        title = f"paced: tokens {results['itl_ms_paced']} ms apart" if scenario == "paced" else \
            "unpaced: tokens back to back"
        out += [f"\n### {title}\n",
                "| target | conc. | streams/s | added TTFT p50 / p99 (ms) | p99 x baseline | CPU ms / stream | "
                "x baseline CPU | x Portkey CPU | peak RSS (MB) | listen drops | errors |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            if r["scenario"] != scenario:
                continue
            level = r["concurrency"]
            d = by.get(("direct", scenario, level), {})
            b = by.get(("baseline", scenario, level), {})
            pk = by.get(("portkey", scenario, level), {})

            def added(key: str, r: dict[str, Any] = r, d: dict[str, Any] = d) -> str:
                if r["target"] == "direct":
                    return f"{r.get(key) or 0:.2f} (abs)"
                if r.get(key) is None or d.get(key) is None:
                    return "-"
                return f"{r[key] - d[key]:+.2f}"

            def ratio(other: dict[str, Any], key: str, r: dict[str, Any] = r, d: dict[str, Any] = d,
                      minus_direct: bool = False) -> str:
                mine, theirs = r.get(key), other.get(key)
                if minus_direct and mine is not None and theirs is not None:
                    if d.get(key) is None:
                        return "-"
                    mine, theirs = mine - d[key], theirs - d[key]
                if not mine or not theirs or theirs <= 0:
                    return "-"
                return f"{mine / theirs:.2f}"

            out.append(
                f"| {r['target']} | {level} | {r['throughput_rps']:.1f} | {added('ttft_p50_ms')} / "
                f"{added('ttft_p99_ms')} | {ratio(b, 'ttft_p99_ms', minus_direct=True)} | "
                f"{_fmt(r.get('cpu_ms_per_stream'), '.3f')} | {ratio(b, 'cpu_ms_per_stream')} | "
                f"{ratio(pk, 'cpu_ms_per_stream')} | {r.get('rss_peak_mb', '-')} | {r.get('listen_overflows', '-')} | "
                f"{r['errors']} |"
            )
    held = results.get("held_256")
    if held:
        out.append(f"\n256 streams held open at once (20 ms between tokens): ours peaks at {held['rss_peak_mb']} MB "
                   f"resident, {held['errors']} errors.")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
