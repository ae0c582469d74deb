"""Runs escalation ladders: claims the due ones, decides each step purely
(ladder.next_escalation_step), resolves who is on call, and applies the step atomically.

Each due step is claimed in Redis (store/lua/escalation_claim.lua) with a lease and applied
only by its claim (escalation_apply.lua), so it fires once whichever replica gets it, and a
runner that dies between claim and apply loses nothing: the step comes due again after
the lease. An ack that lands between claim and apply wins: the step is not sent.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.ack.service import stored_ack
from receiver.escalation.config import EscalationPolicy
from receiver.escalation.ladder import (
    Fire,
    LadderState,
    StepPlan,
    Stop,
    Wait,
    due_at,
    next_escalation_step,
    plan_step,
)
from receiver.metrics import Metrics
from receiver.models import (
    ZERO_TIME,
    AlertSnapshot,
    EscalationInfo,
    Notification,
    Reason,
    ack_active,
    snapshot_from_record,
)
from receiver.oncall.store import OnCallLookup
from receiver.periodic import Periodic
from receiver.pipeline.routing import record_field
from receiver.pipeline.throttle import Rate
from receiver.store import keys as K
from receiver.store import scripts

log = logging.getLogger("receiver.escalation")
# (alert labels, ladder started ms, now ms) → the ladder's new start when a maintenance
# window pauses it now (its clock moved by the time spent in the window), else None.
LadderPause = Callable[[dict[str, str], int, int], int | None]
BATCH = 200
LEASE_S = 30.0


@dataclass(frozen=True)
class Claimed:
    """One claimed ladder as escalation_claim.lua returns it."""

    fp: str
    policy: str
    episode: str
    started_ms: int
    fired: int
    ended: str
    told: str
    status: str
    starts_at: str
    ack: str | None
    doc: dict[str, Any]

    @classmethod
    def of(cls, row: list[Any]) -> Claimed:
        fp, policy, episode, started, fired, ended, told, status, starts, ack, doc = row
        return cls(fp, policy or "", episode or "", int(started or 0), int(fired or 0),
                   ended or "", told or "", status or "", starts or "", ack or None,
                   orjson.loads(doc) if doc else {})  # fmt: skip

    def state(self, now_ms: int) -> LadderState:
        firing = self.status == "firing" and self.starts_at == self.episode
        found = stored_ack(self.ack)
        held = found is not None and ack_active(found[0], found[1], self.episode, now_ms)
        until = found[0].until_ms if held and found is not None else None
        return LadderState(self.started_ms, self.fired, self.ended, firing, until)

    def snapshot(self) -> AlertSnapshot:
        return snapshot_from_record(self.fp, "firing", self.episode, ZERO_TIME, self.doc)


class EscalationRunner(Periodic):
    name, log = "escalation", log

    def __init__(
        self,
        redis: Any,
        keys: K.Keys,
        policies: Callable[[], Mapping[str, EscalationPolicy]],
        rates: Callable[[], Mapping[str, Rate | None]],
        oncall: OnCallLookup,
        metrics: Metrics,
        consumer: str,
        clock: Callable[[], float] = time.time,
        interval_s: float = 0.2,
        lease_s: float = LEASE_S,
        target: str = "",
    ) -> None:
        self.redis, self.keys, self.policies, self.rates = redis, keys, policies, rates
        self.oncall, self.metrics, self.clock = oncall, metrics, clock
        self.interval_s, self.lease_ms, self.target = interval_s, int(lease_s * 1000), target
        self.consumer = consumer
        self._claims = itertools.count()
        self._claim = scripts.register(redis, "escalation_claim.lua")
        self._apply = scripts.register(redis, "escalation_apply.lua")
        # Set by the wiring when maintenance windows exist (receiver/maintenance/gate.py).
        self.paused: LadderPause | None = None

    async def step(self) -> None:
        while await self.tick() >= BATCH:
            pass

    async def tick(self) -> int:
        """Claim what is due now and apply a decision for each; returns how many."""
        claim, rows = await self.claim()
        if rows:
            await self.apply(claim, rows)
        return len(rows)

    async def claim(self) -> tuple[str, list[Claimed]]:
        """The ladders due now, leased to this runner under a new claim id."""
        claim = f"{self.consumer}:{next(self._claims)}"
        args = [self.keys.tag, int(self.clock() * 1000), self.lease_ms, claim, BATCH]
        raw = await self._claim(keys=[self.keys.escalation_due], args=args)
        return claim, [Claimed.of(r) for r in orjson.loads(raw)]

    async def apply(self, claim: str, rows: list[Claimed]) -> list[str]:
        """Decide each claimed ladder and apply the decisions (those still held by
        `claim`); returns each one's outcome."""
        now_ms = int(self.clock() * 1000)
        items = [await self._decide(c, now_ms) for c in rows]
        res: list[str] = orjson.loads(await self._apply(
            keys=[self.keys.escalation_due],
            args=[self.keys.tag, now_ms, claim, K.THROTTLE_IDLE_TTL_MS, orjson.dumps(items),
                  K.PERSON_CHAIN_TTL_MS],
        ))  # fmt: skip
        for c, item, outcome in zip(rows, items, res, strict=True):
            self._observe(c, item, outcome, now_ms)
        return res

    async def _decide(self, c: Claimed, now_ms: int) -> dict[str, Any]:
        item: dict[str, Any] = {"fp": c.fp, "fired": c.fired, "episode": c.episode,
                                "due": False, "reason": "", "jobs": [], "step": "",
                                "told": c.told, "people": []}  # fmt: skip
        policy = self.policies().get(c.policy)
        if policy is None:  # removed by a reload: nothing can run this ladder any more
            return {**item, "action": "stop", "reason": "policy_removed"}
        d = next_escalation_step(policy, c.state(now_ms), now_ms)
        if isinstance(d, Stop):
            return {**item, "action": "stop", "reason": d.reason}
        if isinstance(d, Wait):
            return {**item, "action": "wait", "due": d.until_ms}
        labels = c.doc.get("labels", {})
        started = self.paused(labels, c.started_ms, now_ms) if self.paused else None
        if started is not None:  # in a maintenance window: the ladder's clock stops
            return {**item, "action": "wait", "due": due_at(policy, d.index, started),
                    "started": started}  # fmt: skip
        jobs, plan = await self._targets(policy, d, c, now_ms)
        more = d.index + 1 < policy.total
        # Who was paged and has not answered: people only (receivers are not people).
        told = ", ".join(dict.fromkeys([*filter(None, c.told.split(", ")), *plan.people]))
        step = orjson.dumps({"level": d.level, "round": d.round, "due": d.due_ms,
                             "at": now_ms, "to": plan.to}).decode()  # fmt: skip
        # People of the `people` section paged: escalation_apply.lua starts their rules.
        return {**item, "action": "fire", "jobs": jobs, "step": step, "told": told,
                "people": plan.page,
                "due": due_at(policy, d.index + 1, c.started_ms) if more else False,
                "reason": "" if more else "done"}  # fmt: skip

    async def _targets(
        self, policy: EscalationPolicy, d: Fire, c: Claimed, now_ms: int
    ) -> tuple[list[list[Any]], StepPlan]:
        """The step's jobs ([destination, job JSON, rate, record field, record JSON]) and
        its plan. Each job's notification record keeps the job's key, so that the resolve
        reaches that destination (or person) threaded under what it was sent."""
        step = policy.steps[d.level - 1]
        on_call = {r: await self.oncall.member(r, now_ms / 1000) for r in step.rotations}
        plan = plan_step(policy, step, on_call)
        info = EscalationInfo(policy=c.policy, level=d.level, levels=policy.levels,
                              unanswered=[n for n in c.told.split(", ") if n],
                              since_ms=c.started_ms,
                              after_ms=d.due_ms - c.started_ms)  # fmt: skip
        snap = c.snapshot()
        rates = self.rates()
        jobs: list[list[Any]] = []
        for dest, recipients in plan.dests:
            n = Notification(
                key=f"{c.fp}/{dest}/escalated/{c.episode}/{d.index}/{','.join(recipients)}",
                destination=dest, reason=Reason.ESCALATED, alert=snap, route=c.policy,
                enqueued_at_ms=now_ms, decided_at_ms=now_ms, escalation=info,
                recipients=list(recipients),
            )  # fmt: skip
            rate = rates.get(dest)
            record = orjson.dumps({"status": "firing", "starts_at": c.episode, "n": now_ms,
                                   "key": n.key}).decode()  # fmt: skip
            jobs.append([dest, n.to_json(), [rate.interval_ms, rate.burst] if rate else False,
                         record_field(dest, recipients), record])  # fmt: skip
        return jobs, plan

    def _observe(self, c: Claimed, item: dict[str, Any], outcome: str, now_ms: int) -> None:
        fields = {"fingerprint": c.fp, "policy": c.policy, "outcome": outcome}
        if outcome == "fired":
            step = orjson.loads(item["step"])
            self.metrics.escalation_steps.labels(c.policy, str(step["level"])).inc()
            self.metrics.escalation_lateness.observe(max(0.0, (now_ms - step["due"]) / 1000))
            log.info("escalation step fired",
                     extra={**fields, "step": step["level"], "to": step["to"]})  # fmt: skip
        elif outcome in ("lost", "gone", "acked", "resolved") or item["action"] == "stop":
            log.info("escalation ladder " + outcome, extra={**fields, "reason": item["reason"]})
