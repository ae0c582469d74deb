"""Health: /health/live (process), /health/ready (Redis answers), /health (details)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from receiver import __version__
from receiver.api.state import SERVICES, STATE

_PING_TIMEOUT_S = 1.0


async def _ping(redis: object) -> float | None:
    """Redis round-trip time in ms, or None when it does not answer in time."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_PING_TIMEOUT_S):
            await redis.ping()  # type: ignore[attr-defined]
    except Exception:  # any failure means "not ready"; the detail is in /health
        return None
    return (time.perf_counter() - started) * 1000


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    rtt = await _ping(request.app[SERVICES].redis)
    if rtt is None:
        return web.json_response({"status": "unavailable", "redis": "down"}, status=503)
    return web.json_response({"status": "ok"})


async def detailed(request: web.Request) -> web.Response:
    state = request.app[STATE]
    services = request.app[SERVICES]
    rtt = await _ping(services.redis)
    components = {"redis": "ok" if rtt is not None else "down", **state.components}
    ok = all(v == "ok" for v in components.values())
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "uptime_s": round(time.time() - state.started_at, 1),
        "redis": {"mode": services.mode, "latency_ms": None if rtt is None else round(rtt, 3)},
        "components": components,
    }
    return web.json_response(body, status=200 if ok else 503)
