"""Overrides in Redis: one hash per rotation (`Keys.oncall_overrides`), id → record JSON.

Bounded: an add prunes the expired ones and refuses beyond MAX_PER_ROTATION in one atomic
script (store/lua/oncall_overrides.lua), and the hash expires with its last override.
Reads never write: they skip expired records. Every add and remove also replaces the
rotation's version token (`Keys.oncall_version`) in the same script, which tells cached
calendar feeds (feed_cache.py) on every replica that they are stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver.oncall.config import Member, OncallConfig
from receiver.oncall.feed_cache import FeedCache
from receiver.oncall.overrides import MAX_PER_ROTATION, live_overrides, new_id, to_record
from receiver.oncall.schedule import Override, who_is_on_call
from receiver.store import scripts
from receiver.store.keys import Keys


class OverrideStore:
    """Add, list and remove one receiver's overrides; `clock` gives the time (epoch s)."""

    def __init__(self, redis: Any, keys: Keys, clock: Callable[[], float]) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self._add = scripts.register(redis, "oncall_overrides.lua")
        self._remove = scripts.register(redis, "oncall_remove.lua")
        # Calendar feeds rendered from these overrides (the API's; this store says when
        # they are stale: `version`).
        self.feeds = FeedCache(self)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def add(self, rotation: str, o: Override, cap: int = MAX_PER_ROTATION) -> bool:
        """Stores `o`; False (nothing stored) if the rotation already has `cap` live ones."""
        rec = to_record(o)
        n = await self._add(
            keys=self._keys(rotation),
            args=[int(self.clock() * 1000), cap, o.id, json.dumps(rec), rec["until"], new_id()],
        )
        return int(n) >= 0

    def _keys(self, rotation: str) -> list[str]:
        return [self.keys.oncall_overrides(name=rotation), self.keys.oncall_version(name=rotation)]

    async def version(self, rotation: str) -> str:
        """A token that changes whenever the rotation's overrides do ("" before any)."""
        return str(await self.redis.get(self.keys.oncall_version(name=rotation)) or "")

    async def snapshot(self, rotation: str) -> tuple[str, dict[str, str]]:
        """The version and the overrides' records (for live_overrides()), read together
        (one MULTI)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(self.keys.oncall_version(name=rotation))
        pipe.hgetall(self.keys.oncall_overrides(name=rotation))
        version, raw = await pipe.execute()
        return str(version or ""), raw

    async def list(self, rotation: str) -> list[Override]:
        """The rotation's live overrides (not yet ended), by start time."""
        raw = await self.redis.hgetall(self.keys.oncall_overrides(name=rotation))
        return live_overrides(raw, self.now())

    async def remove(self, rotation: str, override_id: str) -> bool:
        """Deletes one; False if there was none with that id."""
        args = [override_id, new_id(), int(self.clock() * 1000)]
        return bool(await self._remove(keys=self._keys(rotation), args=args))


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
