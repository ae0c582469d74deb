"""Admin API for dead letters: /api/v1/dlq (list, show, replay, purge).

Guarded by `admin_auth` (bearer/basic like the webhook). Without it the endpoints answer
403: an operator has to opt in before anyone can replay or purge over HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        creds = request.app[STATE].admin
        if creds is None:
            return error(403, "admin_disabled", "admin API disabled: set admin_auth in the config")
        why = creds.check(request.headers.get("Authorization"))
        if why is not None:
            return error(401, "unauthorized", why)
        try:
            return await handler(request)
        except RedisError:
            return error(503, "unavailable", "state store unavailable; retry")

    return guarded


@admin
async def list_dead(request: web.Request) -> web.StreamResponse:
    try:
        count = min(1000, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        return error(400, "invalid_query", "limit must be an integer")
    dlq = request.app[SERVICES].dlq
    rows = await dlq.list(count, request.query.get("cursor", "-"))
    return web.json_response(
        {"dead_letters": [r.to_dict() for r in rows], "size": await dlq.size(),
         "next_cursor": rows[-1].id if len(rows) == count else None}
    )  # fmt: skip


@admin
async def show_dead(request: web.Request) -> web.StreamResponse:
    dl = await request.app[SERVICES].dlq.get(request.match_info["id"])
    if dl is None:
        return error(404, "not_found", f"no dead letter {request.match_info['id']}")
    return web.json_response({**dl.to_dict(), "job": dl.job})


@admin
async def replay_dead(request: web.Request) -> web.StreamResponse:
    entry = request.match_info.get("id")
    dlq = request.app[SERVICES].dlq
    if entry is None:
        return web.json_response({"replayed": await dlq.replay_all()})
    if not await dlq.replay(entry):
        return error(404, "not_found", f"no dead letter {entry}")
    return web.json_response({"replayed": 1})


@admin
async def purge_dead(request: web.Request) -> web.StreamResponse:
    return web.json_response({"purged": await request.app[SERVICES].dlq.purge()})
