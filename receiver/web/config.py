"""The `console` config section: the web console's session secret, session lifetime, an
optional trusted reverse proxy, and the switch that removes it.

    console:
      session_secret_file: /run/secrets/console-session-secret   # or session_secret: "…"
      session_ttl: 12h
      trusted_proxy:                       # optional: a proxy that authenticates people
        header: X-Forwarded-User
        from: [10.0.0.0/8]
        scopes: [read, ack]
      login_limit:                         # failed token logins (defaults shown)
        per_address: 10                    # from one address in `window`: then refused …
        block: 15m                         # … for this long
        overall: 200                       # from all addresses in `window`: every login refused
        window: 15m

The console is on only when a secret is configured (`enabled` defaults to whether one is
given): no secret is ever derived or built in, so a config without one has no console, and
`enabled: true` without one is a config error ("console needs session_secret").
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.api.tokens import Scope
from receiver.config.durations import Duration, within
from receiver.config.loader import (
    StrictModel,
    exactly_one,
    read_secret_file,
    secret_file_problems,
    strong_secret,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_HEADER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


class TrustedProxy(StrictModel):
    """A reverse proxy that has authenticated the person: requests from `from` carrying
    `header` are that user, with `scopes`, without a token login."""

    header: str
    from_: list[IpNetwork] = Field(alias="from", min_length=1)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ], min_length=1)

    @field_validator("header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not v or not set(v) <= _HEADER_CHARS:
            raise ValueError("header must be an HTTP header name, e.g. X-Forwarded-User")
        return v

    def trusts(self, address: str | None) -> bool:
        """Whether the peer `address` is one of the proxy's."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in self.from_)


class LoginLimit(StrictModel):
    """`console.login_limit`: how many failed token logins are answered before refusing
    (see receiver/web/store.py for the rules)."""

    per_address: int = Field(default=10, ge=2, le=10_000)
    overall: int = Field(default=200, ge=2, le=1_000_000)
    window: Duration = 15 * 60.0
    block: Duration = 15 * 60.0

    @field_validator("window", "block")
    @classmethod
    def _span(cls, v: float) -> float:
        return within(v, "1s", "1d")

    @property
    def free(self) -> int:
        """Failures from one address answered at full speed; beyond, the slow-down."""
        return self.per_address // 2


class ConsoleConfig(StrictModel):
    """`console`: see the module docstring."""

    enabled: bool | None = None  # None: on when a session secret is configured
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    session_ttl: Duration = 12 * 3600.0
    trusted_proxy: TrustedProxy | None = None
    login_limit: LoginLimit = Field(default_factory=LoginLimit)

    @field_validator("session_ttl")
    @classmethod
    def _ttl(cls, v: float) -> float:
        return within(v, "5m", "30d", "session_ttl")

    @field_validator("session_secret")
    @classmethod
    def _strong(cls, v: SecretStr | None) -> SecretStr | None:
        return strong_secret(v, "session_secret")

    @model_validator(mode="after")
    def _secret(self) -> ConsoleConfig:
        exactly_one(self, "session_secret", "session_secret_file", required=False)
        if self.enabled and self.session_secret is None and self.session_secret_file is None:
            raise ValueError(
                "console needs session_secret (or session_secret_file) to sign sessions: "
                "generate one with `openssl rand -hex 32`, or set `enabled: false`"
            )
        return self

    @property
    def on(self) -> bool:
        """Whether the console's routes exist."""
        has_secret = self.session_secret is not None or self.session_secret_file is not None
        return has_secret if self.enabled is None else self.enabled

    def secret(self) -> str:
        """The session secret (its file read now; ValueError naming it if unreadable)."""
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        return read_secret_file(self.session_secret_file or "")

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for a secret file that cannot be read or is too short; run by
        check-config and serve, skipped with `--no-secrets`."""
        if not self.on:
            return []
        return secret_file_problems({"session_secret_file": self.session_secret_file}, strong=True)
