"""Reading alert state records back: one alert, or a filtered, paged list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from receiver.store.keys import Keys

# Fields of the state hash that hold integers, decoded for API answers.
_INT_FIELDS = ("first_received", "last_received", "receive_count")
_PAGE_SCAN = 200


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


def decode_record(raw: dict[str, str], history: list[str] | None = None) -> dict[str, Any]:
    """The API view of a state hash: `doc` (descriptive fields, one JSON) spread out."""
    # Internal: `nv` is the notification records' version (for the intake script), `sig` a
    # digest of `doc` written by earlier versions.
    rec: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("doc", "sig", "nv")}
    rec.update(json.loads(raw.get("doc") or "{}"))
    for f in _INT_FIELDS:
        if f in raw:
            rec[f] = int(raw[f])
    if history is not None:
        rec["history"] = [json.loads(h) for h in history]
    return rec


class AlertReader:
    """Read side of the alert state; writes happen only in the intake script."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def get(self, fp: str) -> dict[str, Any] | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.alert(fp))
        pipe.lrange(self.keys.history(fp), 0, -1)
        pipe.hgetall(self.keys.notified(fp))
        raw, hist, notified = await pipe.execute()
        if not raw or "status" not in raw:
            return None
        rec = decode_record(raw, hist)
        rec["notified"] = {k: json.loads(v) for k, v in notified.items() if k != "_v"}
        return rec

    async def list(
        self, flt: AlertFilter, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` matching alerts after `cursor` (a fingerprint), ordered by fingerprint.

        Returns the page and the cursor for the next one (None at the end).
        """
        out: list[dict[str, Any]] = []
        start = f"({cursor}" if cursor else "-"
        while len(out) < limit:
            fps = await self.redis.zrangebylex(self.keys.index, start, "+", 0, _PAGE_SCAN)
            if not fps:
                return out, None
            pipe = self.redis.pipeline(transaction=False)
            for fp in fps:
                pipe.hgetall(self.keys.alert(fp))
            for fp, raw in zip(fps, await pipe.execute(), strict=True):
                start = f"({fp}"
                if not raw or "status" not in raw:
                    continue  # expired between index and read
                rec = decode_record(raw)
                if flt.matches(rec):
                    out.append(rec)
                    if len(out) == limit:
                        return out, fp
            if len(fps) < _PAGE_SCAN:
                return out, None
        return out, None
