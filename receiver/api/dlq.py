"""Admin API for dead letters: /api/v1/dlq (list, show, replay, purge).

Needs an API token with the `admin` scope (api_tokens): without one the endpoints answer
401, with a lesser token 403, so nobody replays or purges over HTTP unless a token says so.
"""

from __future__ import annotations

from aiohttp import web

from receiver.api.errors import error
from receiver.api.guard import requires
from receiver.api.state import SERVICES
from receiver.api.tokens import Scope
from receiver.store.dlq import is_entry_id


@requires(Scope.ADMIN)
async def list_dead(request: web.Request) -> web.StreamResponse:
    try:
        count = min(1000, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        return error(400, "invalid_query", "limit must be an integer")
    cursor = request.query.get("cursor", "-")
    if cursor != "-" and not is_entry_id(cursor):
        return error(400, "invalid_query", "cursor must be a dead-letter id (a next_cursor)")
    dlq = request.app[SERVICES].dlq
    rows = await dlq.list(count, cursor)
    return web.json_response(
        {"dead_letters": [r.to_dict() for r in rows], "size": await dlq.size(),
         "next_cursor": rows[-1].id if len(rows) == count else None}
    )  # fmt: skip


@requires(Scope.ADMIN)
async def show_dead(request: web.Request) -> web.StreamResponse:
    entry = request.match_info["id"]
    if not is_entry_id(entry):
        return _malformed(entry)
    dl = await request.app[SERVICES].dlq.get(entry)
    if dl is None:
        return error(404, "not_found", f"no dead letter {entry}")
    return web.json_response({**dl.to_dict(), "job": dl.job})


@requires(Scope.ADMIN)
async def replay_dead(request: web.Request) -> web.StreamResponse:
    entry = request.match_info.get("id")
    dlq = request.app[SERVICES].dlq
    if entry is None:
        return web.json_response({"replayed": await dlq.replay_all()})
    if not is_entry_id(entry):
        return _malformed(entry)
    if not await dlq.replay(entry):
        return error(404, "not_found", f"no dead letter {entry}")
    return web.json_response({"replayed": 1})


@requires(Scope.ADMIN)
async def purge_dead(request: web.Request) -> web.StreamResponse:
    return web.json_response({"purged": await request.app[SERVICES].dlq.purge()})


def _malformed(entry: str) -> web.Response:
    # Not "absent": an id that cannot exist is the caller's mistake, and Redis would refuse it.
    return error(400, "invalid_id", f"not a dead-letter id: {entry[:80]!r} (ids look like "
                 "1764300000000-0)")  # fmt: skip
