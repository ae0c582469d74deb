"""Runs people's notification rules: claims the due chains, decides each purely
(rules.next_rule) and applies the decision atomically (store/lua/people_apply.lua).

A chain starts when an escalation step pages a person (escalation_apply.lua), one per
(alert episode, person). Each due rule is claimed with a lease (people_claim.lua) and
applied only by its claim, so it fires once whichever replica gets it; a runner that dies
between claim and apply loses nothing: the rule comes due again after the lease. The apply
step checks, in the same Lua step, that the alert still fires in the chain's episode and
that nobody acknowledged it: an ack, whoever gave it and however, stops every pending rule.
An ack also brings the chains of the people its ladder paged due at once (ack.lua), so
they stop (and their page-to-ack time is counted) then, not at their next rule's time;
an unack resumes the chains an ack stopped, where they were.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.ack.links import LinksConfig
from receiver.ack.push import PushLinks
from receiver.ack.service import stored_ack
from receiver.metrics import Metrics
from receiver.models import (
    ZERO_TIME,
    AlertSnapshot,
    Notification,
    PersonPage,
    Reason,
    ack_active,
    snapshot_from_record,
)
from receiver.people.checks import via_receiver
from receiver.people.config import PeopleConfig, Person, Via
from receiver.people.rules import ChainState, Fire, Stop, Wait, next_rule, pending
from receiver.periodic import Periodic
from receiver.pipeline.routing import record_field
from receiver.pipeline.throttle import Rate
from receiver.store import keys as K
from receiver.store import scripts

log = logging.getLogger("receiver.people")
BATCH = 200
LEASE_S = 30.0


@dataclass(frozen=True)
class Claimed:
    """One claimed chain as people_claim.lua returns it."""

    member: str
    fp: str
    person: str
    episode: str
    started_ms: int
    fired: int
    used: str
    ended: str
    status: str
    starts_at: str
    ack: str | None
    doc: dict[str, Any]

    @classmethod
    def of(cls, row: list[Any]) -> Claimed:
        member, episode, started, fired, used, ended, status, starts, ack, doc = row
        fp, _, person = str(member).partition(":")
        return cls(member, fp, person, episode or "", int(started or 0), int(fired or 0),
                   used or "", ended or "", status or "", starts or "", ack or None,
                   orjson.loads(doc) if doc else {})  # fmt: skip

    def state(self, now_ms: int) -> ChainState:
        firing = self.status == "firing" and self.starts_at == self.episode
        found = stored_ack(self.ack)
        held = found is not None and ack_active(found[0], found[1], self.episode, now_ms)
        until = found[0].until_ms if held and found is not None else None
        return ChainState(self.started_ms, self.fired, self.ended, firing, until)

    def acked_at_ms(self) -> int | None:
        found = stored_ack(self.ack)
        if found is None or found[1] != self.episode:
            return None
        return found[0].at_ms

    def snapshot(self) -> AlertSnapshot:
        return snapshot_from_record(self.fp, "firing", self.episode, ZERO_TIME, self.doc)


@dataclass(frozen=True)
class Config:
    """What the runner reads of the current config (a reload applies at the next tick)."""

    people: PeopleConfig
    receivers: Mapping[str, Any]
    rates: Mapping[str, Rate | None]
    links: LinksConfig | None
    console: bool = False  # the console is on: a push's Open action leads to its page


class PeopleRunner(Periodic):
    name, log = "people", log

    def __init__(
        self,
        redis: Any,
        keys: K.Keys,
        config: Callable[[], Config],
        metrics: Metrics,
        consumer: str,
        clock: Callable[[], float] = time.time,
        interval_s: float = 0.2,
        lease_s: float = LEASE_S,
        target: str = "",
    ) -> None:
        self.redis, self.keys, self.config, self.metrics = redis, keys, config, metrics
        self.clock, self.interval_s, self.lease_ms = clock, interval_s, int(lease_s * 1000)
        self.consumer, self.target = consumer, target
        self._claims = itertools.count()
        self._claim = scripts.register(redis, "people_claim.lua")
        self._apply = scripts.register(redis, "people_apply.lua")
        self._links: tuple[LinksConfig | None, PushLinks | None] = (None, None)

    async def step(self) -> None:
        while await self.tick() >= BATCH:
            pass

    async def tick(self) -> int:
        """Claim what is due now and apply a decision for each; returns how many."""
        claim = f"{self.consumer}:{next(self._claims)}"
        args = [self.keys.tag, int(self.clock() * 1000), self.lease_ms, claim, BATCH]
        raw = await self._claim(keys=[self.keys.people_due], args=args)
        rows = [Claimed.of(r) for r in orjson.loads(raw)]
        if rows:
            await self.apply(claim, rows)
        return len(rows)

    async def apply(self, claim: str, rows: list[Claimed]) -> list[str]:
        now_ms = int(self.clock() * 1000)
        cfg = self.config()
        items = [self._decide(cfg, c, now_ms) for c in rows]
        res: list[str] = orjson.loads(await self._apply(
            keys=[self.keys.people_due],
            args=[self.keys.tag, now_ms, claim, K.THROTTLE_IDLE_TTL_MS, orjson.dumps(items)],
        ))  # fmt: skip
        for c, item, outcome in zip(rows, items, res, strict=True):
            self._observe(cfg, c, item, outcome)
        return res

    def _push_links(self, cfg: LinksConfig | None) -> PushLinks | None:
        if cfg is None:
            return None
        if self._links[0] is not cfg:  # a reload: read the secret again
            self._links = (cfg, PushLinks(cfg, self.clock))
        return self._links[1]

    def _decide(self, cfg: Config, c: Claimed, now_ms: int) -> dict[str, Any]:
        item: dict[str, Any] = {"m": c.member, "fp": c.fp, "person": c.person,
                                "fired": c.fired, "episode": c.episode, "due": False,
                                "reason": "", "via": "", "log": "", "jobs": []}  # fmt: skip
        person = cfg.people.get(c.person)
        if person is None:  # removed by a reload
            return {**item, "action": "stop", "reason": "person_removed"}
        rules = cfg.people.rules(c.person)
        d = next_rule(rules, c.state(now_ms), now_ms)
        if isinstance(d, Stop):
            return {**item, "action": "stop", "reason": d.reason}
        if isinstance(d, Wait):
            return {**item, "action": "wait", "due": d.until_ms}
        jobs, dest = self._jobs(cfg, c, person, d, now_ms)
        more = d.index + 1 < len(rules)
        nxt = c.started_ms + int(rules[d.index + 1].after * 1000) if more else now_ms
        entry = {"rule": d.index, "via": d.rule.via.value, "to": dest, "due": d.due_ms,
                 "at": now_ms}  # fmt: skip
        return {**item, "action": "fire", "jobs": jobs, "via": d.rule.via.value,
                "log": orjson.dumps(entry).decode(), "due": nxt}  # fmt: skip

    def _jobs(
        self, cfg: Config, c: Claimed, person: Person, d: Fire, now_ms: int
    ) -> tuple[list[list[Any]], str | None]:
        """The rule's job ([dest, job JSON, rate, record field, record JSON]), none when
        no receiver carries its contact method any more, and the destination."""
        dest = via_receiver(cfg.people, cfg.receivers, person, d.rule.via)
        if dest is None:
            return [], None
        links = self._push_links(cfg.links)
        if d.rule.via is Via.PUSH and person.ntfy is not None:
            recipients = [f"{c.person}@{person.ntfy.topic}"]
            page = PersonPage(
                name=c.person, rule=d.index,
                ack_url=links.ack_url(c.fp, c.episode, c.person) if links else "",
                open_url=links.open_url(c.fp) if links and cfg.console else "",
            )  # fmt: skip
        elif d.rule.via is Via.EMAIL and person.email is not None:
            recipients, page = [person.email], PersonPage(name=c.person, rule=d.index)
        elif d.rule.via is Via.SLACK and person.slack is not None:
            # "person@user id": a direct message (notifiers/slack: to the user, not the
            # receiver's channel); the record of its own makes the resolve edit it.
            recipients = [f"{c.person}@{person.slack}"]
            page = PersonPage(name=c.person, rule=d.index)
        else:
            return [], None
        n = Notification(
            key=f"{c.fp}/{dest}/person/{c.episode}/{c.person}/{d.index}",
            destination=dest, reason=Reason.ESCALATED, alert=c.snapshot(),
            route=f"person:{c.person}", enqueued_at_ms=now_ms, decided_at_ms=now_ms,
            recipients=recipients, person=page,
        )  # fmt: skip
        rate = cfg.rates.get(dest)
        record = orjson.dumps({"status": "firing", "starts_at": c.episode, "n": now_ms,
                               "key": n.key}).decode()  # fmt: skip
        job = [dest, n.to_json(), [rate.interval_ms, rate.burst] if rate else False,
               record_field(dest, recipients), record]  # fmt: skip
        return [job], dest

    def _observe(self, cfg: Config, c: Claimed, item: dict[str, Any], outcome: str) -> None:
        m = self.metrics
        fields = {"fingerprint": c.fp, "person": c.person, "outcome": outcome}
        if outcome == "fired":
            sent = "sent" if item["jobs"] else "unreachable"
            m.person_notifications.labels(item["via"], sent).inc()
            (log.info if item["jobs"] else log.error)(
                "person notified" if item["jobs"] else "person rule reached no receiver",
                extra={**fields, "via": item["via"], "rule": c.fired},
            )
            return
        stopped = outcome in ("acked", "resolved") or (
            outcome == "stopped" and item["reason"] in ("acked", "resolved")
        )
        if not stopped:
            return
        for rule in pending(cfg.people.rules(c.person), c.fired):
            m.person_notifications.labels(rule.via.value, "cancelled").inc()
        at = c.acked_at_ms()
        if (outcome == "acked" or item["reason"] == "acked") and at is not None:
            m.person_time_to_ack.labels(c.person).observe(max(0.0, (at - c.started_ms) / 1000))
        log.info("person's rules stopped", extra={**fields, "reason": item["reason"] or outcome})
