"""Benchmark the proxy against the direct baseline, a minimal re-encoding app, Portkey and LiteLLM, in one run.

Layout on a 2-core machine: the server under test is pinned to CPU 0; the mock upstream and the
load generator share CPU 1. Two scenarios: *paced* (the headline: tokens 20 ms apart, as real
providers send them, so every chunk is its own read, wake-up and send) and *unpaced* (tokens back
to back). Every server of a round is up at once and the targets take turns level by level, so
that the same level of two targets is measured seconds apart; each target first runs a discarded
warm-up level. For each level the load generator starts its streams evenly over one stream's
length, then measures a steady window: the server's CPU time (utime+stime of its process tree,
read by the load generator at the window's edges) over the streams' worth of content delivered
in it, and the latency of the streams started in it; resident memory and the kernel's
listen-queue overflow counter are read around the level. Every figure is reported next to the
same figure of the baselines, measured in the same round (bench/README.md, "Measurement
(2026-12-07)"). After the steady levels, each round sends every target a *burst*: ``--burst`` (256)
fresh connections at the same instant, one stream each, paced and unpaced, as a scale-up or a load
balancer reconnecting does; the wave's time to first token and the kernel's listen-queue counters.

    python bench/run.py                      # full run (installs LiteLLM into bench/.venv-litellm
                                             # and Portkey into bench/portkey/node_modules)
    python bench/run.py --quick --skip-litellm   # CI smoke: tiny, no thresholds, no Portkey
    python bench/run.py --only baseline,ours --paced-levels 256 --levels ''   # one comparison
    python bench/run.py --skip-litellm --rounds 3 --ab-ref main   # A/B: this tree against main, 3 rounds
    python bench/run.py --only baseline,ours --levels '' --paced-levels '' --rounds 5   # the burst alone

The proxy ("ours") also streams from the mock's Anthropic Messages and Gemini APIs in both
scenarios (``--providers``); those rows are reported as ratios against its OpenAI path of the same
round. On a shared machine, ``--rounds`` repeats every level of every target and reports each
ratio (taken within a round) as its median and range over the rounds, and ``--ab-ref`` adds the proxy at another git ref
(unpacked to a temporary folder, imported through PYTHONPATH) to every round.
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
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Optional

from loadgen import cpu_seconds, tcp_ext, tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
HARNESS_LOOP = ["--loop", "asyncio"]  # the mock's and the load generator's loop (--harness-loop)
LITELLM_VERSION = "1.82.6"  # the last release before the compromised 1.82.7/1.82.8 uploads (March 2026)
PORTKEY_VERSION = "1.15.2"  # bench/portkey/package.json; @hono/node-server held at 1.13.8 (see there)
TOKENS = 50  # per stream, from the mock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if os.path.exists("/usr/bin/taskset") else command


def rss_mb(pid: int, pids: Optional[list[int]] = None) -> float:
    total = 0
    for p in pids if pids is not None else tree(pid):
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
        pids = tree(self.pid)  # once: walking /proc every 50 ms would cost the machine CPU
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid, pids))
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
               "--seconds", str(seconds), "--cpu", "1", *HARNESS_LOOP]
    for key, value in extra.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value not in (None, False):  # one argument: a token may start with "-"
            command.append(f"--{key.replace('_', '-')}={value}")
    for name, value in (headers or {}).items():
        command.extend(["--header", f"{name}:{value}"])
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all sockets)."""
    return tcp_ext("ListenOverflows")["ListenOverflows"]


@dataclass(frozen=True)
class Scenario:
    """How the mock paces tokens (through the model name, which every proxy forwards), and which
    provider's API the proxy calls (the OpenAI path unless named)."""

    name: str
    model: str
    levels: list[int]
    provider: str = "openai"
    ramp: float = 0.0  # seconds over which the load generator starts its streams (one stream's length if paced)

    @property
    def openai_path(self) -> str:
        """The OpenAI scenario this one is compared with (itself for OpenAI)."""
        return self.name.split("/")[0]


