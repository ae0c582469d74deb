"""The Teams receiver's config: a Workflows webhook URL ("When a Teams webhook request is
received"), which carries its own signature (`sig=`) and is therefore a secret."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.loader import read_secret_file
from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate


def url_problem(url: str) -> str:
    """Why `url` cannot be a Workflows webhook URL ("" when it can)."""
    if not url.startswith(("https://", "http://")):
        return "is not an http(s) URL (copy it from the workflow's webhook trigger)"
    return ""


class TeamsConfig(ChannelBase):
    type: Literal["teams"] = "teams"
    # Teams throttles webhook posts above four requests a second per channel
    # (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors);
    # Power Automate answers 429 with Retry-After past a flow's request limits
    # (https://learn.microsoft.com/en-us/power-automate/limits-and-config).
    default_rate: ClassVar[Rate | None] = Rate(250, 4)
    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and (problem := url_problem(v.get_secret_value())):
            raise ValueError(f"webhook_url {problem}")  # the value itself is not shown
        return v

    @model_validator(mode="after")
    def _one_url(self) -> TeamsConfig:
        exactly_one(self, "webhook_url", "webhook_url_file")
        return self

    def problems(self) -> list[tuple[str, str]]:
        out = super().problems()
        if self.webhook_url_file is not None and not out:
            url = read_secret_file(self.webhook_url_file)
            if problem := url_problem(url):
                out.append(("webhook_url_file", f"{self.webhook_url_file}: the URL {problem}"))
        return out

    @property
    def acts_on_ack(self) -> bool:
        # The first card cannot change, and its Acknowledge link keeps showing: a
        # follow-up card "acknowledged by X" tells the channel that someone has it.
        return True
