"""POST /-/reload: re-read the config file (an `admin` API token), as Prometheus and
Alertmanager offer. 200 with what needs a restart; 400 with the errors, nothing changed."""

from __future__ import annotations

from aiohttp import web

from receiver.api.errors import error
from receiver.api.guard import requires
from receiver.api.tokens import Scope
from receiver.server.reload import RELOADER


@requires(Scope.ADMIN)
async def reload(request: web.Request) -> web.StreamResponse:
    reloader = request.app.get(RELOADER)
    if reloader is None:
        return error(409, "reload_unavailable", "this process was not started from a config file")
    result = await reloader.reload("POST /-/reload")
    if not result.ok:
        return error(400, "invalid_config", "config not reloaded; the running config stays",
                     errors=result.errors)  # fmt: skip
    return web.json_response({"status": "ok", "restart_required": result.restart_required})
