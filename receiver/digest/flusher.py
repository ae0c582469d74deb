"""Claims digest windows as they end, on every replica: the claim itself (Lua) makes each
window's flush happen once, whoever comes first."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from receiver.digest.config import DigestConfig
from receiver.digest.sender import digest_job
from receiver.digest.store import DigestStore
from receiver.metrics import Metrics
from receiver.periodic import Periodic

log = logging.getLogger("receiver.digest")
TICK_S = 0.5
GAUGES_EVERY_S = 5.0
HOUR_MS = 3_600_000


class DigestFlusher(Periodic):
    """`digests()` is read on every tick, so a reload's digests apply at once."""

    name, log, interval_s = "digest flusher", log, TICK_S

    def __init__(
        self,
        store: DigestStore,
        digests: Callable[[], Mapping[str, DigestConfig]],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        max_age_s: float = 24 * 3600.0,
    ) -> None:
        self.store, self.digests, self.metrics, self.clock = store, digests, metrics, clock
        self.batch_ttl_ms = int(max_age_s * 1000) + HOUR_MS  # the job may retry that long
        self.claimed: dict[str, int] = {}  # digest → last window end we saw claimed
        self.started_ms = int(clock() * 1000)
        self._gauges_at = 0.0

    async def claim(
        self, name: str, cfg: DigestConfig, window_ms: int, ttl_ms: int, send_empty: bool
    ) -> str:
        job = digest_job(name, window_ms, int(self.clock() * 1000)).to_json()
        result = await self.store.claim(name, window_ms, job, claim_ttl_ms=ttl_ms,
                                        batch_ttl_ms=self.batch_ttl_ms,
                                        send_empty=send_empty)  # fmt: skip
        if result == "queued":
            log.info("digest window claimed", extra={"digest": name, "window_ms": window_ms})
        return result

    async def flush_now(self, name: str) -> tuple[str, int]:
        """Claims a window ending now (`digest flush`): (result, window end ms)."""
        cfg = self.digests()[name]
        window_ms = int(self.clock() * 1000)
        return await self.claim(name, cfg, window_ms, 24 * HOUR_MS, cfg.send_empty), window_ms

    async def tick(self) -> None:
        now = self.clock()
        for name, cfg in self.digests().items():
            schedule = cfg.schedule()
            end = schedule.last_end(now)
            window_ms = int(end * 1000)
            if self.claimed.get(name, 0) >= window_ms:
                continue
            # The claim must outlive its window, so that no later tick claims it again.
            ttl_ms = int((schedule.next_end(end) - end) * 2000) + HOUR_MS
            # A window that ended before we started is claimed for what it buffered (a
            # missed send), but an "all clear" is only said for windows that end now.
            send_empty = cfg.send_empty and window_ms >= self.started_ms
            await self.claim(name, cfg, window_ms, ttl_ms, send_empty)
            self.claimed[name] = window_ms

    async def gauges(self) -> None:
        for name in self.digests():
            buffered, _more = await self.store.pending(name)
            self.metrics.digest_buffered.labels(name).set(buffered)

    async def step(self) -> None:
        await self.tick()
        if time.monotonic() - self._gauges_at > GAUGES_EVERY_S:
            self._gauges_at = time.monotonic()
            await self.gauges()
