"""The console's maintenance page: every window (config and run-time), the occurrence in
force and the next ones, and an "End now" button (scope `oncall`, CSRF-checked like the
ack buttons) that ends the occurrence in force, as `DELETE /api/v1/maintenance/{id}`."""

from __future__ import annotations

import logging

from aiohttp import web

from receiver.api.state import SERVICES
from receiver.api.tokens import Scope
from receiver.maintenance.schedule import end_early
from receiver.maintenance.view import window_dict
from receiver.web.auth import VIEWER, page, refuse, render, see_other

log = logging.getLogger("receiver.web")


@page(Scope.READ)
async def windows(request: web.Request) -> web.StreamResponse:
    m = request.app[SERVICES].maintenance
    await m.gate.refresh()
    stored = {s.window.key: s for s in await m.store.runtime()}
    now = m.store.now_ms()
    rows = [window_dict(w, now, m.gate.ended, stored.get(w.key)) for w in m.gate.windows]
    ended = request.query.get("ended", "")
    done = f"Window {ended} ended." if ended in {w.key for w in m.gate.windows} else ""
    return render(request, "maintenance.html", windows=rows, done=done)


@page(Scope.ONCALL)
async def end(request: web.Request) -> web.StreamResponse:
    wid = request.match_info["id"]
    m = request.app[SERVICES].maintenance
    await m.gate.refresh()
    window = next((w for w in m.gate.windows if w.key == wid), None)
    what = end_early(window, m.store.now_ms(), m.gate.ended) if window else None
    if what is None or not await m.store.end(*what):
        return refuse(request, 409, "Not in force",
                      "That window has no occurrence in force now: nothing changed.")  # fmt: skip
    await m.gate.refresh()
    log.info("maintenance window ended early", extra={
        "window": wid, "occurrence": what[0], "who": request[VIEWER].name})  # fmt: skip
    return see_other(f"/console/maintenance?ended={wid}")
