"""``setup_bench.py --stages`` with finer marks inside three of its stages (bench/README.md,
"Stream set-up and end, round 2"): the response start, engine and attempt set-up; the time from
the upstream write to the first chunk written back; and the end of the stream with its telemetry.

    python bench/setup_stages.py --rounds 4 --requests 400 --stages

Each mark wraps one function of the proxy's (about half a microsecond a mark, more than
``setup_bench.py`` puts on the path: compare figures of this script with this script's only).
The wrapped functions are internal ones; a mark whose function is renamed fails at start.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import setup_bench

#: The finer stages, replacing ``setup_bench.STAGES``' "response", "upstream", "first" and "emit" rows.
FINE = (
    ("response", "r_call", "stream_response returned -> the response is called"),
    ("r_call", "r_sendall", "the response's cancel scope and disconnect watcher -> _send_all"),
    ("r_sendall", "r_relay", "lock, keep-alive timer -> _relay"),
    ("r_relay", "e_sched", "the first step into engine.stream -> its schedule"),
    ("e_sched", "la_init", "schedule, first step -> LiveAttempt"),
    ("la_init", "la_inited", "LiveAttempt.__init__ (the attempt's record)"),
    ("la_inited", "admit", "-> the breaker's admission"),
    ("admit", "admitted", "the breaker's admission"),
    ("admitted", "lease", "the assembler"),
    ("lease", "leased", "Engine.lease (credential, client config)"),
    ("leased", "adapter", "the lease entered, adapter.stream started -> build_request"),
    ("upstream", "posted", "upstream write -> the prepared post returns (status and headers read)"),
    ("posted", "sse", "-> the SSE splitter is made (the adapter, before reading)"),
    ("sse", "event", "first upstream read -> the first event out of the translator"),
    ("event", "commit", "-> the attempt commits (assembler feed, the engine's first yield)"),
    ("commit", "rstart", "-> the response start is called (the relay, the first chunk encoded)"),
    ("rstart", "first", "the response start (headers) and the first body write"),
    ("first", "a_finish", "the rest of the stream, to the assembler's finish"),
    ("a_finish", "a_finished", "the assembler's finish (the final answer)"),
    ("a_finished", "relayed", "the last chunks written, the generators end"),
    ("relayed", "finish", "the stream's end: keep-alive stopped, end written, scope and watcher, on_finish"),
    ("finish", "emit", "Turn.finish (the record closed, usage normalised)"),
    ("emit", "log", "telemetry: the record's dict and the log line"),
    ("log", "emitted", "telemetry: the metrics and the plugin hook"),
)


def _wrap(owner: Any, name: str, probe: setup_bench.Probe, before: str, after: Optional[str] = None) -> None:
    setup_bench.wrap_marks(probe, owner, name, before, after)


def mark_fine(probe: setup_bench.Probe) -> None:
    """``setup_bench.mark_stages``, then the finer marks of :data:`FINE`."""
    base_marks(probe)
    from completions_openai import adapter as openai_adapter

    from completions_core import prepared
    from completions_proxy import attempts, engine, responses, telemetry, turns

    send = prepared.PreparedPost.send

    async def posted(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = await send(self, *args, **kwargs)
        probe.mark("posted")
        return out

    prepared.PreparedPost.send = posted  # type: ignore[method-assign]

    class MarkedSSE(openai_adapter.SSEPayloads):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            probe.mark("sse")
            super().__init__(*args, **kwargs)

    openai_adapter.SSEPayloads = MarkedSSE  # type: ignore[attr-defined]
    feed = openai_adapter.StreamTranslator.feed

    def fed(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = feed(self, *args, **kwargs)
        if out:
            probe.mark("event")
        return out

    openai_adapter.StreamTranslator.feed = fed
    _wrap(responses.ChunkStreamResponse, "__call__", probe, "r_call")
    _wrap(responses.ChunkStreamResponse, "_send_all", probe, "r_sendall")
    _wrap(responses.ChunkStreamResponse, "_relay", probe, "r_relay", "relayed")
    _wrap(responses.ChunkStreamResponse, "_start", probe, "rstart")
    _wrap(engine.Engine, "schedule", probe, "e_sched")
    _wrap(engine.Engine, "lease", probe, "lease", "leased")
    _wrap(attempts, "admit", probe, "admit", "admitted")
    _wrap(attempts.LiveAttempt, "__init__", probe, "la_init", "la_inited")
    _wrap(attempts.LiveAttempt, "commit", probe, "commit")
    _wrap(attempts.ResponseAssembler, "finish", probe, "a_finish", "a_finished")
    _wrap(turns.Turn, "finish", probe, "finish")
    _wrap(telemetry.Metrics, "observe", probe, "log")


base_marks = setup_bench.mark_stages
setup_bench.mark_stages = mark_fine
_BASE = {row[0]: row for row in setup_bench.STAGES}
setup_bench.STAGES = (
    *(_BASE[since] for since in ("start", "route", "json", "parsed")),
    *FINE[:11],
    _BASE["adapter"],
    _BASE["post"],
    *FINE[11:],
    _BASE["emitted"],
)

if __name__ == "__main__":
    setup_bench.main()
