"""Reply codes: the short number a text asks to be sent back, bound to the phone number it
was sent to, the person paged and the alert episodes it stands for (one, or a bundle's).

Kept in Redis with a TTL (`Keys.sms_code`), so every replica finds it and a forgotten one
goes away; the key names the phone number, so a reply from any other number finds nothing.
A code is drawn at random and claimed with SET NX: two alerts never share a live code at one
number. STOP/START (`Keys.sms_stopped`) and the one-time claim on inbound callbacks
(`Keys.sms_seen`) live here too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.store.keys import Keys

CODE_TTL_S = 24 * 3600
SEEN_TTL_S = 7 * 24 * 3600
DIGITS = 4
_ATTEMPTS = 50


class CodesExhausted(Exception):
    """No free code at this number (thousands live at once): a storm the bundling missed."""


@dataclass(frozen=True)
class CodeEntry:
    """What a reply code stands for."""

    person: str
    alerts: tuple[tuple[str, str], ...]  # (fingerprint, startsAt) each


class ReplyCodes:
    def __init__(self, redis: Any, keys: Keys, rng: random.Random | None = None,
                 ttl_s: int = CODE_TTL_S) -> None:  # fmt: skip
        self.redis, self.keys, self.ttl_s = redis, keys, ttl_s
        self.rng = rng or random.SystemRandom()

    async def issue(self, phone: str, person: str, alerts: Sequence[tuple[str, str]]) -> str:
        """A fresh code at `phone` for these alert episodes."""
        doc = orjson.dumps({"person": person, "alerts": [list(a) for a in alerts]})
        for _ in range(_ATTEMPTS):
            code = str(self.rng.randrange(10 ** (DIGITS - 1), 10**DIGITS))
            if await self.redis.set(self.keys.sms_code(phone, code), doc, nx=True,
                                    ex=self.ttl_s):  # fmt: skip
                return code
        raise CodesExhausted(f"no free reply code at {phone}")

    async def find(self, phone: str, code: str) -> CodeEntry | None:
        raw = await self.redis.get(self.keys.sms_code(phone, code))
        if raw is None:
            return None
        doc = orjson.loads(raw)
        return CodeEntry(str(doc["person"]), tuple((str(f), str(s)) for f, s in doc["alerts"]))

    async def stop(self, phone: str) -> None:
        await self.redis.sadd(self.keys.sms_stopped, phone)

    async def start(self, phone: str) -> None:
        await self.redis.srem(self.keys.sms_stopped, phone)

    async def stopped(self, phone: str) -> bool:
        return bool(await self.redis.sismember(self.keys.sms_stopped, phone))

    async def all_stopped(self) -> set[str]:
        """The numbers that said STOP (for GET /api/v1/people)."""
        return {m.decode() if isinstance(m, bytes) else str(m)
                for m in await self.redis.smembers(self.keys.sms_stopped)}  # fmt: skip

    async def first_seen(self, provider: str, message: str) -> bool:
        """True the first time this callback is handled; False for a replay."""
        key = self.keys.sms_seen(provider, message)
        return bool(await self.redis.set(key, "1", nx=True, ex=SEEN_TTL_S))

    async def forget_seen(self, provider: str, message: str) -> None:
        """Releases a claim whose handling failed (Redis trouble), so a retry works."""
        await self.redis.delete(self.keys.sms_seen(provider, message))
