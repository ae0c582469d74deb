"""Channel config models and the registry."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import TypeAdapter, ValidationError

from receiver.notifiers import CHANNELS, ChannelConfig, build_notifier
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.log import LogConfig, LogNotifier
from receiver.notifiers.pagerduty import PagerDutyConfig
from receiver.notifiers.render import Renderer
from receiver.notifiers.slack.config import SlackConfig
from tests.servers import fixture_alerts, notification

ADAPTER: TypeAdapter[Any] = TypeAdapter(ChannelConfig)
PD_KEY = "k" * 32
VALID: dict[str, dict[str, Any]] = {
    "pagerduty": {"type": "pagerduty", "routing_key": PD_KEY},
    "slack": {"type": "slack", "token": "xoxb-1", "channel": "#alerts"},
    "email": {"type": "email", "host": "mx", "from": "a@example.org", "to": ["b@example.org"]},
    "webhook": {"type": "webhook", "url": "https://hooks.example.org/x"},
    "log": {"type": "log"},
    "mattermost": {
        "type": "mattermost",
        "url": "https://chat.example.org",
        "token": "t",
        "channel_id": "4xp9fdt77pncbef59f4k1qe83o",
    },
    "ntfy": {"type": "ntfy", "url": "https://ntfy.example.org"},
    "teams": {"type": "teams", "webhook_url": "https://example.org/workflows/x?sig=s"},
    "discord": {"type": "discord", "webhook_url": "https://discord.com/api/webhooks/1/t"},
    "telegram": {"type": "telegram", "token": "123:abc", "chat_id": "-1001234567890"},
    "twilio": {
        "type": "twilio",
        "account_sid": "AC" + "0" * 32,
        "auth_token": "t",
        "number": "+15005550006",
        "public_url": "https://alerts.example.org",
    },
    "vonage": {
        "type": "vonage",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "private_key": "k",
        "signature_secret": "s",
        "number": "+447700900000",
        "public_url": "https://alerts.example.org",
    },
}


def test_registry_covers_every_type() -> None:
    assert sorted(CHANNELS) == sorted(VALID)
    # The config's tagged union lists exactly the registry's models.
    union = typing.get_args(typing.get_args(ChannelConfig)[0])
    assert set(union) == {c.config for c in CHANNELS.values()}
    for name, doc in VALID.items():
        cfg = ADAPTER.validate_python({**doc, "rate": "10/m", "burst": 5})
        assert isinstance(cfg, CHANNELS[name].config) and cfg.rate == "10/m" and cfg.burst == 5


def test_capabilities_are_asked_of_the_config() -> None:
    cfgs = {name: ADAPTER.validate_python(doc) for name, doc in VALID.items()}
    acting = {"pagerduty", "slack", "mattermost", "teams", "discord", "telegram"}
    assert {n for n, c in cfgs.items() if c.acts_on_ack} == acting
    hook = ADAPTER.validate_python({"type": "slack", "webhook_url": "https://h"})
    assert not hook.acts_on_ack  # an incoming webhook can only post
    assert {n for n, c in cfgs.items() if c.mails} == {"email"}
    assert {n: c.smtp_connections for n, c in cfgs.items() if c.smtp_connections} == {"email": 4}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "pagerduty"}, "routing_key or routing_key_file is required"),
        (
            {"type": "pagerduty", "routing_key": PD_KEY, "routing_key_file": "/k"},
            "not both",
        ),
        ({"type": "slack", "token": "xoxb-1"}, "channel is required"),
        ({"type": "slack", "channel": "#a"}, "token or token_file is required"),
        (
            {"type": "slack", "token": "x", "channel": "#a", "webhook_url": "https://h"},
            "or a webhook_url",
        ),
        ({"type": "slack", "webhook_url": "https://h", "channel": "#a"}, "drop channel"),
        ({**VALID["email"], "username": "u"}, "password or password_file is required"),
        ({**VALID["email"], "password": "p"}, "password needs a username"),
        ({**VALID["email"], "to": []}, "at least 1 item"),
        ({**VALID["email"], "to": ["nobody"]}, "not an email address"),
        ({**VALID["email"], "tls": "ssl"}, "starttls"),
        ({"type": "webhook", "url": "ftp://x"}, "http:// or https://"),
        ({**VALID["webhook"], "headers": {"Content-Type": "text/plain"}}, "set by the notifier"),
        ({**VALID["webhook"], "secret": "a", "secret_file": "/s"}, "not both"),
        ({**VALID["log"], "colour": "red"}, "Extra inputs are not permitted"),
        ({"type": "sms"}, "does not match any of the expected tags"),
    ],
)
def test_invalid_configs(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(doc)
    assert message in str(info.value)


def test_secrets_do_not_leak_into_repr() -> None:
    cfg = ADAPTER.validate_python(VALID["slack"])
    assert "xoxb-1" not in repr(cfg) and "xoxb-1" not in cfg.model_dump_json()


def test_email_defaults() -> None:
    cfg = EmailConfig.model_validate(VALID["email"])
    assert (cfg.tls, cfg.effective_port, cfg.timeout, cfg.idle_timeout) == (
        "starttls",
        587,
        10.0,
        5.0,
    )
    assert cfg.from_ == "a@example.org"
    assert EmailConfig.model_validate({**VALID["email"], "tls": "implicit"}).effective_port == 465
    assert SlackConfig.model_validate(VALID["slack"]).mode == "bot"
    assert PagerDutyConfig.model_validate(VALID["pagerduty"]).base_url == (
        "https://events.pagerduty.com"
    )


def test_problems_for_check_config(tmp_path: Path) -> None:
    assert PagerDutyConfig.model_validate(VALID["pagerduty"]).problems() == []
    cfg = PagerDutyConfig.model_validate(
        {"type": "pagerduty", "routing_key_file": str(tmp_path / "missing")}
    )
    ((field, problem),) = cfg.problems()
    assert field == "routing_key_file"
    assert "cannot read secret file" in problem and "missing" in problem
    (tmp_path / "empty").write_text("\n")
    empty = SlackConfig.model_validate({"token_file": str(tmp_path / "empty"), "channel": "#a"})
    assert empty.problems() == [("token_file", f"secret file {tmp_path / 'empty'} is empty")]


async def test_build_notifier_and_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    async with aiohttp.ClientSession() as session:
        for name, doc in VALID.items():
            notifier = build_notifier(
                f"to-{name}", ADAPTER.validate_python(doc), session, Renderer()
            )
            assert isinstance(notifier, CHANNELS[name].notifier)  # type: ignore[arg-type]
            assert notifier.name == f"to-{name}"
            await notifier.close()
        log = build_notifier("dev", LogConfig(), session, Renderer())
        assert isinstance(log, LogNotifier)
        with pytest.raises(TypeError):
            build_notifier("x", LogConfig.model_construct(type="email"), session, Renderer())  # type: ignore[arg-type]
        alert = fixture_alerts("warning-firing")[0]
        result = await log.send(notification(alert, destination="dev-log"), {})
    assert result.ok
    line = json.loads(capsys.readouterr().out)
    assert line == {
        "destination": "dev-log",
        "channel": "dev",
        "reason": "new",
        "key": line["key"],
        "fingerprint": "67cd633fe23d9d69",
        "alertname": "DiskSpaceLow",
        "severity": "warning",
        "status": "firing",
        "summary": "[FIRING] DiskSpaceLow: Disk low",
    }
    assert (CHANNELS["email"].config, CHANNELS["email"].notifier) == (EmailConfig, EmailNotifier)
