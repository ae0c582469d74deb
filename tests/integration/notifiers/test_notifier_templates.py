"""A template override directory changes what really gets delivered."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.render import Renderer, check_templates
from receiver.notifiers.slack.config import SlackConfig
from receiver.notifiers.slack.notifier import SlackNotifier
from tests.servers import fixture_alerts, notification
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer


async def test_override_reaches_slack_and_email(tmp_path: Path) -> None:
    (tmp_path / "slack_text.txt").write_text("custom {{ alertname }} on {{ labels.instance }}")
    (tmp_path / "email_subject.txt").write_text("Page: {{ alertname }} ({{ severity }})")
    # broken at render time: the built-in body is used instead, the mail still goes out
    (tmp_path / "email_body.txt").write_text("{{ labels.severity + 1 }}")
    errors = check_templates(tmp_path)
    assert len(errors) == 1 and "email_body.txt: render failed" in errors[0]

    renderer = Renderer(tmp_path)
    alert = fixture_alerts("warning-firing")[0]
    slack, smtp = FakeSlack(), SMTPServer().start()
    await slack.start()
    try:
        async with aiohttp.ClientSession() as session:
            s = SlackNotifier(
                "slack",
                SlackConfig(token="xoxb-test-token", channel="alerts", api_url=slack.api_url),
                session,
                renderer,
            )
            cfg = EmailConfig.model_validate(
                {"host": smtp.host, "port": smtp.port, "tls": "none",
                 "from": "a@example.org", "to": ["b@example.org"]}
            )  # fmt: skip
            e = EmailNotifier("mail", cfg, session, renderer)
            assert (await s.send(notification(alert), {})).ok
            assert (await e.send(notification(alert), {})).ok
            await e.close()
    finally:
        await slack.stop()
        smtp.stop()
    (msg,) = slack.messages.values()
    assert msg.text == "custom DiskSpaceLow on db-1:9100"
    mail = smtp.messages[0].message
    assert mail["Subject"] == "Page: DiskSpaceLow (warning)"
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None and "[FIRING] DiskSpaceLow: Disk low" in str(plain.get_content())
