"""GET /api/v1/digests: each digest's pending alerts, schedule and next send."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from receiver.api.guard import requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@requires(Scope.READ)
async def list_digests(request: web.Request) -> web.StreamResponse:
    settings = request.app[STATE].settings
    store = request.app[SERVICES].digests
    now = time.time()
    out = []
    for name, cfg in sorted(settings.digests.items()):
        buffered, more = await store.pending(name)
        schedule = {"every": cfg.every} if cfg.every is not None else {"at": cfg.at}
        out.append({
            "name": name, "receiver": cfg.receiver, "to": cfg.to, "oncall": cfg.oncall,
            "schedule": {**schedule, "timezone": cfg.timezone},
            "pending": buffered, "over_max": more, "max_alerts": cfg.max_alerts,
            "next_due": _iso(cfg.schedule().next_end(now)),
        })  # fmt: skip
    return web.json_response({"digests": out})
