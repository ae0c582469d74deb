"""Channel types: the one table from a config `type` to (config model, notifier class)."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

import aiohttp
from pydantic import BaseModel, Field

from receiver.notifiers.base import Notifier
from receiver.notifiers.email import EmailConfig, EmailNotifier
from receiver.notifiers.log import LogConfig, LogNotifier
from receiver.notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.slack import SlackConfig, SlackNotifier
from receiver.notifiers.webhook import WebhookConfig, WebhookNotifier


class NotifierClass(Protocol):
    def __call__(
        self, name: str, cfg: Any, session: aiohttp.ClientSession, renderer: Renderer, /
    ) -> Notifier: ...


CHANNELS: dict[str, tuple[type[BaseModel], NotifierClass]] = {
    "pagerduty": (PagerDutyConfig, PagerDutyNotifier),
    "slack": (SlackConfig, SlackNotifier),
    "email": (EmailConfig, EmailNotifier),
    "webhook": (WebhookConfig, WebhookNotifier),
    "log": (LogConfig, LogNotifier),
}

ChannelConfig = Annotated[
    PagerDutyConfig | SlackConfig | EmailConfig | WebhookConfig | LogConfig,
    Field(discriminator="type"),
]


def build_notifier(
    name: str, cfg: ChannelConfig, session: aiohttp.ClientSession, render: Renderer
) -> Notifier:
    model, cls = CHANNELS[cfg.type]
    if not isinstance(cfg, model):
        raise TypeError(f"channel {name}: {type(cfg).__name__} is not a {model.__name__}")
    return cls(name, cfg, session, render)
