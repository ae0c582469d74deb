"""The digest buffers in Redis: claiming a window, reading a buffer or a claimed batch.

Writes to the buffer happen in the intake script (one field per alert); the claim is
store/lua/digest_flush.lua. Every key comes from receiver/store/keys.py.
"""

from __future__ import annotations

from typing import Any

from receiver.digest.view import Seen
from receiver.store.alerts import AlertReader
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts

MORE = "_more"  # the buffer field counting entries refused over max_alerts


def parse_buffer(raw: dict[str, str]) -> tuple[dict[str, Seen], int]:
    """A buffer hash → (fingerprint → (count, first_ms, last_ms), entries over the max)."""
    items: dict[str, Seen] = {}
    for fp, value in raw.items():
        if fp == MORE:
            continue
        count, first, last = (int(x) for x in value.split("|"))
        items[fp] = (count, first, last)
    return items, int(raw.get(MORE, 0))


class DigestStore:
    def __init__(self, redis: Any, keys: Keys, scripts: Scripts) -> None:
        self.redis, self.keys, self.scripts = redis, keys, scripts
        self.reader = AlertReader(redis, keys)  # the alerts' state, as the API reads it

    async def claim(
        self, name: str, window_ms: int, job: str, *, claim_ttl_ms: int, batch_ttl_ms: int,
        send_empty: bool,
    ) -> str:  # fmt: skip
        """Claims the window (see digest_flush.lua): "queued", "claimed" or "empty"."""
        args = [self.keys.tag, name, window_ms, claim_ttl_ms, batch_ttl_ms,
                "1" if send_empty else "0", job]  # fmt: skip
        result = await self.scripts.digest_flush(keys=[self.keys.digest(name)], args=args)
        return result.decode() if isinstance(result, bytes) else str(result)

    async def buffered(self, name: str) -> tuple[dict[str, Seen], int]:
        """What the next flush of `name` would take."""
        return parse_buffer(await self.redis.hgetall(self.keys.digest(name)))

    async def batch(self, name: str, window_ms: int) -> tuple[dict[str, Seen], int]:
        """What the window's claim took (empty once sent, or for an empty digest)."""
        return parse_buffer(await self.redis.hgetall(self.keys.digest_batch(name, window_ms)))

    async def pending(self, name: str) -> tuple[int, int]:
        """(alerts buffered, entries over the max) for `name`."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hlen(self.keys.digest(name))
        pipe.hget(self.keys.digest(name), MORE)
        size, more = await pipe.execute()
        return int(size) - (1 if more is not None else 0), int(more or 0)

    async def status(self, name: str, window_ms: int) -> str | None:
        """The window's claim: None, "queued" or "sent"."""
        value = await self.redis.get(self.keys.digest_done(name, window_ms))
        return value.decode() if isinstance(value, bytes) else value

    async def mark_sent(self, name: str, window_ms: int) -> None:
        """The email went out: say so on the claim and drop the batch, in one step."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.digest_done(name, window_ms), "sent", xx=True, keepttl=True)
        pipe.delete(self.keys.digest_batch(name, window_ms))
        await pipe.execute()

    async def states(self, fps: list[str]) -> dict[str, dict[str, Any] | None]:
        """Each alert's current state record (None when it is gone)."""
        return await self.reader.states(fps)
