"""Destination-wide backpressure: a 429 pauses a destination, repeated trouble opens its
circuit, and the jobs meanwhile wait, in order, in Redis.

The state is per destination (receiver name) and shared by every replica: the circuit hash
(`Keys.circuit`) and the parked jobs (`Keys.parked`, criticals first, then by decision
time). Three steps, each one Lua script so that replicas agree:

- `gate.lua`, before a send, only when this replica's view of the destination is not plainly
  closed: paused → park the job; pause over (half-open) → one job is the probe, the rest
  park; closed but jobs still parked → park behind them, so the order holds.
- `settle.lua` (the worker's outcome record): a 429 pauses the destination until its
  Retry-After; `threshold` consecutive retryable failures open the circuit for an interval
  that doubles each time it opens in a row (`base_s` … `max_s`); the failed job is parked.
  A success (or a final refusal: the destination answered) closes it and releases the first
  parked batch.
- `wake.lua`, every tick here: closed → release parked jobs to the outbox; half-open and no
  probe in flight → release the first parked job alone, to be the probe.

So a paused destination sees at most a probe per pause interval (plus the sends already in
flight when the first 429 came back), not the whole backlog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from receiver.metrics import Metrics
from receiver.models import Notification, Severity
from receiver.periodic import Periodic
from receiver.store import scripts
from receiver.store.keys import OUTBOX_GROUP, Keys

log = logging.getLogger("receiver.backpressure")

# Park scores: criticals (band 0) before the rest (band 1), each by decision time (ms).
_BAND_MS = 10**14
# settle.lua's circuit arguments (`Backpressure.settle_args`) without backpressure: no
# pause, not the probe, opens after 1 failure, no intervals, releases nothing (unused: such
# a worker's verdicts never fail or throttle).
NO_CIRCUIT: tuple[Any, ...] = (0, "0", 1, 0, 0, 0)


@dataclass(frozen=True)
class CircuitPolicy:
    """How the circuit reacts; the defaults are what `serve` uses."""

    threshold: int = 5  # consecutive retryable failures (any replica) that open it
    base_s: float = 2.0  # first open interval; doubles each time it opens in a row
    max_s: float = 60.0  # longest open interval
    probe_lease_s: float = 30.0  # a probe not settled by then lets another one through
    wake_lease_s: float = 2.0  # a parked job released to be the probe must start by then
    release_batch: int = 500  # parked jobs moved to the outbox per step once closed
    default_pause_s: float = 5.0  # a 429 without Retry-After


@dataclass(frozen=True)
class DestinationState:
    """One destination as the last refresh saw it."""

    until_ms: int = 0  # no sends before then; 0 = closed
    reason: str = ""  # rate_limited | failing
    fails: int = 0
    parked: int = 0

    def state(self, now_ms: int) -> str:
        if self.until_ms > now_ms:
            return "paused"
        if self.until_ms:
            return "half_open"
        return "releasing" if self.parked else "closed"


def park_score(n: Notification) -> int:
    """Order of a parked job: criticals first, each band in decision order."""
    band = 0 if n.alert.severity is Severity.CRITICAL else 1
    return band * _BAND_MS + (n.decided_at_ms or n.enqueued_at_ms)


class Backpressure(Periodic):
    """The destinations' shared pause/circuit state: the gate before a send, the circuit
    arguments of the outcome record, and a loop that releases parked jobs and refreshes
    the view, the gauges and /health."""

    name, log = "backpressure", log

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        destinations: Callable[[], Iterable[str]],
        metrics: Metrics,
        policy: CircuitPolicy | None = None,
        clock: Callable[[], float] = time.time,
        interval_s: float = 0.25,
        target: str = "",
    ) -> None:
        self.redis, self.keys, self.metrics, self.clock = redis, keys, metrics, clock
        self.destinations = destinations  # the configured receivers (a reload changes them)
        self.policy = policy or CircuitPolicy()
        self.interval_s, self.target = interval_s, target
        self.view: dict[str, DestinationState] = {}
        self._gate = scripts.register(redis, "gate.lua")
        self._wake = scripts.register(redis, "wake.lua")

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def must_gate(self, destination: str) -> bool:
        """Whether a send must ask Redis first (the destination is not plainly closed)."""
        st = self.view.get(destination)
        return st is not None and (st.until_ms > 0 or st.parked > 0)

    async def gate(self, destination: str, n: Notification, raw: str, entry_id: str) -> str:
        """'send', 'probe', 'parked' (held back, entry acknowledged) or 'gone'."""
        p = self.policy
        reply = await self._gate(
            keys=[self.keys.circuit(destination), self.keys.parked(destination),
                  self.keys.outbox],
            args=[self.now_ms(), raw, park_score(n), int(p.probe_lease_s * 1000),
                  OUTBOX_GROUP, entry_id],
        )  # fmt: skip
        return str(reply)

    def settle_args(self, retry_after_s: float | None, probe: bool) -> list[Any]:
        """ARGV[11] and ARGV[14..18] of settle.lua (see there)."""
        p = self.policy
        pause = p.default_pause_s if retry_after_s is None else max(retry_after_s, 0.0)
        return [int(pause * 1000), "1" if probe else "0", p.threshold,
                int(p.base_s * 1000), int(p.max_s * 1000), p.release_batch]  # fmt: skip

    def note_parked(self, destination: str, until_ms: int = 0) -> None:
        """A send just parked a job: ask Redis before the next send there."""
        st = self.view.get(destination, DestinationState())
        self.view[destination] = DestinationState(
            max(st.until_ms, until_ms, 1), st.reason, st.fails, st.parked + 1
        )

    async def step(self) -> None:
        names = sorted(set(self.destinations()))
        now = self.now_ms()
        pipe = self.redis.pipeline(transaction=False)
        for d in names:
            pipe.hmget(self.keys.circuit(d), "until", "reason", "fails")
            pipe.zcard(self.keys.parked(d))
        replies = await pipe.execute() if names else []
        view: dict[str, DestinationState] = {}
        for i, d in enumerate(names):
            (until, reason, fails), parked = replies[2 * i], replies[2 * i + 1]
            view[d] = DestinationState(int(until or 0), reason or "", int(fails or 0), parked)
        wake = [d for d, st in view.items() if st.parked and st.until_ms <= now]
        for d in wake:
            moved = int(await self._wake(
                keys=[self.keys.circuit(d), self.keys.parked(d), self.keys.outbox],
                args=[now, self.policy.release_batch, int(self.policy.wake_lease_s * 1000)],
            ))  # fmt: skip
            if moved:
                log.info("released parked jobs", extra={"destination": d, "jobs": moved,
                                                         "state": view[d].state(now)})  # fmt: skip
        self.view = view
        self._gauges(now)

    def _gauges(self, now_ms: int) -> None:
        m = self.metrics
        for d, st in self.view.items():
            paused = st.until_ms > now_ms
            m.child(m.destination_paused, d).set(1 if paused else 0)
            m.child(m.destination_resume, d).set(
                max(0.0, (st.until_ms - now_ms) / 1000) if paused else 0
            )
            m.child(m.destination_parked, d).set(st.parked)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """For /health: each destination's state, seconds until it resumes, jobs parked."""
        now = self.now_ms()
        out: dict[str, dict[str, Any]] = {}
        for d, st in sorted(self.view.items()):
            entry: dict[str, Any] = {"state": st.state(now), "parked": st.parked}
            if st.until_ms:
                entry["reason"] = st.reason
                entry["resume_in_s"] = round(max(0.0, (st.until_ms - now) / 1000), 1)
            out[d] = entry
        return out
