"""A local Grafana OnCall public API v1 (read side) serving fixture responses as documented:
`Authorization: <token>` (else 401 {"detail": …}), lists paged as {count, next,
previous, results} with an absolute `next` URL (?page=N), 429 with Retry-After when
throttled (a retry before it has passed is answered 429 again and counted in `early`),
and GET /api/v1/schedules/{id}/final_shifts?start_date=&end_date= computed here.

https://grafana.com/docs/oncall/latest/oncall-api-reference/ (authentication, pagination,
rate limits), .../on_call_shifts/ (single_event, recurrent_event, rolling_users, level,
frequency, interval, week_start, by_day, duration, until), .../schedules/ (final_shifts:
user_pk, user_email, user_username, shift_start, shift_end), .../escalation_policies/,
.../personal_notification_rules/, .../users/.

The final shifts are an independent expansion, hour by hour, in naive local wall time:
each shift contributes whoever's event covers that hour (rolling users change once per
`interval` frequency periods counted from the week of `start`, by `week_start`); the
highest `level` wins; an `override` shift beats every level.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.servers.base import FakeServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "grafana_oncall"
BY_DAY = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class FakeGrafanaOnCall(FakeServer):
    def __init__(self, token: str = "oncall-test-token-7f3a", root: Path = FIXTURES,
                 page_size: int = 2) -> None:  # fmt: skip
        super().__init__()
        self.token, self.root, self.page_size = token, root, page_size
        self.requests: list[str] = []
        self.storm = 0
        self.retry_after = 1
        self.early = 0
        self._quiet_until = 0.0

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if request.headers.get("Authorization") != self.token:
            return _json({"detail": "Invalid token."}, 401)
        now = time.monotonic()
        if now < self._quiet_until or self.storm:
            self.early += now < self._quiet_until
            self.storm = max(0, self.storm - 1)
            self._quiet_until = now + self.retry_after
            return _json({"detail": "Request was throttled."}, 429,
                         {"Retry-After": str(self.retry_after)})  # fmt: skip
        path = request.path.strip("/")
        parts = path.split("/")
        if (
            len(parts) == 5
            and parts[:3] == ["api", "v1", "schedules"]
            and parts[4] == "final_shifts"
        ):
            rows = self.final_shifts(parts[3], request.query)
            return _json(self._page({"results": rows}, request))
        f = self.root / f"{path}.json"
        if not f.is_file():
            return _json({"detail": "Not found."}, 404)
        return _json(self._page(json.loads(f.read_text()), request))

    def _page(self, body: dict[str, Any], request: web.Request) -> dict[str, Any]:
        items = body["results"]
        n = int(request.query.get("page", 1))
        chunk = items[(n - 1) * self.page_size : n * self.page_size]
        query = {k: v for k, v in request.query.items() if k != "page"}
        qs = "".join(f"&{k}={v}" for k, v in sorted(query.items()))
        base = f"{self.base_url}/{request.path.strip('/')}/"
        more = n * self.page_size < len(items)
        return {"count": len(items), "next": f"{base}?page={n + 1}{qs}" if more else None,
                "previous": f"{base}?page={n - 1}{qs}" if n > 1 else None,
                "results": chunk}  # fmt: skip

    def _load(self, name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads((self.root / f"api/v1/{name}.json").read_text())[
            "results"
        ]
        return rows

    def final_shifts(self, sid: str, query: Any) -> list[dict[str, Any]]:
        sched = next(s for s in self._load("schedules") if s["id"] == sid)
        users = {u["id"]: u for u in self._load("users")}
        shifts = [s for s in self._load("on_call_shifts") if s["id"] in sched["shifts"]]
        tz = ZoneInfo(sched["time_zone"])
        lo = datetime.combine(date.fromisoformat(query["start_date"]), datetime.min.time(), UTC)
        hi = datetime.combine(date.fromisoformat(query["end_date"]), datetime.min.time(), UTC)
        rows: list[dict[str, Any]] = []
        t = lo
        while t < hi:
            local = t.astimezone(tz).replace(tzinfo=None)
            best: tuple[int, str] | None = None
            for s in shifts:
                who = _who(s, local)
                rank = 10**6 if s["type"] == "override" else s.get("level", 0)
                if who is not None and (best is None or rank > best[0]):
                    best = (rank, who)
            if best is not None:
                end = t + timedelta(hours=1)
                if rows and rows[-1]["user_pk"] == best[1] and rows[-1]["shift_end"] == _iso(t):
                    rows[-1]["shift_end"] = _iso(end)
                else:
                    u = users[best[1]]
                    rows.append({"user_pk": u["id"], "user_email": u["email"],
                                 "user_username": u["username"], "shift_start": _iso(t),
                                 "shift_end": _iso(end)})  # fmt: skip
            t += timedelta(hours=1)
        return rows


def _who(s: dict[str, Any], local: datetime) -> str | None:
    start = datetime.fromisoformat(s["start"])
    length = timedelta(seconds=s["duration"])
    if local < start or (s.get("until") and local >= datetime.fromisoformat(s["until"])):
        return None
    if s["type"] in ("single_event", "override"):
        return s["users"][0] if start <= local < start + length else None
    groups = s["rolling_users"] if s["type"] == "rolling_users" else [s["users"]]
    interval = s.get("interval") or 1
    if s["frequency"] == "weekly":
        wk = BY_DAY.index(s.get("week_start") or "MO")
        week0 = start.date() - timedelta(days=(start.weekday() - wk) % 7)
        week = (local.date() - week0).days // 7
        index = week // interval
        if s.get("by_day"):
            # an event on each by_day day of the week, at start's time, lasting duration
            day = local.date()
            ev = datetime.combine(day, start.time())
            if BY_DAY[day.weekday()] not in s["by_day"] or not ev <= local < ev + length:
                return None
        else:
            ev = start + timedelta(weeks=week // interval * interval)
            if not ev <= local < ev + length:
                return None
    elif s["frequency"] == "daily":
        days = (local - start) // timedelta(days=1)
        index = days // interval
        ev = start + timedelta(days=days)
        if not ev <= local < ev + length:
            return None
        if s.get("by_day") and BY_DAY[ev.weekday()] not in s["by_day"]:
            return None
    else:
        raise NotImplementedError(s["frequency"])
    group = groups[(index + (s.get("start_rotation_from_user_index") or 0)) % len(groups)]
    return str(group[0])


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers=headers)  # fmt: skip
