"""Config reload (SIGHUP, POST /-/reload): re-read, check completely, swap atomically.

What can change live is rebuilt from the new settings and swapped in one step with no
await in between, so a request sees either the old config or the new one, never a mix:
webhook credentials, API tokens, /metrics credentials, routing (tree, receivers, rate
limits, storm, retention), notifiers with their templates, and the log level. A body in
flight keeps the routing it started with; jobs being sent keep their notifier, which is
closed once they are done.
Sections that the process cannot change without a restart (RESTART_SECTIONS) keep their
running values and are reported. An invalid config changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiohttp import web

from receiver import logs
from receiver.ack.links import LinkMaker
from receiver.ack.silence import DESTINATION as SILENCE_DESTINATION
from receiver.ack.silence import SilenceNotifier
from receiver.api.auth import Credentials
from receiver.api.config import AuthConfig
from receiver.api.state import AppState, Services
from receiver.api.tokens import Access
from receiver.config.loader import ConfigError
from receiver.delivery.worker import Worker
from receiver.digest.sender import DigestSender, destination
from receiver.metrics import Metrics
from receiver.notifiers.base import Notifier
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.registry import build_notifier
from receiver.notifiers.render import Renderer
from receiver.pipeline.routing import Routing
from receiver.server.check import load_settings
from receiver.server.settings import RESTART_SECTIONS, Settings

log = logging.getLogger("receiver.reload")
# Old notifiers are closed once the sends that started with them are done, or after this.
CLOSE_AFTER_S = 120.0


@dataclass
class ReloadResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)


def credentials_of(auth: AuthConfig | Literal["none"]) -> Credentials:
    """Accepted credentials; reads token and password files (ValueError if unreadable)."""
    if auth == "none":
        return Credentials(open_=True)
    return Credentials(
        bearer=tuple(t.encode() for t in auth.tokens()),
        basic=tuple((u.username.encode(), u.secret().encode()) for u in auth.basic),
    )


def access_of(settings: Settings, webhook: Credentials) -> tuple[Access, Credentials | None]:
    """The API's token table and /metrics' credentials (None: open); reads token files."""
    metrics = settings.metrics_auth
    return (
        Access.build(settings.api_tokens, settings.anonymous_read, webhook.bearer),
        None if metrics is None or metrics == "none" else credentials_of(metrics),
    )


def routing_of(settings: Settings) -> Routing:
    """What the intake decides with: routing tree, defined receivers, each receiver's rate
    limit (its own `rate`/`burst`, else its channel's default), storm and state limits."""
    storm, st = settings.storm, settings.state
    return Routing(
        tree=settings.routing_tree(),
        # The silence is never routed to (check-config keeps the name off receivers): it is
        # known so that the resolve of an acknowledged alert reaches it.
        known=frozenset(
            [
                *settings.receivers,
                *(destination(d) for d in settings.digests),
                *([SILENCE_DESTINATION] if settings.ack.alertmanager_silence else []),
            ]
        ),
        rates={name: cfg.limit() for name, cfg in settings.receivers.items()},
        storm=(storm.threshold, int(storm.window * 1000)),
        retention_ms=int(st.resolved_retention * 1000),
        history_max=st.history_max,
        digests={
            name: (cfg.max_alerts, int(cfg.buffer_ttl() * 1000))
            for name, cfg in settings.digests.items()
        },
        escalations={
            name: int(p.steps[0].after * 1000) for name, p in settings.escalation_policies.items()
        },
        slo={name: svc.parsed() for name, svc in settings.slo.services.items()},
        heartbeats={name: hb.parsed() for name, hb in settings.heartbeats.items()},
    )


def ack_destinations(settings: Settings) -> dict[str, bool]:
    """The destinations that act on an ack → whether they hear of every ack (the silence)
    or only of acks of alerts they were told about (PagerDuty, Slack with a bot token)."""
    out = {name: False for name, cfg in settings.receivers.items() if cfg.acts_on_ack}
    if settings.ack.alertmanager_silence is not None:
        out[SILENCE_DESTINATION] = True
    return out


def build_notifiers(
    settings: Settings,
    session: aiohttp.ClientSession,
    services: Services,
    metrics: Metrics,
    clock: Callable[[], float] = time.time,
) -> dict[str, Notifier]:
    """One notifier per receiver, and a digest sender (`digest:NAME`) per digest, which
    mails through its email receiver's notifier. Emails and digests carry ack links when
    `ack.links` is set; Slack messages an Acknowledge button when `ack.slack` is."""
    links = settings.ack.links
    ack_url = LinkMaker(links, clock).url if links is not None else None
    renderer = Renderer(settings.templates_dir, ack_url, ack_button=settings.ack.slack is not None)
    out: dict[str, Notifier] = {
        name: build_notifier(name, cfg, session, renderer)
        for name, cfg in settings.receivers.items()
    }
    if settings.ack.alertmanager_silence is not None:
        out[SILENCE_DESTINATION] = SilenceNotifier(
            SILENCE_DESTINATION, settings.ack.alertmanager_silence, session
        )
    for name, cfg in settings.digests.items():
        email = out.get(cfg.receiver)
        out[destination(name)] = DigestSender(
            name, cfg, email if isinstance(email, EmailNotifier) else None, services.digests,
            services.oncall.emails, metrics, ack_url=ack_url,
        )  # fmt: skip
    return out


class Reloader:
    """Owns the live notifiers; `reload()` swaps the config. One reload at a time."""

    def __init__(
        self,
        path: str | Path,
        overrides: dict[str, Any],
        log_level_flag: str | None,
        state: AppState,
        services: Services,
        session: aiohttp.ClientSession,
        worker: Worker | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.overrides, self.level_flag = Path(path), overrides, log_level_flag
        self.state, self.services, self.session, self.worker = state, services, session, worker
        self.clock = clock
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    async def reload(self, how: str) -> ReloadResult:
        async with self._lock:
            result = await self._reload()
        m = self.state.metrics
        m.config_reload_ok.set(1 if result.ok else 0)
        where = {"via": how, "config": str(self.path)}
        if result.ok:
            m.config_reload_ts.set(self.clock())
            log.info(
                "config reloaded", extra={**where, "restart_required": result.restart_required}
            )
        else:
            log.error("config reload failed; the running config stays",
                      extra={**where, "errors": result.errors})  # fmt: skip
        return result

    async def _reload(self) -> ReloadResult:
        try:
            # Reading files and compiling templates is blocking work: off the event loop.
            new = await asyncio.to_thread(load_settings, self.path, self.overrides)
            credentials = credentials_of(new.auth)
            access, metrics_auth = access_of(new, credentials)
            level, _ = logs.choose_level(self.level_flag, new.log_level)
        except ConfigError as e:
            return ReloadResult(False, [str(i) for i in e.issues])
        except ValueError as e:  # a secret file that went away since the check
            return ReloadResult(False, [str(e)])
        old = self.state.settings
        restart = [k for k in RESTART_SECTIONS if getattr(new, k) != getattr(old, k)]
        live = new.model_copy(update={k: getattr(old, k) for k in RESTART_SECTIONS})
        routing = routing_of(live)
        worker = self.worker
        notifiers = (
            build_notifiers(live, self.session, self.services, self.state.metrics, self.clock)
            if worker is not None
            else {}
        )
        # The swap: no await from here to the end.
        state = self.state
        state.settings, state.credentials = live, credentials
        state.access, state.metrics_auth = access, metrics_auth
        self.services.intake.routing = routing
        logging.getLogger().setLevel(level.upper())
        if worker is not None:
            previous, sending = worker.notifiers, worker.sending()
            worker.notifiers = notifiers
            self._close_later(previous, sending)
        return ReloadResult(True, restart_required=restart)

    def _close_later(
        self, notifiers: Mapping[str, Notifier], sending: set[asyncio.Task[None]]
    ) -> None:
        async def close() -> None:
            if sending:
                await asyncio.wait(sending, timeout=CLOSE_AFTER_S)
            for n in notifiers.values():
                await n.close()

        task = asyncio.create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Wait for old notifiers to close (at shutdown)."""
        if self._closing:
            await asyncio.wait(self._closing, timeout=10)


RELOADER = web.AppKey("reloader", Reloader)
