"""The Telegram receiver's config: a bot token, one chat, and how the bot's updates (the
Acknowledge button's callback queries) reach the service: long polling or a webhook."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.loader import Loc
from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate

# setWebhook: "Ports currently supported for webhooks: 443, 80, 88, 8443", HTTPS only
# (https://core.telegram.org/bots/api#setwebhook).
WEBHOOK_PORTS = (443, 80, 88, 8443)
WEBHOOK_PATH = "/telegram/webhook"
# A chat: its numeric id (groups are negative, supergroups and channels -100…) or a public
# channel's @username (https://core.telegram.org/bots/api#sendmessage, chat_id).
# A username (5-32 of a-z 0-9 _, https://telegram.org/faq#q-what-can-i-use-as-my-username)
# or a numeric user id.
_USER = re.compile(r"[0-9]{1,20}|[A-Za-z][A-Za-z0-9_]{3,31}")
_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")


class TelegramConfig(ChannelBase):
    type: Literal["telegram"] = "telegram"
    # https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this:
    # about one message per second in a chat, at most 20 per minute in a group, about 30
    # per second per bot. A receiver is one chat, and alert chats are mostly groups.
    default_rate: ClassVar[Rate | None] = Rate(3000, 2)

    token: SecretStr | None = None
    token_file: Path | None = None
    chat_id: str
    api_url: str = "https://api.telegram.org"
    # The Acknowledge button (a callback query answered through `updates`); false: none.
    ack_button: bool = True
    # Who may press it: Telegram usernames (without @) or numeric user ids; empty: anyone
    # in the chat. Someone else's press is answered and changes nothing.
    allowed_users: list[str] = Field(default_factory=list, max_length=1000)
    # How the bot's updates arrive: `polling` (getUpdates from one replica at a time, no
    # public URL needed) or `webhook` (Telegram posts to webhook_base_url + WEBHOOK_PATH).
    updates: Literal["polling", "webhook"] = "polling"
    webhook_base_url: str | None = None
    poll_timeout: float = Field(20.0, ge=1, le=50, description="seconds of one long poll")
    timeout: float = Field(10.0, gt=0, description="seconds per API call")

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat(cls, v: object) -> object:
        v = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
        if isinstance(v, str) and not _CHAT.fullmatch(v):
            raise ValueError("chat_id must be a chat's numeric id (e.g. -1001234567890) "
                             "or a channel's @username")  # fmt: skip
        return v

    @field_validator("allowed_users", mode="before")
    @classmethod
    def _users(cls, v: object) -> object:
        if not isinstance(v, list):
            return v
        out = []
        for u in v:
            u = str(u) if isinstance(u, int) and not isinstance(u, bool) else u
            if not isinstance(u, str) or not _USER.fullmatch(u.removeprefix("@")):
                raise ValueError(f"allowed_users: {u!r} is not a Telegram username or user id")
            out.append(u.removeprefix("@").lower())
        return out

    @field_validator("api_url")
    @classmethod
    def _api(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("api_url must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("webhook_base_url")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is None:
            return v
        u = urlsplit(v)
        if u.scheme != "https" or not u.hostname:
            raise ValueError("webhook_base_url must be an https URL (Telegram posts only there)")
        if (u.port or 443) not in WEBHOOK_PORTS:
            raise ValueError("Telegram posts webhooks only to ports 443, 80, 88 or 8443")
        if u.query or u.fragment:
            raise ValueError("webhook_base_url must not have a query or fragment")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _shape(self) -> TelegramConfig:
        exactly_one(self, "token", "token_file")
        if self.updates == "webhook" and self.webhook_base_url is None:
            raise ValueError("updates: webhook needs webhook_base_url (where Telegram reaches "
                             f"{WEBHOOK_PATH} of this service)")  # fmt: skip
        if self.allowed_users and not self.ack_button:
            raise ValueError("allowed_users needs ack_button: true (there is nothing to press)")
        if self.updates == "polling" and self.webhook_base_url is not None:
            raise ValueError("webhook_base_url is only used with updates: webhook")
        return self

    @property
    def acts_on_ack(self) -> bool:
        return True  # editMessageText marks the message acknowledged (and drops the button)

    @property
    def webhook_url(self) -> str:
        return f"{self.webhook_base_url}{WEBHOOK_PATH}" if self.webhook_base_url else ""

    def may_ack(self, user_id: str, username: str) -> bool:
        """Whether this user may press the receiver's Acknowledge button."""
        allowed = self.allowed_users
        return not allowed or user_id in allowed or (bool(username) and username.lower() in allowed)


def shared_bot_issues(receivers: Mapping[str, object]) -> Iterator[tuple[Loc, str]]:
    """Telegram receivers with the same bot token (the same value, or the same file) share
    that bot's updates: with the Acknowledge button they must agree on how the updates
    come (`updates`, `webhook_base_url`, `api_url`), else one of them would never hear its
    presses. Checked without reading secret files."""
    first: dict[str, tuple[str, TelegramConfig]] = {}
    for name, cfg in sorted(receivers.items()):
        if not isinstance(cfg, TelegramConfig) or not cfg.ack_button:
            continue
        token = cfg.token.get_secret_value() if cfg.token is not None else f"file:{cfg.token_file}"
        other_name, other = first.setdefault(token, (name, cfg))
        ways = (cfg.updates, cfg.webhook_base_url, cfg.api_url)
        if (other.updates, other.webhook_base_url, other.api_url) != ways:
            yield (("receivers", name, "updates"),
                   f"shares its bot with receiver {other_name} but not how the bot's updates "
                   "come (updates, webhook_base_url, api_url): give both the same")  # fmt: skip
