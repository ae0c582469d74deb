"""`type: ntfy` receivers: an ntfy server (ntfy.sh or self-hosted) that pushes to phones.

    receivers:
      ntfy:
        type: ntfy
        url: https://ntfy.example.com     # the server root; JSON is published to it
        token_file: /etc/alert-receiver/ntfy-token   # access token (tk_…), sent as Bearer
        topic: team-alerts                # optional: for routes naming this receiver

People's pushes go to their own topic (people.<name>.ntfy.topic). Default priority by
severity: critical 5 (max: breaks through Do Not Disturb), warning 4, info 3; a resolve
follows up at 2 (low).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.models import Severity
from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate

TOPIC = r"^[-_A-Za-z0-9]{1,64}$"
PRIORITIES = {Severity.CRITICAL.value: 5, Severity.WARNING.value: 4, Severity.INFO.value: 3}
RESOLVED_PRIORITY = 2


class NtfyConfig(ChannelBase):
    type: Literal["ntfy"] = "ntfy"
    # ntfy's default visitor limit: a burst of 60 requests, then one per 5 s
    # (https://docs.ntfy.sh/config/#rate-limiting: visitor-request-limit-burst/-replenish).
    default_rate: ClassVar[Rate | None] = Rate(5000, 60)
    # It publishes pushes: people's `via: push` rules go through it (receiver/people).
    pushes: ClassVar[bool] = True

    url: str
    topic: str | None = Field(None, pattern=TOPIC)
    token: SecretStr | None = None
    token_file: Path | None = None
    priorities: dict[str, int] = Field(default_factory=lambda: dict(PRIORITIES))
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url must be the ntfy server's http(s) root, e.g. https://ntfy.sh")
        if u.query or u.fragment or u.path.strip("/"):
            raise ValueError("url is the server root (topics are given apart): drop the path")
        return v.rstrip("/")

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, v: dict[str, int]) -> dict[str, int]:
        for sev, prio in v.items():
            if sev not in PRIORITIES:
                raise ValueError(f"unknown severity {sev!r} (critical, warning, info)")
            if not 1 <= prio <= 5:
                raise ValueError(f"priority of {sev} must be 1-5 (1 min, 3 default, 5 max)")
        return {**PRIORITIES, **v}

    @model_validator(mode="after")
    def _one_token(self) -> NtfyConfig:
        exactly_one(self, "token", "token_file", required=False)
        return self
