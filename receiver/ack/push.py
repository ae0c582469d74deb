"""One-time signed tokens behind a push's Acknowledge action: make and check them.

A token names one alert's firing episode (fingerprint + `startsAt`), the person the push
paged, and an expiry, HMAC-SHA256-signed with the `ack.links` secrets under a context of
its own (a link token is no push token and the reverse, though one secret signs both).
The phone app POSTs it with no login: the token is the authority, so it is bound to its
person and episode, expires, and is claimed in Redis on first use (`SeenPushTokens`), so
that a replay, on any replica, changes nothing.
Token: "p1." + base64url(JSON [fingerprint, startsAt, person, expiry s]) + "." +
base64url(MAC). Everything here is pure except `PushLinks` (injected clock, secret read
once) and `SeenPushTokens` (Redis).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from receiver.ack.links import MAX_FIELD, LinkError, LinkErrorKind, LinksConfig
from receiver.signing import Seal
from receiver.store.keys import Keys

log = logging.getLogger(__name__)

SEAL = Seal("p1", b"alert-receiver push ack v1\n", "token", "not a push acknowledgement token")
VERSION = SEAL.version
# Replicas' clocks differ a little: the one-time claim outlives the expiry by this much.
CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class PushClaim:
    """What a valid push token vouches for."""

    fingerprint: str
    starts_at: str
    person: str
    expires_s: int
    mac: str  # names the token (its one-time claim)


def sign(fp: str, starts_at: str, person: str, expires_s: int, secret: str) -> str:
    return SEAL.sign([fp, starts_at, person, int(expires_s)], secret)


def verify(token: str, secrets: Sequence[str], now: float) -> PushClaim | LinkError:
    """The claim of `token` when one of `secrets` signed it and it has not expired."""
    opened = SEAL.open(token, secrets, _well_formed)
    if isinstance(opened, LinkError):
        return opened
    fp, starts_at, person, expires_s = opened.fields
    if now >= expires_s:
        return LinkError(LinkErrorKind.EXPIRED, "the token has expired")
    return PushClaim(fp, starts_at, person, expires_s, opened.mac)


def _well_formed(fields: list[Any]) -> bool:
    if len(fields) != 4:
        return False
    fp, starts_at, person, expires_s = fields
    return (
        all(isinstance(f, str) and 0 < len(f) <= MAX_FIELD for f in (fp, person))
        and isinstance(starts_at, str)
        and len(starts_at) <= MAX_FIELD
        and type(expires_s) is int
        and expires_s > 0
    )


class PushLinks:
    """The URLs a push's actions carry, from `ack.links`: Acknowledge (POST
    base_url/push/ack/<token>, valid for the links' ttl) and Open (the console page)."""

    def __init__(self, cfg: LinksConfig, clock: Callable[[], float] = time.time) -> None:
        self.base_url, self.ttl, self.clock = cfg.base_url, cfg.ttl, clock
        try:
            self._secret = cfg.secrets()[0]
        except ValueError as e:
            log.error("push acknowledge actions disabled: %s", e)
            self._secret = ""

    def ack_url(self, fp: str, starts_at: str, person: str) -> str:
        """ "" when the secret is unusable (the push goes out without the action)."""
        if not self._secret:
            return ""
        token = sign(fp, starts_at, person, math.ceil(self.clock() + self.ttl), self._secret)
        return f"{self.base_url}/push/ack/{token}"

    def open_url(self, fp: str) -> str:
        return f"{self.base_url}/console/alerts/{quote(fp, safe='')}"


class SeenPushTokens:
    """One-time claims on push tokens, shared by every replica through Redis."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def claim(self, c: PushClaim, now: float) -> bool:
        """True for the first use of this token; False if it was used before."""
        ttl = max(1, math.ceil(c.expires_s - now) + CLOCK_SKEW_S)
        return bool(await self.redis.set(self.keys.push_seen(c.mac), "1", nx=True, ex=ttl))

    async def release(self, c: PushClaim) -> None:
        """Forgets a claim whose ack failed (Redis trouble), so pressing again works."""
        await self.redis.delete(self.keys.push_seen(c.mac))
