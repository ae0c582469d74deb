"""The config of a channel reached through a secret webhook URL (Teams Workflows, Discord):
the URL inline or as a file, never both, checked by the channel's own `url_problem`."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.loader import exactly_one, read_secret_file
from receiver.notifiers.base import ChannelBase


class WebhookUrlChannel(ChannelBase):
    """`webhook_url` / `webhook_url_file` (the URL is the credential) and a timeout."""

    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @staticmethod
    def url_problem(url: str) -> str:
        """Why `url` is not this vendor's webhook URL ("" when it can be one)."""
        return "" if url.startswith(("https://", "http://")) else "is not an http(s) URL"

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and (problem := cls.url_problem(v.get_secret_value())):
            raise ValueError(f"webhook_url {problem}")  # the value itself is not shown
        return v

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        exactly_one(self, "webhook_url", "webhook_url_file")
        return self

    def problems(self) -> list[tuple[str, str]]:
        out = super().problems()
        if self.webhook_url_file is not None and not out:
            url = read_secret_file(self.webhook_url_file)
            if problem := self.url_problem(url):
                out.append(("webhook_url_file", f"{self.webhook_url_file}: the URL {problem}"))
        return out
