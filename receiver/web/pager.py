"""Pages of alerts for the console, each from a bounded number of Redis reads.

Firing alerts are listed newest first from the per-severity `firing_since` indexes (score:
when the receiver saw the episode start), merged; the cursor is the last alert shown,
"<score ms>-<fingerprint>", so a page starts after it whatever was added since (newer
alerts go before the first page, not into later ones). Per page: one pipeline of ZCOUNTs
(how many share the cursor's millisecond) and one of ZREVRANGEBYSCOREs, then the records
of the page. Resolved alerts, and everything while the indexes are still being back-filled,
come from `AlertReader.list` (fingerprint order, its own cursor). Filters the indexes do
not answer (labels, acknowledged) are checked on the records, at most `budget` records per
page: a page can then be short and still have a cursor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver.models import SEVERITIES, STATUSES
from receiver.store.alerts import AlertFilter, AlertReader
from receiver.store.keys import Keys

_CURSOR = re.compile(r"([0-9]{1,16})-([0-9a-f]{16})")
_FP_CURSOR = re.compile(r"[0-9a-f]{16}")
BUDGET = 1000  # records examined per page at most when a filter needs the records
_CHUNK = 200
RecordCheck = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ListPage:
    alerts: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int


def valid_cursor(text: str) -> bool:
    return bool(_CURSOR.fullmatch(text) or _FP_CURSOR.fullmatch(text))


class Pager:
    """Console listings over the reader (records) and the keys (newest-first indexes)."""

    def __init__(self, reader: AlertReader, keys: Keys, budget: int = BUDGET) -> None:
        self.reader, self.keys, self.budget = reader, keys, budget
        self.redis = reader.redis

    async def totals(self) -> dict[str, dict[str, int]]:
        """status → severity → how many (the index partitions' sizes: O(1) each)."""
        pipe = self.redis.pipeline(transaction=False)
        for st in STATUSES:
            for sev in SEVERITIES:
                pipe.zcard(self.keys.by_state(st, sev))
        sizes = iter(await pipe.execute())
        return {st: {sev: int(next(sizes)) for sev in SEVERITIES} for st in STATUSES}

    async def page(self, flt: AlertFilter, check: RecordCheck | None, limit: int,
                   cursor: str | None) -> ListPage:  # fmt: skip
        """Up to `limit` alerts matching `flt` and `check`, after `cursor`."""
        newest = flt.status == "firing" and await self.reader.indexed()
        if newest and (cursor is None or _CURSOR.fullmatch(cursor)):
            return await self._newest(flt, check, limit, cursor)
        fp_cursor = cursor if cursor and _FP_CURSOR.fullmatch(cursor) else None
        got = await self.reader.list(flt, limit, fp_cursor)
        alerts = [a for a in got.alerts if check is None or check(a)]
        return ListPage(alerts, got.next_cursor, got.scanned)

    async def _newest(self, flt: AlertFilter, check: RecordCheck | None, limit: int,
                      cursor: str | None) -> ListPage:  # fmt: skip
        sources = [self.keys.firing_since(s) for s in SEVERITIES if flt.severity in (None, s)]
        filtered = bool(flt.labels) or check is not None
        budget = self.budget if filtered else limit
        out: list[dict[str, Any]] = []
        scanned, after = 0, _parse(cursor)
        while scanned < budget and len(out) < limit:
            want = min(_CHUNK, budget - scanned) if filtered else limit - len(out)
            entries, more = await self._next(sources, after, want)
            if not entries:
                return ListPage(out, None, scanned)
            scanned += len(entries)
            records = await self.reader.states([fp for _, fp in entries])
            for score, fp in entries:
                rec = records.get(fp)
                after = (score, fp)
                if rec is None or rec.get("status") != "firing" or not flt.matches(rec):
                    continue
                if check is None or check(rec):
                    rec.setdefault("fingerprint", fp)
                    out.append(rec)
                    if len(out) == limit:
                        break
            if not more and after == entries[-1]:
                return ListPage(out, None, scanned)
        return ListPage(out, _format(after) if after else None, scanned)

    async def _next(self, sources: list[str], after: tuple[int, str] | None,
                    n: int) -> tuple[list[tuple[int, str]], bool]:  # fmt: skip
        """The next `n` (score, fp) after `after` in (score desc, fp desc) order across
        `sources`, and whether more follow."""
        pipe = self.redis.pipeline(transaction=False)
        if after is None:
            for key in sources:
                pipe.zrevrange(key, 0, n, withscores=True)
        else:
            score = after[0]
            ties = await self._ties(sources, score)
            for key, t in zip(sources, ties, strict=True):
                # Everything at the cursor's millisecond is fetched too (`t`), then cut.
                pipe.zrevrangebyscore(key, score, "-inf", start=0, num=n + 1 + t,
                                      withscores=True)  # fmt: skip
        merged: list[tuple[int, str]] = []
        for got in await pipe.execute():
            merged += [(int(s), fp if isinstance(fp, str) else fp.decode()) for fp, s in got]
        merged.sort(reverse=True)
        if after is not None:
            merged = [e for e in merged if e < after]
        return merged[:n], len(merged) > n

    async def _ties(self, sources: list[str], score: int) -> list[int]:
        pipe = self.redis.pipeline(transaction=False)
        for key in sources:
            pipe.zcount(key, score, score)
        return [int(c) for c in await pipe.execute()]


def _parse(cursor: str | None) -> tuple[int, str] | None:
    m = _CURSOR.fullmatch(cursor or "")
    return (int(m[1]), m[2]) if m else None


def _format(after: tuple[int, str]) -> str:
    return f"{after[0]}-{after[1]}"
