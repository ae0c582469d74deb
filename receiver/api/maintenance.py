"""Maintenance windows API (receiver/maintenance).

    GET    /api/v1/maintenance          read: every window (config and run-time), the
                                        occurrence in force and the next ones
    GET    /api/v1/maintenance.ics      read: the next 8 weeks' occurrences (text/calendar;
                                        also `?token=` with a read-only token, as the
                                        on-call feed)
    POST   /api/v1/maintenance          oncall: add a run-time window (201)
    DELETE /api/v1/maintenance/{id}     oncall: end its occurrence in force now (a run-time
                                        window not started yet is cancelled)

A refused request changes nothing. Changes wait for redis.durability, are logged with the
token that made them, and apply on this replica at once (the others within a tick).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from receiver.api.errors import error
from receiver.api.guard import PRINCIPAL, feed_credentials, requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.maintenance import Maintenance
from receiver.maintenance.schedule import end_early
from receiver.maintenance.view import WindowError, build_window, feed, window_dict

log = logging.getLogger("receiver.api")


def _m(request: web.Request) -> Maintenance:
    m = request.app[SERVICES].maintenance
    assert m is not None  # set by the wiring
    return m


@requires(Scope.READ)
async def list_windows(request: web.Request) -> web.StreamResponse:
    m = _m(request)
    await m.gate.refresh()
    stored = {s.window.key: s for s in await m.store.runtime()}
    now = m.store.now_ms()
    return web.json_response({"windows": [
        window_dict(w, now, m.gate.ended, stored.get(w.key)) for w in m.gate.windows]})  # fmt: skip


@requires(Scope.ONCALL)
async def add_window(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "invalid_json", "the body is not JSON")
    m = _m(request)
    settings = request.app[STATE].settings
    try:
        w = build_window(body, request[PRINCIPAL], set(settings.digests),
                         settings.ack.alertmanager_silence is not None)  # fmt: skip
    except WindowError as e:
        return error(400, "invalid_window", str(e), fields=e.fields)
    stored = await m.store.add(w, request[PRINCIPAL])
    if stored is None:
        return error(409, "too_many_windows", "the most run-time windows are kept: end or "
                     "wait for some to expire first")  # fmt: skip
    await m.gate.refresh()
    log.info("maintenance window added", extra={"window": w.key, "title": w.title,
                                                "token": request[PRINCIPAL]})  # fmt: skip
    return web.json_response(
        window_dict(w, m.store.now_ms(), m.gate.ended, stored),
        status=201,
        headers={"Location": f"/api/v1/maintenance/{w.key}"},
    )


@requires(Scope.ONCALL)
async def end_window(request: web.Request) -> web.StreamResponse:
    wid = request.match_info["id"]
    m = _m(request)
    await m.gate.refresh()
    window = next((w for w in m.gate.windows if w.key == wid), None)
    if window is None:
        return error(404, "not_found", f"no maintenance window {wid[:70]!r}")
    what = end_early(window, m.store.now_ms(), m.gate.ended)
    if what is None:
        return error(409, "not_in_force", f"maintenance window {wid} has no occurrence in "
                     "force now")  # fmt: skip
    on_id, at = what
    if not await m.store.end(on_id, at):
        return error(409, "not_in_force", f"maintenance window {wid} was ended already")
    await m.gate.refresh()
    log.info("maintenance window ended early", extra={"window": wid, "occurrence": on_id,
                                                      "token": request[PRINCIPAL]})  # fmt: skip
    return web.json_response({"ended": wid, "occurrence": on_id})


@requires(Scope.READ, credentials=feed_credentials)
async def calendar(request: web.Request) -> web.StreamResponse:
    m = _m(request)
    await m.gate.refresh()
    body = feed(m.gate.windows, m.store.now_ms(), m.gate.ended)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/maintenance", list_windows)
    app.router.add_get("/api/v1/maintenance.ics", calendar)
    app.router.add_post("/api/v1/maintenance", add_window)
    app.router.add_delete("/api/v1/maintenance/{id}", end_window)
