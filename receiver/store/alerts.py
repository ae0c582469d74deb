"""Reading alert state records back: one alert, or a filtered, paged list.

A list request does a bounded amount of work whatever its filter. Status and severity are
answered from the secondary indexes the intake script keeps (`Keys.by_state`: one sorted
set per status x severity, in fingerprint order); a filter on one of them merges the
partitions it covers, and a page reads only the records it returns. Label filters are
checked on the records next to the data (store/lua/scan.lua), at most `scan_budget`
records per request: a page can then end before it is full, with a cursor to continue
from where the scan stopped. Requests take turns (`max_lists` at once per process).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.models import (
    RECORD_META,
    SEVERITIES,
    STATUSES,
    AckInfo,
    ack_active,
    maintenance_view,
)
from receiver.store import scripts
from receiver.store.keys import Keys
from receiver.store.reindex import INDEX_VERSION

# Records a list request examines at most (about 10 µs of Redis each with a label filter).
SCAN_BUDGET = 1000
# List requests running at once per process (see AlertReader).
MAX_LISTS = 1
# Fingerprints fetched per round trip when the indexes answer; records examined per
# script call when the filter is checked in Redis (about a millisecond of Redis each).
_CHUNK, _SCAN_CHUNK = 200, 250
# Fields of the state hash that hold integers, decoded for API answers.
_INT_FIELDS = ("first_received", "last_received", "receive_count")
# Internal fields: `nv` = notification records' version (for the intake script), `sev` =
# severity as indexed, `sig` = a digest of `doc` written by earlier versions.
_HIDDEN = ("doc", "sig", "nv", "sev")

# Spelled out here: inside AlertReader, `list` is the method.
Fingerprints = list[str]
RawRecords = list[dict[str, str]]


@dataclass(frozen=True)
class AlertFilter:
    """status / severity / exact label values; all must hold."""

    status: str | None = None
    severity: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, rec: dict[str, Any]) -> bool:
        if self.status and rec.get("status") != self.status:
            return False
        if self.severity and rec.get("severity") != self.severity:
            return False
        labels = rec.get("labels", {})
        return all(labels.get(k) == v for k, v in self.labels)

    def to_json(self) -> bytes:
        """The filter as scan.lua reads it."""
        return orjson.dumps({"status": self.status or False, "severity": self.severity or False,
                             "labels": [list(p) for p in self.labels]})  # fmt: skip

    def partitions(self) -> list[tuple[str, str]]:
        """The (status, severity) index partitions that hold every match."""
        statuses = [s for s in STATUSES if self.status in (None, s)]
        severities = [s for s in SEVERITIES if self.severity in (None, s)]
        return [(st, sev) for st in statuses for sev in severities]


@dataclass(frozen=True)
class Page:
    """One page of a list: the alerts, where to continue, and how much was examined.

    `next_cursor` is None once every match has been returned (`complete`). A page can
    hold fewer than `limit` alerts, even none, and still have a cursor: the scan budget
    ran out first."""

    alerts: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int

    @property
    def complete(self) -> bool:
        return self.next_cursor is None


def decode_record(raw: dict[str, str], history: list[str] | None = None) -> dict[str, Any]:
    """The API view of a state hash: `doc` (descriptive fields, one JSON) spread out, the
    ack (as stored: it may have expired or belong to an earlier episode) decoded."""
    rec: dict[str, Any] = {k: v for k, v in raw.items() if k not in _HIDDEN}
    rec.update(orjson.loads(raw.get("doc") or "{}"))
    if "ack" in raw:
        rec["ack"] = orjson.loads(raw["ack"])
    if "maint" in raw:  # in a maintenance window (receiver/maintenance)
        rec.pop("maint", None)
        rec["maintenance"] = maintenance_view(raw["maint"])
    for f in _INT_FIELDS:
        if f in raw:
            rec[f] = int(raw[f])
    if history is not None:
        rec["history"] = [orjson.loads(h) for h in history]
    return rec


def escalation_view(ladder: dict[str, str], due: float | None) -> dict[str, Any]:
    """The escalation hash as the API shows it: policy, episode, when it started, steps
    fired (each: level, round, due, at, to whom), why it ended, and when the next is due."""
    steps = sorted(
        (int(k.split(":", 1)[1]), orjson.loads(v)) for k, v in ladder.items()
        if k.startswith("step:")
    )  # fmt: skip
    ended = ladder.get("ended", "")
    return {
        "policy": ladder.get("policy", ""), "episode": ladder.get("episode", ""),
        "started": int(ladder.get("started", "0")), "fired": int(ladder.get("fired", "0")),
        "ended": ended or None, "steps": [s for _, s in steps],
        "next_due": int(due) if due is not None and not ended else None,
    }  # fmt: skip


class ReadsBusy(RuntimeError):
    """Every list slot stayed taken for the queue timeout: the API answers 503."""


class AlertReader:
    """Read side of the alert state; writes happen only in the intake script.

    At most `max_lists` list requests run at once in a process; the others wait for a
    slot (up to `queue_timeout_s`). A list's work is bounded but not free, and it shares
    the event loop and Redis with the webhook: however many clients list at once, the
    intake only ever waits behind one list step."""

    def __init__(self, redis: Any, keys: Keys, scan_budget: int = SCAN_BUDGET,
                 max_lists: int = MAX_LISTS, queue_timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.redis, self.keys, self.scan_budget, self.clock = redis, keys, scan_budget, clock
        self.queue_timeout_s = queue_timeout_s
        self._slots = asyncio.Semaphore(max_lists)
        self._scan_step = scripts.register(redis, "scan.lua")
        self._indexed = False  # once the backfill is seen done, it stays done

    async def get(self, fp: str) -> dict[str, Any] | None:
        """One alert with its history, what each destination was told, its ack (and
        whether it is in force now) and its escalation ladder."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.alert(fp))
        pipe.lrange(self.keys.history(fp), 0, -1)
        pipe.hgetall(self.keys.notified(fp))
        pipe.hgetall(self.keys.escalation(fp))
        pipe.zscore(self.keys.escalation_due, fp)
        raw, hist, notified, ladder, due = await pipe.execute()
        if not raw or "status" not in raw:
            return None
        rec = decode_record(raw, hist)
        rec["notified"] = {k: orjson.loads(v) for k, v in notified.items()
                           if k not in RECORD_META}  # fmt: skip
        ack = rec.get("ack")
        rec["acknowledged"] = rec["status"] == "firing" and ack is not None and ack_active(
            AckInfo.model_validate(ack), str(ack.get("startsAt", "")), rec.get("startsAt", ""),
            int(self.clock() * 1000),
        )  # fmt: skip
        rec["escalation"] = escalation_view(ladder, due) if ladder else None
        return rec

    async def states(self, fps: Fingerprints) -> dict[str, dict[str, Any] | None]:
        """Each alert's state record as the API shows it (None when it is gone), read in
        pipelines of _CHUNK."""
        out: dict[str, dict[str, Any] | None] = {}
        for i in range(0, len(fps), _CHUNK):
            chunk = fps[i : i + _CHUNK]
            for fp, raw in zip(chunk, await self._records(chunk), strict=True):
                out[fp] = decode_record(raw) if raw and "status" in raw else None
        return out

    async def indexed(self) -> bool:
        """Whether the secondary indexes are complete (see receiver/store/reindex.py)."""
        if not self._indexed:
            self._indexed = await self.redis.get(self.keys.index_version) == INDEX_VERSION
        return self._indexed

    async def list(self, flt: AlertFilter, limit: int, cursor: str | None) -> Page:
        """Up to `limit` matching alerts after `cursor` (a fingerprint), in fingerprint
        order, examining at most max(scan_budget, limit) records. Raises ReadsBusy when
        no list slot frees up within `queue_timeout_s`."""
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ReadsBusy(f"no list slot free within {self.queue_timeout_s:g} s") from None
        try:
            return await self._list(flt, limit, cursor)
        finally:
            self._slots.release()

    async def _list(self, flt: AlertFilter, limit: int, cursor: str | None) -> Page:
        indexed = bool(flt.status or flt.severity) and await self.indexed()
        if flt.labels or ((flt.status or flt.severity) and not indexed):
            # Only a single partition is walked as is; several would need merging, so
            # the whole index is walked instead (status and severity checked per record).
            one = indexed and flt.status and flt.severity
            source = self.keys.by_state(*flt.partitions()[0]) if one else self.keys.index
            return await self._scan(flt, limit, cursor, source)
        # Status and severity only, or nothing: the indexes hold exactly the matches.
        if flt.status or flt.severity:
            sources = [self.keys.by_state(st, sev) for st, sev in flt.partitions()]
        else:
            sources = [self.keys.index]
        return await self._listed(sources, limit, cursor)

    async def _listed(self, sources: Fingerprints, limit: int, cursor: str | None) -> Page:
        """A page from index sets whose every member matches (expired ones aside)."""
        budget = max(self.scan_budget, limit)
        out: list[dict[str, Any]] = []
        scanned, start = 0, cursor
        while scanned < budget:
            want = min(_CHUNK, budget - scanned, limit - len(out))
            fps, exhausted = await self._next_fingerprints(sources, start, want)
            scanned += len(fps)
            for raw in await self._records(fps):
                if raw and "status" in raw:  # else expired between index and read
                    out.append(decode_record(raw))
            if exhausted:
                return Page(out, None, scanned)
            start = fps[-1]
            if len(out) == limit:
                return Page(out, start, scanned)
        return Page(out, start, scanned)

    async def _scan(self, flt: AlertFilter, limit: int, cursor: str | None, source: str) -> Page:
        """A page from walking `source` with the filter checked next to the data
        (scan.lua), at most `scan_budget` records."""
        budget = max(self.scan_budget, limit)
        out: list[dict[str, Any]] = []
        scanned, start, query = 0, f"({cursor}" if cursor else "-", flt.to_json()
        while scanned < budget:
            n = min(_SCAN_CHUNK, budget - scanned)
            examined, exhausted, last, *found = await self._scan_step(
                keys=[source], args=[self.keys.tag, query, start, n, limit - len(out)]
            )
            scanned += examined
            for raw in found[1::2]:
                rec = decode_record(dict(zip(raw[::2], raw[1::2], strict=True)))
                if flt.matches(rec):  # the script decided; this only guards the decode
                    out.append(rec)
            if exhausted:
                return Page(out, None, scanned)
            if not last:
                break
            start = "(" + last
            if len(out) == limit:
                return Page(out, last, scanned)
        return Page(out, start[1:] if start != "-" else None, scanned)

    async def _records(self, fps: Fingerprints) -> RawRecords:
        if not fps:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for fp in fps:
            pipe.hgetall(self.keys.alert(fp))
        records: RawRecords = await pipe.execute()
        return records

    async def _next_fingerprints(
        self, sources: Fingerprints, after: str | None, n: int
    ) -> tuple[Fingerprints, bool]:
        """The next `n` (or fewer) fingerprints after `after` in the union of the lex-ordered
        `sources`, and whether that reached the end of all of them."""
        start = f"({after}" if after else "-"
        if not sources:
            return [], True
        pipe = self.redis.pipeline(transaction=False)
        for key in sources:
            pipe.zrangebylex(key, start, "+", 0, n + 1)  # one more: is there a next page?
        got: list[Fingerprints] = await pipe.execute()
        # Beyond the last fingerprint of a source that gave all it was asked for, that
        # source is unread: only what sorts up to the smallest such one is known in order.
        # That source alone gave n + 1 up to there, so a cut there is never the end.
        full = [fps[-1] for fps in got if len(fps) > n]
        merged = sorted({fp for fps in got for fp in fps})
        if full:
            bound = min(full)
            merged = [fp for fp in merged if fp <= bound]
        return merged[:n], len(merged) <= n
