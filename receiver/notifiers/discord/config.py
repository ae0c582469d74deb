"""The Discord receiver's config: an incoming webhook (its URL is the credential)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.loader import read_secret_file
from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate


def url_problem(url: str) -> str:
    """Why `url` is not a Discord webhook URL ("" when it is one)."""
    if not url.startswith(("https://", "http://")) or "/webhooks/" not in url:
        return "is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)"
    return ""


class DiscordConfig(ChannelBase):
    type: Literal["discord"] = "discord"
    # Webhooks get about 5 requests per 2 s each, and a channel about 30 messages a minute
    # (https://discord.com/developers/docs/topics/rate-limits says to read the
    # X-RateLimit-* headers rather than hard-code limits: notifiers/discord/limits.py does;
    # this default only keeps a steady pace below them).
    default_rate: ClassVar[Rate | None] = Rate(2000, 5)
    # https://discord.com/api/webhooks/{webhook.id}/{webhook.token}: a secret.
    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    # Shown as the message's author instead of the webhook's own name (1-80 characters).
    username: str | None = Field(None, min_length=1, max_length=80)
    timeout: float = Field(10.0, gt=0, description="seconds per request")
    # A bucket that the headers say is empty for at most this long is waited for before
    # the request; a longer wait comes back as RATE_LIMITED for the pipeline to schedule.
    max_inline_wait: float = Field(1.0, ge=0, le=10)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and (problem := url_problem(v.get_secret_value())):
            raise ValueError(f"webhook_url {problem}")  # the value itself is not shown
        return v

    @model_validator(mode="after")
    def _one_url(self) -> DiscordConfig:
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
        return True  # an ack edits the alert's message ("Acknowledged by …", no link)
