"""The OpenAI-compatible route against the native route, on the same proxy process, in one run.

One proxy (the real OpenAI plugin, pointed at the loopback mock of ``mock_upstream.py``) serves
both ``POST /v1/completions`` (NDJSON) and ``POST /v1/chat/completions`` (SSE). The two targets
are measured in alternating rounds at each concurrency level, so drift of the machine hits both
alike; the figure is the proxy's CPU time per 1000 streams of each, and their ratio (goal of
issue 19: the OpenAI route within 10% of the native one).

    python bench/openai_compat_bench.py                 # 3 rounds x levels 1,16,64, 4 s each
    python bench/openai_compat_bench.py --quick         # smoke run
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import Any

from run import HERE, PY, cpu_seconds, free_port, loadgen, pinned, start, stop, wait_http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=str(HERE / "results" / "openai_compat.json"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    seconds, rounds = args.seconds, args.rounds
    if args.quick:
        levels, seconds, rounds = [1, 8], 1.0, 1

    mock_port = free_port()
    mock = start(pinned(1, [PY, str(HERE / "mock_upstream.py"), "--port", str(mock_port), "--tokens", "50"]), {})
    upstream = f"http://127.0.0.1:{mock_port}"
    port, token = free_port(), secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    targets = {
        "native": (base + "/v1/completions", "ndjson", "gpt-mock"),
        "openai": (base + "/v1/chat/completions", "sse", "openai/gpt-mock"),
    }
    totals: dict[tuple[str, int], dict[str, float]] = {}
    try:
        wait_http(upstream + "/", 30)
        proxy = start(
            pinned(0, [PY, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}"]),
            {"COMPLETIONS_PROXY_TOKENS": token, "COMPLETIONS_PLUGINS": "openai", "OPENAI_API_KEY": "sk-bench",
             "COMPLETIONS_OPENAI_BASE_URL": upstream + "/v1", "COMPLETIONS_LOG_FORMAT": "json"},
        )
        try:
            wait_http(base + "/readyz", 60)
            for url, fmt, model in targets.values():
                loadgen(url, fmt, 4, 1.0, token=token, model=model)  # warm-up, not measured
            for n in range(rounds):
                for level in levels:
                    for name, (url, fmt, model) in targets.items():
                        before = cpu_seconds(proxy.pid)
                        row = loadgen(url, fmt, level, seconds, token=token, model=model)
                        cpu = cpu_seconds(proxy.pid) - before
                        total = totals.setdefault((name, level), {"cpu": 0.0, "requests": 0, "errors": 0, "rps": 0.0})
                        total["cpu"] += cpu
                        total["requests"] += row["requests"]
                        total["errors"] += row["errors"]
                        total["rps"] += row["throughput_rps"] / rounds
                        per = cpu * 1000 / max(row["requests"], 1)
                        print(f"  round {n + 1} {name:>6} c={level:<3} {row['throughput_rps']:7.1f} req/s  "
                              f"cpu/1000 {per:.3f}  errors {row['errors']}", flush=True)
        finally:
            stop(proxy)
    finally:
        stop(mock)

    rows: list[dict[str, Any]] = []
    for (name, level), total in totals.items():
        per = total["cpu"] * 1000 / total["requests"] if total["requests"] else None
        rows.append({"target": name, "concurrency": level, "requests": total["requests"], "errors": total["errors"],
                     "throughput_rps": round(total["rps"], 1), "cpu_s_per_1000": round(per, 3) if per else None})
    out = ["| conc. | native req/s | openai req/s | native CPU s / 1000 | openai CPU s / 1000 | openai / native "
           "| errors |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for level in levels:
        native = next(r for r in rows if r["target"] == "native" and r["concurrency"] == level)
        compat = next(r for r in rows if r["target"] == "openai" and r["concurrency"] == level)
        ratio = (compat["cpu_s_per_1000"] / native["cpu_s_per_1000"]
                 if compat["cpu_s_per_1000"] and native["cpu_s_per_1000"] else float("nan"))
        out.append(f"| {level} | {native['throughput_rps']} | {compat['throughput_rps']} | {native['cpu_s_per_1000']} "
                   f"| {compat['cpu_s_per_1000']} | {ratio:.3f} | {native['errors'] + compat['errors']} |")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"levels": levels, "seconds": seconds, "rounds": rounds,
                                             "tokens_per_stream": 50, "rows": rows}, indent=2) + "\n")
    print()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
