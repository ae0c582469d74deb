"""Generic webhook notifier against a local HTTP receiver that verifies signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from receiver.models import AlertSnapshot, Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.webhook import WebhookConfig, WebhookNotifier
from tests.servers import fixture_alerts, notification
from tests.servers.base import FakeServer

SECRET = "hook-s3cret"


class Target(FakeServer):
    """Records requests; answers `status` (and `headers`) or hangs when told to."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.hang = asyncio.Event()
        self.hanging = False

    @property
    def url(self) -> str:
        return self.base_url + "/hook"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._handle)

    async def stop(self) -> None:
        self.hang.set()
        await super().stop()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if self.hanging:
            await self.hang.wait()
        return web.Response(status=self.status, text="answer", headers=self.headers)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target()
    await t.start()
    yield t
    await t.stop()


def make(target: Target, session: aiohttp.ClientSession, **cfg: Any) -> WebhookNotifier:
    config = WebhookConfig.model_validate({"type": "webhook", "url": target.url, **cfg})
    return WebhookNotifier("hook", config, session, Renderer())


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Signature-256", ""))


async def test_signed_body(target: Target, session: Any) -> None:
    firing = fixture_alerts("critical-group-firing")[0]
    later = fixture_alerts("critical-group-mixed-resolved")[0]
    notifier = make(target, session, secret=SECRET, headers={"X-Team": "api"})
    first = await notifier.send(notification(firing, route="team-api"), {})
    second = await notifier.send(notification(later), first.state)
    assert first.ok and second.ok, (first.detail, second.detail)

    (h1, b1), (h2, b2) = target.requests
    assert verify(SECRET, h1, b1) and verify(SECRET, h2, b2)
    assert not verify("other-secret", h1, b1)
    assert h1["X-Team"] == "api" and h1["Content-Type"] == "application/json"
    doc = json.loads(b1)
    assert doc["version"] == "1" and doc["reason"] == "new" and doc["destination"] == "test"
    assert doc["route"] == "team-api"
    assert h1["Idempotency-Key"] == doc["key"]
    assert AlertSnapshot.model_validate(doc["alert"]) == firing
    assert doc["summary_of"] == [] and doc["summary_total"] == 0
    assert json.loads(b2)["reason"] == "resolved"
    assert json.loads(b2)["alert"]["status"] == "resolved"


async def test_secret_file_and_unsigned(target: Target, session: Any, tmp_path: Path) -> None:
    (tmp_path / "s").write_text(SECRET + "\n")
    alert = fixture_alerts("warning-firing")[0]
    assert (await make(target, session, secret_file=str(tmp_path / "s")).send(
        notification(alert), {}
    )).ok  # fmt: skip
    assert (await make(target, session).send(notification(alert, Reason.REPEAT), {})).ok
    (h1, b1), (h2, _) = target.requests
    assert verify(SECRET, h1, b1)
    assert "X-Signature-256" not in h2


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retryable", "retry_after"),
    [
        (204, {}, Outcome.OK, False, None),
        (500, {}, Outcome.SERVER_ERROR, True, None),
        (503, {"Retry-After": "120"}, Outcome.SERVER_ERROR, True, 120.0),
        (429, {"Retry-After": "9"}, Outcome.RATE_LIMITED, True, 9.0),
        (404, {}, Outcome.CLIENT_ERROR, False, None),
        (400, {}, Outcome.CLIENT_ERROR, False, None),
    ],
)
async def test_status_classification(
    target: Target,
    session: Any,
    status: int,
    headers: dict[str, str],
    outcome: Outcome,
    retryable: bool,
    retry_after: float | None,
) -> None:
    target.status, target.headers = status, headers
    result = await make(target, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert (result.outcome, result.retryable, result.retry_after_s) == (
        outcome,
        retryable,
        retry_after,
    )
    assert f"HTTP {status}" in result.detail


async def test_timeout(target: Target, session: Any) -> None:
    target.hanging = True
    result = await make(target, session, timeout=0.3).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert result.outcome is Outcome.TIMEOUT and result.retryable


async def test_missing_secret_file_is_invalid_config(
    target: Target, session: Any, tmp_path: Path
) -> None:
    notifier = make(target, session, secret_file=str(tmp_path / "missing"))
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable
    assert target.requests == []
