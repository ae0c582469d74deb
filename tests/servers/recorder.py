"""A local webhook destination that records every JSON body it gets and answers 200."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class Recorder:
    """POST /<name> → 200; `got` holds each body with its request path under "path"."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def url(self, name: str = "hook") -> str:
        return f"{self.base_url}/{name}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{name:.+}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.got.append({"path": request.path, **(await request.json())})
        return web.json_response({"ok": True})
