"""Acknowledging alerts: one service behind every way in (API, CLI, Slack button, email
link, console), so each records the same thing and has the same effects.

An ack belongs to the alert's current firing episode (its `startsAt`). In one atomic step
(store/lua/ack.lua) it is written on the alert's state record, added to its history (who,
when, how, comment), and the destinations that were told about the alert get a job: an
`acknowledge` event for PagerDuty, a `chat.update` for Slack, the Alertmanager silence when
configured; email stays quiet. The escalation ladder is paused: until the ack's expiry, or
for good (cancelled) when the ack has none. An ack ends when the alert resolves (a re-fire
is a new episode) or when it expires; `unack` ends it at once and resumes escalation.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from receiver.metrics import Metrics
from receiver.models import (
    SEVERITIES,
    VIAS,
    AckInfo,
    AlertSnapshot,
    Notification,
    Reason,
    snapshot_from_record,
)
from receiver.store import scripts
from receiver.store.keys import Keys
from receiver.text import TextError, check_comment, check_name

log = logging.getLogger("receiver.ack")
# Who and comment are shown in Slack, email and the console: bounded.
MAX_BY = 128
MAX_COMMENT = 1000
# The longest an ack may last before repeats and escalation resume by themselves.
MAX_EXPIRY_S = 30 * 86400


class AckOutcome(enum.StrEnum):
    """What an ack or unack did. Doubles as a metric label."""

    ACKED = "acked"
    UNACKED = "unacked"
    ALREADY = "already_acked"  # an ack was in force already: nothing changed
    NOT_ACKED = "not_acked"  # unack of an alert nobody acknowledged: nothing changed
    NOT_FOUND = "not_found"
    NOT_FIRING = "not_firing"  # resolved: there is nothing to acknowledge
    OTHER_EPISODE = "other_episode"  # the caller named a startsAt that is not the current one
    REPLAYED = "replayed"  # a signed Slack click seen before (a replay): nothing was done

    @property
    def changed(self) -> bool:
        return self in (AckOutcome.ACKED, AckOutcome.UNACKED)


@dataclass(frozen=True)
class AckResult:
    outcome: AckOutcome
    fingerprint: str
    # The ack in force after the call: the new one, or the one already there (ALREADY).
    ack: AckInfo | None = None
    alertname: str = ""
    starts_at: str = ""  # the alert's current episode


def stored_ack(raw: str | None) -> tuple[AckInfo, str] | None:
    """The state record's `ack` field as (AckInfo, the episode it belongs to)."""
    if not raw:
        return None
    d = orjson.loads(raw)
    return AckInfo.model_validate(d), str(d.get("startsAt", ""))


def clean_text(by: str, comment: str) -> tuple[str, str]:
    """`by` and `comment` as shown to others (receiver/text.py: NFKC, no control or format
    characters, a comment may keep newlines); TextError naming the field otherwise."""
    return check_name(by, "by", MAX_BY), check_comment(comment, "comment", MAX_COMMENT)


def check_text(by: str, comment: str, via: str) -> str | None:
    """Why an ack request's fields are refused (None: fine), e.g. "by: contains a format
    character U+202E; names are shown to other people"."""
    try:
        clean_text(by, comment)
    except TextError as e:
        return str(e)
    if via not in VIAS:
        return f"via must be one of {', '.join(VIAS)}"
    return None


