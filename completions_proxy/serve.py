"""Run the app on hypercorn with a graceful drain.

On SIGTERM (or SIGINT) a worker marks itself draining (``/readyz`` answers 503), stops accepting
connections, lets open streams finish for ``drain_seconds``, then ends the ones still open with
an ``error`` record, so that no stream is ever cut without one. hypercorn's own
``graceful_timeout`` is set a little longer than the drain, as a backstop.

A connection whose client has gone (closed or reset) is closed at once: hypercorn 0.18 would
hold its socket (in CLOSE_WAIT) until the keep-alive timer fired, 75 s as ``completions-proxy``
sets it, because the connection's task waits for that timer (:func:`close_when_client_leaves`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Coroutine
from multiprocessing.synchronize import Event as EventType
from typing import Any, Optional

from hypercorn.asyncio.run import worker_serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import AsyncioSingleTask
from hypercorn.config import Config, Sockets
from hypercorn.typing import TaskGroup
from hypercorn.utils import wrap_app

from completions_proxy.app import create_app
from completions_proxy.state import ProxyState

__all__ = ["close_when_client_leaves", "serve"]


class _NoIdleTimer(AsyncioSingleTask):
    """The keep-alive timer of a connection whose client has gone: it never starts again."""

    async def restart(self, task_group: TaskGroup, action: Any) -> None:
        return None


def close_when_client_leaves() -> None:
    """Close a connection as soon as its read side ends (EOF, reset or read timeout).

    hypercorn's connection task ends only when every task of its group has, and the keep-alive
    timer is one of them: after the client went away the socket stayed open until that timer
    fired. A connection whose client has gone can carry no further request, so its timer is
    stopped for good when the read loop ends (hypercorn has already told the app
    ``http.disconnect``), and the connection closes once the app has returned.
    """
    if getattr(TCPServer, "_closes_when_client_leaves", False):
        return
    read_data = TCPServer._read_data

    async def _read_data(self: TCPServer) -> None:
        try:
            await read_data(self)
        finally:
            timer, self.idle_task = self.idle_task, _NoIdleTimer()
            await timer.stop()

    TCPServer._read_data = _read_data  # type: ignore[method-assign]
    TCPServer._closes_when_client_leaves = True  # type: ignore[attr-defined]


async def _worker(config: Config, sockets: Optional[Sockets], shared: Optional[EventType], drain: float) -> None:
    close_when_client_leaves()
    app = create_app()
    state: ProxyState = app.state.proxy
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    drains: set[asyncio.Task[None]] = set()

    async def trigger() -> None:
        if shared is None:
            await stop.wait()
        else:
            while not stop.is_set() and not shared.is_set():  # noqa: ASYNC110 - a process-shared event cannot be awaited
                await asyncio.sleep(0.1)
        # hypercorn stops accepting once this returns; the drain runs beside its graceful wait.
        task = loop.create_task(state.drain(drain))
        drains.add(task)

    wrapped = wrap_app(app, config.wsgi_max_body_size, mode="asgi")  # type: ignore[arg-type]
    await worker_serve(wrapped, config, sockets=sockets, shutdown_trigger=trigger)
    for task in drains:
        await task


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on the standard asyncio loop; ``COMPLETIONS_LOOP=uvloop`` (or ``auto``: when installed) picks uvloop.

    asyncio is the default because, measured in bench/ (bench/README.md), uvloop let a burst of
    256 connections at once wait 6-11 s for a few of them to be served, where the standard loop
    served the last within the stream's own time, at about the same CPU per stream.
    """
    choice = os.environ.get("COMPLETIONS_LOOP", "asyncio")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


def _process(config: Config, sockets: Sockets, shared: EventType, drain: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _run(_worker(config, sockets, shared, drain))


def serve(config: Config, *, drain_seconds: float = 25.0) -> int:
    """Serve until SIGTERM/SIGINT with ``config.workers`` worker processes; returns an exit status."""
    config.graceful_timeout = drain_seconds + 5
    if config.workers <= 1:
        _run(_worker(config, None, None, drain_seconds))
        return 0
    sockets = config.create_sockets()
    ctx = multiprocessing.get_context("spawn")
    shared = ctx.Event()
    processes = [
        ctx.Process(target=_process, args=(config, sockets, shared, drain_seconds), daemon=False)
        for _ in range(config.workers)
    ]
    for process in processes:
        process.start()

    def shutdown(*_: Any) -> None:
        shared.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    status = 0
    for process in processes:
        process.join()
        status = status or (process.exitcode or 0)
    for sock in sockets.secure_sockets + sockets.insecure_sockets:
        sock.close()
    return status
