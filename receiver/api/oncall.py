"""On-call API: who is on call, overrides, and a rotation's calendar feed.

    GET    /api/v1/oncall                              read: every rotation now (?at=, ?rotation=)
    GET    /api/v1/oncall/{rotation}.ics               read: shifts of the next ?weeks=8
    POST   /api/v1/oncall/{rotation}/overrides         oncall: add one (201)
    DELETE /api/v1/oncall/{rotation}/overrides/{id}    oncall: remove one

Calendar apps cannot send an Authorization header, so the feed alone also takes its read
token as `?token=`: only a token whose scopes are exactly `[read]`, since a URL leaks
(proxy logs, browser history, calendar providers); any other is refused with 403. Access
logging is off (server/serving.py) and our request lines log the path without the query, so the
token is never written to a log.
"""

from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from receiver.api.errors import error
from receiver.api.guard import PRINCIPAL, feed_credentials, requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.oncall import view
from receiver.oncall.config import OncallConfig
from receiver.oncall.overrides import OverrideError, Request, build_override, parse_time
from receiver.oncall.store import OverrideStore

log = logging.getLogger("receiver.api")
_ID = re.compile(r"[0-9a-f]{16}")
DEFAULT_WEEKS, MAX_WEEKS = 8, 52


def _store(request: web.Request) -> OverrideStore:
    return request.app[SERVICES].overrides


def _config(request: web.Request) -> OncallConfig:
    # Read per request: a reload swaps the settings between requests.
    return request.app[STATE].settings.oncall


def _unknown(name: str, config: OncallConfig) -> web.Response:
    defined = ", ".join(sorted(config.rotations)) or "none configured"
    return error(404, "not_found", f"no rotation {name[:64]!r} (rotations: {defined})")


@requires(Scope.READ)
async def who(request: web.Request) -> web.StreamResponse:
    """Every rotation (or ?rotation=): on call now (or ?at=), the next shifts, overrides."""
    config, store = _config(request), _store(request)
    names = sorted(config.rotations)
    wanted = request.query.get("rotation")
    if wanted is not None:
        if wanted not in config.rotations:
            return _unknown(wanted, config)
        names = [wanted]
    out = []
    for name in names:
        try:
            at = parse_time(request.query.get("at", "now"), config.rotations[name].tz,
                            store.now())  # fmt: skip
        except ValueError as e:
            return error(400, "invalid_query", f"at: {e}")
        out.append(view.rotation_status(config, name, await store.list(name), at))
    return web.json_response({"rotations": out})


@requires(Scope.ONCALL)
async def add_override(request: web.Request) -> web.StreamResponse:
    config, name = _config(request), request.match_info["rotation"]
    if name not in config.rotations:
        return _unknown(name, config)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "invalid_json", "the body is not JSON")
    store = _store(request)
    try:
        o = build_override(body, Request(config, name, request[PRINCIPAL], store.now()))
    except OverrideError as e:
        return error(400, "invalid_override", str(e), fields=e.fields)
    if not await store.add(name, o):
        return error(409, "too_many_overrides", f"rotation {name} has the most overrides it "
                     "keeps: remove some first (expired ones are pruned)")  # fmt: skip
    log.info("oncall override added", extra={"rotation": name, "id": o.id, "who": o.who,
                                              "token": o.created_by})  # fmt: skip
    return web.json_response(o.to_dict(), status=201, headers={
        "Location": f"/api/v1/oncall/{name}/overrides/{o.id}"})  # fmt: skip


@requires(Scope.ONCALL)
async def remove_override(request: web.Request) -> web.StreamResponse:
    config, name = _config(request), request.match_info["rotation"]
    oid = request.match_info["id"]
    if name not in config.rotations:
        return _unknown(name, config)
    if not _ID.fullmatch(oid):
        return error(400, "invalid_id", f"not an override id: {oid[:40]!r} (16 hex digits)")
    if not await _store(request).remove(name, oid):
        return error(404, "not_found", f"no override {oid} in rotation {name}")
    log.info("oncall override removed", extra={"rotation": name, "id": oid,
                                                "token": request[PRINCIPAL]})  # fmt: skip
    return web.json_response({"removed": oid})


@requires(Scope.READ, credentials=feed_credentials)
async def calendar(request: web.Request) -> web.StreamResponse:
    """The rotation's shifts from now for ?weeks= (8) as text/calendar."""
    return await _calendar(request)


async def _calendar(request: web.Request) -> web.Response:
    config, name = _config(request), request.match_info["rotation"]
    if name not in config.rotations:
        return _unknown(name, config)
    try:
        weeks = int(request.query.get("weeks", str(DEFAULT_WEEKS)))
    except ValueError:
        weeks = 0
    if not 1 <= weeks <= MAX_WEEKS:
        return error(400, "invalid_query", f"weeks must be an integer 1..{MAX_WEEKS}")
    # Cached per rotation, config, overrides version, weeks and hour; a miss is rendered
    # off the event loop (receiver/oncall/feed_cache.py).
    body = await _store(request).feeds.calendar(config, name, weeks)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Cache-Control": "private, max-age=300"})  # fmt: skip
