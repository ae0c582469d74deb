"""The email receiver's config model."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.pipeline.throttle import Rate

DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "none": 25}


def email_addresses(v: list[str]) -> list[str]:
    """`v` unchanged when each is an address ("a@b" or "Name <a@b>"), else ValueError."""
    for item in v:
        if "@" not in parseaddr(item)[1]:
            raise ValueError(f"not an email address: {item!r}")
    return v


class EmailConfig(ChannelBase):
    type: Literal["email"] = "email"
    # 30 per minute: friendly to ordinary SMTP relays and inboxes.
    default_rate: ClassVar[Rate | None] = Rate(2000, 5)
    mails: ClassVar[bool] = True
    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default by tls: 587 / 465 / 25
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    validate_certs: bool = True
    # PEM CA bundle to verify the server against INSTEAD of the system store (internal relays)
    ca_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: float = Field(10.0, gt=0, description="seconds for one whole send")
    idle_timeout: float = Field(5.0, ge=0, description="keep a connection this long unused")
    # The most SMTP connections open at once to this server (a backlog uses them in
    # parallel; a few mails share one). Counted in the file-descriptor reserve.
    connections: int = Field(4, ge=1, le=32)
    message_id_domain: str | None = None  # default: the domain of `from`
    hello: str | None = None  # EHLO name; default: this host's FQDN

    @field_validator("from_")
    @classmethod
    def _from_address(cls, v: str) -> str:
        return email_addresses([v])[0]

    @field_validator("to")
    @classmethod
    def _to_addresses(cls, v: list[str]) -> list[str]:
        return email_addresses(v)

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if self.username:
            exactly_one(self, "password", "password_file")
        elif self.password is not None or self.password_file is not None:
            raise ValueError("password needs a username")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls]

    @property
    def smtp_connections(self) -> int:
        return self.connections
