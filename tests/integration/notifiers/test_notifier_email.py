"""Email notifier (aiosmtplib) against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from receiver.models import Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.render import Renderer
from tests.helpers import free_port, until
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.smtp import SMTPServer

TO = ["oncall@example.org", "lead@example.org", "gone@example.org"]


@pytest.fixture
async def notifiers() -> AsyncIterator[list[EmailNotifier]]:
    made: list[EmailNotifier] = []
    yield made
    for n in made:
        await n.close()


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None and part.get_content_type() == f"text/{kind}"
    return str(part.get_content())


@pytest.fixture
def make(smtp: SMTPServer, session: aiohttp.ClientSession, notifiers: list[EmailNotifier]) -> Any:
    def factory(**cfg: Any) -> EmailNotifier:
        config = {
            "host": smtp.host, "port": smtp.port, "tls": "none",
            "from": "Alerts <alerts@example.org>", "to": TO[:2], **cfg,
        }  # fmt: skip
        n = EmailNotifier("mail", EmailConfig.model_validate(config), session, Renderer())
        notifiers.append(n)
        return n

    return factory


async def test_firing_then_resolved_thread(smtp: SMTPServer, make: Any) -> None:
    firing = fixture_alerts("critical-group-firing")[0]
    later = fixture_alerts("critical-group-mixed-resolved")[0]
    notifier = make()
    first = await notifier.send(notification(firing), {})
    second = await notifier.send(notification(later), first.state)
    assert first.ok and second.ok, (first.detail, second.detail)

    one, two = (r.message for r in smtp.messages)
    assert one["Subject"] == "[FIRING] HighErrorRate: High error rate"
    assert two["Subject"] == "[RESOLVED] HighErrorRate: High error rate"
    assert one["Message-ID"] == f"<{firing.fingerprint}.1795324360@example.org>"
    assert two["Message-ID"] != one["Message-ID"]
    assert two["In-Reply-To"] == one["Message-ID"] == two["References"]
    assert one["In-Reply-To"] is None
    assert first.state["message_id"] == one["Message-ID"]
    for msg in (one, two):
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Date"] and msg["From"] == "Alerts <alerts@example.org>"
        assert msg.get_content_type() == "multipart/alternative"
    assert "5xx ratio 7%" in body(one, "plain") and "5xx ratio 7%" in body(one, "html")
    assert smtp.messages[0].rcpt_tos == TO[:2]
    assert smtp.messages[0].mail_from == "alerts@example.org"


async def test_same_firing_keeps_its_message_id(smtp: SMTPServer, make: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    await make().send(notification(alert), {})
    await make().send(notification(alert, attempt=2), {})  # a retry on another replica
    await make().send(notification(alert, Reason.REPEAT, key="repeat-1"), {})
    ids = [r.message["Message-ID"] for r in smtp.messages]
    assert ids[0] == ids[1] and ids[2] != ids[0]
    assert smtp.messages[2].message["In-Reply-To"] == ids[0]


async def test_html_is_escaped(smtp: SMTPServer, make: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(update={"annotations": {"summary": "<script>alert(1)</script>"}})
    assert (await make().send(notification(alert), {})).ok
    html = body(smtp.messages[0].message, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in body(smtp.messages[0].message, "plain")


async def test_one_refused_recipient_of_three(smtp: SMTPServer, make: Any) -> None:
    smtp.handler.refuse.add("gone@example.org")
    result = await make(to=TO).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.OK
    assert result.state["refused"] == "gone@example.org"
    assert "gone@example.org (550" in result.detail
    (received,) = smtp.messages
    assert received.rcpt_tos == TO[:2]


async def test_all_refused_is_final(smtp: SMTPServer, make: Any) -> None:
    smtp.handler.refuse.update(TO)
    result = await make(to=TO).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.CLIENT_ERROR and not result.retryable
    assert all(addr in result.detail for addr in TO)
    assert smtp.messages == []


async def test_temporary_refusal_is_retryable(smtp: SMTPServer, make: Any) -> None:
    smtp.handler.tempfail.update(TO[:2])
    notifier = make()
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    smtp.handler.tempfail.clear()
    assert (await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})).ok


async def test_burst_reuses_one_connection(smtp: SMTPServer, make: Any) -> None:
    notifier = make(idle_timeout=5)
    alerts = fixture_alerts("critical-group-firing") + fixture_alerts("warning-firing")
    results = await asyncio.gather(*(notifier.send(notification(a), {}) for a in alerts))
    assert all(r.ok for r in results)
    assert len(smtp.messages) == 3 and smtp.connections == 1
    assert notifier.connections == 1


async def test_idle_connection_is_closed(smtp: SMTPServer, make: Any) -> None:
    notifier = make(idle_timeout=0.1)
    alert = fixture_alerts("warning-firing")[0]
    await notifier.send(notification(alert), {})
    await until(lambda: notifier._smtp is None, 1.0, "closed by the idle timer")
    assert notifier._smtp is None  # closed by the idle timer
    await notifier.send(notification(alert, Reason.REPEAT), {})
    assert smtp.connections == 2 and notifier.connections == 2


async def test_reconnects_after_server_restart(smtp: SMTPServer, make: Any) -> None:
    notifier = make(idle_timeout=30)
    alert = fixture_alerts("warning-firing")[0]
    assert (await notifier.send(notification(alert), {})).ok
    smtp.stop()
    smtp.start()  # same port; the old connection is dead
    result = await notifier.send(notification(resolved(alert)), {})
    assert result.ok, result.detail
    assert notifier.connections == 2 and len(smtp.messages) == 2


async def test_server_down_is_network_error(session: Any, notifiers: list[Any]) -> None:
    cfg = {"host": "127.0.0.1", "port": free_port(), "tls": "none",
           "from": "a@example.org", "to": ["b@example.org"]}  # fmt: skip
    notifier = EmailNotifier("mail", EmailConfig.model_validate(cfg), session, Renderer())
    notifiers.append(notifier)
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable


async def test_auth(session: Any, notifiers: list[Any], tmp_path: Path) -> None:
    server = SMTPServer(users={"alerts": "pw"}).start()
    try:
        secret = tmp_path / "pw"
        secret.write_text("pw\n")
        base = {"host": server.host, "port": server.port, "tls": "none", "username": "alerts",
                "from": "a@example.org", "to": ["b@example.org"]}  # fmt: skip
        good = EmailNotifier(
            "m", EmailConfig.model_validate({**base, "password_file": str(secret)}),
            session, Renderer(),
        )  # fmt: skip
        bad = EmailNotifier(
            "m", EmailConfig.model_validate({**base, "password": "wrong"}), session, Renderer()
        )
        notifiers.extend([good, bad])
        alert = fixture_alerts("warning-firing")[0]
        assert (await good.send(notification(alert), {})).ok
        result = await bad.send(notification(alert), {})
        assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable
        assert len(server.messages) == 1
    finally:
        server.stop()


async def test_storm_summary_mail(smtp: SMTPServer, make: Any) -> None:
    alerts = fixture_alerts("critical-group-firing")
    n = notification(alerts[0], key="storm:x", route="team-api", summary_of=alerts,
                     summary_total=12)  # fmt: skip
    result = await make().send(n, {})
    assert result.ok and result.state == {}
    msg = smtp.messages[0].message
    assert msg["Subject"].strip().startswith("[FIRING] 12 more alerts on route team-api")
    assert msg["Message-ID"].startswith("<storm.")
