"""What handlers share, on the aiohttp app under typed keys: STATE from the start,
SERVICES once Redis is reachable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from receiver.ack.service import Acks
from receiver.api.auth import Credentials
from receiver.api.tokens import Access
from receiver.digest.store import DigestStore
from receiver.heartbeat.checker import HeartbeatChecker
from receiver.maintenance import Maintenance
from receiver.metrics import Metrics
from receiver.oncall.store import OnCallLookup, OverrideStore
from receiver.pipeline.entries import IntakeResult
from receiver.pipeline.intake import Intake
from receiver.slo.store import SloStore
from receiver.store.alerts import AlertReader
from receiver.store.connection import RedisClient
from receiver.store.dlq import DeadLetters

if TYPE_CHECKING:  # the composed settings import every package, this one too
    from receiver.server.settings import Settings


@dataclass
class AppState:
    """Known when the app is created. A reload replaces `settings`, `credentials`,
    `access` and `metrics_auth` together, between requests (receiver/server/reload.py)."""

    settings: Settings
    metrics: Metrics
    credentials: Credentials  # the webhook's
    access: Access = field(default_factory=Access)  # API tokens and their scopes
    metrics_auth: Credentials | None = None  # None: /metrics is open
    redis_target: str = ""  # describe_target(): for log lines, without a password
    started_at: float = field(default_factory=time.time)
    components: dict[str, str] = field(default_factory=dict)

    def observe_intake(self, result: IntakeResult) -> None:
        m = self.metrics
        for (status, severity), n in result.received.items():
            m.child(m.alerts_received, status.value, severity.value).inc(n)
        if result.attempts > 1:
            m.intake_retries.inc(result.attempts - 1)
        for (dest, reason), n in result.decisions.items():
            m.child(m.decisions, dest, reason.value).inc(n)
        for (window, mode), n in result.muted.items():
            m.child(m.maintenance_muted, window, mode).inc(n)
        for dest, actions in result.actions.items():
            for action, n in actions.items():
                if n:
                    m.child(m.throttled, dest, action).inc(n)


@dataclass(frozen=True)
class Services:
    """What exists once Redis is reachable: set by create_app's cleanup_ctx."""

    redis: RedisClient
    mode: str  # embedded | url | sentinel | cluster
    intake: Intake
    reader: AlertReader
    dlq: DeadLetters
    overrides: OverrideStore
    digests: DigestStore
    oncall: OnCallLookup  # who is on call, overrides applied (digest recipients)
    acks: Acks
    slo: SloStore  # service SLO intervals and figures
    heartbeats: HeartbeatChecker  # run by delivery_ctx with the workers; read by the API
    maintenance: Maintenance  # windows: the store and the gate the intake asks


STATE = web.AppKey("state", AppState)
SERVICES = web.AppKey("services", Services)
