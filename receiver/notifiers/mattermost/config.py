"""The Mattermost receiver's config: a bot account's access token on REST API v4, the
channel to post in, and (optionally) the Acknowledge button's callback.

    receivers:
      mm:
        type: mattermost
        url: https://chat.example.org          # the Mattermost server
        token_file: /etc/alert-receiver/mattermost-token
        channel_id: 4xp9fdt77pncbef59f4k1qe83o
        actions:                               # the Acknowledge button (optional)
          base_url: https://alerts.example.org # where the Mattermost server reaches us
          secret_file: /etc/alert-receiver/mattermost-action-secret

The button's callback settings live on the receiver, not under `ack`: the notifier signs
the token each post carries and the handler checks it with the same receiver's secret, so
one fact has one place and a reload changes both together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.loader import (
    StrictModel,
    read_secret_file,
    secret_file_problems,
    strong_secret,
)
from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate

# Mattermost IDs: 26 characters of lower-case base32 (model.NewId).
MATTERMOST_ID = re.compile(r"[a-z0-9]{26}")
ACTIONS_PATH = "/mattermost/actions"


def _http_url(v: str, what: str) -> str:
    u = urlsplit(v)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"{what} must be an http(s) URL, e.g. https://chat.example.org")
    if u.query or u.fragment:
        raise ValueError(f"{what} must not have a query or fragment")
    return v.rstrip("/")


class MattermostActions(StrictModel):
    """`actions`: the Acknowledge button. Mattermost does not sign its action requests,
    so the token in the button's context (HMAC with `secret`) is what authenticates."""

    # Where the Mattermost server reaches this service: the button posts to
    # base_url + /mattermost/actions (the server calls it, not the user's browser).
    base_url: str
    secret: SecretStr | None = None
    secret_file: Path | None = None
    # Accepted as well while rotating: move the old `secret` here, set a new one.
    previous_secret: SecretStr | None = None
    previous_secret_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return _http_url(v, "base_url")

    @field_validator("secret", "previous_secret")
    @classmethod
    def _strong(cls, v: SecretStr | None) -> SecretStr | None:
        return strong_secret(v, "the secret")

    @model_validator(mode="after")
    def _secrets(self) -> MattermostActions:
        exactly_one(self, "secret", "secret_file")
        exactly_one(self, "previous_secret", "previous_secret_file", required=False)
        return self

    @property
    def url(self) -> str:
        return self.base_url + ACTIONS_PATH

    def secrets(self) -> list[str]:
        """[current, previous?], files read now (ValueError naming an unreadable one)."""
        out = [_one(self.secret, self.secret_file)]
        if self.previous_secret is not None or self.previous_secret_file is not None:
            out.append(_one(self.previous_secret, self.previous_secret_file))
        return out

    def problems(self) -> list[tuple[str, str]]:
        files = {"secret_file": self.secret_file, "previous_secret_file": self.previous_secret_file}
        return [(f"actions.{f}", m) for f, m in secret_file_problems(files, strong=True)]


def _one(inline: SecretStr | None, path: Path | None) -> str:
    return inline.get_secret_value() if inline is not None else read_secret_file(path or "")


class MattermostConfig(ChannelBase):
    type: Literal["mattermost"] = "mattermost"
    # The server's default API rate limit: 10 requests per second per token, bursts of
    # up to 100 (RateLimitSettings PerSec/MaxBurst,
    # https://docs.mattermost.com/configure/rate-limiting-configuration-settings.html).
    # Lookups and edits share it, so posts get a little less: 5/s, bursts of 10.
    default_rate: ClassVar[Rate | None] = Rate(200, 10)

    url: str  # the server, e.g. https://chat.example.org (the API is url + /api/v4)
    token: SecretStr | None = None  # a bot account's (or a user's) personal access token
    token_file: Path | None = None
    channel_id: str
    actions: MattermostActions | None = None
    timeout: float = Field(10.0, gt=0, description="seconds per API call")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v, "url")

    @field_validator("channel_id")
    @classmethod
    def _channel_id(cls, v: str) -> str:
        if not MATTERMOST_ID.fullmatch(v):
            raise ValueError(
                "channel_id must be the channel's 26-character ID (channel menu → View Info),"
                " not its name"
            )
        return v

    @model_validator(mode="after")
    def _token(self) -> MattermostConfig:
        exactly_one(self, "token", "token_file")
        return self

    @property
    def acts_on_ack(self) -> bool:
        return True  # an ack edits the post (PUT /posts/{id}/patch)

    def problems(self) -> list[tuple[str, str]]:
        out = secret_file_problems({"token_file": self.token_file})
        if self.actions is not None:
            out += self.actions.problems()
        return out
