"""create_app(settings): routes, typed app state, and lifetimes through cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from receiver import __version__
from receiver.ack.service import Acks
from receiver.api import (
    ack_links,
    acks,
    alerts,
    digests,
    dlq,
    errors,
    guard,
    health,
    heartbeats,
    maintenance,
    mattermost_actions,
    oncall,
    people,
    push_ack,
    slack_actions,
    slo,
    telegram_webhook,
    webhook,
)
from receiver.api import sms as phone_sms
from receiver.api import voice as phone_voice
from receiver.api.state import SERVICES, STATE, AppState, Services
from receiver.delivery.backpressure import Backpressure
from receiver.delivery.policy import RetryPolicy
from receiver.delivery.scheduler import Scheduler
from receiver.delivery.worker import Worker
from receiver.digest.flusher import DigestFlusher
from receiver.digest.store import DigestStore
from receiver.escalation.runner import EscalationRunner
from receiver.heartbeat.checker import HeartbeatChecker
from receiver.maintenance.wiring import maintenance_of, maintenance_runner, refresh_gate
from receiver.metrics import Metrics
from receiver.oncall.store import OnCallLookup, OverrideStore
from receiver.people import runner as people_runner
from receiver.pipeline.intake import Intake
from receiver.server import reload_api
from receiver.server.reload import (
    RELOADER,
    Reloader,
    access_of,
    ack_destinations,
    build_notifiers,
    credentials_of,
    routing_of,
)
from receiver.server.settings import Settings
from receiver.slo.runner import SloRunner
from receiver.slo.store import SloStore
from receiver.store import durability
from receiver.store.alerts import AlertReader
from receiver.store.connection import connect, describe_target
from receiver.store.dlq import DeadLetters
from receiver.store.embedded import EmbeddedRedis
from receiver.store.keys import Keys
from receiver.store.reindex import Reindexer
from receiver.store.scripts import Scripts
from receiver.store.supervisor import RedisSupervisor
from receiver.web import routes as web_console

log = logging.getLogger("receiver.app")


def create_app(
    settings: Settings,
    data_dir: str | None = None,
    clock: Callable[[], float] = time.time,
    run_workers: bool = True,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    log_level_flag: str | None = None,
) -> web.Application:
    """The service as an aiohttp app; nothing is started until the app runs.

    With `config_path`, the config can be reloaded (SIGHUP, POST /-/reload) from that
    file with the same `overrides` (command-line flags) applied.
    """
    # The webhook's body limit: aiohttp enforces it while reading (413 from our handler).
    # json_errors: aiohttp's own 404/405/413 in the README's error shape, like ours.
    app = web.Application(client_max_size=settings.webhook.max_body_bytes,
                          middlewares=[errors.json_errors])  # fmt: skip
    webhook_creds = credentials_of(settings.auth)
    access, metrics_auth = access_of(settings, webhook_creds)
    state = AppState(settings, Metrics(), webhook_creds, access, metrics_auth)
    state.metrics.up_info.labels(__version__, settings.redis.mode).set(1)
    state.metrics.config_reload_ok.set(1)
    state.metrics.config_reload_ts.set(clock())
    app[STATE] = state
    wiring = Wiring(settings, state, clock, data_dir, run_workers, config_path, overrides,
                    log_level_flag)  # fmt: skip
    app.cleanup_ctx.append(wiring.redis_ctx)
    app.cleanup_ctx.append(wiring.delivery_ctx)
    app.cleanup_ctx.append(wiring.sighup_ctx)
    add_routes(app, settings, state, clock)
    return app


def _replica() -> str:
    """This process among the replicas: host and pid (claims, leases, leadership)."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Wiring:
    """The app's lifetimes (cleanup contexts), in order: Redis and the services on it, then
    the workers and the reloader, then SIGHUP. `settings` are those the app was created
    with; `state.settings` the current ones (a reload replaces them)."""

    settings: Settings
    state: AppState
    clock: Callable[[], float]
    data_dir: str | None
    run_workers: bool
    config_path: str | None
    overrides: dict[str, Any] | None
    log_level_flag: str | None

    async def redis_ctx(self, app: web.Application) -> AsyncIterator[None]:
        fatal: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        app[health.FATAL] = fatal  # serving.py stops and exits non-zero once it resolves
        app[health.COMPONENTS] = {}
        supervisor, url = self._embedded_redis(app, fatal)
        settings, state = self.settings, self.state
        redis = connect(settings.redis, url)
        state.redis_target = describe_target(settings.redis, url)
        keys = Keys(settings.redis.key_prefix)
        m = state.metrics
        try:  # what a change a caller is told succeeded waits for (redis.durability)
            changes = await durability.start(
                redis, settings.redis, keys, state.redis_target,
                lambda op, why: m.child(m.durability_unconfirmed, op, why).inc(),
            )  # fmt: skip
        except durability.DurabilityRefused:
            await redis.aclose()
            if supervisor is not None:
                await supervisor.stop()
            raise
        if changes.policy.command is not None:
            app[health.COMPONENTS]["durability"] = changes.status
        app[SERVICES] = self._services(redis, keys, changes)
        # Index alerts stored before the secondary indexes existed (until done, lists scan).
        reindex = asyncio.create_task(Reindexer(redis, keys).run_until_done())
        # The run-time maintenance windows (the config's are known already).
        gate = asyncio.create_task(refresh_gate(app[SERVICES].maintenance))
        try:
            yield
        finally:
            reindex.cancel()
            gate.cancel()
            await asyncio.gather(reindex, gate, return_exceptions=True)
            await redis.aclose()
            if supervisor is not None:
                await supervisor.stop()  # SIGTERM to redis, no restart

    def _embedded_redis(
        self, app: web.Application, fatal: asyncio.Future[str]
    ) -> tuple[RedisSupervisor | None, str | None]:
        """The embedded redis-server started and supervised (its URL), when configured."""
        settings = self.settings
        if settings.redis.mode != "embedded":
            return None, None

        def give_up(reason: str) -> None:
            if not fatal.done():
                fatal.set_result(reason)

        embedded = EmbeddedRedis(Path(self.data_dir or settings.data_dir),
                                 appendfsync=settings.redis.durability.fsync)  # fmt: skip
        embedded.start()  # in the main thread: see EmbeddedRedis._die_with_parent
        log.info("embedded redis started", extra={"socket": str(embedded.socket)})
        supervisor = RedisSupervisor(
            embedded, settings.redis.embedded_restart_timeout,
            on_restart=self.state.metrics.embedded_redis_restarts.inc,
            on_give_up=give_up,
        )  # fmt: skip
        supervisor.start()
        app[health.COMPONENTS]["embedded_redis"] = supervisor
        return supervisor, embedded.url

    def _services(self, redis: Any, keys: Keys, changes: durability.Confirmed) -> Services:
        """Everything the handlers use on Redis (changes wait for redis.durability)."""
        settings, state, clock = self.settings, self.state, self.clock
        scripts = Scripts.register(redis, changes.named)
        intake = Intake(redis, scripts, keys, routing_of(settings), clock)
        maintenance = maintenance_of(changes.named("maintenance"), keys, state, clock)
        intake.maintenance = maintenance.gate.mark
        return Services(
            redis=redis,
            mode=settings.redis.mode,
            intake=intake,
            reader=AlertReader(redis, keys, clock=clock),
            dlq=DeadLetters(changes.named("purge"), keys, scripts, clock),
            overrides=(overrides := OverrideStore(changes.named("override"), keys, clock)),
            digests=DigestStore(redis, keys, scripts),
            oncall=OnCallLookup(overrides, lambda: state.settings.oncall),
            acks=Acks(changes.named("ack"), keys, lambda: ack_destinations(state.settings),
                      lambda: state.settings.state.history_max, clock, state.metrics),
            slo=SloStore(redis, keys, clock),
            heartbeats=HeartbeatChecker(redis, keys, intake, lambda: state.settings.heartbeats,
                                        state.metrics, clock, target=state.redis_target),
            maintenance=maintenance,
        )  # fmt: skip

    async def delivery_ctx(self, app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        session = aiohttp.ClientSession()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        worker = None
        if self.run_workers:
            worker, loops = self._background(app, services, session)
            tasks = [asyncio.create_task(t.run(stop)) for t in loops]
        # The Telegram updates' handler; with loops, their polling / webhook registration.
        for t in telegram_webhook.start(app, session, _replica(), self.run_workers):
            tasks.append(asyncio.create_task(t.run(stop)))
        phone_sms.start(app, session)  # Vonage's replies to inbound texts go out on it
        reloader = None
        if self.config_path is not None:
            reloader = Reloader(self.config_path, self.overrides or {}, self.log_level_flag,
                                self.state, services, session, worker, self.clock)  # fmt: skip
            app[RELOADER] = reloader
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if reloader is not None:
                await reloader.aclose()
            if worker is not None:
                for n in worker.notifiers.values():
                    await n.close()
            await session.close()

    def _background(
        self, app: web.Application, services: Services, session: aiohttp.ClientSession
    ) -> tuple[Worker, tuple[Any, ...]]:
        """The delivery worker and every background loop (not started), on /health."""
        settings, state, clock = self.settings, self.state, self.clock
        intake = services.intake
        w = settings.workers
        notifiers = build_notifiers(settings, session, services, state.metrics, clock)
        pressure = Backpressure(services.redis, intake.keys,
                                lambda: state.settings.receivers.keys(), state.metrics,
                                clock=clock, target=state.redis_target)  # fmt: skip
        worker = Worker(
            services.redis, intake.keys, notifiers, state.metrics,
            RetryPolicy(w.max_attempts, w.max_age, w.backoff_base, w.backoff_max),
            _replica(), w.concurrency, w.visibility_timeout,
            clock, int(settings.state.resolved_retention), target=state.redis_target,
            backpressure=pressure,
        )  # fmt: skip
        sched = Scheduler(services.redis, intake.scripts, intake.keys, state.metrics,
                          clock, target=state.redis_target)  # fmt: skip
        flusher = DigestFlusher(services.digests, lambda: state.settings.digests,
                                state.metrics, clock, w.max_age)  # fmt: skip
        ladders = EscalationRunner(
            services.redis, intake.keys, lambda: state.settings.escalation_policies,
            lambda: intake.routing.rates, services.oncall, state.metrics,
            _replica(), clock, target=state.redis_target,
        )  # fmt: skip
        slos = SloRunner(services.slo, lambda: state.settings.slo, state.metrics, _replica(),
                         clock, target=state.redis_target)  # fmt: skip
        beats = services.heartbeats
        windows = maintenance_runner(services.maintenance, intake, state, _replica(), clock,
                                     session)  # fmt: skip
        ladders.paused = services.maintenance.gate.paused  # a window pauses a ladder
        app[health.COMPONENTS]["maintenance"] = windows
        rules = self._people_runner(services, intake)
        app[health.COMPONENTS].update(workers=worker, scheduler=sched, digests=flusher,
                                      escalation=ladders, slo=slos,
                                      heartbeats=beats, people=rules)  # fmt: skip
        # Not a component: its Redis trouble is the workers'; a paused vendor is no
        # reason to fail this replica's health. Shown under `destinations` instead.
        app[health.DESTINATIONS] = pressure.snapshot
        return worker, (worker, sched, flusher, ladders, pressure, slos, beats, rules, windows)

    def _people_runner(self, services: Services, intake: Intake) -> people_runner.PeopleRunner:
        """People's notification rules (receiver/people), on the current config."""
        state = self.state

        def config() -> people_runner.Config:
            s = state.settings
            return people_runner.Config(s.people, s.receivers, intake.routing.rates,
                                        s.ack.links, s.console.on)  # fmt: skip

        return people_runner.PeopleRunner(services.redis, intake.keys, config, state.metrics,
                                          _replica(), self.clock,
                                          target=state.redis_target)  # fmt: skip

    async def sighup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        # SIGHUP reloads, as it does for Prometheus and Alertmanager. Only for a served
        # config file, and only where signals can be handled (the main thread).
        loop = asyncio.get_running_loop()
        reloader = app.get(RELOADER)
        pending: set[asyncio.Task[Any]] = set()

        def on_hup() -> None:
            assert reloader is not None
            task = asyncio.create_task(reloader.reload("SIGHUP"))
            pending.add(task)
            task.add_done_callback(pending.discard)

        installed = False
        if reloader is not None:
            try:
                loop.add_signal_handler(signal.SIGHUP, on_hup)
                installed = True
            except (RuntimeError, ValueError):  # not the main thread
                log.warning("SIGHUP reload unavailable (not in the main thread)")
        try:
            yield
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
            if pending:
                await asyncio.wait(pending, timeout=10)


def add_routes(
    app: web.Application, settings: Settings, state: AppState, clock: Callable[[], float]
) -> None:
    """Every URL the service answers (the console's only when it is on)."""
    app.router.add_post("/webhook", webhook.webhook)
    app.router.add_post("/webhook/{name}", webhook.webhook)
    app.router.add_get("/api/v1/alerts", alerts.list_alerts)
    app.router.add_get("/api/v1/alerts/{fingerprint}", alerts.get_alert)
    app.router.add_post("/api/v1/alerts/{fingerprint}/ack", acks.ack)
    app.router.add_post("/api/v1/alerts/{fingerprint}/unack", acks.unack)
    app.router.add_post("/api/v1/groups/ack", acks.ack_group)
    slack_actions.add_routes(app, clock)  # POST /slack/actions (ack.slack)
    mattermost_actions.add_routes(app)  # POST /mattermost/actions (receivers' actions)
    telegram_webhook.add_routes(app)  # POST /telegram/webhook (Telegram receivers)
    ack_links.add_routes(app, clock)  # GET/POST /ack/{token} (ack.links)
    maintenance.add_routes(app)  # /api/v1/maintenance… (maintenance windows)
    push_ack.add_routes(app, clock)  # POST /push/ack/{token} (a push's Acknowledge)
    phone_sms.add_routes(app, clock)  # POST /sms/{receiver}[/status] (twilio, vonage)
    phone_voice.add_routes(app)  # POST /voice/{receiver}[/status] (a call's keypad)
    web_console.add_routes(app, settings, clock)  # GET / and /console/… (console)
    app.router.add_get("/api/v1/dlq", dlq.list_dead)
    app.router.add_get("/api/v1/dlq/{id}", dlq.show_dead)
    app.router.add_post("/api/v1/dlq/replay", dlq.replay_dead)
    app.router.add_post("/api/v1/dlq/{id}/replay", dlq.replay_dead)
    app.router.add_delete("/api/v1/dlq", dlq.purge_dead)
    app.router.add_get("/api/v1/digests", digests.list_digests)
    app.router.add_get("/api/v1/slo", slo.report)
    app.router.add_get("/api/v1/heartbeats", heartbeats.list_heartbeats)
    app.router.add_get("/api/v1/oncall", oncall.who)
    app.router.add_get("/api/v1/people", people.list_people)
    app.router.add_get("/api/v1/oncall/{rotation}.ics", oncall.calendar)
    app.router.add_post("/api/v1/oncall/{rotation}/overrides", oncall.add_override)
    app.router.add_delete("/api/v1/oncall/{rotation}/overrides/{id}", oncall.remove_override)
    app.router.add_post("/-/reload", reload_api.reload)
    app.router.add_get("/health/live", health.live)
    app.router.add_get("/health/ready", health.ready)
    app.router.add_get("/health", health.detailed)
    metrics = make_aiohttp_handler(state.metrics.registry)
    app.router.add_get("/metrics", guard.metrics_guard(metrics))
