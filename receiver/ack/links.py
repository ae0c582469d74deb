"""Signed one-click ack links for emails and digests: make and check their tokens.

A token names one alert's firing episode (fingerprint + `startsAt`) and an expiry time,
HMAC-SHA256-signed with the current secret. It is verified against the current and the
previous secret, so links already in mailboxes keep working while a secret is rotated.
Token: "v1." + base64url(JSON [fingerprint, startsAt, expiry s]) + "." + base64url(MAC).
Everything here is pure except `LinkMaker`, which reads its injected clock (and the
secret file once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.config.durations import Duration, within
from receiver.config.loader import (
    StrictModel,
    exactly_one,
    read_secret_file,
    secret_file_problems,
    strong_secret,
)
from receiver.models import VIAS, AckInfo, ack_active
from receiver.signing import Seal, TokenError, TokenErrorKind

log = logging.getLogger(__name__)

# Domain separation: a MAC made for something else with the same secret is not a link.
SEAL = Seal("v1", b"alert-receiver ack link v1\n", "link", "not an acknowledgement link")
MAX_TOKEN = SEAL.max_len
MAX_FIELD = 256  # fingerprint / startsAt length bound
EMAIL = "email"  # the via of a link in an email or a digest (and of any token without one)
# The refusals of signing.py, under the names the link code has always used.
LinkErrorKind = TokenErrorKind
LinkError = TokenError


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token vouches for."""

    fingerprint: str
    starts_at: str
    expires_s: int
    via: str = EMAIL  # where the link was shown: the ack is recorded as made there


def sign(fp: str, starts_at: str, expires_s: int, secret: str, via: str = EMAIL) -> str:
    """A token for `fp`'s episode `starts_at`, valid until `expires_s` (Unix seconds),
    shown `via` a channel (an email's token has no via: the links sent before vias
    were told apart stay valid)."""
    fields: list[object] = [fp, starts_at, int(expires_s)]
    return SEAL.sign(fields if via == EMAIL else [*fields, via], secret)


def verify(token: str, secrets: Sequence[str], now: float) -> LinkClaim | LinkError:
    """The claim of `token` when one of `secrets` signed it and it has not expired."""
    opened = SEAL.open(token, secrets, _well_formed)
    if isinstance(opened, TokenError):
        return opened
    fp, starts_at, expires_s, *via = opened.fields
    if now >= expires_s:
        return LinkError(LinkErrorKind.EXPIRED, "the link has expired")
    return LinkClaim(fp, starts_at, expires_s, via[0] if via else EMAIL)


def _well_formed(fields: list[Any]) -> bool:
    if len(fields) == 4 and fields[3] in VIAS and fields[3] != EMAIL:
        fields = fields[:3]
    if len(fields) != 3:
        return False
    fp, starts_at, expires_s = fields
    return (
        isinstance(fp, str)
        and 0 < len(fp) <= MAX_FIELD
        and isinstance(starts_at, str)
        and len(starts_at) <= MAX_FIELD
        and type(expires_s) is int
        and expires_s > 0
    )


class LinksConfig(StrictModel):
    """`ack.links`: signed ack links in alert emails and digests."""

    secret: SecretStr | None = None
    secret_file: Path | None = None
    # Accepted as well while rotating: move the old `secret` here, set a new one.
    previous_secret: SecretStr | None = None
    previous_secret_file: Path | None = None
    # Where people reach this service: links are base_url + "/ack/<token>".
    base_url: str
    ttl: Duration = Field(24 * 3600.0, description="how long a link stays valid")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be an http(s) URL, e.g. https://alerts.example.org")
        if u.query or u.fragment:
            raise ValueError("base_url must not have a query or fragment")
        return v.rstrip("/")

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, v: float) -> float:
        return within(v, "1m", "30d", "ttl")

    @field_validator("secret", "previous_secret")
    @classmethod
    def _strong(cls, v: SecretStr | None) -> SecretStr | None:
        return strong_secret(v, "the secret")

    @model_validator(mode="after")
    def _secrets(self) -> LinksConfig:
        exactly_one(self, "secret", "secret_file")
        exactly_one(self, "previous_secret", "previous_secret_file", required=False)
        return self

    def secrets(self) -> list[str]:
        """[current, previous?], files read now (ValueError naming an unreadable one)."""
        out = [self._one(self.secret, self.secret_file)]
        if self.previous_secret is not None or self.previous_secret_file is not None:
            out.append(self._one(self.previous_secret, self.previous_secret_file))
        return out

    @staticmethod
    def _one(inline: SecretStr | None, path: Path | None) -> str:
        return inline.get_secret_value() if inline is not None else read_secret_file(path or "")

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for secret files that cannot be read or are too short; run by
        check-config and serve, skipped with `--no-secrets`."""
        files = {"secret_file": self.secret_file, "previous_secret_file": self.previous_secret_file}
        return secret_file_problems(files, strong=True)


def ack_in_force(rec: Mapping[str, Any], now_ms: int) -> AckInfo | None:
    """The ack in force at `now_ms` on a decoded state record (as the alerts API shows
    it: `ack` as stored, a JSON string, or already decoded), else None."""
    raw = rec.get("ack")
    if not raw:
        return None
    stored = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(stored, dict):
        return None
    info = AckInfo.model_validate(stored)
    episode = str(stored.get("startsAt", ""))
    return info if ack_active(info, episode, str(rec.get("startsAt", "")), now_ms) else None


class LinkMaker:
    """Makes ack link URLs from a `LinksConfig`: signed with the current secret, valid
    for `ttl` from now. The secret is read once, when the maker is built (start, reload);
    if its file cannot be read then, mails go out without links rather than not at all."""

    def __init__(self, cfg: LinksConfig, clock: Callable[[], float] = time.time) -> None:
        self.base_url, self.ttl, self.clock = cfg.base_url, cfg.ttl, clock
        try:
            self._secret = cfg.secrets()[0]
        except ValueError as e:
            log.error("ack links disabled: %s", e)
            self._secret = ""

    def url(self, fp: str, starts_at: str, via: str = EMAIL) -> str:
        """The link acknowledging `fp`'s episode `starts_at`, shown `via` a channel; ""
        when links are unusable."""
        if not self._secret or not fp:
            return ""
        token = sign(fp, starts_at, int(self.clock() + self.ttl), self._secret, via)
        return f"{self.base_url}/ack/{token}"
