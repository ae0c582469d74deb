"""create_app(settings): routes, typed app state, and lifetimes through cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from receiver import __version__
from receiver.api import alerts, dlq, health, webhook
from receiver.api.auth import Credentials
from receiver.api.state import STATE, AppState
from receiver.delivery.policy import RetryPolicy
from receiver.delivery.scheduler import Scheduler
from receiver.delivery.worker import Worker
from receiver.metrics import Metrics
from receiver.notifiers.base import Notifier
from receiver.notifiers.registry import build_notifier
from receiver.notifiers.render import Renderer
from receiver.pipeline.intake import Intake
from receiver.pipeline.throttle import DEFAULT_RATES, Rate
from receiver.settings import AuthConfig, Settings
from receiver.store.alerts import AlertReader
from receiver.store.connection import connect
from receiver.store.dlq import DeadLetters
from receiver.store.embedded import EmbeddedRedis
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts

log = logging.getLogger("receiver.app")


def credentials_of(auth: AuthConfig | Literal["none"]) -> Credentials:
    if auth == "none":
        return Credentials(open_=True)
    return Credentials(
        bearer=tuple(t.encode() for t in auth.bearer_tokens),
        basic=tuple((u.username.encode(), (u.password or "").encode()) for u in auth.basic),
    )


def rates_of(settings: Settings) -> dict[str, Rate | None]:
    """Each receiver's limit: its own `rate`/`burst`, else its channel type's default."""
    out: dict[str, Rate | None] = {}
    for name, cfg in settings.receivers.items():
        rate = getattr(cfg, "rate", None)
        burst = getattr(cfg, "burst", None)
        if rate == "none":
            out[name] = None
        elif rate:
            out[name] = Rate.parse(rate, burst)
        else:
            default = DEFAULT_RATES.get(cfg.type)
            out[name] = Rate(default.interval_ms, burst or default.burst) if default else None
    return out


def create_app(
    settings: Settings,
    data_dir: str | None = None,
    clock: Callable[[], float] = time.time,
    run_workers: bool = True,
) -> web.Application:
    """The service as an aiohttp app; nothing is started until the app runs."""
    # The webhook's body limit: aiohttp enforces it while reading (413 from our handler).
    app = web.Application(client_max_size=settings.webhook.max_body_bytes)
    state = AppState(settings, Metrics(), credentials_of(settings.auth))
    if settings.admin_auth is not None:
        state.admin = credentials_of(settings.admin_auth)
    state.metrics.up_info.labels(__version__, settings.redis.mode).set(1)
    app[STATE] = state

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        embedded = None
        url = None
        if settings.redis.mode == "embedded":
            embedded = EmbeddedRedis(Path(data_dir or settings.data_dir))
            embedded.start()  # in the main thread: see EmbeddedRedis._die_with_parent
            url = embedded.url
            log.info("embedded redis started", extra={"socket": str(embedded.socket)})
        redis = connect(settings.redis, url)
        keys = Keys(settings.redis.key_prefix)
        scripts = Scripts.register(redis)
        storm = settings.storm
        state.redis, state.redis_mode = redis, settings.redis.mode
        state.reader = AlertReader(redis, keys)
        state.dlq = DeadLetters(redis, keys, scripts, clock)
        state.intake = Intake(
            redis, scripts, keys, settings.routing_tree(), settings.receivers,
            rates_of(settings), (storm.threshold, int(storm.window * 1000)),
            int(settings.state.resolved_retention * 1000), settings.state.history_max, clock,
        )  # fmt: skip
        try:
            yield
        finally:
            await redis.aclose()
            if embedded is not None:
                embedded.stop()

    async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession()
        renderer = Renderer(settings.templates_dir)
        notifiers: dict[str, Notifier] = {
            name: build_notifier(name, cfg, session, renderer)
            for name, cfg in settings.receivers.items()
        }
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if run_workers:
            keys = state.intake.keys
            w = settings.workers
            worker = Worker(
                state.redis, keys, notifiers, state.metrics,
                RetryPolicy(w.max_attempts, w.max_age, w.backoff_base, w.backoff_max),
                f"{socket.gethostname()}-{os.getpid()}", w.concurrency, w.visibility_timeout,
                clock, int(settings.state.resolved_retention),
            )  # fmt: skip
            sched = Scheduler(state.redis, state.intake.scripts, keys, state.metrics,
                              clock)  # fmt: skip
            tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(sched.run(stop))]
            state.components.update(workers="ok", scheduler="ok")
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for n in notifiers.values():
                await n.close()
            await session.close()

    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(delivery_ctx)
    app.router.add_post("/webhook", webhook.webhook)
    app.router.add_post("/webhook/{name}", webhook.webhook)
    app.router.add_get("/api/v1/alerts", alerts.list_alerts)
    app.router.add_get("/api/v1/alerts/{fingerprint}", alerts.get_alert)
    app.router.add_get("/api/v1/dlq", dlq.list_dead)
    app.router.add_get("/api/v1/dlq/{id}", dlq.show_dead)
    app.router.add_post("/api/v1/dlq/replay", dlq.replay_dead)
    app.router.add_post("/api/v1/dlq/{id}/replay", dlq.replay_dead)
    app.router.add_delete("/api/v1/dlq", dlq.purge_dead)
    app.router.add_get("/health/live", health.live)
    app.router.add_get("/health/ready", health.ready)
    app.router.add_get("/health", health.detailed)
    app.router.add_get("/metrics", make_aiohttp_handler(state.metrics.registry))
    return app
