"""The Teams receiver's config: one Workflows webhook URL, inline or as a file, checked at
load (inline) or by check-config's problems() (file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from receiver.notifiers.teams.config import TeamsConfig


def test_default_rate_and_capabilities() -> None:
    t = TeamsConfig.model_validate({"webhook_url": "https://example.org/workflows/x?sig=s"})
    limit = t.limit()
    assert limit is not None and (limit.interval_ms, limit.burst) == (250, 4)
    assert t.acts_on_ack


def test_teams_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not an http"):
        TeamsConfig.model_validate({"webhook_url": "prod-01.logic.azure.com/workflows/x"})
    with pytest.raises(ValidationError, match="webhook_url or webhook_url_file is required"):
        TeamsConfig.model_validate({})
    bad = tmp_path / "bad"
    bad.write_text("not a url\n")
    ((field, msg),) = TeamsConfig.model_validate({"webhook_url_file": str(bad)}).problems()
    assert field == "webhook_url_file" and "not an http(s) URL" in msg
