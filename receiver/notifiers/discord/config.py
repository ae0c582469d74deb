"""The Discord receiver's config: an incoming webhook (its URL is the credential)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from receiver.notifiers.webhook_url import WebhookUrlChannel
from receiver.pipeline.throttle import Rate


def url_problem(url: str) -> str:
    """Why `url` is not a Discord webhook URL ("" when it is one)."""
    if not url.startswith(("https://", "http://")) or "/webhooks/" not in url:
        return "is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)"
    return ""


class DiscordConfig(WebhookUrlChannel):
    type: Literal["discord"] = "discord"
    # Webhooks get about 5 requests per 2 s each, and a channel about 30 messages a minute
    # (https://discord.com/developers/docs/topics/rate-limits says to read the
    # X-RateLimit-* headers rather than hard-code limits: notifiers/discord/limits.py does;
    # this default only keeps a steady pace below them).
    default_rate: ClassVar[Rate | None] = Rate(2000, 5)
    # https://discord.com/api/webhooks/{webhook.id}/{webhook.token}: a secret.
    # Shown as the message's author instead of the webhook's own name (1-80 characters).
    username: str | None = Field(None, min_length=1, max_length=80)
    # A bucket that the headers say is empty for at most this long is waited for before
    # the request; a longer wait comes back as RATE_LIMITED for the pipeline to schedule.
    max_inline_wait: float = Field(1.0, ge=0, le=10)

    @staticmethod
    def url_problem(url: str) -> str:
        return url_problem(url)  # the module's function (a method body sees no class names)

    @property
    def acts_on_ack(self) -> bool:
        return True  # an ack edits the alert's message ("Acknowledged by …", no link)
