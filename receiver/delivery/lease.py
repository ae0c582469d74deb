"""Short claim leases on outbox entries: renewed while a job is worked on, taken over by
another replica soon after its holder stops.

An outbox entry a worker read stays in the consumer group's pending list under that worker
until it is settled. The worker renews its claim (resets the entry's idle time, lease.lua,
only for entries it still holds) every third of the lease; any replica reclaims entries
idle for longer than the lease (XAUTOCLAIM). A live worker therefore never loses a job it
is still sending, however slow the send, and a dead one's jobs move on within about
`lease + reclaim interval` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from receiver.store import scripts
from receiver.store.keys import OUTBOX_GROUP, Keys

log = logging.getLogger("receiver.worker")


class Lease:
    """Renew and reclaim for one consumer (`consumer` is the worker's name in the group)."""

    def __init__(self, redis: Any, keys: Keys, consumer: str, lease_s: float) -> None:
        self.redis, self.keys, self.consumer = redis, keys, consumer
        self.lease_ms = max(1, int(lease_s * 1000))
        # Renew three times per lease: one missed renewal (a slow Redis call) is harmless.
        self.renew_every_s = lease_s / 3
        # Reclaim often enough that a dead worker's jobs wait little beyond the lease.
        self.reclaim_every_s = min(2.0, lease_s / 3)
        self._renew = scripts.register(redis, "lease.lua")

    async def renew(self, entry_ids: Collection[str]) -> list[str]:
        """Renew the entries still held; returns those another consumer took over (or
        that were settled meanwhile)."""
        if not entry_ids:
            return []
        lost = await self._renew(keys=[self.keys.outbox],
                                 args=[OUTBOX_GROUP, self.consumer, *entry_ids])  # fmt: skip
        return [str(x) for x in lost or []]

    async def reclaim(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """Entries idle for longer than the lease, now claimed by this consumer."""
        reply = await self.redis.xautoclaim(
            self.keys.outbox, OUTBOX_GROUP, self.consumer, self.lease_ms, "0-0", count=count
        )
        # Redis 6.2 answers [next, entries]; 7.0 adds a third element (deleted ids). An
        # entry deleted meanwhile comes back without fields.
        return [(entry_id, fields) for entry_id, fields in reply[1] if fields]
