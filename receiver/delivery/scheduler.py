"""Due-time jobs: delayed/retry jobs → outbox, closed storm windows → summary jobs.

Each step is one Lua script, so a due item moves once whichever replica runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from receiver.metrics import Metrics
from receiver.periodic import Periodic
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts

log = logging.getLogger("receiver.scheduler")
_BATCH = 500
SUMMARY_LISTS = 20  # alerts named in a storm summary; the total is always given


class Scheduler(Periodic):
    name, log = "scheduler", log

    def __init__(
        self,
        redis: Any,
        scripts: Scripts,
        keys: Keys,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        interval_s: float = 0.25,
        target: str = "",
    ) -> None:
        self.redis, self.scripts, self.keys, self.metrics = redis, scripts, keys, metrics
        self.clock, self.interval_s = clock, interval_s
        self.target = target  # where Redis is, named in its warnings

    async def tick(self) -> int:
        """Move everything due now; returns how many jobs reached the outbox."""
        now_ms = int(self.clock() * 1000)
        moved = 0
        while True:
            n = int(await self.scripts.due(keys=[self.keys.delayed, self.keys.outbox],
                                           args=[now_ms, _BATCH]))  # fmt: skip
            moved += n
            self.metrics.scheduler_moved.labels("due").inc(n)
            if n < _BATCH:
                break
        s = int(
            await self.scripts.storm(
                keys=[self.keys.storm_due, self.keys.outbox],
                args=[self.keys.tag, now_ms, SUMMARY_LISTS],
            )
        )
        self.metrics.scheduler_moved.labels("storm_summary").inc(s)
        return moved + s

    async def gauges(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(self.keys.outbox)
        pipe.zcard(self.keys.delayed)
        pipe.xlen(self.keys.dead)
        outbox, delayed, dead = await pipe.execute()
        self.metrics.queue_depth.labels("outbox").set(outbox)
        self.metrics.queue_depth.labels("delayed").set(delayed)
        self.metrics.queue_depth.labels("dead_letter").set(dead)

    async def step(self) -> None:
        await self.tick()
        await self.gauges()