#: The mock's model names per provider (paced ones end in ``-itl<N>``).
PROVIDER_MODELS = {"openai": "gpt-mock", "anthropic": "claude-mock", "google": "gemini-mock"}


@dataclass(frozen=True)
class Timing:
    """How a level is measured (see bench/README.md, "Measurement (2026-12-07)")."""

    seconds: float  # the measured window
    settle: float  # after the ramp, before the window
    warmup: float  # the discarded warm-up level's window
    mock_pid: Optional[int] = None


@dataclass
class Target:
    """What one level measures: a server (``pid``; None when the load generator calls the mock
    itself) and how to call it, for the scenarios it takes part in."""

    name: str
    pid: Optional[int]
    url: str
    fmt: str
    scenarios: list[Scenario]
    extra: dict[str, Any] = field(default_factory=dict)
    warm_up: bool = True  # False: another Target of the same process warms it up


def warm_up(target: Target, timing: Timing) -> None:
    """A discarded level per provider at its highest paced (else unpaced) concurrency: imports, SDK
    clients, connection pools grown to the largest level, Node's JIT, all before any measurement."""
    for provider in dict.fromkeys(s.provider for s in target.scenarios):
        first = next(s for s in target.scenarios if s.provider == provider)
        by_provider: dict[str, Any] = {"provider": provider} if target.fmt == "ndjson" else {}
        loadgen(target.url, target.fmt, max(first.levels), timing.warmup, model=first.model, ramp=first.ramp,
                **by_provider, **target.extra)


def measure(target: Target, scenario: Scenario, level: int, timing: Timing, round_: int) -> dict[str, Any]:
    """One level of one target: the load generator's figures over its window, with the server's CPU
    per stream and peak memory."""
    pid, extra = target.pid, dict(target.extra)
    if target.fmt == "ndjson":
        extra["provider"] = scenario.provider
    before = cpu_seconds(pid) if pid else 0.0
    dropped = listen_overflows()
    window: dict[str, Any] = {"ramp": scenario.ramp, "settle": timing.settle, "cpu_pid": pid,
                              "mock_pid": timing.mock_pid}
    if pid:
        with PeakRSS(pid) as peak:
            row = loadgen(target.url, target.fmt, level, timing.seconds, model=scenario.model, **window, **extra)
        row["rss_peak_mb"] = round(peak.peak, 1)
    else:
        row = loadgen(target.url, target.fmt, level, timing.seconds, model=scenario.model, **window, **extra)
    cpu = (cpu_seconds(pid) - before) if pid else None
    row["listen_overflows"] = listen_overflows() - dropped
    row["target"] = target.name
    row["scenario"] = scenario.name
    row["round"] = round_
    # CPU per stream as every run before 2026-12-07 measured it: the whole level (start, ramp,
    # drain) over the streams completed. Kept to compare; cpu_ms_per_stream is the window's.
    row["cpu_ms_per_stream_whole_level"] = round(cpu * 1000 / row["requests"], 3) \
        if cpu is not None and row["requests"] else None
    row.setdefault("cpu_ms_per_stream", None)
    core1 = (row.get("mock_cpu_util") or 0) + (row.get("loadgen_cpu_util") or 0)
    print(f"  {target.name:>16} {scenario.name:>17} c={level:<4} {row['throughput_rps']:8.1f} streams/s  "
          f"ttft p50 {row['ttft_p50_ms'] or 0:7.2f} p99 {row['ttft_p99_ms'] or 0:8.2f} ms  "
          f"cpu/stream {row['cpu_ms_per_stream']} ms  errors {row['errors']}  "
          f"listen drops {row['listen_overflows']}  mock+loadgen {core1:.2f} core  "
          f"others on CPU 0 {row.get('cpu0_others_util') or 0:.2f}"
          + ("  (CPU 1 near saturation: the pacing may slip)" if core1 > 0.85 else ""), flush=True)
    return row


