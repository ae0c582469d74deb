"""The Discord receiver's config: one webhook URL, inline or as a file, checked at load
(inline) or by check-config's problems() (file), never echoed in an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from receiver.notifiers.discord.config import DiscordConfig

HOOK = "https://discord.com/api/webhooks/1/secret-token"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "webhook_url or webhook_url_file is required"),
        ({"webhook_url": HOOK, "webhook_url_file": "/f"}, "not both"),
        ({"webhook_url": "https://example.org/x"}, "not a Discord webhook URL"),
        ({"webhook_url": HOOK, "username": "x" * 81}, "at most 80"),
        ({"webhook_url": HOOK, "thread": "1"}, "Extra inputs are not permitted"),
    ],
)
def test_discord_refusals(doc: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        DiscordConfig.model_validate({"type": "discord", **doc})
    assert message in str(e.value) and "secret-token" not in str(e.value)


def test_discord_file_url_checked_by_problems(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(HOOK + "\n")
    bad.write_text("https://example.org/not-a-hook\n")
    assert DiscordConfig.model_validate({"webhook_url_file": str(good)}).problems() == []
    ((field, msg),) = DiscordConfig.model_validate({"webhook_url_file": str(bad)}).problems()
    assert field == "webhook_url_file" and "not a Discord webhook URL" in msg
    missing = DiscordConfig.model_validate({"webhook_url_file": str(tmp_path / "none")})
    assert "cannot read" in missing.problems()[0][1]


def test_default_rate_and_capabilities() -> None:
    d = DiscordConfig.model_validate({"webhook_url": HOOK})
    limit = d.limit()
    assert limit is not None and (limit.interval_ms, limit.burst) == (2000, 5)
    assert d.acts_on_ack
