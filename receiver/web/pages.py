"""Console pages besides alerts: on call, digests, dead letters (admin), health."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from receiver.api import health
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.digest.view import build_view
from receiver.oncall import view as oncall_view
from receiver.store.dlq import is_entry_id
from receiver.web.auth import CONSOLE, page, refuse, render, see_other

DLQ_PAGE = 50


@page(Scope.READ)
async def oncall(request: web.Request) -> web.StreamResponse:
    """Every rotation: who is on call now, the next shifts, overrides."""
    config = request.app[STATE].settings.oncall
    store = request.app[SERVICES].overrides
    at = store.now()
    rotations = [oncall_view.rotation_status(config, name, await store.list(name), at)
                 for name in sorted(config.rotations)]  # fmt: skip
    return render(request, "oncall.html", rotations=rotations)


@page(Scope.READ)
async def digests(request: web.Request) -> web.StreamResponse:
    """Each digest: pending alerts, schedule, next send."""
    settings = request.app[STATE].settings
    store = request.app[SERVICES].digests
    now = request.app[CONSOLE].clock()
    out = []
    for name, cfg in sorted(settings.digests.items()):
        buffered, more = await store.pending(name)
        out.append({"name": name, "cfg": cfg, "pending": buffered, "over_max": more,
                    "next_ms": int(cfg.schedule().next_end(now) * 1000)})  # fmt: skip
    return render(request, "digests.html", digests=out)


@page(Scope.READ)
async def digest_preview(request: web.Request) -> web.StreamResponse:
    """What the next email of one digest would list, as of now (sent to no one)."""
    name = request.match_info["name"]
    cfg = request.app[STATE].settings.digests.get(name)
    if cfg is None:
        return refuse(request, 404, "No such digest", "No digest of that name is configured.")
    store = request.app[SERVICES].digests
    now = request.app[CONSOLE].clock()
    items, more = await store.buffered(name)  # bounded: a buffer holds max_alerts at most
    states = await store.states(list(items))
    view = build_view(name, items, more, states, (cfg.schedule().last_end(now), now),
                      cfg.timezone, cfg.include_resolved)  # fmt: skip
    return render(request, "digest.html", d=view, name=name,
                  next_ms=int(cfg.schedule().next_end(now) * 1000))  # fmt: skip


@page(Scope.ADMIN)
async def dead_letters(request: web.Request) -> web.StreamResponse:
    """Dead letters, oldest first, DLQ_PAGE at a time."""
    cursor = request.query.get("after", "-")
    if cursor != "-" and not is_entry_id(cursor):
        return refuse(request, 400, "Cannot show that list", "after must be a dead-letter id")
    dlq = request.app[SERVICES].dlq
    rows = await dlq.list(DLQ_PAGE, cursor)
    nxt = rows[-1].id if len(rows) == DLQ_PAGE else None
    return render(request, "dlq.html", rows=[r.to_dict() for r in rows], size=await dlq.size(),
                  next_id=nxt, first=cursor != "-",
                  done=_replayed(request.query.get("replayed")))  # fmt: skip


@page(Scope.ADMIN)
async def dead_letter(request: web.Request) -> web.StreamResponse:
    entry = request.match_info["id"]
    dl = await request.app[SERVICES].dlq.get(entry) if is_entry_id(entry) else None
    if dl is None:
        return refuse(request, 404, "No such dead letter",
                      "It was replayed or purged, or the id is wrong.")  # fmt: skip
    try:
        job = orjson.dumps(orjson.loads(dl.job), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        job = dl.job
    return render(request, "dlq_entry.html", d=dl.to_dict(), job=job)


@page(Scope.ADMIN)
async def replay(request: web.Request) -> web.StreamResponse:
    """Replay one dead letter (or all, from the list's button)."""
    entry = request.match_info.get("id")
    dlq = request.app[SERVICES].dlq
    if entry is None:
        return see_other(f"/console/dlq?replayed={await dlq.replay_all()}")
    if not is_entry_id(entry) or not await dlq.replay(entry):
        return refuse(request, 404, "No such dead letter",
                      "It was replayed or purged already; nothing was sent.")  # fmt: skip
    return see_other("/console/dlq?replayed=1")


def _replayed(raw: str | None) -> str:
    if raw is None or not raw.isdigit():
        return ""
    n = int(raw)
    return f"{n} dead letter{'s' if n != 1 else ''} queued for delivery again."


@page(Scope.READ)
async def health_page(request: web.Request) -> web.StreamResponse:
    """The receiver's health: Redis, components, paused destinations (as /health)."""
    started = time.perf_counter()
    answer = await health.detailed(request)
    body: dict[str, Any] = orjson.loads(answer.body) if isinstance(answer.body, bytes) else {}
    return render(request, "health.html", h=body, status=answer.status,
                  took_ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip
