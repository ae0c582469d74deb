"""GET /api/v1/slo: each configured service's availability, error budget and burn rates."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.errors import error
from receiver.api.guard import requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.config.durations import parse_duration, within
from receiver.slo.config import WINDOW_RANGE
from receiver.slo.report import report as slo_report


@requires(Scope.READ)
async def report(request: web.Request) -> web.Response:
    """`?window=7d` reports over that window instead of each service's own."""
    window = None
    if "window" in request.query:
        try:
            window = within(parse_duration(request.query["window"]), *WINDOW_RANGE, "window")
        except ValueError as e:
            return error(400, "invalid_query", str(e))
    cfg = request.app[STATE].settings.slo
    try:
        services = await slo_report(request.app[SERVICES].slo, cfg, window)
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    return web.json_response({"services": services, "thresholds": cfg.thresholds})
