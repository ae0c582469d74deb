"""GET /api/v1/heartbeats: each heartbeat's last arrival and whether it is missing."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.errors import error
from receiver.api.guard import requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.heartbeat.checker import Beat


@requires(Scope.READ)
async def list_heartbeats(request: web.Request) -> web.Response:
    config = request.app[STATE].settings.heartbeats
    checker = request.app[SERVICES].heartbeats
    try:
        beats = await checker.beats()
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    out = [(beats.get(name) or Beat(name, None, "")).view(hb)
           for name, hb in sorted(config.items())]  # fmt: skip
    return web.json_response({"heartbeats": out})
