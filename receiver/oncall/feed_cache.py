"""Rendered calendar feeds, kept so that calendar apps polling a feed cost next to nothing.

A feed depends on the rotation, the on-call config (members, also other rotations' for
overrides naming them), the rotation's overrides and the time. An entry is keyed by all of
them (`FeedKey`): the overrides by their version token (`Keys.oncall_version`, replaced in
the same Redis step as every add and remove, whichever replica made it), the time by the
hour it starts at. It holds the shifts of [that hour, hour + weeks + 1 h), so for any
`now` within the hour the shifts overlapping [now, now + weeks) are among them: a hit reads
one small Redis string and joins the events it needs.

A miss renders off the event loop (asyncio.to_thread), at most MAX_RENDERS at a time, and
requests with the same key wait for that one rendering instead of starting their own.
Entries are bounded by their total size (least recently used go first).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from receiver.oncall import feed, view
from receiver.oncall.config import OncallConfig
from receiver.oncall.overrides import live_overrides

if TYPE_CHECKING:
    from receiver.oncall.store import OverrideStore

HOUR_S = 3600
# Rendered bytes kept in all (a 52-week feed of 1-hour shifts is ~2.5 MB, of weekly ones
# ~20 KB); an entry larger than this is served but not kept.
MAX_BYTES = 32 * 1024 * 1024
# Misses rendered at the same time (each a thread holding the GIL most of its time).
MAX_RENDERS = 2


@dataclass(frozen=True)
class FeedKey:
    """What a rendered feed depends on."""

    rotation: str
    definition: str  # digest of the on-call config
    version: str  # the rotation's overrides version token ("" before any)
    weeks: int
    hour: int  # epoch seconds // 3600 of the hour the entry starts at

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.hour * HOUR_S, UTC)


def rendered_for(key: FeedKey, config: OncallConfig, records: dict[str, str],
                 now: datetime) -> feed.Rendered:  # fmt: skip
    """The entry for `key` from the rotation's override records (pure; run off the event
    loop, parsing included): every shift overlapping [hour, hour + weeks + 1 h), with the
    overrides not ended at the hour; DTSTAMP `now`."""
    end = key.start + timedelta(weeks=key.weeks, seconds=HOUR_S)
    overrides = live_overrides(records, key.start)
    shifts = view.shifts_between(config, key.rotation, overrides, key.start, end)
    return feed.render(key.rotation, shifts, now)


class FeedCache:
    """Calendar feeds of one receiver's rotations, from `store`'s overrides and clock."""

    def __init__(self, store: OverrideStore, max_bytes: int = MAX_BYTES) -> None:
        self.store, self.max_bytes = store, max_bytes
        self._entries: OrderedDict[FeedKey, feed.Rendered] = OrderedDict()
        self._bytes = 0
        self._pending: dict[FeedKey, asyncio.Task[feed.Rendered]] = {}
        self._renders = asyncio.Semaphore(MAX_RENDERS)
        self._config: tuple[OncallConfig, str] | None = None
        self.renders = 0  # misses rendered so far (tests and the bench read it)

    def _definition(self, config: OncallConfig) -> str:
        # A reload makes a new config object: its digest is taken once per object.
        if self._config is None or self._config[0] is not config:
            digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:32]
            self._config = (config, digest)
        return self._config[1]

    async def calendar(self, config: OncallConfig, rotation: str, weeks: int) -> bytes:
        """The feed of `rotation` (in `config`) from now for `weeks`, as text/calendar."""
        now = self.store.now()
        version = await self.store.version(rotation)
        key = FeedKey(rotation, self._definition(config), version, weeks,
                      int(now.timestamp()) // HOUR_S)  # fmt: skip
        rendered = self._entries.get(key)
        if rendered is not None:
            self._entries.move_to_end(key)
        else:
            rendered = await self._miss(key, config)
        return rendered.between(now, now + timedelta(weeks=weeks))

    async def _miss(self, key: FeedKey, config: OncallConfig) -> feed.Rendered:
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._render(key, config))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: a client that goes away does not cancel the others' rendering.
        return await asyncio.shield(task)

    async def _render(self, key: FeedKey, config: OncallConfig) -> feed.Rendered:
        async with self._renders:
            version, records = await self.store.snapshot(key.rotation)
            # Read with the overrides, so the entry is filed under what it was made from
            # (a change since the first read makes it the newer version's).
            key = FeedKey(key.rotation, key.definition, version, key.weeks, key.hour)
            now = self.store.now()
            rendered = await asyncio.to_thread(rendered_for, key, config, records, now)
        self.renders += 1
        self._keep(key, rendered)
        return rendered

    def _keep(self, key: FeedKey, rendered: feed.Rendered) -> None:
        if rendered.size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        self._bytes += rendered.size - (old.size if old else 0)
        self._entries[key] = rendered
        # Entries of past hours are never asked for again; then the least recently used.
        for k in [k for k in self._entries if k.hour < key.hour]:
            self._bytes -= self._entries.pop(k).size
        while self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size
