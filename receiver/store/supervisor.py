"""Keeps the embedded redis-server running: reap, log, count and restart it when it exits.

The child is watched through a pidfd on the event loop (no thread, no polling), restarted
on the same data directory (redis replays its AOF) with a doubling backoff, and given up
on when it has not answered PING again within `restart_timeout_s`: `on_give_up` is then
called with the reason, and `serve` exits non-zero so that systemd or Kubernetes restart
the whole process. Restarts run in the event loop's thread, which for `serve` is the main
thread: the parent-death signal of the child (see embedded._die_with_parent) stays tied
to a thread that lives as long as the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from receiver.store.embedded import EmbeddedRedis, EmbeddedRedisError, describe_exit

log = logging.getLogger("receiver.store.supervisor")
# An attempt needs this much time left before the deadline: redis takes ~10 ms to start
# on an empty AOF, longer to replay a big one.
_MIN_ATTEMPT_S = 0.5


@dataclass(frozen=True)
class Backoff:
    """Delays between restart attempts: `first`, doubling up to `cap`. A server that stayed
    up for `stable_s` starts again from `first` (a crash loop keeps the longer delays)."""

    first: float = 0.2
    cap: float = 5.0
    stable_s: float = 30.0

    def after(self, delay: float) -> float:
        return min(self.cap, delay * 2)


class RedisSupervisor:
    """Watches an already started EmbeddedRedis until `stop()`.

    `status` is "ok", "restarting", "failed" (gave up) or "stopped"; `error` says how the
    last child ended or why the last restart failed (no secrets: exit codes and redis's log).
    """

    def __init__(
        self,
        embedded: EmbeddedRedis,
        restart_timeout_s: float,
        on_restart: Callable[[], None],
        on_give_up: Callable[[str], None],
        backoff: Backoff = Backoff(),
    ) -> None:
        self.embedded, self.restart_timeout_s, self.backoff = embedded, restart_timeout_s, backoff
        self._on_restart, self._on_give_up = on_restart, on_give_up
        self.status: str = "ok"
        self.error: str | None = None
        self.restarts = 0
        self._delay = backoff.first
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin watching (in a running event loop)."""
        self._task = asyncio.create_task(self._guarded(), name="embedded-redis-supervisor")

    async def _guarded(self) -> None:
        try:
            await self._watch()
        except Exception as e:
            # A bug here must not leave redis unwatched while /health says ok.
            log.exception("embedded redis supervisor failed")
            self.status, self.error = "failed", type(e).__name__
            self._on_give_up(f"embedded redis supervisor failed: {e!r}")

    async def stop(self) -> None:
        """Stop watching, then stop redis with SIGTERM (it flushes its AOF); no restart."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.embedded.stop()
        self.status = "stopped"

    async def _watch(self) -> None:
        while not self._stopping:
            proc = self.embedded.proc
            if proc is None:
                return
            up_since = time.monotonic()
            code = await wait_exit(proc)  # reaped: no zombie left behind
            if self._stopping:
                return
            if time.monotonic() - up_since >= self.backoff.stable_s:
                self._delay = self.backoff.first
            self.status, self.error = "restarting", describe_exit(code)
            log.error("embedded redis-server exited; restarting it", extra={
                "pid": proc.pid, "exit": describe_exit(code), "returncode": code,
                "give_up_after_s": self.restart_timeout_s,
            })  # fmt: skip
            reason = await self._restart()
            if reason is not None:
                self.status, self.error = "failed", reason
                log.critical("embedded redis-server could not be restarted; exiting",
                             extra={"reason": reason})  # fmt: skip
                self._on_give_up(reason)
                return
            self.status, self.error = "ok", None

    async def _restart(self) -> str | None:
        """Restart attempts until one answers PING or the time is up: None, or why not."""
        down_at = time.monotonic()
        deadline = down_at + self.restart_timeout_s
        last = "no attempt"
        attempt = 0
        while (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(self._delay, remaining))
            self._delay = self.backoff.after(self._delay)
            remaining = deadline - time.monotonic()
            if remaining < _MIN_ATTEMPT_S:  # too short to come up: keep the last real error
                break
            attempt += 1
            try:
                self.embedded.spawn()
                self.restarts += 1
                self._on_restart()
                await self.embedded.wait_ready(remaining)
            except (EmbeddedRedisError, OSError) as e:
                self.embedded.kill()
                # /health shows the first line; the log line below has all of it.
                last = self.error = (str(e) or repr(e)).splitlines()[0][:200]
                log.warning("embedded redis-server restart failed", extra={
                    "attempt": attempt, "error": str(e)[-500:], "retry_in_s": self._delay,
                })  # fmt: skip
                continue
            log.warning("embedded redis-server restarted", extra={
                "attempt": attempt, "pid": self.embedded.proc.pid if self.embedded.proc else 0,
                "down_s": round(time.monotonic() - down_at, 2),
            })  # fmt: skip
            return None
        return (
            f"embedded redis-server did not come back within {self.restart_timeout_s:g}s "
            f"(redis.embedded_restart_timeout) after {attempt} attempt(s); last: {last}"
        )


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the child to exit without blocking the loop; reap it; its return code."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (OSError, AttributeError):  # pragma: no cover - kernels before 5.3
        # Or the child was already reaped (pidfd_open: ESRCH).
        while (code := proc.poll()) is None:  # noqa: ASYNC110 - nothing to wait on but time
            await asyncio.sleep(0.2)
        return code
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:  # a pidfd becomes readable once the process has exited
        if not exited.done():
            exited.set_result(None)

    try:
        loop.add_reader(fd, readable)
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return proc.wait()
