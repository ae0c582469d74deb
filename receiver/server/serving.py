"""Run the app until SIGTERM or SIGINT, and say so: a line once the socket listens (the
address actually bound, where Redis is, version, config) and a line once it has stopped.

aiohttp's run_app does the same steps but cannot tell its `print` hook the bound address
(before aiohttp 3.14) nor which signal stopped it; this is its loop, with those two lines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from receiver import __version__
from receiver.api.health import FATAL
from receiver.api.state import STATE
from receiver.server import connections

log = logging.getLogger("receiver.serve")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def format_address(sockname: Any) -> str:
    """A socket name as host:port ([host]:port for IPv6); a unix socket's path as is."""
    if isinstance(sockname, tuple):
        host, port = sockname[0], sockname[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(sockname)


def run(
    app: web.Application,
    host: str,
    port: int,
    *,
    config: str,
    shutdown_timeout: float = 10.0,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> str:
    """Serves `app` on host:port until SIGTERM or SIGINT; returns the signal's name.

    Raises ServiceFailed, after the same orderly stop, when the app's FATAL future
    resolves (e.g. the embedded Redis could not be restarted).

    On a stop signal: stop accepting, finish in-flight requests (up to shutdown_timeout),
    then the app's cleanup contexts run (workers, Redis). Startup errors (the embedded Redis,
    an address in use) propagate.
    """
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(app, host, port, config, shutdown_timeout))


async def _serve(
    app: web.Application, host: str, port: int, config: str, shutdown_timeout: float
) -> str:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[str] = loop.create_future()

    def on_signal(name: str) -> None:
        if not stop.done():
            stop.set_result(name)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        # access_log off (one line per webhook is ours); keep-alive, read timeout and the
        # connection limit from `server:` (the fd limit is raised here, before Redis starts).
        limits, conns = connections.prepare(app, app[STATE].settings, app[STATE].metrics)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.keepalive_timeout,
                               shutdown_timeout=shutdown_timeout)  # fmt: skip
        await runner.setup()  # the startup: Redis, workers
        started = time.monotonic()
        try:
            await connections.LimitedSite(runner, host, port, conns).start()
            state = app[STATE]
            log.info("listening", extra={
                "address": ",".join(format_address(a) for a in runner.addresses),
                "redis_mode": state.settings.redis.mode, "redis": state.redis_target,
                "version": __version__, "config": config, "pid": os.getpid(),
            })  # fmt: skip
            reason, failure = await _until_stopped(stop, app.get(FATAL))
        finally:
            await runner.cleanup()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
    log.info("stopped", extra={"reason": reason,
                               "uptime_s": round(time.monotonic() - started, 1)})  # fmt: skip
    if failure is not None:
        raise ServiceFailed(failure)
    return reason


class ServiceFailed(RuntimeError):
    """The service stopped because it could not recover by itself (the message says why)."""


async def _until_stopped(
    stop: asyncio.Future[str], fatal: asyncio.Future[str] | None
) -> tuple[str, str | None]:
    """Wait for a stop signal or a fatal failure: (reason, the failure or None)."""
    if fatal is None:
        return await stop, None
    await asyncio.wait({stop, fatal}, return_when=asyncio.FIRST_COMPLETED)
    if fatal.done():
        return "fatal", fatal.result()
    return stop.result(), None
