"""The Slack receiver's config model: bot-token mode (Web API) or incoming-webhook mode."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate


class SlackConfig(ChannelBase):
    type: Literal["slack"] = "slack"
    # About one message per second per channel, with short bursts
    # (https://api.slack.com/apis/rate-limits#posting-messages).
    default_rate: ClassVar[Rate | None] = Rate(1000, 3)
    # bot-token mode
    token: SecretStr | None = None
    token_file: Path | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/"
    thread_replies: bool = False  # also reply in the thread on repeat / resolve
    # incoming-webhook mode
    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    # both. The Acknowledge button is shown only when `ack.slack` is configured (something
    # answers its callback); false hides it for this receiver.
    ack_button: bool = True
    timeout: float = Field(10.0, gt=0, description="seconds per API call")
    # A 429 is retried once inline when its Retry-After is at most this many seconds;
    # longer waits come back as RATE_LIMITED so the pipeline schedules the retry.
    max_inline_retry_after: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _one_mode(self) -> SlackConfig:
        bot = self.token is not None or self.token_file is not None
        hook = self.webhook_url is not None or self.webhook_url_file is not None
        if bot and hook:
            raise ValueError("give a bot token (token/token_file + channel) or a webhook_url")
        if hook:
            exactly_one(self, "webhook_url", "webhook_url_file")
            if self.channel is not None:
                raise ValueError("an incoming webhook posts to its own channel: drop channel")
            return self
        exactly_one(self, "token", "token_file")
        if not self.channel:
            raise ValueError("channel is required with a bot token")
        return self

    @property
    def mode(self) -> Literal["bot", "webhook"]:
        return "bot" if self.token is not None or self.token_file is not None else "webhook"

    @property
    def messages_people(self) -> bool:
        """It can send a person a direct message (a people rule `via: slack`)."""
        return self.mode == "bot"

    @property
    def acts_on_ack(self) -> bool:
        return self.mode == "bot"  # chat.update marks the message; a webhook only posts
