"""Backfill of the secondary alert indexes for records written before they existed.

The intake script keeps the indexes (`Keys.by_state`, `Keys.firing_since`) exact for every
record it writes. Records written by an older version have no index entries, so at
start-up every replica runs `Reindexer.run()` in the background: the fingerprint index is
walked in chunks, each chunk indexed by one script call (atomic, so it cannot undo a
concurrent intake), the progress kept in Redis (a restart resumes), and the end marked with
`Keys.index_version`. Running it twice, or on several replicas at once, is harmless.

Until the mark is there, `AlertReader.list` ignores the secondary indexes and scans the
fingerprint index instead (under its scan budget): no alert is invisible meanwhile.
Bumping `INDEX_VERSION` makes the next start-up run the backfill again (it also removes
entries that do not belong, so it repairs indexes left inexact).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError

from receiver.store import scripts
from receiver.store.keys import Keys

log = logging.getLogger("receiver.store.reindex")

INDEX_VERSION = "1"
# Fingerprints per script call: ~12 commands each, so a call holds Redis a few ms at most.
CHUNK = 300
# Hard bound on the chunks of one run: far more than any real store (300 M alerts).
MAX_CHUNKS = 1_000_000
RETRY_MIN_S, RETRY_MAX_S = 0.5, 30.0


class Reindexer:
    """Runs the backfill for one key prefix. Redis and the pause are injected."""

    def __init__(self, redis: Any, keys: Keys, chunk: int = CHUNK, pause_s: float = 0.001):
        self.redis, self.keys, self.chunk, self.pause_s = redis, keys, chunk, pause_s
        self.script = scripts.register(redis, "reindex.lua")

    async def ready(self) -> bool:
        """Whether the indexes are complete (the backfill of this version finished)."""
        return bool(await self.redis.get(self.keys.index_version) == INDEX_VERSION)

    async def step(self) -> tuple[bool, int]:
        """One chunk: (done, fingerprints examined)."""
        done, examined = await self.script(
            keys=[self.keys.index], args=[self.keys.tag, INDEX_VERSION, self.chunk]
        )
        return bool(done), int(examined)

    async def run(self) -> int:
        """Backfill until done; returns the fingerprints examined. Raises RedisError."""
        total = 0
        for _ in range(MAX_CHUNKS):
            done, examined = await self.step()
            total += examined
            if done:
                return total
            await asyncio.sleep(self.pause_s)  # let the intake's script calls in between
        raise RuntimeError(f"reindex did not finish within {MAX_CHUNKS} chunks")

    async def run_until_done(self) -> None:
        """`run()`, retried with backoff while Redis is unreachable; for a background task
        that lives as long as the app (cancelled at shutdown)."""
        wait = RETRY_MIN_S
        while True:
            try:
                examined = await self.run()
            except RedisError as exc:
                # Same fields every time, so the repeat filter folds an outage into one line.
                log.warning("alert index backfill: redis unavailable, retrying",
                            extra={"error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                await asyncio.sleep(wait)
                wait = min(RETRY_MAX_S, wait * 2)
                continue
            if examined:
                log.info("alert index backfill done", extra={"examined": examined})
            return
