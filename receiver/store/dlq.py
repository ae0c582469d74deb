"""The dead-letter stream: list, show, replay (once) and purge failed deliveries."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from receiver.models import Notification
from receiver.store.durability import Confirmed
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts


@dataclass(frozen=True)
class DeadLetter:
    id: str
    job: str
    error: str
    outcome: str
    at_ms: int

    @property
    def notification(self) -> Notification | None:
        try:
            return Notification.from_json(self.job)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        n = self.notification
        return {
            "id": self.id,
            "destination": n.destination if n else None,
            "fingerprint": n.alert.fingerprint if n else None,
            "alertname": n.alert.alertname if n else None,
            "reason": n.reason.value if n else None,
            "attempts": n.attempt + 1 if n else None,
            "outcome": self.outcome,
            "error": self.error,
            "at_ms": self.at_ms,
        }


def _entry(entry_id: str, f: dict[str, str]) -> DeadLetter:
    return DeadLetter(entry_id, f.get("job", ""), f.get("error", ""), f.get("outcome", ""),
                      int(f.get("at_ms", "0")))  # fmt: skip


# A complete stream entry id, `<ms>-<seq>`, each part a 64-bit unsigned number.
_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})", re.ASCII)
_U64 = 2**64 - 1


def is_entry_id(text: str) -> bool:
    """Whether `text` is a complete dead-letter id (`1764300000000-0`), as listed.

    Anything else would be refused by Redis (an error, not "absent") or, for a bare
    `<ms>`, read as a range of ids: it is never sent.
    """
    m = _ID.fullmatch(text)
    return m is not None and int(m[1]) <= _U64 and int(m[2]) <= _U64


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class DeadLetters:
    def __init__(self, redis: Any, keys: Keys, scripts: Scripts, clock: Callable[[], float]):
        self.redis, self.keys, self.scripts, self.clock = redis, keys, scripts, clock

    async def list(self, count: int = 100, after: str = "-") -> list[DeadLetter]:
        """Up to `count` dead letters after the id `after` ("-": from the first);
        ValueError when `after` is neither."""
        if after != "-" and not is_entry_id(after):
            raise ValueError(f"not a dead-letter id: {after!r}")
        start = after if after == "-" else f"({after}"
        rows = await self.redis.xrange(self.keys.dead, start, "+", count=count)
        return [_entry(i, f) for i, f in rows]

    async def get(self, entry_id: str) -> DeadLetter | None:
        """The dead letter `entry_id`; None when there is none (or the id is malformed)."""
        if not is_entry_id(entry_id):
            return None
        rows = await self.redis.xrange(self.keys.dead, entry_id, entry_id)
        return _entry(*rows[0]) if rows else None

    async def size(self) -> int:
        return int(await self.redis.xlen(self.keys.dead))

    async def replay(self, entry_id: str) -> bool:
        """Back to the outbox as a fresh job (attempts and age reset). False if not there."""
        dl = await self.get(entry_id)
        if dl is None:
            return False
        n = dl.notification
        job = dl.job
        if n is not None:
            now_ms = int(self.clock() * 1000)
            job = n.model_copy(update={"attempt": 0, "enqueued_at_ms": now_ms}).to_json()
        moved = await self.scripts.replay(keys=[self.keys.dead, self.keys.outbox],
                                          args=[entry_id, job])  # fmt: skip
        return bool(moved)

    async def replay_all(self) -> int:
        """Replay what is dead now; letters that die again meanwhile wait for the next call."""
        last = await self.redis.xrevrange(self.keys.dead, "+", "-", count=1)
        if not last:
            return 0
        end, done, cursor = _id(last[0][0]), 0, "-"
        while batch := await self.list(500, after=cursor):
            for dl in batch:
                if _id(dl.id) > end:
                    return done
                done += await self.replay(dl.id)
            cursor = batch[-1].id
        return done

    async def purge(self) -> int:
        n = await self.size()
        if isinstance(self.redis, Confirmed):  # returns once redis.durability holds
            await self.redis.confirmed_command("DEL", self.keys.dead)
        else:
            await self.redis.delete(self.keys.dead)
        return n
