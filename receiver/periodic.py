"""A background loop that runs a step every interval until stopped, survives Redis
outages, and reports its state on /health (status and error, as api/health.Component)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

# How soon a loop whose step failed tries again, at the latest.
RETRY_S = 0.5


class Periodic:
    """Subclasses set `name`, `log` and `interval_s` and implement `step()`."""

    name: str = "periodic"
    log: logging.Logger = logging.getLogger("receiver")
    interval_s: float = 1.0  # 0: the step itself waits (a blocking read)
    # How long to wait after a failed step; None: the interval, at most RETRY_S.
    retry_s: float | None = None
    target: str = ""  # where Redis is, named in the warnings when known
    # Reported on /health: "starting", "ok", "down" (Redis unreachable) or "error".
    status: str = "starting"
    error: str | None = None

    async def step(self) -> None:
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.step()
                self.status, self.error = "ok", None
            except (RedisError, OSError) as e:
                self.status, self.error = "down", type(e).__name__
                extra: dict[str, Any] = {"error": repr(e)}
                if self.target:
                    extra["redis"] = self.target
                self.log.warning(f"{self.name}: redis unavailable", extra=extra)
            except Exception as e:  # a bug must not stop the loop for good
                self.status, self.error = "error", type(e).__name__
                self.log.exception(f"{self.name}: unexpected error, continuing")
            # In trouble, look again soon whatever the interval: /health reports this loop
            # down until a step succeeds, and a slow loop (SLO figures) must not stay
            # "down" long after Redis is back.
            wait = self.interval_s if self.status == "ok" else self.retry_s
            if wait is None:
                wait = min(self.interval_s, RETRY_S)
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
