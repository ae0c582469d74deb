"""The Teams receiver's config: a Workflows webhook URL ("When a Teams webhook request is
received"), which carries its own signature (`sig=`) and is therefore a secret."""

from __future__ import annotations

from typing import ClassVar, Literal

from receiver.notifiers.webhook_url import WebhookUrlChannel
from receiver.pipeline.throttle import Rate


def url_problem(url: str) -> str:
    """Why `url` cannot be a Workflows webhook URL ("" when it can)."""
    if not url.startswith(("https://", "http://")):
        return "is not an http(s) URL (copy it from the workflow's webhook trigger)"
    return ""


class TeamsConfig(WebhookUrlChannel):
    type: Literal["teams"] = "teams"
    # Teams throttles webhook posts above four requests a second per channel
    # (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors);
    # Power Automate answers 429 with Retry-After past a flow's request limits
    # (https://learn.microsoft.com/en-us/power-automate/limits-and-config).
    default_rate: ClassVar[Rate | None] = Rate(250, 4)

    @staticmethod
    def url_problem(url: str) -> str:
        return url_problem(url)  # the module's function (a method body sees no class names)

    @property
    def acts_on_ack(self) -> bool:
        # The first card cannot change, and its Acknowledge link keeps showing: a
        # follow-up card "acknowledged by X" tells the channel that someone has it.
        return True
