"""What the console keeps in Redis, shared by every replica: logged-out sessions and the
failed-login limits.

**Logout** records the session's id (`Keys.console_revoked`) for the rest of its lifetime:
a copy of the cookie taken elsewhere is refused by every replica from then on.

**Failed logins** are limited per client address (an IPv6 address by its /64) and over
all addresses, in one Lua step per attempt (store/lua/login_limit.lua), with
`console.login_limit` (per_address, overall, window, block):

- the first `per_address // 2` failures from an address within `window` are answered at
  once (401); each further one makes the address wait 1 s, then 2, 4, 8 … s (429 with
  Retry-After meanwhile), and the `per_address`-th refuses it for `block`;
- `overall` failures from all addresses within one `window` refuse every login until that
  window ends (a guesser spreading over many addresses);
- while an address (or everyone) is refused, a login is refused whether its token is right
  or not: answering a right token would tell a guesser which one it is. Sessions already
  open, a trusted proxy's users and the API are not affected. Failures are counted per
  address, never per token name: nobody can lock a token out by naming it.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from receiver.store import scripts
from receiver.store.keys import Keys
from receiver.web.config import LoginLimit
from receiver.web.session import Session

OVERALL = "all"
# What a refusal's first element says, as the `limit` label of the refused counter.
_LIMITS = {1: "address", 2: "overall"}


@dataclass(frozen=True)
class Verdict:
    """A login attempt's fate: answered (`refused` empty), or refused by `refused`
    ("address" | "overall") for `retry_after_s` more seconds."""

    refused: str = ""
    retry_after_s: int = 0


def client_key(address: str | None) -> str:
    """The name the limits count an address under: IPv4 as is, IPv6 by its /64 (one
    host's share of a network), anything else (a unix socket) as "unknown"."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "addr:unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 host a.b.c.d
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"addr:{ip}"


class ConsoleStore:
    """Revocations and login limits on one Redis (the service's, with its key prefix)."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self._attempt = scripts.register(redis, "login_limit.lua")

    async def revoke(self, session: Session, now: float) -> None:
        """Ends `session` everywhere: its id is refused until it would have expired."""
        ttl = max(1, math.ceil(session.expires_s - now))
        await self.redis.set(self.keys.console_revoked(name=session.sid), "1", ex=ttl)

    async def revoked(self, session: Session) -> bool:
        return bool(await self.redis.exists(self.keys.console_revoked(name=session.sid)))

    async def login_attempt(self, address: str | None, failed: bool, limit: LoginLimit,
                            now: float) -> Verdict:  # fmt: skip
        """Checks an attempt from `address` against the limits and, if it is answered and
        `failed`, records the failure; atomic across replicas."""
        code, ms = await self._attempt(
            keys=[self.keys.login_failures(name=client_key(address)),
                  self.keys.login_failures(name=OVERALL)],
            args=[int(now * 1000), int(failed), limit.per_address, limit.free, limit.overall,
                  int(limit.window * 1000), int(limit.block * 1000)],
        )  # fmt: skip
        if int(code) == 0:
            return Verdict()
        return Verdict(_LIMITS[int(code)], max(1, math.ceil(int(ms) / 1000)))
