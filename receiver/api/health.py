"""Health: /health/live (the process can still recover by itself), /health/ready (Redis
answers), /health (each component's real state)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from receiver import __version__
from receiver.api.state import SERVICES, STATE

_PING_TIMEOUT_S = 1.0
# A component that has not finished its first round yet is not failing.
_HEALTHY = ("ok", "starting")


class Component(Protocol):
    """A long-running part of the service that reports its own state."""

    @property
    def status(self) -> str:
        """`ok`, `starting`, or what is wrong: `down`, `error`, `restarting`, `failed`."""

    @property
    def error(self) -> str | None:
        """Why it is not ok: an error class or an exit status, never a secret."""


# The live components by name (workers, scheduler, embedded_redis), set at startup.
COMPONENTS = web.AppKey("components", dict[str, Component])
# Each destination's delivery state (closed, paused, half_open, releasing; seconds until it
# resumes; jobs parked), from delivery/backpressure.py. Informative: a vendor that throttles
# does not make this replica unhealthy.
DESTINATIONS: web.AppKey[Callable[[], dict[str, dict[str, Any]]]] = web.AppKey("destinations")
# Resolved with the reason once the service cannot recover by itself: `serve` then stops
# and exits non-zero (receiver/server/serving.py), and /health/live fails until it has.
FATAL = web.AppKey("fatal", asyncio.Future[str])


async def _ping(redis: object) -> tuple[float | None, str | None]:
    """Redis round-trip time in ms, or None and the error class when it does not answer."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_PING_TIMEOUT_S):
            await redis.ping()  # type: ignore[attr-defined]
    except Exception as e:  # any failure means "not ready"
        return None, type(e).__name__
    return (time.perf_counter() - started) * 1000, None


async def live(request: web.Request) -> web.Response:
    fatal = request.app.get(FATAL)
    if fatal is not None and fatal.done() and not fatal.cancelled():
        return web.json_response({"status": "failed", "reason": fatal.result()}, status=503)
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    rtt, _error = await _ping(request.app[SERVICES].redis)
    if rtt is None:
        return web.json_response({"status": "unavailable", "redis": "down"}, status=503)
    return web.json_response({"status": "ok"})


async def detailed(request: web.Request) -> web.Response:
    state = request.app[STATE]
    services = request.app[SERVICES]
    live_parts = request.app.get(COMPONENTS, {})
    rtt, ping_error = await _ping(services.redis)
    components = {
        "redis": "ok" if rtt is not None else "down",
        **state.components,
        **{name: part.status for name, part in live_parts.items()},
    }
    errors = {name: part.error for name, part in live_parts.items()
              if part.error and part.status not in _HEALTHY}  # fmt: skip
    if ping_error is not None:
        errors["redis"] = ping_error
    ok = all(v in _HEALTHY for v in components.values())
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "uptime_s": round(time.time() - state.started_at, 1),
        "redis": {"mode": services.mode, "latency_ms": None if rtt is None else round(rtt, 3)},
        "components": components,
        "errors": errors,
    }
    if (destinations := request.app.get(DESTINATIONS)) is not None:
        body["destinations"] = destinations()
    return web.json_response(body, status=200 if ok else 503)
