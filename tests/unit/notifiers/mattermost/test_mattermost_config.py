"""The Mattermost receiver's config: required fields, the channel ID, the button's
callback (URL, strong secret), problems for check-config, the default rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from receiver.notifiers.mattermost.config import MattermostConfig

CHANNEL = "4xp9fdt77pncbef59f4k1qe83o"
SECRET = "s" * 16 + "0123456789abcdef"
BASE = {"type": "mattermost", "url": "https://chat.example.org/", "token": "t",
        "channel_id": CHANNEL}  # fmt: skip


def test_valid_with_and_without_actions() -> None:
    cfg = MattermostConfig.model_validate(BASE)
    assert cfg.url == "https://chat.example.org" and cfg.actions is None and cfg.acts_on_ack
    limit = cfg.limit()
    assert limit is not None and (limit.interval_ms, limit.burst) == (200, 10)
    cfg = MattermostConfig.model_validate(
        {**BASE, "actions": {"base_url": "https://alerts.example.org/", "secret": SECRET}}
    )
    assert cfg.actions is not None
    assert cfg.actions.url == "https://alerts.example.org/mattermost/actions"
    assert cfg.actions.secrets() == [SECRET]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": None}, "token or token_file is required"),
        ({"token_file": "/t"}, "not both"),
        ({"channel_id": "town-square"}, "26-character ID"),
        ({"url": "chat.example.org"}, "http(s) URL"),
        ({"actions": {"base_url": "https://a.example.org"}}, "secret or secret_file is required"),
        ({"actions": {"base_url": "https://a.example.org", "secret": "short"}}, "secret"),
        ({"actions": {"base_url": "ftp://a", "secret": SECRET}}, "http(s) URL"),
        ({"actions": {"base_url": "https://a.example.org", "secret": SECRET, "x": 1}},
         "Extra inputs"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)  # fmt: skip
def test_invalid(change: dict[str, Any], message: str) -> None:
    doc = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        MattermostConfig.model_validate(doc)
    assert message in str(info.value)


def test_problems_name_unreadable_or_weak_secret_files(tmp_path: Path) -> None:
    weak = tmp_path / "weak"
    weak.write_text("abc\n")
    cfg = MattermostConfig.model_validate({
        **{k: v for k, v in BASE.items() if k != "token"},
        "token_file": str(tmp_path / "missing"),
        "actions": {"base_url": "https://a.example.org", "secret_file": str(weak)},
    })  # fmt: skip
    fields = [f for f, _ in cfg.problems()]
    assert fields == ["token_file", "actions.secret_file"]


def test_check_config_refuses_what_would_fail(tmp_path: Path) -> None:
    """check-config (load_settings) names the unreadable token file and the weak action
    secret by their keys; offline (no secrets) it still refuses a channel name."""
    from receiver.config.loader import ConfigError
    from receiver.server.check import load_settings

    weak = tmp_path / "weak"
    weak.write_text("x\n")
    cfg = tmp_path / "c.yml"
    text = (
        'auth: {bearer_tokens: ["0123456789abcdef0123"]}\n'
        "receivers:\n  mm:\n    type: mattermost\n    url: https://chat.example.com\n"
        f"    token_file: {tmp_path / 'missing'}\n    channel_id: {CHANNEL}\n"
        f"    actions: {{base_url: https://alerts.example.com, secret_file: {weak}}}\n"
        "route: {receivers: [mm]}\n"
    )
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    shown = str(info.value)
    assert "receivers.mm.token_file: cannot read" in shown
    assert "receivers.mm.actions.secret_file: the secret" in shown
    load_settings(cfg, secrets=False)  # offline: the shape is fine
    cfg.write_text(text.replace(CHANNEL, "town-square"))
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, secrets=False)
    assert "receivers.mm.channel_id" in str(info.value)
