"""Ceiling for the intake benchmark: the cheapest handler that still does what the real
intake must do at minimum -- read the body and make one pipelined Redis round trip.

    POST /webhook   read body, one pipeline (SET key + EXPIRE) to Redis, answer 200 JSON
    POST /coalesced read body, SET + EXPIRE queued into one pipeline shared by all the
                    requests in flight (auto-pipelining: one round trip per batch)
    POST /bare      read body, answer 200 JSON (no Redis: aiohttp + wrk alone)
    GET  /health/ready   200 once Redis answers PING

Run by bench/run.py:  python bench/ceiling.py --port P --redis-url redis://127.0.0.1:R/0
Listens on 127.0.0.1 only. Same event loop, same aiohttp and redis-py as the receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

OK = b'{"status":"ok"}'


class Coalescer:
    """Auto-pipelining: commands from concurrent requests go out in one pipeline per batch;
    each request still waits for its own replies."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.pending: list[tuple[str, asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def set_with_ttl(self, key: str) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((key, fut))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            pipe = self.client.pipeline(transaction=False)
            for key, _ in batch:
                pipe.set(key, b"1")
                pipe.expire(key, 3600)
            try:
                await pipe.execute()
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)


REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis", aioredis.Redis)
COALESCER: web.AppKey[Coalescer] = web.AppKey("coalescer", Coalescer)


def body_key(body: bytes) -> str:
    return "ceiling:" + hashlib.blake2b(body, digest_size=8).hexdigest()


async def webhook(request: web.Request) -> web.Response:
    key = body_key(await request.read())
    pipe = request.app[REDIS].pipeline(transaction=False)
    pipe.set(key, b"1")
    pipe.expire(key, 3600)
    await pipe.execute()
    return web.Response(body=OK, content_type="application/json")


async def coalesced(request: web.Request) -> web.Response:
    await request.app[COALESCER].set_with_ttl(body_key(await request.read()))
    return web.Response(body=OK, content_type="application/json")


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=OK, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    await request.app[REDIS].ping()
    return web.Response(body=OK, content_type="application/json")


def make_app(redis_url: str) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(redis_url)
        app[REDIS] = client
        app[COALESCER] = Coalescer(client)
        yield
        await client.aclose()

    app.cleanup_ctx.append(redis_ctx)
    app.router.add_post("/webhook", webhook)
    app.router.add_post("/coalesced", coalesced)
    app.router.add_post("/bare", bare)
    app.router.add_get("/health/ready", ready)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis-url", required=True)
    args = ap.parse_args()
    web.run_app(
        make_app(args.redis_url),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
