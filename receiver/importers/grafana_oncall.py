"""Import from Grafana OnCall (public HTTP API v1): users, schedules, on-call shifts
(single_event, recurrent_event, rolling_users; `override` shifts become overrides),
escalation chains and their policies, personal notification rules.

API reference (the shapes tests/servers/grafana_oncall.py serves):
https://grafana.com/docs/oncall/latest/oncall-api-reference/ (users, schedules,
on_call_shifts, escalation_chains, escalation_policies, personal_notification_rules).
Auth: `Authorization: <token>`; lists are paged: {count, next, previous, results}.

Mapping: a schedule → a rotation with one layer per shift, ordered by `level` (a higher
level wins where both are active, as OnCall decides); `by_day` and the shift's window →
`restrictions`; a chain → an escalation policy (`wait` adds to `after`,
notify_persons → `people`, notify_on_call_from_schedule → `rotations`); the rest → the report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from receiver.config.zones import zone
from receiver.importers.model import (
    DAY_NAMES,
    Entry,
    Names,
    Result,
    VendorModel,
    add_rotation,
    layer_start,
    span,
)
from receiver.importers.opsgenie import week_range
from receiver.importers.source import Source, SourceError, parse

BY_DAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class User(VendorModel):
    id: str
    email: str
    username: str
    name: str | None = None
    role: str | None = None
    slack: list[dict[str, Any]] | None = None
    is_phone_number_verified: bool = False
    timezone: str | None = None
    teams: list[str] = []
    avatar_url: str | None = None


class Schedule(VendorModel):
    id: str
    name: str
    type: str = "calendar"
    team_id: str | None = None
    time_zone: str | None = "UTC"
    on_call_now: list[str] = []
    shifts: list[str] = []
    slack: dict[str, Any] | None = None
    ical_url_primary: str | None = None
    ical_url_overrides: str | None = None
    enable_web_overrides: bool | None = None


class Shift(VendorModel):
    id: str
    name: str = ""
    type: str
    team_id: str | None = None
    time_zone: str | None = None
    level: int = 0
    start: datetime
    rotation_start: datetime | None = None
    duration: int
    until: datetime | None = None
    frequency: str | None = None
    interval: int | None = None
    week_start: str | None = "MO"
    by_day: list[str] | None = None
    by_month: list[int] | None = None
    by_monthday: list[int] | None = None
    users: list[str] = []
    rolling_users: list[list[str]] | None = None
    start_rotation_from_user_index: int | None = None
    source: int | None = None
    schedule: str | None = None


class Chain(VendorModel):
    id: str
    name: str
    team_id: str | None = None


class Policy(VendorModel):
    id: str
    escalation_chain_id: str
    position: int = 0
    type: str
    duration: int | None = None
    important: bool = False
    persons_to_notify: list[str] | None = None
    persons_to_notify_next_each_time: list[str] | None = None
    notify_on_call_from_schedule: str | None = None
    group_to_notify: str | None = None
    team_to_notify: str | None = None
    action_to_trigger: str | None = None
    notify_if_time_from: str | None = None
    notify_if_time_to: str | None = None
    num_alerts_in_window: int | None = None
    num_minutes_in_window: int | None = None
    severity: str | None = None


class NotificationRule(VendorModel):
    id: str
    user_id: str
    position: int = 0
    important: bool = False
    type: str
    duration: int | None = None


def next_url(page: Any) -> str | None:
    return page.get("next") if isinstance(page, dict) else None


async def _list(src: Source, path: str, params: dict[str, str] | None = None) -> list[Any]:
    out: list[Any] = []
    for page in await src.pages(path, params):
        results = page.get("results") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise SourceError("shape", f'{path}: expected {{"results": [...]}}')
        out += results
    return out


async def fetch(src: Source) -> dict[str, Any]:
    """Every response the import needs, raw (convert() is pure)."""
    return {name: await _list(src, f"api/v1/{name}")
            for name in ("users", "schedules", "on_call_shifts", "escalation_chains",
                         "escalation_policies", "personal_notification_rules")}  # fmt: skip


async def final_timeline(src: Source, schedule_id: str, start: datetime,
                         weeks: int) -> list[tuple[datetime, datetime, str]]:  # fmt: skip
    """The source's final shifts: (start, end, user id) periods."""
    end = start + timedelta(weeks=weeks)
    params = {"start_date": start.date().isoformat(), "end_date": end.date().isoformat()}
    rows = await _list(src, f"api/v1/schedules/{schedule_id}/final_shifts", params)
    try:
        return [(_dt(r["shift_start"]), _dt(r["shift_end"]), str(r["user_pk"])) for r in rows]
    except (KeyError, TypeError, ValueError) as e:
        raise SourceError("shape", f"final_shifts of {schedule_id}: unexpected ({e})") from None


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Converter:
    def __init__(self, raw: dict[str, Any], now: datetime, allow_unknown: bool) -> None:
        self.raw, self.now, self.allow = raw, now, allow_unknown
        self.unknown: list[str] = []
        self.r = Result("grafana-oncall")
        self.person: dict[str, str] = {}
        self.emails: dict[str, str] = {}

    def items(self, model: type[Any], key: str) -> list[Any]:
        return [parse(model, x, f"api/v1/{key}[{i}]", self.allow, self.unknown)
                for i, x in enumerate(self.raw[key])]  # fmt: skip

    def run(self) -> Result:
        rules = self.items(NotificationRule, "personal_notification_rules")
        names = Names()
        for u in sorted(self.items(User, "users"), key=lambda u: (u.username.lower(), u.id)):
            self._user(u, names.make(u.username), [x for x in rules if x.user_id == u.id])
        shifts = {s.id: s for s in self.items(Shift, "on_call_shifts")}
        rnames = Names()
        for s in sorted(self.items(Schedule, "schedules"), key=lambda s: (s.name, s.id)):
            self._schedule(s, rnames.make(s.name), shifts)
        policies = self.items(Policy, "escalation_policies")
        pnames = Names()
        for c in sorted(self.items(Chain, "escalation_chains"), key=lambda c: (c.name, c.id)):
            self._chain(c, pnames.make(c.name), [p for p in policies
                                                 if p.escalation_chain_id == c.id])  # fmt: skip
        for u in self.unknown:
            self.r.skip("field", u, "unknown field, ignored")
        self.r.person_ids = dict(self.person)
        return self.r

    def _user(self, u: User, name: str, rules: list[NotificationRule]) -> None:
        self.person[u.id], self.emails[name] = name, u.email
        body: dict[str, Any] = {"email": u.email}
        if u.timezone:
            try:
                zone(u.timezone)
                body["timezone"] = u.timezone
            except ValueError:
                self.r.skip("user", u.id, f"time zone {u.timezone!r} unknown: UTC used", True)
        after, notify = 0, []
        for rule in sorted(rules, key=lambda x: (x.important, x.position)):
            if rule.important:
                self.r.skip("notification-rule", rule.id, f"{u.username}: important rules "
                            f"({rule.type}) have no equivalent")  # fmt: skip
            elif rule.type == "wait":
                after += rule.duration or 0
            elif rule.type == "notify_by_email":
                notify.append({"after": span(after) if after else "0s", "via": "email"})
            else:
                self.r.skip("notification-rule", rule.id, f"{u.username}: {rule.type} "
                            "(only email is sent to people here today)")  # fmt: skip
        if notify:
            body["notify"] = notify
        self.r.people[name] = Entry(body, f"grafana-oncall user {u.id} ({u.username})")

    def _schedule(self, s: Schedule, name: str, shifts: dict[str, Shift]) -> None:
        tzname = s.time_zone or "UTC"
        if s.type == "ical":
            self.r.skip("schedule", s.id, f'"{s.name}" is an iCal schedule (its events live '
                        "in the calendar, not the API)")  # fmt: skip
            return
        self.r.schedule_ids[s.id] = name
        mine = [shifts[i] for i in s.shifts if i in shifts]
        mine += [x for x in shifts.values() if x.schedule == s.id and x.id not in s.shifts]
        layers = []
        for sh in sorted(mine, key=lambda x: x.level):  # stable: the API's order within a level
            if sh.type == "override":
                self._override(sh, name, tzname)
            elif (sh.time_zone or tzname) != tzname:
                self.r.skip("shift", sh.id, f"time zone {sh.time_zone} differs from the "
                            f"schedule's ({tzname})")  # fmt: skip
            elif (layer := self._layer(sh)) is not None:
                layers.append(layer)
        if not layers:
            self.r.skip("schedule", s.id, f'"{s.name}": no shift could be imported')
            return
        body = {"timezone": tzname, "layers": layers}
        entry = Entry(body, f"grafana-oncall schedule {s.id} ({s.name})")
        add_rotation(self.r, s.id, f'"{s.name}"', name, entry)

    def _members(self, sh: Shift) -> list[str]:
        groups = sh.rolling_users if sh.type == "rolling_users" else [sh.users]
        out = []
        for g in groups or []:
            known = [self.person[u] for u in g if u in self.person]
            if len(g) > 1 or len(known) < len(g):
                self.r.skip(
                    "shift",
                    sh.id,
                    f"{len(g)} users on call together ({', '.join(g)}):"
                    " one person per turn here, the first known one imported",
                    True,
                )
            if known:
                out.append(known[0])
        k = (sh.start_rotation_from_user_index or 0) % len(out) if out else 0
        return out[k:] + out[:k]

    def _layer(self, sh: Shift) -> dict[str, Any] | None:
        def no(why: str) -> dict[str, Any] | None:
            self.r.skip("shift", sh.id, f'"{sh.name}" ({sh.type}): {why}')
            return None

        members = self._members(sh)
        if not members:
            return no("no known users")
        if sh.duration < 3600 or sh.duration % 60:
            return no(f"duration {sh.duration}s (shifts here are whole minutes, at least 1h)")
        if sh.by_month or sh.by_monthday:
            return no("by_month/by_monthday have no equivalent")
        if sh.rotation_start and sh.rotation_start != sh.start:
            self.r.skip("shift", sh.id, "rotation_start differs from start: start used", True)
        start = sh.start.replace(tzinfo=None)
        base: dict[str, Any] = {"name": sh.name or sh.id, "members": members}
        if sh.until is not None:
            base["until"] = sh.until.replace(tzinfo=None).isoformat()
        if sh.type == "single_event":
            end = start + timedelta(seconds=sh.duration)
            until = min(end, datetime.fromisoformat(base.get("until", end.isoformat())))
            return {**base, "shift": span(sh.duration), **layer_start(start, False),
                    "until": until.isoformat()}  # fmt: skip
        step = {"hourly": 3600, "daily": 86400, "weekly": 604800}.get(sh.frequency or "")
        if step is None:
            return no(f"frequency {sh.frequency} has no equivalent")
        step *= max(sh.interval or 1, 1)
        days = [d for d in (sh.by_day or []) if d in BY_DAY]
        if len(days) != len(sh.by_day or []):
            return no(f"by_day {sh.by_day} not understood")
        if sh.frequency == "hourly":
            if days or sh.duration != step:
                return no("hourly shifts with by_day or gaps have no equivalent")
            return {**base, "shift": span(step), **layer_start(start, False)}
        full = not days and sh.duration == step
        if sh.frequency == "weekly" and days:
            wk = BY_DAY.index(sh.week_start or "MO")
            first = datetime.combine(start.date() - timedelta(days=(start.weekday() - wk) % 7),
                                     datetime.min.time())  # fmt: skip
            out = {**base, "shift": span(step), **layer_start(first, True)}
        else:
            out = {**base, "shift": span(step), **layer_start(start, sh.frequency == "weekly")}
        if not full:
            restrictions = self._window(sh, start, days)
            if restrictions is None:
                return None
            out["restrictions"] = restrictions
        return out

    def _window(self, sh: Shift, start: datetime, days: list[str]) -> list[dict[str, Any]] | None:
        m0 = start.hour * 60 + start.minute
        if days:
            if sh.duration > 86400:
                self.r.skip("shift", sh.id, "by_day events longer than a day")
                return None
            m1 = (m0 + sh.duration // 60) % 1440
            return [{"days": [d.lower()[:2] + _third(d) for d in days],
                     "from": f"{m0 // 60:02d}:{m0 % 60:02d}",
                     "to": f"{m1 // 60:02d}:{m1 % 60:02d}"}]  # fmt: skip
        if sh.frequency == "daily" and sh.duration <= 86400:
            m1 = (m0 + sh.duration // 60) % 1440
            return [{"days": "mon-sun", "from": f"{m0 // 60:02d}:{m0 % 60:02d}",
                     "to": f"{m1 // 60:02d}:{m1 % 60:02d}"}]  # fmt: skip
        if sh.frequency == "weekly" and sh.duration < 604800:
            end = start + timedelta(seconds=sh.duration)
            return week_range(start.weekday(), m0, end.weekday(), end.hour * 60 + end.minute)
        self.r.skip("shift", sh.id, "its events repeat in a way layers cannot express")
        return None

    def _override(self, sh: Shift, rotation: str, tzname: str) -> None:
        end = sh.start + timedelta(seconds=sh.duration)
        tz = zone(sh.time_zone or tzname)
        start_utc, end_utc = sh.start.replace(tzinfo=tz), end.replace(tzinfo=tz)
        if end_utc <= self.now:
            self.r.skip("override", sh.id, "ended already: not imported")
            return
        for u in sh.users or []:
            who = self.person.get(u)
            if who is None:
                self.r.skip("override", sh.id, f"user {u} unknown")
                continue
            self.r.overrides.setdefault(rotation, []).append({
                "who": who, "email": self.emails[who], "from": _iso(start_utc),
                "until": _iso(end_utc), "reason": f"imported from grafana-oncall shift {sh.id}",
            })  # fmt: skip

    def _chain(self, c: Chain, name: str, policies: list[Policy]) -> None:
        after, steps = 0, dict[int, dict[str, list[str]]]()
        for p in sorted(policies, key=lambda p: p.position):
            if p.important:
                self.r.skip("escalation", p.id, f'"{c.name}": "important" notifications have '
                            "no equivalent: sent as usual", True)  # fmt: skip
            if p.type == "wait":
                after += p.duration or 0
            elif p.type == "notify_persons" and p.persons_to_notify:
                who = [self.person[u] for u in p.persons_to_notify if u in self.person]
                steps.setdefault(after, {}).setdefault("people", []).extend(who)
            elif p.type == "notify_on_call_from_schedule" and (
                rot := self.r.schedule_ids.get(p.notify_on_call_from_schedule or "")
            ):
                steps.setdefault(after, {}).setdefault("rotations", []).append(rot)
            else:
                self.r.skip("escalation", p.id, f'"{c.name}": step type {p.type} has no '
                            "equivalent (steps page people and rotations)")  # fmt: skip
        body = {"steps": [{"after": span(k) if k else "0s", **v}
                          for k, v in sorted(steps.items()) if v]}  # fmt: skip
        if not body["steps"]:
            self.r.skip("escalation", c.id, f'"{c.name}": no step could be imported')
            return
        self.r.policies[name] = Entry(body, f"grafana-oncall escalation chain {c.id} ({c.name})")


def _third(day: str) -> str:
    """MO → "n" (mon): the third letter of the config's day name."""
    return {d[:2].upper(): d[2] for d in (x.lower() for x in DAY_NAMES)}[day]


def convert(raw: dict[str, Any], now: datetime, allow_unknown: bool = False) -> Result:
    return Converter(raw, now, allow_unknown).run()
