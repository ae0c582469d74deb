"""Channel types: the one table from a config `type` to its config model and notifier.

What a channel can do is asked of its config, never of its `type` name: `acts_on_ack`
(PagerDuty; Slack with a bot token), `mails` (email), `smtp_connections` (email's pool);
the defaults are on `ChannelBase`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import aiohttp
from pydantic import Field

from receiver.notifiers.base import ChannelBase, Notifier
from receiver.notifiers.discord.config import DiscordConfig
from receiver.notifiers.discord.notifier import DiscordNotifier
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.log import LogConfig, LogNotifier
from receiver.notifiers.mattermost.config import MattermostConfig
from receiver.notifiers.mattermost.notifier import MattermostNotifier
from receiver.notifiers.ntfy.config import NtfyConfig
from receiver.notifiers.ntfy.notifier import NtfyNotifier
from receiver.notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.slack.config import SlackConfig
from receiver.notifiers.slack.notifier import SlackNotifier
from receiver.notifiers.teams.config import TeamsConfig
from receiver.notifiers.teams.notifier import TeamsNotifier
from receiver.notifiers.telegram.config import TelegramConfig
from receiver.notifiers.telegram.notifier import TelegramNotifier
from receiver.notifiers.twilio.config import TwilioConfig
from receiver.notifiers.twilio.notifier import TwilioNotifier
from receiver.notifiers.vonage.config import VonageConfig
from receiver.notifiers.vonage.notifier import VonageNotifier
from receiver.notifiers.webhook import WebhookConfig, WebhookNotifier


class NotifierClass(Protocol):
    def __call__(
        self, name: str, cfg: Any, session: aiohttp.ClientSession, renderer: Renderer, /
    ) -> Notifier: ...


@dataclass(frozen=True)
class Channel:
    """A channel type: its config model (with its default rate) and its notifier."""

    config: type[ChannelBase]
    notifier: NotifierClass


CHANNELS: dict[str, Channel] = {
    "pagerduty": Channel(PagerDutyConfig, PagerDutyNotifier),
    "slack": Channel(SlackConfig, SlackNotifier),
    "email": Channel(EmailConfig, EmailNotifier),
    "webhook": Channel(WebhookConfig, WebhookNotifier),
    "log": Channel(LogConfig, LogNotifier),
    "mattermost": Channel(MattermostConfig, MattermostNotifier),
    "ntfy": Channel(NtfyConfig, NtfyNotifier),
    "teams": Channel(TeamsConfig, TeamsNotifier),
    "discord": Channel(DiscordConfig, DiscordNotifier),
    "telegram": Channel(TelegramConfig, TelegramNotifier),
    "twilio": Channel(TwilioConfig, TwilioNotifier),
    "vonage": Channel(VonageConfig, VonageNotifier),
}

# The config's tagged union over the same models. Spelled out for the type checker;
# tests/unit/notifiers/test_notifier_config.py checks that it lists exactly CHANNELS.
ChannelConfig = Annotated[
    PagerDutyConfig
    | SlackConfig
    | EmailConfig
    | WebhookConfig
    | LogConfig
    | NtfyConfig
    | MattermostConfig
    | TeamsConfig
    | DiscordConfig
    | TelegramConfig
    | TwilioConfig
    | VonageConfig,
    Field(discriminator="type"),
]


def build_notifier(
    name: str, cfg: ChannelConfig, session: aiohttp.ClientSession, render: Renderer
) -> Notifier:
    channel = CHANNELS[cfg.type]
    if not isinstance(cfg, channel.config):
        raise TypeError(f"channel {name}: {type(cfg).__name__} is not a {channel.config.__name__}")
    return channel.notifier(name, cfg, session, render)
