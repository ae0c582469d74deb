"""The polling lease on a real Redis: one holder; the offset is written only by it."""

from __future__ import annotations

import redis.asyncio as aioredis

from receiver.notifiers.telegram.poller import Lease
from receiver.store.keys import Keys

KEYS = Keys()


async def test_one_holder_and_a_fenced_offset(redis: aioredis.Redis) -> None:
    a = Lease(redis, KEYS, "42", "replica-a", ttl_s=30)
    b = Lease(redis, KEYS, "42", "replica-b", ttl_s=30)
    assert await a.hold() and not await b.hold()
    assert await a.commit(5) and not await b.commit(9)
    assert await b.offset() == 5
    assert 0 < await redis.pttl(KEYS.telegram_lease("42")) <= 30_000
    await redis.delete(KEYS.telegram_lease("42"))  # A's lease ran out (A stalled or died)
    assert await b.hold()
    assert not await a.commit(7) and not await a.hold()  # A's late write is refused
    assert await b.offset() == 5 and await b.commit(6) and await a.offset() == 6
    await b.release()
    assert await redis.get(KEYS.telegram_lease("42")) is None
    assert await a.hold()  # handed over at once after a clean stop
    await b.release()  # not B's to release
    assert await redis.get(KEYS.telegram_lease("42")) == "replica-a"