def measure_burst(target: Target, scenario: Scenario, streams: int, round_: int) -> dict[str, Any]:
    """One wave of ``streams`` fresh connections at once against one target (see loadgen.py --burst)."""
    extra = dict(target.extra)
    if target.fmt == "ndjson":
        extra["provider"] = scenario.provider
    row = loadgen(target.url, target.fmt, streams, 0.0, model=scenario.model, burst=True, cpu_pid=target.pid, **extra)
    row.update(target=target.name, scenario=scenario.name, round=round_)
    print(f"  {target.name:>16} {'burst/' + scenario.name:>17} n={streams:<4} ttft p50 {row['ttft_p50_ms'] or 0:7.1f} "
          f"p99 {row['ttft_p99_ms'] or 0:7.1f} max {row['ttft_max_ms'] or 0:7.1f} ms  errors {row['errors']}  "
          f"listen overflows {row['listen_overflows']} drops {row['listen_drops']}  "
          f"cpu/stream {row['cpu_ms_per_stream']} ms  others on CPU 0 {row['cpu0_others_util'] or 0:.2f}  "
          f"(wave sent over {row['release_spread_ms'] or 0:.1f} ms)", flush=True)
    time.sleep(0.2)  # the wave's connections close before the next target's wave
    return row


def source_tree(ref: str, folder: Path) -> dict[str, str]:
    """The project at git ``ref``, unpacked into ``folder``: the environment that makes Python import
    it (the root and every distribution folder on PYTHONPATH, ahead of the editable installs)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    paths = [folder]
    for setup in sorted(folder.glob("*/*/setup.cfg")):
        paths += [setup.parent / "src"] if (setup.parent / "src").is_dir() else [setup.parent]
    env = {"PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    # Check that the ref's code, not the working tree's, is what the server will import.
    probe = subprocess.run([PY, "-c", "import completions_proxy.responses as m; print(m.__file__)"],
                           env={**os.environ, **env}, cwd=folder, capture_output=True, text=True, check=True)
    if not probe.stdout.strip().startswith(str(folder)):
        raise SystemExit(f"--ab-ref {ref}: the server would import {probe.stdout.strip()}, not the ref's tree")
    return env


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


def default_harness_loop() -> str:
    try:
        import uvloop  # noqa: F401  (the proxy extra installs it, except on Windows)
    except ImportError:
        return "asyncio"
    return "uvloop"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (CI); implies --skip-portkey")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-portkey", action="store_true", help="no Portkey peer (no npm/Node needed)")
    parser.add_argument("--only", default="", help="comma-separated targets to run (direct,baseline,ours,litellm,"
                                                   "portkey); default all")
    parser.add_argument("--seconds", type=float, default=5.0, help="the measured window of every level")
    parser.add_argument("--settle", type=float, default=0.25,
                        help="seconds between the load generator's ramp and the measured window")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="window of the discarded warm-up level every target runs first (per provider)")
    parser.add_argument("--levels", default="1,16,64,256", help="unpaced concurrency levels")
    parser.add_argument("--paced-levels", default="64,256", help="paced concurrency levels")
    parser.add_argument("--itl-ms", type=int, default=20, help="time between tokens in the paced scenario")
    parser.add_argument("--providers", default="openai,anthropic,google",
                        help="the proxy's providers, each in both scenarios against the mock (the others: OpenAI)")
    parser.add_argument("--no-sentences", action="store_true", help="skip the ours+sentences rows")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every target this many times, alternating their order; ratios are taken "
                             "within a round and reported as ranges")
    parser.add_argument("--ab-ref", default="",
                        help="also run the proxy at this git ref (target ours@REF) in every round: A/B on a "
                             "shared machine")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--burst", type=int, default=256,
                        help="after the steady levels of each round: this many fresh connections at the same "
                             "instant against each target, one stream each, paced and unpaced (0: none; "
                             "--quick: at most 32)")
    parser.add_argument("--baseline-backlog", type=int, default=2048,
                        help="the re-encoder's hypercorn --backlog (the proxy's default is 2048; hypercorn's 100)")
    parser.add_argument("--harness-loop", choices=["asyncio", "uvloop"], default=default_harness_loop(),
                        help="the event loop of the mock and the load generator (both on CPU 1), never of a target: "
                             "uvloop (the default when installed) leaves CPU 1 room for 256 paced streams")
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args()
    HARNESS_LOOP[1] = args.harness_loop
    levels = [int(x) for x in args.levels.split(",") if x]
    paced_levels = [int(x) for x in args.paced_levels.split(",") if x]
    seconds, settle, warmup, ramp = args.seconds, args.settle, args.warmup, TOKENS * args.itl_ms / 1000
    if args.quick:
        levels, paced_levels, seconds, settle, warmup, ramp = [1, 8], [8], 0.75, 0.0, 0.2, ramp / 4
        args.burst = min(args.burst, 32)
    providers = [p for p in args.providers.split(",") if p]
    unknown = sorted(set(providers) - set(PROVIDER_MODELS))
    if unknown or "openai" not in providers:
        raise SystemExit(f"--providers: openai plus any of {', '.join(PROVIDER_MODELS)} (not {', '.join(unknown)})")
    scenarios = [Scenario("paced", f"gpt-mock-itl{args.itl_ms}", paced_levels, ramp=ramp),
                 Scenario("unpaced", "gpt-mock", levels)]
    for provider in providers[1:] if providers[0] == "openai" else [p for p in providers if p != "openai"]:
        model = PROVIDER_MODELS[provider]
        scenarios += [Scenario(f"paced/{provider}", f"{model}-itl{args.itl_ms}", paced_levels, provider, ramp),
                      Scenario(f"unpaced/{provider}", model, levels, provider)]
    # The burst's paces: the OpenAI scenarios, whether or not they have steady levels in this run.
    burst_paces = [s for s in scenarios if s.provider == "openai"] if args.burst > 0 else []
    if args.quick:
        burst_paces = burst_paces[-1:]  # CI's smoke run: the unpaced wave only (paced streams last 1 s)
    scenarios = [s for s in scenarios if s.levels]
    openai_only = [s for s in scenarios if s.provider == "openai"]
    only = {x for x in args.only.split(",") if x}

    def wanted(name: str) -> bool:
        return not only or name in only

    mock_port = free_port()
    mock = start(pinned(1, [PY, str(HERE / "mock_upstream.py"), "--port", str(mock_port), "--tokens", str(TOKENS),
                            *HARNESS_LOOP]),
                 {})
    upstream = f"http://127.0.0.1:{mock_port}"
    timing = Timing(seconds, settle, warmup, mock.pid)
    results: dict[str, Any] = {
        "scenarios": {s.name: {"model": s.model, "levels": s.levels, "provider": s.provider} for s in scenarios},
        "seconds_per_level": seconds, "tokens_per_stream": TOKENS,
        "measurement": {"window_s": seconds, "settle_s": settle, "paced_ramp_s": ramp, "warmup_window_s": warmup,
                        "cpu": "the target's process tree over the window / streams' worth of content in it"},
        "itl_ms_paced": args.itl_ms, "rounds": args.rounds,
        "burst": {"streams": args.burst, "baseline_backlog": args.baseline_backlog,
                  # the proxy starts as its users start it: completions-proxy's own backlog
                  "ours_backlog": os.environ.get("COMPLETIONS_BACKLOG", "2048 (its default)")}, "burst_rows": [],
        "ab_ref": args.ab_ref or None,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}, "harness_loop": args.harness_loop,
        "rows": [],
    }
    ref_env: dict[str, str] = {}
    ref_dir: Optional[Path] = None
    if args.ab_ref:
        ref_dir = Path(tempfile.mkdtemp(prefix="bench-ref-"))
        ref_env = source_tree(args.ab_ref, ref_dir)
        results["ab_ref_commit"] = subprocess.run(["git", "rev-parse", args.ab_ref], cwd=ROOT, capture_output=True,
                                                  text=True, check=True).stdout.strip()

    @contextmanager
    def serve_direct() -> Iterator[list[Target]]:
        yield [Target("direct", None, upstream + "/v1/chat/completions", "sse", openai_only)]

    @contextmanager
    def serve_baseline() -> Iterator[list[Target]]:
        port = free_port()
        baseline = start(pinned(0, [PY, "-m", "hypercorn", "--backlog", str(args.baseline_backlog),
                                    "--bind", f"127.0.0.1:{port}", "baseline_app:app"]),
                         {"BASELINE_UPSTREAM": upstream}, cwd=HERE)
        try:
            wait_http(f"http://127.0.0.1:{port}/v1/completions", 30)
            yield [Target("baseline", baseline.pid, f"http://127.0.0.1:{port}/v1/completions", "ndjson", openai_only)]
        finally:
            stop(baseline)

    def start_ours(plugins: list[str], env: Optional[dict[str, str]]) -> tuple[subprocess.Popen[bytes], str, str]:
        port, token = free_port(), secrets.token_urlsafe(24)
        process = start(
            pinned(0, [PY, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}",
                       "--workers", str(args.workers)]),
            {"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_PLUGINS": ",".join(plugins),
             "OPENAI_API_KEY": "sk-bench", "COMPLETIONS_OPENAI_BASE_URL": upstream + "/v1",
             "ANTHROPIC_API_KEY": "sk-ant-bench", "COMPLETIONS_ANTHROPIC_BASE_URL": upstream,
             "GEMINI_API_KEY": "gemini-bench", "COMPLETIONS_GOOGLE_BASE_URL": upstream,
             "COMPLETIONS_LOG_FORMAT": "json", **(env or {})},
            cwd=ref_dir if env and ref_dir else ROOT,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", 60)
        except BaseException:
            stop(process)
            raise
        return process, f"http://127.0.0.1:{port}/v1/completions", token

    def serve_ours(name: str, env: Optional[dict[str, str]]) -> Callable[[], AbstractContextManager[list[Target]]]:
        @contextmanager
        def serve() -> Iterator[list[Target]]:
            ours, url, token = start_ours(providers, env)
            try:
                found = [Target(name, ours.pid, url, "ndjson", scenarios, {"token": token})]
                if not args.no_sentences:
                    found.append(Target(f"{name}+sentences", ours.pid, url, "ndjson", openai_only,
                                        {"token": token, "sentences": True}, warm_up=False))
                yield found
            finally:
                stop(ours)
        return serve

    def held_memory(name: str, env: Optional[dict[str, str]], round_: int) -> None:
        # Memory as in every earlier run: the OpenAI plugin alone (each other provider's SDK adds its
        # modules), 256 streams open at once.
        ours, url, token = start_ours(["openai"], env)
        try:
            print(f"{name}: 256 streams held open (memory, the OpenAI plugin only)")
            loadgen(url, "ndjson", 4, 1.0, token=token, model="gpt-mock")
            with PeakRSS(ours.pid) as peak:
                held = loadgen(url, "ndjson", 256, max(seconds, 3.0), token=token, model="gpt-mock-slow")
            results.setdefault("held", []).append(
                {"target": name, "round": round_, "rss_peak_mb": round(peak.peak, 1), **held})
            print(f"  peak RSS {peak.peak:.1f} MB with 256 streams open, errors {held['errors']}")
        finally:
            stop(ours)

    @contextmanager
    def serve_portkey() -> Iterator[list[Target]]:
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise SystemExit("the Portkey peer needs Node 20 and npm on PATH (or pass --skip-portkey)")
        folder = portkey_install()
        port = free_port()
        portkey = start(pinned(0, ["node", "loopback.mjs", f"--port={port}", "--headless"]),
                        {"NODE_ENV": "production"}, cwd=folder)
        try:
            wait_http(f"http://127.0.0.1:{port}/", 60)
            headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream + "/v1",
                       "Authorization": "Bearer sk-bench"}
            yield [Target("portkey", portkey.pid, f"http://127.0.0.1:{port}/v1/chat/completions", "sse", openai_only,
                          {"headers": headers})]
        finally:
            stop(portkey)

    @contextmanager
    def serve_litellm() -> Iterator[list[Target]]:
        venv = litellm_venv()
        config = HERE / "results" / "litellm_config.yaml"
        config.write_text("model_list:\n" + "".join(
            f"  - model_name: {s.model}\n    litellm_params:\n      model: openai/{s.model}\n"
            f"      api_base: {upstream}/v1\n      api_key: sk-bench\n" for s in openai_only
        ) + "litellm_settings:\n  telemetry: false\n")
        port = free_port()
        litellm = start(pinned(0, [str(venv / "bin/litellm"), "--config", str(config), "--port", str(port),
                                   "--host", "127.0.0.1", "--num_workers", "1"]),
                        {"LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true"})
        try:
            wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180)
            yield [Target("litellm", litellm.pid, f"http://127.0.0.1:{port}/v1/chat/completions", "sse",
                          openai_only)]
        finally:
            stop(litellm)

    servers: list[Callable[[], AbstractContextManager[list[Target]]]] = []
    held: list[tuple[str, Optional[dict[str, str]]]] = []
    if wanted("direct"):
        servers.append(serve_direct)
    if wanted("baseline"):
        servers.append(serve_baseline)
    if wanted("ours"):
        servers.append(serve_ours("ours", None))
        held.append(("ours", None))
        if args.ab_ref:
            servers.append(serve_ours(f"ours@{args.ab_ref}", ref_env))
            held.append((f"ours@{args.ab_ref}", ref_env))
    if wanted("portkey") and not args.skip_portkey and not args.quick:
        servers.append(serve_portkey)
    if wanted("litellm") and not args.skip_litellm:
        servers.append(serve_litellm)
    try:
        wait_http(upstream + "/", 30)
        for round_ in range(args.rounds):
            # Every server of the round runs at once (all pinned to CPU 0, idle but for the level being
            # measured), and the targets take turns level by level, in reversed order every other
            # level and round: the same level of two targets is measured seconds apart, so that a
            # drift of the machine's load lands on both.
            with ExitStack() as stack:
                targets = [t for serve in servers for t in stack.enter_context(serve())]
                print(f"-- round {round_ + 1}/{args.rounds}: {', '.join(t.name for t in targets)}; warm-up",
                      flush=True)
                for target in targets:
                    if target.warm_up and target.scenarios:
                        warm_up(target, timing)
                    elif target.warm_up and burst_paces:  # the burst alone: a short steady level first
                        loadgen(target.url, target.fmt, 16, timing.warmup, model=burst_paces[-1].model,
                                **target.extra)
                turn = round_
                for scenario in scenarios:
                    for level in scenario.levels:
                        taking = [t for t in targets if scenario in t.scenarios]
                        for target in taking if turn % 2 == 0 else taking[::-1]:
                            results["rows"].append(measure(target, scenario, level, timing, round_))
                        turn += 1
                # The burst: every target's wave, paced and unpaced, taking turns like the levels.
                for scenario in burst_paces:
                    taking = [t for t in targets if t.warm_up]  # not ours+sentences: the same server
                    for target in taking if turn % 2 == 0 else taking[::-1]:
                        results["burst_rows"].append(measure_burst(target, scenario, args.burst, round_))
                    turn += 1
            for name, env in held if scenarios else []:  # not when the burst runs alone
                held_memory(name, env, round_)
    finally:
        stop(mock)
        if ref_dir is not None:
            shutil.rmtree(ref_dir, ignore_errors=True)

    held_rows = results.get("held", [])
    if held_rows:
        results["held_256"] = held_rows[0]  # what earlier runs recorded (the first round's "ours")
    results["machine"]["loadavg_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    return 0


def _span(values: list[float], spec: str = ".2f") -> str:
    """``a``, or ``median (lo-hi)`` over the rounds (``-`` when nothing was measured)."""
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    if format(lo, spec) == format(hi, spec):
        return format(lo, spec)
    return f"{median(values):{spec}} ({lo:{spec}}-{hi:{spec}})"


def spread(results: dict[str, Any], key: str = "cpu_ms_per_stream") -> list[tuple[str, str, int, float]]:
    """(target, scenario, level, max/min - 1) of ``key`` over the rounds, for every row measured twice or more:
    how far one target's figure moved between rounds of the same run."""
    found: dict[tuple[str, str, int], list[float]] = {}
    for r in results["rows"]:
        if r.get(key):
            found.setdefault((r["target"], r["scenario"], r["concurrency"]), []).append(r[key])
    return [(t, s, c, max(v) / min(v) - 1) for (t, s, c), v in found.items() if len(v) > 1]