class Acks:
    """Ack and unack alerts. `ack_destinations()` names the receivers that act on an ack
    (PagerDuty, Slack in bot mode) → whether a job goes out even to one never told about the
    alert (the Alertmanager silence); read on every call so a reload applies at once."""

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        ack_destinations: Callable[[], Mapping[str, bool]],
        history_max: Callable[[], int],
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self.ack_destinations, self.history_max = ack_destinations, history_max
        self.metrics = metrics
        self._script = scripts.register(redis, "ack.lua")

    async def ack(
        self,
        fp: str,
        by: str,
        via: str,
        comment: str = "",
        until_ms: int = 0,
        starts_at: str | None = None,
    ) -> AckResult:
        """Acknowledge the alert's current episode (only if it is `starts_at`, when given:
        an email link is bound to the episode it was sent for)."""
        result = await self._change("ack", fp, by, via, comment, until_ms, starts_at)
        if result.outcome is AckOutcome.OTHER_EPISODE and starts_at is None:
            # It fired again between our read and the script: ack the episode now current.
            result = await self._change("ack", fp, by, via, comment, until_ms, None)
        return result

    async def unack(self, fp: str, by: str, via: str, comment: str = "") -> AckResult:
        """End the ack in force; repeats and escalation resume."""
        result = await self._change("unack", fp, by, via, comment, 0, None)
        if result.outcome is AckOutcome.OTHER_EPISODE:  # as in ack(): read again once
            result = await self._change("unack", fp, by, via, comment, 0, None)
        return result

    async def ack_group(
        self, group_key: str, by: str, via: str, comment: str = "", until_ms: int = 0
    ) -> list[AckResult]:
        """Acknowledge every firing alert of an Alertmanager group (by `groupKey`)."""
        out = []
        for fp in await self.group_members(group_key):
            out.append(await self.ack(fp, by, via, comment, until_ms))
        return out

    async def group_members(self, group_key: str) -> list[str]:
        """Fingerprints of the firing alerts whose last webhook came with `group_key`
        (walks the firing indexes; bounded by how many alerts fire)."""
        fps: list[str] = []
        for sev in SEVERITIES:
            fps += await self.redis.zrange(self.keys.firing_since(sev), 0, -1)
        found: list[str] = []
        for i in range(0, len(fps), 500):
            pipe = self.redis.pipeline(transaction=False)
            for fp in fps[i : i + 500]:
                pipe.hget(self.keys.alert(fp), "doc")
            for fp, doc in zip(fps[i : i + 500], await pipe.execute(), strict=True):
                if doc and orjson.loads(doc).get("groupKey") == group_key:
                    found.append(fp)
        return found

    async def _change(
        self,
        op: str,
        fp: str,
        by: str,
        via: str,
        comment: str,
        until_ms: int,
        starts_at: str | None,
    ) -> AckResult:
        # Every way in checks first (check_text); this keeps what is stored normalised and
        # refuses (TextError) a caller that did not.
        by, comment = clean_text(by, comment)
        raw = await self.redis.hgetall(self.keys.alert(fp))
        if not raw or "status" not in raw:
            return AckResult(AckOutcome.NOT_FOUND, fp)
        doc = orjson.loads(raw.get("doc") or "{}")
        episode = starts_at if starts_at is not None else raw.get("startsAt", "")
        now_ms = int(self.clock() * 1000)
        info = AckInfo(by=by, at_ms=now_ms, via=via, comment=comment, until_ms=until_ms)
        snap = snapshot_from_record(fp, raw.get("status", "firing"), raw.get("startsAt", ""),
                                    raw.get("endsAt", ""), doc)  # fmt: skip
        reason = Reason.ACKNOWLEDGED if op == "ack" else Reason.UNACKNOWLEDGED
        jobs = [
            [dest, _job(snap, dest, reason, info, now_ms).to_json(), always]
            for dest, always in self.ack_destinations().items()
        ]
        stored = orjson.dumps({**info.model_dump(), "startsAt": episode}).decode()
        event = {"at": now_ms, "event": op, "by": by, "via": via, "comment": comment}
        if op == "ack" and until_ms:
            event["until_ms"] = until_ms
        args = [self.keys.tag, op, fp, now_ms, episode, stored if op == "ack" else "",
                until_ms, orjson.dumps(event), self.history_max(), orjson.dumps(jobs)]  # fmt: skip
        res = orjson.loads(await self._script(keys=[self.keys.alert(fp)], args=args))
        ack = stored_ack(res.get("ack"))
        result = AckResult(
            AckOutcome(res["outcome"]),
            fp,
            ack[0] if ack else None,
            str(doc.get("alertname", "")),
            str(res.get("startsAt", "")),
        )
        self._observe(result, via, now_ms)
        return result

    def _observe(self, result: AckResult, via: str, now_ms: int) -> None:
        if self.metrics is None:
            return
        self.metrics.acks.labels(via, result.outcome.value).inc()
        if result.outcome is AckOutcome.ACKED:
            with contextlib.suppress(ValueError):
                started = datetime.fromisoformat(result.starts_at).timestamp()
                self.metrics.time_to_ack.observe(max(0.0, now_ms / 1000 - started))
        log.info("alert " + result.outcome.value,
                 extra={"fingerprint": result.fingerprint, "via": via,
                        "by": result.ack.by if result.ack else None})  # fmt: skip


def _job(
    snap: AlertSnapshot, dest: str, reason: Reason, info: AckInfo, now_ms: int
) -> Notification:
    return Notification(
        key=f"{snap.fingerprint}/{dest}/{reason.value}/{now_ms}",
        destination=dest,
        reason=reason,
        alert=snap,
        enqueued_at_ms=now_ms,
        decided_at_ms=now_ms,
        ack=info,
    )
