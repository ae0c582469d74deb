"""GET /api/v1/alerts (filters, paging) and GET /api/v1/alerts/{fingerprint}."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.errors import error
from receiver.api.state import SERVICES
from receiver.store.alerts import AlertFilter

_RESERVED = {"status", "severity", "limit", "cursor", "label"}
MAX_LIMIT = 1000


async def list_alerts(request: web.Request) -> web.Response:
    q = request.query
    status = q.get("status")
    if status not in (None, "firing", "resolved"):
        return error(400, "invalid_query", "status must be firing or resolved")
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        return error(400, "invalid_query", "limit must be an integer")
    if not 1 <= limit <= MAX_LIMIT:
        return error(400, "invalid_query", f"limit must be 1..{MAX_LIMIT}")
    labels = [(k, v) for k, v in q.items() if k not in _RESERVED]
    for item in q.getall("label", []):
        k, sep, v = item.partition("=")
        if not sep:
            return error(400, "invalid_query", "label filters are label=NAME=VALUE")
        labels.append((k, v))
    flt = AlertFilter(status, q.get("severity"), tuple(labels))
    try:
        alerts, cursor = await request.app[SERVICES].reader.list(flt, limit, q.get("cursor"))
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    return web.json_response({"alerts": alerts, "next_cursor": cursor, "count": len(alerts)})


async def get_alert(request: web.Request) -> web.Response:
    fp = request.match_info["fingerprint"]
    try:
        rec = await request.app[SERVICES].reader.get(fp)
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    if rec is None:
        return error(404, "not_found", f"no alert with fingerprint {fp}")
    return web.json_response(rec)