def burst_table(results: dict[str, Any]) -> list[str]:
    """The burst's table: per target and pace, the wave's TTFT over the rounds, the ratio of its p99 to
    the re-encoder's of the same round, and the kernel's listen-queue counters summed over the rounds."""
    rows = results.get("burst_rows") or []
    if not rows:
        return []
    by = {(r["target"], r["scenario"], r["round"]): r for r in rows}
    rounds = sorted({r["round"] for r in rows})
    out = [f"\n### Burst: {results['burst']['streams']} fresh connections at the same instant, one stream each\n",
           "| target | pace | TTFT p50 (ms) | TTFT p99 (ms) | TTFT max (ms) | p99 x baseline | listen overflows | "
           "listen drops | errors | CPU ms / stream | others on CPU 0 |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = list(dict.fromkeys(r["target"] for r in rows))
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        for target in order:
            mine = [by[(target, scenario, n)] for n in rounds if (target, scenario, n) in by]
            if not mine:
                continue
            vs = [by[(target, scenario, n)]["ttft_p99_ms"] / by[("baseline", scenario, n)]["ttft_p99_ms"]
                  for n in rounds if (target, scenario, n) in by and ("baseline", scenario, n) in by
                  and by[(target, scenario, n)].get("ttft_p99_ms") and by[("baseline", scenario, n)].get("ttft_p99_ms")]

            def ms(key: str, mine: list[dict[str, Any]] = mine) -> str:
                return _span([r[key] for r in mine if r.get(key) is not None], ".0f")

            out.append(f"| {target} | {scenario} | {ms('ttft_p50_ms')} | {ms('ttft_p99_ms')} | {ms('ttft_max_ms')} | "
                       f"{_span(vs)} | {sum(r['listen_overflows'] for r in mine)} | "
                       f"{sum(r['listen_drops'] for r in mine)} | {sum(r['errors'] for r in mine)} | "
                       f"{_span([r['cpu_ms_per_stream'] for r in mine if r.get('cpu_ms_per_stream')], '.2f')} | "
                       f"{_span([r['cpu0_others_util'] for r in mine if r.get('cpu0_others_util') is not None])} |")
    out.append(f"\nListen backlogs: the re-encoder {results['burst']['baseline_backlog']} (hypercorn --backlog), "
               f"the proxy {results['burst'].get('ours_backlog', 2048)} (completions-proxy), Portkey Node's 511, "
               "LiteLLM uvicorn's 2048. Listen counters are the whole machine's (other processes included); each "
               "overflow is a handshake the kernel dropped, retried after 1 s (then 3 s), so it shows in TTFT max.")
    return out


def table(results: dict[str, Any]) -> str:
    """Markdown tables: every figure next to the minimal re-encoder's and Portkey's (and, for another
    provider, the OpenAI path's) of the same round; over several rounds, the range of the ratios."""
    rows = results["rows"]
    by = {(r["target"], r["scenario"], r["concurrency"], r.get("round", 0)): r for r in rows}
    rounds = sorted({r.get("round", 0) for r in rows})
    ref = results.get("ab_ref")
    out: list[str] = []
    for scenario, spec in results["scenarios"].items():
        base_scenario = scenario.split("/")[0]
        title = (f"paced: tokens {results['itl_ms_paced']} ms apart" if base_scenario == "paced"
                 else "unpaced: tokens back to back")
        provider = spec.get("provider", "openai")
        if provider != "openai":
            title += f", {provider} API (the others: OpenAI)"
        out += [f"\n### {title}\n",
                "| target | conc. | streams/s | TTFT p99 (ms) | p99 x baseline | CPU ms / stream | "
                "x baseline CPU | x Portkey CPU | x OpenAI path CPU | x ref CPU | peak RSS (MB) | listen drops | "
                "errors |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        # Targets in the order they first ran (they take turns level by level), each level ascending.
        order = list(dict.fromkeys(r["target"] for r in rows))
        seen = sorted({(r["target"], r["concurrency"]) for r in rows if r["scenario"] == scenario},
                      key=lambda tc: (order.index(tc[0]), tc[1]))
        for target, level in seen:
            mine = [by[(target, scenario, level, n)] for n in rounds if (target, scenario, level, n) in by]

            def ratios(other_target: str, key: str, other_scenario: str = base_scenario,
                       minus_direct: bool = False, target: str = target, level: int = level,
                       scenario: str = scenario, base_scenario: str = base_scenario) -> list[float]:
                found = []
                for n in rounds:
                    a = by.get((target, scenario, level, n))
                    b = by.get((other_target, other_scenario, level, n))
                    if a is None or b is None or a.get(key) is None or b.get(key) is None:
                        continue
                    x, y = a[key], b[key]
                    d = by.get(("direct", base_scenario, level, n))
                    if minus_direct and d is not None and d.get(key) is not None:
                        x, y = x - d[key], y - d[key]
                    if y > 0 and x > 0:
                        found.append(x / y)
                return found

            openai_path = ratios(target, "cpu_ms_per_stream") if provider != "openai" else []
            vs_ref = ratios(f"ours@{ref}" + target[len("ours"):], "cpu_ms_per_stream", scenario) \
                if ref and target.startswith("ours") and "@" not in target else []
            out.append(
                f"| {target} | {level} | {_span([r['throughput_rps'] for r in mine], '.1f')} | "
                f"{_span([r['ttft_p99_ms'] for r in mine if r.get('ttft_p99_ms') is not None], '.0f')} | "
                f"{_span(ratios('baseline', 'ttft_p99_ms', minus_direct=True))} | "
                f"{_span([r['cpu_ms_per_stream'] for r in mine if r.get('cpu_ms_per_stream')], '.3f')} | "
                f"{_span(ratios('baseline', 'cpu_ms_per_stream'))} | {_span(ratios('portkey', 'cpu_ms_per_stream'))} | "
                f"{_span(openai_path)} | {_span(vs_ref)} | "
                f"{_span([r['rss_peak_mb'] for r in mine if r.get('rss_peak_mb') is not None], '.1f')} | "
                f"{sum(r.get('listen_overflows', 0) for r in mine)} | {sum(r['errors'] for r in mine)} |"
            )
    out += burst_table(results)
    for held in results.get("held", []) or ([results["held_256"]] if results.get("held_256") else []):
        out.append(f"\n256 streams held open at once (20 ms between tokens): {held.get('target', 'ours')} "
                   f"(round {held.get('round', 0) + 1}) peaks at {held['rss_peak_mb']} MB resident, "
                   f"{held['errors']} errors.")
    if ref:
        out.append(f"\n`x ref CPU`: against the proxy at `{ref}` ({results.get('ab_ref_commit', '')[:12]}), "
                   "same round.")
    others = [r["cpu0_others_util"] for r in rows if r.get("cpu0_others_util") is not None]
    if others:
        out.append(f"\nOther processes' share of CPU 0 during the levels: median {median(others):.2f}, highest "
                   f"{max(others):.2f} (near 0 on an idle machine; paced CPU per stream falls as it rises).")
    if len(rounds) > 1:
        out.append(f"Ranges: median (lowest-highest) over {len(rounds)} rounds, each ratio taken within one round. "
                   "TTFT p99 x baseline subtracts the direct figure of the same round when `direct` ran.")
        moved = spread(results)
        if moved:
            worst = max(moved, key=lambda m: m[3])
            paced = [m[3] for m in moved if m[1].startswith("paced")]
            out.append("CPU per stream of one target between rounds (max/min - 1): "
                       f"median {median(m[3] for m in moved):.0%}"
                       + (f", paced median {median(paced):.0%}" if paced else "")
                       + f", largest {worst[3]:.0%} ({worst[0]} {worst[1]} c={worst[2]}).")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
