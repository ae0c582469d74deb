"""A local webhook destination that records every JSON body it gets and answers 200."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.servers.base import FakeServer


class Recorder(FakeServer):
    """POST /<name> → 200; `got` holds each body with its request path under "path"."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[dict[str, Any]] = []

    def url(self, name: str = "hook") -> str:
        return f"{self.base_url}/{name}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{name:.+}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        self.got.append({"path": request.path, **(await request.json())})
        return web.json_response({"ok": True})
