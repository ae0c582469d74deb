"""Maintenance windows in Redis: the run-time ones (added by the API, the CLI, the
console), occurrences ended early, the muted sets and the start/end claims.

Keys are in receiver/store/keys.py (`maint_*`); the multi-step updates are Lua
(store/lua/maintenance_add.lua, maintenance_claim.lua); the muted sets are written by
the intake script itself, in the step that decides.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.maintenance.config import WindowSpec
from receiver.maintenance.schedule import Window
from receiver.store import scripts
from receiver.store.keys import Keys

MAX_WINDOWS = 1000  # run-time windows kept (ended ones are pruned after RETAIN_MS)
RETAIN_MS = 7 * 24 * 3600 * 1000  # ended windows, early ends and claims are kept this long
RUNTIME_PREFIX = "rt-"


def new_id() -> str:
    return RUNTIME_PREFIX + secrets.token_hex(6)


@dataclass(frozen=True)
class Stored:
    """A run-time window as stored: its window, and who made it when."""

    window: Window
    created_at_ms: int
    token: str  # the API token (or "cli", "console:<user>") that made it

    def to_json(self) -> str:
        spec = self.window.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        return orjson.dumps({"id": self.window.key, "name": self.window.name, "spec": spec,
                             "created_at": self.created_at_ms,
                             "token": self.token}).decode()  # fmt: skip

    @classmethod
    def from_json(cls, raw: str | bytes) -> Stored:
        d = orjson.loads(raw)
        spec = WindowSpec.model_validate(d["spec"])
        return cls(Window(d["id"], spec, d.get("name", "")), int(d.get("created_at", 0)),
                   d.get("token", ""))  # fmt: skip


class MaintenanceStore:
    """Run-time windows, early ends, muted sets and claims of one prefix. `redis` is the
    client whose changes wait for redis.durability (the API's answers are commits)."""

    def __init__(self, redis: Any, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self._add = scripts.register(redis, "maintenance_add.lua")
        self._claim = scripts.register(redis, "maintenance_claim.lua")
        self._parsed: dict[str, Stored] = {}  # JSON → parsed (a spec is checked once)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def add(self, window: Window, token: str) -> Stored | None:
        """Stores a run-time window; None (nothing stored) when MAX_WINDOWS are kept."""
        s = Stored(window, self.now_ms(), token)
        ok = await self._add(keys=[self.keys.maint_windows],
                             args=[window.key, s.to_json(), MAX_WINDOWS])  # fmt: skip
        return s if int(ok) == 1 else None

    async def runtime(self) -> list[Stored]:
        """Every stored run-time window, by creation."""
        raw: dict[str, str] = await self.redis.hgetall(self.keys.maint_windows)
        out = []
        for text in raw.values():
            s = self._parsed.get(text)
            if s is None:
                try:
                    s = Stored.from_json(text)
                except (ValueError, KeyError, TypeError):
                    continue  # written by a newer version we cannot read: skipped
                if len(self._parsed) > 4 * MAX_WINDOWS:
                    self._parsed.clear()
                self._parsed[text] = s
            out.append(s)
        return sorted(out, key=lambda s: (s.created_at_ms, s.window.key))

    async def ended(self) -> dict[str, int]:
        """Occurrence id → when it was ended early."""
        raw: dict[str, str] = await self.redis.hgetall(self.keys.maint_ended)
        return {k: int(v) for k, v in raw.items()}

    async def end(self, occurrence: str, at_ms: int) -> bool:
        """Ends an occurrence early at `at_ms`; False if it was ended before."""
        return bool(await self.redis.hsetnx(self.keys.maint_ended, occurrence, at_ms))

    async def muted(self, occurrence: str) -> dict[str, str]:
        """Fingerprint → startsAt of the alerts decided in the occurrence, not released."""
        found: dict[str, str] = await self.redis.hgetall(self.keys.maint_muted(occurrence))
        return found

    async def alert_states(self, fps: list[str]) -> list[list[str | None]]:
        """Each alert's [status, startsAt, endsAt, doc] (None where it is gone)."""
        pipe = self.redis.pipeline(transaction=False)
        for fp in fps:
            pipe.hmget(self.keys.alert(fp), "status", "startsAt", "endsAt", "doc")
        rows: list[list[str | None]] = await pipe.execute()
        return rows

    async def claim(self, phase: str, occurrence: str, replica: str, lease_ms: int) -> str:
        """claimed | busy | finished: see store/lua/maintenance_claim.lua."""
        res = await self._claim(keys=[self.keys.maint_windows],
                                args=[self.keys.tag, phase, occurrence, replica, lease_ms,
                                      RETAIN_MS, "claim"])  # fmt: skip
        return str(res)

    async def finish(self, phase: str, occurrence: str, replica: str) -> str:
        """finished | lost."""
        res = await self._claim(keys=[self.keys.maint_windows],
                                args=[self.keys.tag, phase, occurrence, replica, 0,
                                      RETAIN_MS, "finish"])  # fmt: skip
        return str(res)

    async def prune(self, now_ms: int) -> int:
        """Forgets run-time windows and early ends over RETAIN_MS old; how many."""
        gone = [s.window.key for s in await self.runtime()
                if s.window.spec.rule is None and s.window.spec.until_utc.timestamp() * 1000
                < now_ms - RETAIN_MS]  # fmt: skip
        old = [k for k, v in (await self.ended()).items() if v < now_ms - RETAIN_MS]
        if gone:
            await self.redis.hdel(self.keys.maint_windows, *gone)
        if old:
            await self.redis.hdel(self.keys.maint_ended, *old)
        return len(gone) + len(old)
