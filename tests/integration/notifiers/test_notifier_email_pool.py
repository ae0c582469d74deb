"""The email notifier's SMTP pool against a real SMTP server (aiosmtpd): a backlog fans
out over at most `connections`, a few mails share one, idle connections are closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from receiver.models import Reason
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification
from tests.servers.smtp import SMTPServer


@pytest.fixture
async def make(smtp: SMTPServer, session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    made: list[EmailNotifier] = []

    def factory(**cfg: Any) -> EmailNotifier:
        config = {"host": smtp.host, "port": smtp.port, "tls": "none",
                  "from": "alerts@example.org", "to": ["oncall@example.org"], **cfg}  # fmt: skip
        n = EmailNotifier("mail", EmailConfig.model_validate(config), session, Renderer())
        made.append(n)
        return n

    yield factory
    for n in made:
        await n.close()


def backlog(count: int) -> list[Any]:
    """`count` distinct notifications (repeats of one alert: each its own Message-ID)."""
    alert = fixture_alerts("warning-firing")[0]
    return [notification(alert, Reason.REPEAT if i else Reason.NEW, key=f"k{i}")
            for i in range(count)]  # fmt: skip


async def test_backlog_fans_out_over_at_most_the_pool(smtp: SMTPServer, make: Any) -> None:
    notifier = make(connections=3, idle_timeout=30)
    results = await asyncio.gather(*(notifier.send(n, {}) for n in backlog(40)))
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
    assert len(smtp.messages) == 40
    assert 1 < smtp.connections <= 3 and notifier.connections == smtp.connections
    assert notifier.open_connections == smtp.connections  # kept for the next burst
    again = await asyncio.gather(*(notifier.send(n, {}) for n in backlog(12)))
    assert all(r.ok for r in again) and smtp.connections <= 3  # reused, none added


async def test_pool_of_one_sends_in_turn(smtp: SMTPServer, make: Any) -> None:
    notifier = make(connections=1)
    results = await asyncio.gather(*(notifier.send(n, {}) for n in backlog(15)))
    assert all(r.ok for r in results) and len(smtp.messages) == 15
    assert smtp.connections == 1


async def test_idle_pool_is_closed_and_reopens(smtp: SMTPServer, make: Any) -> None:
    notifier = make(connections=4, idle_timeout=0.2)
    await asyncio.gather(*(notifier.send(n, {}) for n in backlog(30)))
    opened = smtp.connections
    for _ in range(200):  # within 10 s
        if not notifier.open_connections:
            break
        await asyncio.sleep(0.05)
    assert notifier.open_connections == 0  # every one closed by the idle timer
    assert (await notifier.send(backlog(1)[0], {})).ok
    assert smtp.connections == opened + 1


async def test_a_dead_server_frees_the_pool(smtp: SMTPServer, make: Any) -> None:
    notifier = make(connections=2, idle_timeout=30, timeout=2)
    assert (await notifier.send(backlog(1)[0], {})).ok
    smtp.stop()
    failed = await asyncio.gather(*(notifier.send(n, {}) for n in backlog(6)))
    assert all(r.retryable and not r.ok for r in failed)
    assert notifier.open_connections == 0  # nothing leaked from the pool
    smtp.start()
    assert (await notifier.send(backlog(1)[0], {})).ok


def test_pool_size_is_checked() -> None:
    base = {"host": "h", "from": "a@example.org", "to": ["b@example.org"]}
    assert EmailConfig.model_validate(base).connections == 4
    for bad in (0, 33):
        with pytest.raises(ValueError, match="connections"):
            EmailConfig.model_validate({**base, "connections": bad})
