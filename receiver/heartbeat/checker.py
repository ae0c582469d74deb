"""The dead-man's switch: pages when an expected always-firing alert stops arriving.

The intake records each heartbeat's last arrival (store/lua/intake.lua, `heartbeat_seen`).
Every replica checks them; a transition (silent past the timeout → raised, an arrival
after that → ok) is claimed in Redis by compare-and-set (store/lua/heartbeat_claim.lua),
so it is made once across replicas. The page itself is the receiver's own alert,
`HeartbeatMissing{heartbeat=NAME}`, put through the intake like any alert (a real record,
listed by /api/v1/alerts, decided and de-duplicated like any) but notified to the
heartbeat's `notify` receivers. Each check also makes that alert agree with the claimed
state, so a replica that died between the claim and the intake loses no page, and the
intake's de-duplication keeps a repeated repair from paging twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from receiver.config.durations import format_duration
from receiver.heartbeat.config import HeartbeatConfig
from receiver.metrics import Metrics
from receiver.models import ZERO_TIME, Status, fingerprint
from receiver.payload import Alert, Payload
from receiver.periodic import Periodic
from receiver.pipeline.intake import Intake
from receiver.pipeline.route import ROOT_REPEAT_INTERVAL_S, RouteMatch
from receiver.pipeline.routing import Target
from receiver.store import keys as K
from receiver.store import scripts

log = logging.getLogger("receiver.heartbeat")
ALERTNAME = "HeartbeatMissing"
OK = "ok"
RAISED = "raised|"


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def silent_since(state: str) -> int | None:
    """The last arrival before the silence of a raised state; None when not raised."""
    return int(state[len(RAISED) :]) if state.startswith(RAISED) else None


def next_state(last_ms: int, state: str, now_ms: int, timeout_ms: int) -> str | None:
    """The state to claim now, or None to stay. Raised once nothing arrived for longer
    than the timeout; ok again once something arrived after the silence began."""
    since = silent_since(state)
    silent = now_ms - last_ms > timeout_ms
    if since is None:
        return f"{RAISED}{last_ms}" if silent else None
    return OK if last_ms > since else None


def own_labels(name: str) -> dict[str, str]:
    return {"alertname": ALERTNAME, "heartbeat": name, "severity": "critical",
            "source": "alert-receiver"}  # fmt: skip


@dataclass(frozen=True)
class Beat:
    """One heartbeat as /api/v1/heartbeats shows it."""

    name: str
    last_ms: int | None  # last arrival; None: never since it was configured
    state: str  # "" (not checked yet) | ok | raised|<since>

    def view(self, hb: HeartbeatConfig) -> dict[str, Any]:
        since = silent_since(self.state)
        status = "missing" if since is not None else "ok"
        if self.last_ms is None:
            status = "waiting"
        return {
            "name": self.name, "status": status, "matchers": hb.matchers,
            "timeout": format_duration(hb.timeout), "notify": hb.notify,
            "last_seen": rfc3339(self.last_ms) if self.last_ms else None,
            "last_seen_ms": self.last_ms,
            "silent_since": rfc3339(since) if since is not None else None,
            "fingerprint": fingerprint(own_labels(self.name)),
        }  # fmt: skip


class HeartbeatChecker(Periodic):
    name, log = "heartbeats", log

    def __init__(
        self,
        redis: Any,
        keys: K.Keys,
        intake: Intake,
        config: Callable[[], Mapping[str, HeartbeatConfig]],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        interval_s: float = 1.0,
        target: str = "",
    ) -> None:
        self.redis, self.keys, self.intake, self.config = redis, keys, intake, config
        self.metrics, self.clock, self.interval_s, self.target = metrics, clock, interval_s, target
        self._claim = scripts.register(redis, "heartbeat_claim.lua")

    async def beats(self) -> dict[str, Beat]:
        """Every heartbeat with a recorded arrival or state (configured or not)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.heartbeat_seen)
            pipe.hgetall(self.keys.heartbeat_state)
            seen, states = await pipe.execute()
        seen, states = _text(seen), _text(states)
        return {n: Beat(n, int(seen[n]) if n in seen else None, states.get(n, ""))
                for n in {*seen, *states}}  # fmt: skip

    async def step(self) -> None:
        config = self.config()
        beats = await self.beats()
        now_ms = int(self.clock() * 1000)
        for name, hb in config.items():
            beat = beats.get(name) or Beat(name, None, "")
            if beat.last_ms is None:  # armed now: the timeout counts from the first check
                await self.redis.hsetnx(self.keys.heartbeat_seen, name, now_ms)
                beat = Beat(name, now_ms, beat.state)
            assert beat.last_ms is not None
            state = beat.state
            new = next_state(beat.last_ms, state, now_ms, int(hb.timeout * 1000))
            if new is not None and await self._claim(
                keys=[self.keys.heartbeat_state], args=[self.keys.tag, name, state, new]
            ):
                log.warning("heartbeat " + ("missing" if new.startswith(RAISED) else "back"),
                            extra={"heartbeat": name, "last_seen_ms": beat.last_ms})  # fmt: skip
                state = new
            elif new is not None:  # another replica moved it first: read what it claimed
                state = _text_one(await self.redis.hget(self.keys.heartbeat_state, name)) or ""
            await self.ensure(name, hb, state, now_ms)
            self.metrics.heartbeat_last_seen.labels(name).set(beat.last_ms / 1000)
            self.metrics.heartbeat_missing.labels(name).set(1 if state.startswith(RAISED) else 0)
        for name in beats.keys() - config.keys():  # removed by a reload: resolve, forget
            await self.ensure(name, None, OK, now_ms)
            await self.redis.hdel(self.keys.heartbeat_state, name)
            await self.redis.hdel(self.keys.heartbeat_seen, name)

    async def ensure(self, name: str, hb: HeartbeatConfig | None, state: str, now_ms: int) -> None:
        """Makes the heartbeat's own alert agree with the claimed state: firing for the
        current silence while raised, resolved otherwise."""
        labels = own_labels(name)
        status, starts = await self.redis.hmget(self.keys.alert(fingerprint(labels)),
                                                "status", "startsAt")  # fmt: skip
        status, starts = _text_one(status), _text_one(starts)
        since = silent_since(state)
        if since is not None and hb is not None:
            begin = rfc3339(since + int(hb.timeout * 1000))
            if status != Status.FIRING or starts != begin:
                await self._ingest(name, hb, Status.FIRING, begin, ZERO_TIME, since)
        elif status == Status.FIRING and starts:
            await self._ingest(name, hb, Status.RESOLVED, starts, rfc3339(now_ms), None)

    async def _ingest(
        self, name: str, hb: HeartbeatConfig | None, status: Status, starts: str, ends: str,
        since: int | None,
    ) -> None:  # fmt: skip
        routing = self.intake.routing
        notify = hb.notify if hb is not None else []
        route = RouteMatch(f"heartbeat:{name}", tuple(notify), ROOT_REPEAT_INTERVAL_S, True,
                           None, None)  # fmt: skip
        targets = [Target(d, route) for d in notify if d in routing.known]
        annotations = {"summary": f"alerting pipeline silent since {rfc3339(since)}"
                       if since is not None else f"heartbeat {name} is back"}  # fmt: skip
        if hb is not None:
            annotations["description"] = (
                f"No alert matching {', '.join(hb.matchers)} has reached the receiver for "
                f"{format_duration(hb.timeout)} (heartbeat {name}): Prometheus, Alertmanager or "
                "the path from them to the receiver may be broken, so other alerts may not "
                "arrive either."
            )
        alert = Alert(status=status, labels=own_labels(name), annotations=annotations,
                      startsAt=starts, endsAt=ends)  # fmt: skip
        payload = Payload(version="4", groupKey=f"heartbeat:{name}", status=status,
                          receiver="heartbeat", alerts=[alert])  # fmt: skip
        await self.intake.ingest_own(payload, targets)
        log.info("heartbeat alert " + status.value, extra={"heartbeat": name, "to": notify})


def _text(d: dict[Any, Any]) -> dict[str, str]:
    return {_text_one(k) or "": _text_one(v) or "" for k, v in d.items()}


def _text_one(v: str | bytes | None) -> str | None:
    return v.decode() if isinstance(v, bytes) else v
