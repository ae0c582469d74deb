"""What handlers share, stored on the aiohttp app under one typed key."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from receiver.api.auth import Credentials
from receiver.metrics import Metrics
from receiver.pipeline.intake import Intake, IntakeResult
from receiver.settings import Settings
from receiver.store.alerts import AlertReader
from receiver.store.dlq import DeadLetters


@dataclass
class AppState:
    """Built by create_app's cleanup_ctx once Redis is reachable; read by the handlers."""

    settings: Settings
    metrics: Metrics
    credentials: Credentials
    redis: Any = None
    redis_mode: str = "embedded"
    intake: Intake = None  # type: ignore[assignment]
    reader: AlertReader = None  # type: ignore[assignment]
    dlq: DeadLetters = None  # type: ignore[assignment]
    admin: Credentials | None = None
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
        for dest, actions in result.actions.items():
            for action, n in actions.items():
                if n:
                    m.child(m.throttled, dest, action).inc(n)


STATE = web.AppKey("state", AppState)
