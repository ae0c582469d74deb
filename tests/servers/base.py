"""What every local vendor stand-in shares: an aiohttp app on a loopback port, on the test's
event loop, started and stopped the same way, able to hold requests until released.

A subclass adds its routes in `routes()` and records what arrives in its own terms (each
vendor's `requests`, `events`, `got`). SMTP is served by aiosmtpd in a thread instead
(tests/servers/smtp.py); it shares the port choice (tests.helpers.free_port) only.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class FakeServer:
    """`await start()` → base URL; `await stop()` answers held requests, then closes."""

    client_max_size = 1024**2  # aiohttp's default; a vendor accepting bigger bodies says so
    shutdown_timeout = 1.0  # seconds stop() lets a request still in flight finish

    def __init__(self) -> None:
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._hang = 0  # how many coming requests `hold()` keeps until `release()`
        self._release = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def hang_next(self, n: int) -> None:
        """Hold the next `n` requests (answered as usual once released)."""
        self._hang += n

    def release(self) -> None:
        """Answer the requests held by hang_next (and any later ones at once)."""
        self._release.set()

    async def hold(self) -> None:
        """In a handler: wait for `release()` when this request is one to hold."""
        if self._hang:
            self._hang -= 1
            await self._release.wait()
