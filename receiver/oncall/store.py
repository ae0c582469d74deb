"""Overrides in Redis: one hash per rotation (`Keys.oncall_overrides`), id → record JSON.

Bounded: an add prunes the expired ones and refuses beyond MAX_PER_ROTATION in one atomic
script (store/lua/oncall_overrides.lua), and the hash expires with its last override.
Reads never write: they skip expired records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver.oncall.config import Member, OncallConfig
from receiver.oncall.overrides import MAX_PER_ROTATION, from_record, to_record
from receiver.oncall.schedule import Override, who_is_on_call
from receiver.store import scripts
from receiver.store.keys import Keys


class OverrideStore:
    """Add, list and remove one receiver's overrides; `clock` gives the time (epoch s)."""

    def __init__(self, redis: Any, keys: Keys, clock: Callable[[], float]) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self._add = redis.register_script(scripts.source("oncall_overrides.lua"))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def add(self, rotation: str, o: Override, cap: int = MAX_PER_ROTATION) -> bool:
        """Stores `o`; False (nothing stored) if the rotation already has `cap` live ones."""
        rec = to_record(o)
        n = await self._add(
            keys=[self.keys.oncall_overrides(name=rotation)],
            args=[int(self.clock() * 1000), cap, o.id, json.dumps(rec), rec["until"]],
        )
        return int(n) >= 0

    async def list(self, rotation: str) -> list[Override]:
        """The rotation's live overrides (not yet ended), by start time."""
        raw = await self.redis.hgetall(self.keys.oncall_overrides(name=rotation))
        now = self.now()
        out = []
        for value in raw.values():
            try:
                o = from_record(json.loads(value))
            except (ValueError, KeyError, TypeError):  # not ours to break on: skip it
                continue
            if o.end > now:
                out.append(o)
        return sorted(out, key=lambda o: (o.start, o.created_at, o.id))

    async def remove(self, rotation: str, override_id: str) -> bool:
        """Deletes one; False if there was none with that id."""
        return bool(await self.redis.hdel(self.keys.oncall_overrides(name=rotation), override_id))


class OnCallLookup:
    """Who is on call in a rotation at a time, overrides from Redis applied: for
    notifications addressed to a rotation (digests). `config()` is read on every call, so
    a reload's rotations apply at once."""

    def __init__(self, store: OverrideStore, config: Callable[[], OncallConfig]) -> None:
        self.store, self.config = store, config

    async def member(self, rotation: str, t: float) -> Member | None:
        """Who is on call in `rotation` at `t` (None for an unknown rotation)."""
        cfg = self.config()
        rot = cfg.rotations.get(rotation)
        if rot is None:
            return None
        overrides = await self.store.list(rotation)
        return who_is_on_call(rot, datetime.fromtimestamp(t, UTC), overrides, cfg).member

    async def emails(self, rotation: str, t: float) -> list[str]:
        """The on-call person's email ([] for an unknown rotation or no email)."""
        member = await self.member(rotation, t)
        return [member.email] if member is not None and member.email else []
