"""A local Opsgenie REST API v2 (read side) serving fixture responses the way the real one
documents them: `Authorization: GenieKey <key>` (else 401), lists paged with
limit/offset and an absolute `paging.next`, 429 with X-RateLimit-Period-In-Sec when
throttled (a retry sooner than that is answered 429 again and counted in `early`), and
the schedule timeline computed here from the fixture rotations.

https://docs.opsgenie.com/docs/api-overview (auth, paging, rate limiting: 429,
X-RateLimit-State/-Reason/-Period-In-Sec), https://docs.opsgenie.com/docs/schedule-api
(`expand=rotation`, GET /v2/schedules/{id}/timeline: interval, intervalUnit, date,
finalTimeline.rotations[].periods), https://docs.opsgenie.com/docs/schedule-override-api,
https://docs.opsgenie.com/docs/user-api, https://docs.opsgenie.com/docs/escalation-api.

The timeline is an independent expansion, hour by hour, in naive local wall time:
for each hour, each rotation whose restriction covers that local minute of the week
contributes the participant whose turn it is (turn = whole periods of local wall time
since startDate); an override replaces every rotation's recipient while it lasts.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.servers.base import FakeServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "opsgenie"
PAGED = {"v2/users", "v2/schedules", "v2/escalations", "v2/teams"}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class FakeOpsgenie(FakeServer):
    def __init__(self, key: str = "0b6d3c2a-opsgenie-test-key", root: Path = FIXTURES,
                 page_size: int = 2) -> None:  # fmt: skip
        super().__init__()
        self.key, self.root, self.page_size = key, root, page_size
        self.requests: list[str] = []  # path?query of each request
        self.storm = 0  # answer the next `storm` requests 429
        self.period = 1  # X-RateLimit-Period-In-Sec of those answers
        self.early = 0  # retries that came before the period had passed
        self._quiet_until = 0.0
        # Overrides only the timeline knows (made after an import): the compare must see them.
        self.later_overrides: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if request.headers.get("Authorization") != f"GenieKey {self.key}":
            return _json({"message": "Could not authenticate", "took": 0.0,
                          "requestId": "auth"}, 401)  # fmt: skip
        now = time.monotonic()
        if now < self._quiet_until:
            self.early += 1
            return self._throttled(now)
        if self.storm:
            self.storm -= 1
            return self._throttled(now)
        path = request.path.strip("/")
        if path.endswith("/timeline") and path.startswith("v2/schedules/"):
            return _json(self.timeline(path.split("/")[2], request.query))
        f = self.root / f"{path}.json"
        if not f.is_file():
            return _json({"message": "Not found", "took": 0.0, "requestId": "nf"}, 404)
        body = json.loads(f.read_text())
        if path in PAGED:
            body = self._page(body, request)
        return _json(body)

    def _throttled(self, now: float) -> web.Response:
        self._quiet_until = now + self.period
        return _json({"message": "Rate limit exceeded", "took": 0.0, "requestId": "429"}, 429,
                     {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Reason": "ACCOUNT",
                      "X-RateLimit-Period-In-Sec": str(self.period)})  # fmt: skip

    def _page(self, body: dict[str, Any], request: web.Request) -> dict[str, Any]:
        limit = int(request.query.get("limit", self.page_size))
        limit = min(limit, self.page_size)
        offset = int(request.query.get("offset", 0))
        items = body["data"]
        out = {**body, "data": items[offset : offset + limit]}
        base = f"{self.base_url}/{request.path.strip('/')}"
        paging = {"first": f"{base}?limit={limit}&offset=0"}
        if offset + limit < len(items):
            extra = "&expand=rotation" if "expand" in request.query else ""
            paging["next"] = f"{base}?limit={limit}&offset={offset + limit}{extra}"
        out["paging"] = paging
        return out

    # -- the timeline, computed here -----------------------------------------------------

    def timeline(self, sid: str, query: Any) -> dict[str, Any]:
        sched = next(s for s in json.loads((self.root / "v2/schedules.json").read_text())["data"]
                     if s["id"] == sid)  # fmt: skip
        overrides = json.loads((self.root / f"v2/schedules/{sid}/overrides.json").read_text())
        tz = ZoneInfo(sched["timezone"])
        start = _dt(query["date"]).replace(minute=0, second=0, microsecond=0)
        assert query["intervalUnit"] == "weeks"
        hours = int(query["interval"]) * 7 * 24
        rotations = []
        for order, rot in enumerate(sched["rotations"]):
            periods: list[dict[str, Any]] = []
            for h in range(hours):
                t = start + timedelta(hours=h)
                who = _on_call(rot, t, tz)
                if who is None:
                    continue
                kind = "default"
                for o in [*overrides["data"], *self.later_overrides]:
                    if _dt(o["startDate"]) <= t < _dt(o["endDate"]):
                        who, kind = o["user"], "override"
                end = t + timedelta(hours=1)
                last = periods[-1] if periods else None
                if last and last["endDate"] == _iso(t) and last["recipient"]["id"] == who["id"]:
                    last["endDate"] = _iso(end)
                else:
                    periods.append({"startDate": _iso(t), "endDate": _iso(end), "type": kind,
                                    "recipient": {"type": "user", "id": who["id"],
                                                  "name": who["username"]}})  # fmt: skip
            rotations.append({"id": rot["id"], "name": rot["name"], "order": order,
                              "periods": periods})  # fmt: skip
        end = start + timedelta(hours=hours)
        return {"data": {"_parent": {"id": sid, "name": sched["name"], "enabled": True},
                         "startDate": _iso(start), "endDate": _iso(end),
                         "finalTimeline": {"rotations": rotations}},
                "took": 0.1, "requestId": "tl"}  # fmt: skip


def _on_call(rot: dict[str, Any], t: datetime, tz: ZoneInfo) -> dict[str, Any] | None:
    local = t.astimezone(tz).replace(tzinfo=None)
    first = _dt(rot["startDate"]).astimezone(tz).replace(tzinfo=None)
    if local < first or (rot.get("endDate") and t >= _dt(rot["endDate"])):
        return None
    tr = rot.get("timeRestriction")
    if tr is not None and not _allowed(tr, local):
        return None
    unit = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
            "weekly": timedelta(weeks=1)}[rot["type"]] * rot.get("length", 1)  # fmt: skip
    turn = (local - first) // unit  # whole periods of local wall time since the start
    part = rot["participants"][turn % len(rot["participants"])]
    return {"id": part["id"], "username": part["username"]}


def _allowed(tr: dict[str, Any], local: datetime) -> bool:
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    if tr["type"] == "time-of-day":
        r = tr["restriction"]
        a, b = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        m = minute % 1440
        return bool(a <= m < b if a < b else (m >= a or m < b))
    for r in tr["restrictions"]:
        a = DAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"]
        b = DAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]
        if (a <= minute < b) if a < b else (minute >= a or minute < b):
            return True
    return False


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers=headers)  # fmt: skip
