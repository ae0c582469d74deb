"""Import from Opsgenie (REST API v2): users with contact methods and notification rules,
schedules with their rotations (`expand=rotation`), schedule overrides, escalations, teams.

API references (the shapes the stand-in tests/servers/opsgenie.py serves):
https://docs.opsgenie.com/docs/user-api, https://docs.opsgenie.com/docs/user-contact-api,
https://docs.opsgenie.com/docs/notification-rule-api, https://docs.opsgenie.com/docs/schedule-api,
https://docs.opsgenie.com/docs/schedule-override-api, https://docs.opsgenie.com/docs/escalation-api,
https://docs.opsgenie.com/docs/team-api. Auth: `Authorization: GenieKey <key>`; lists are paged
with `paging.next`; rate limits answer 429 (source.py waits and retries, bounded).

Mapping: a schedule → a rotation with one layer per Opsgenie rotation, in order (a later
one wins where both are active: Opsgenie notifies both, so an overlap is reported);
`timeRestriction` → `restrictions`; an override → an override to load; an escalation →
an escalation policy (user → `people`, schedule → `rotations`); the rest → the report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from receiver.config.zones import zone
from receiver.importers.model import Entry, Names, Result, add_rotation, layer_start, span
from receiver.importers.opsgenie_models import (
    Contact,
    Escalation,
    Override,
    Rotation,
    Rule,
    Schedule,
    Team,
    TimeRestriction,
    User,
)
from receiver.importers.source import Source, SourceError, parse
from receiver.oncall.config import Layer, week_coverage

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def next_url(page: Any) -> str | None:
    paging = page.get("paging") if isinstance(page, dict) else None
    return paging.get("next") if isinstance(paging, dict) else None


async def _list(src: Source, path: str, params: dict[str, str] | None = None) -> list[Any]:
    out: list[Any] = []
    for page in await src.pages(path, params):
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise SourceError("shape", f'{path}: expected {{"data": [...]}}')
        out += data
    return out


async def _data(src: Source, path: str) -> Any:
    page = await src.get(path)
    if not isinstance(page, dict) or "data" not in page:
        raise SourceError("shape", f'{path}: expected {{"data": ...}}')
    return page["data"]


async def fetch(src: Source) -> dict[str, Any]:
    """Every response the import needs, raw (convert() is pure)."""
    raw: dict[str, Any] = {"users": await _list(src, "v2/users", {"limit": "100"})}
    raw["contacts"], raw["rules"] = {}, {}
    for u in raw["users"]:
        uid = str(u.get("id")) if isinstance(u, dict) else ""
        raw["contacts"][uid] = await _data(src, f"v2/users/{uid}/contacts")
        rules = []
        for r in await _data(src, f"v2/users/{uid}/notification-rules"):
            if isinstance(r, dict) and r.get("actionType") == "create-alert":
                r = await _data(src, f"v2/users/{uid}/notification-rules/{r.get('id')}")
            rules.append(r)
        raw["rules"][uid] = rules
    raw["schedules"] = await _list(src, "v2/schedules", {"expand": "rotation"})
    raw["overrides"] = {}
    for s in raw["schedules"]:
        sid = str(s.get("id")) if isinstance(s, dict) else ""
        raw["overrides"][sid] = await _data(src, f"v2/schedules/{sid}/overrides")
    raw["escalations"] = await _list(src, "v2/escalations")
    raw["teams"] = await _list(src, "v2/teams")
    return raw


async def final_timeline(src: Source, schedule_id: str, start: datetime,
                         weeks: int) -> list[tuple[datetime, datetime, str]]:  # fmt: skip
    """The source's final timeline: (start, end, user id or username) periods."""
    params = {"interval": str(weeks), "intervalUnit": "weeks", "date": _iso(start),
              "expand": "base,forwarding,override"}  # fmt: skip
    page = await src.get(f"v2/schedules/{schedule_id}/timeline", params)
    try:
        rotations = page["data"]["finalTimeline"]["rotations"]
        out = []
        for rot in rotations:
            for p in rot.get("periods", []):
                who = p.get("recipient", {})
                if who.get("type") == "user":
                    out.append((_dt(p["startDate"]), _dt(p["endDate"]),
                                str(who.get("id") or who.get("name"))))  # fmt: skip
        return out
    except (KeyError, TypeError, ValueError) as e:
        raise SourceError(
            "shape", f"timeline of {schedule_id}: unexpected response ({e})"
        ) from None


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class Converter:
    """convert(): the raw responses as config entries; pure (`now` only decides what has
    already ended)."""

    def __init__(self, raw: dict[str, Any], now: datetime, allow_unknown: bool) -> None:
        self.raw, self.now, self.allow = raw, now, allow_unknown
        self.unknown: list[str] = []
        self.r = Result("opsgenie")
        self.person: dict[str, str] = {}  # user id and username → person name
        self.emails: dict[str, str] = {}

    def p(self, model: type[Any], data: Any, where: str) -> Any:
        return parse(model, data, where, self.allow, self.unknown)

    def run(self) -> Result:
        users = [self.p(User, u, f"v2/users[{i}]") for i, u in enumerate(self.raw["users"])]
        names = Names()
        for u in sorted(users, key=lambda u: (u.username.lower(), u.id)):
            self._user(u, names.make(u.username.split("@")[0]))
        scheds = [self.p(Schedule, s, f"v2/schedules[{i}]")
                  for i, s in enumerate(self.raw["schedules"])]  # fmt: skip
        rnames = Names()
        for s in sorted(scheds, key=lambda s: (s.name, s.id)):
            self._schedule(s, rnames.make(s.name))
        pnames = Names()
        escs = [self.p(Escalation, e, f"v2/escalations[{i}]")
                for i, e in enumerate(self.raw["escalations"])]  # fmt: skip
        for e in sorted(escs, key=lambda e: (e.name, e.id)):
            self._escalation(e, pnames.make(e.name))
        for i, t in enumerate(self.raw["teams"]):
            team = self.p(Team, t, f"v2/teams[{i}]")
            self.r.skip("team", team.id, f'"{team.name}": teams have no equivalent here (its '
                        "schedules and escalations are imported by name)")  # fmt: skip
        for u in self.unknown:
            self.r.skip("field", u, "unknown field, ignored")
        self.r.person_ids = dict(self.person)
        return self.r

    def _user(self, u: User, name: str) -> None:
        self.person[u.id] = self.person[u.username] = name
        body: dict[str, Any] = {"email": u.username}
        self.emails[name] = u.username
        try:
            zone(u.timeZone)
            body["timezone"] = u.timeZone
        except ValueError:
            self.r.skip("user", u.id, f"time zone {u.timeZone!r} unknown: UTC used", True)
        contacts = [self.p(Contact, c, f"v2/users/{u.id}/contacts[{i}]")
                    for i, c in enumerate(self.raw["contacts"].get(u.id, []))]  # fmt: skip
        for c in sorted(contacts, key=lambda c: (c.applyOrder or 0, c.id)):
            self._contact(u, c, body)
        rules = [self.p(Rule, x, f"v2/users/{u.id}/notification-rules[{i}]")
                 for i, x in enumerate(self.raw["rules"].get(u.id, []))]  # fmt: skip
        for rule in rules:
            if rule.actionType != "create-alert" or not rule.enabled:
                self.r.skip(
                    "notification-rule",
                    rule.id,
                    f"{u.username}: {rule.actionType} "
                    f'rule "{rule.name}" has no equivalent (rules run when paged)',
                )
                continue
            notify = self._steps(u, rule)
            if notify:
                body["notify"] = notify
        self.r.people[name] = Entry(body, f"opsgenie user {u.id} ({u.fullName or u.username})")

    def _contact(self, u: User, c: Contact, body: dict[str, Any]) -> None:
        if c.method == "email":
            if c.to != body["email"]:
                self.r.skip("contact", c.id, f"{u.username}: second email {c.to} (one per person)")
        elif c.method in ("sms", "voice"):
            phone = "+" + c.to.replace("-", "").lstrip("+")
            if "phone" not in body and phone[1:].isdigit():
                body["phone"] = phone
            elif body.get("phone") != phone:
                self.r.skip("contact", c.id, f"{u.username}: second phone number (one per person)")
        else:
            self.r.skip("contact", c.id, f"{u.username}: {c.method} contact has no equivalent "
                        "(give the person an ntfy topic for pushes)")  # fmt: skip

    def _steps(self, u: User, rule: Rule) -> list[dict[str, Any]]:
        out = []
        for st in sorted(rule.steps, key=lambda s: s.sendAfter.seconds if s.sendAfter else 0):
            method = st.contact.get("method", "")
            after = span(st.sendAfter.seconds if st.sendAfter else 0)
            if method == "email" and st.enabled:
                out.append({"after": "0s" if after.startswith("0") else after, "via": "email"})
            else:
                self.r.skip("notification-step", st.id, f"{u.username}: {method} after {after}"
                            " (only email is sent to people here today)")  # fmt: skip
        return out

    def _schedule(self, s: Schedule, name: str) -> None:
        tz = _zone(s.timezone)
        self.r.schedule_ids[s.id] = name
        layers = [lay for rot in s.rotations if (lay := self._layer(s, rot, tz)) is not None]
        if not s.enabled:
            self.r.skip("schedule", s.id, f'"{s.name}" is disabled in Opsgenie: imported', True)
        if not layers:
            self.r.skip("schedule", s.id, f'"{s.name}": no rotation could be imported')
            return
        if _overlap(layers):
            self.r.skip("schedule", s.id, f'"{s.name}": where rotations overlap Opsgenie '
                        "notifies everyone on call in each; here the later layer's person "
                        "only (compare shows where)", True)  # fmt: skip
        team = f", team {s.ownerTeam.get('name')}" if s.ownerTeam else ""
        body = {"timezone": s.timezone if tz.key == s.timezone else "UTC", "layers": layers}
        entry = Entry(body, f"opsgenie schedule {s.id} ({s.name}{team})")
        add_rotation(self.r, s.id, f'"{s.name}"', name, entry)
        for i, o in enumerate(self.raw["overrides"].get(s.id, [])):
            self._override(self.p(Override, o, f"v2/schedules/{s.id}/overrides[{i}]"), name)

    def _layer(self, s: Schedule, rot: Rotation, tz: ZoneInfo) -> dict[str, Any] | None:
        members = []
        for part in rot.participants:
            who = self.person.get(part.id or "") or self.person.get(part.username or "")
            if part.type == "user" and who:
                members.append(who)
            else:
                self.r.skip(
                    "rotation",
                    rot.id,
                    f'"{s.name}/{rot.name}": participant '
                    f"{part.type} {part.name or part.username or part.id or ''} has no "
                    "equivalent (a layer's members are people)".replace("  ", " "),
                )
        unit = {"hourly": 3600, "daily": 86400, "weekly": 604800}.get(rot.type)
        if not members or unit is None:
            if unit is None:
                self.r.skip("rotation", rot.id, f"type {rot.type!r} unknown")
            return None
        local = rot.startDate.astimezone(tz).replace(tzinfo=None)
        layer: dict[str, Any] = {"name": rot.name or rot.id, "members": members,
                                 "shift": span(unit * max(rot.length, 1)),
                                 **layer_start(local, rot.type == "weekly")}  # fmt: skip
        if rot.endDate is not None:
            layer["until"] = rot.endDate.astimezone(tz).replace(tzinfo=None).isoformat()
        if rot.timeRestriction is not None:
            restrictions = self._restrictions(rot, rot.timeRestriction)
            if restrictions is None:
                return None
            layer["restrictions"] = restrictions
        if rot.startDate > self.now and rot.endDate is None:
            self.r.skip(
                "rotation",
                rot.id,
                "starts in the future; until then its layer "
                "already rotates here (layers without until count backwards)",
                True,
            )
        return layer

    def _restrictions(self, rot: Rotation, tr: TimeRestriction) -> list[dict[str, Any]] | None:
        if tr.type == "time-of-day" and tr.restriction is not None:
            r = tr.restriction
            return [{"days": "mon-sun", "from": _hm(r.startHour, r.startMin),
                     "to": _hm(r.endHour, r.endMin)}]  # fmt: skip
        if tr.type == "weekday-and-time-of-day" and tr.restrictions:
            out: list[dict[str, Any]] = []
            for r in tr.restrictions:
                if r.startDay not in DAYS or r.endDay not in DAYS:
                    self.r.skip("rotation", rot.id, f"restriction days {r.startDay}/{r.endDay}")
                    return None
                out += week_range(DAYS.index(r.startDay), r.startHour * 60 + r.startMin,
                                  DAYS.index(r.endDay), r.endHour * 60 + r.endMin)  # fmt: skip
            return out
        self.r.skip("rotation", rot.id, f"time restriction {tr.type!r} not understood")
        return None

    def _override(self, o: Override, rotation: str) -> None:
        if o.endDate <= self.now:
            self.r.skip("override", o.alias, "ended already: not imported")
            return
        who = self.person.get(o.user.id or "") or self.person.get(o.user.username or "")
        if o.user.type != "user" or who is None:
            self.r.skip("override", o.alias, f"for {o.user.type} {o.user.name or o.user.id}: "
                        "overrides put a person on call")  # fmt: skip
            return
        if o.rotations:
            self.r.skip("override", o.alias, "applies to some rotations of its schedule in "
                        "Opsgenie; imported for the whole rotation", True)  # fmt: skip
        self.r.overrides.setdefault(rotation, []).append({
            "who": who, "email": self.emails[who], "from": _iso(o.startDate),
            "until": _iso(o.endDate), "reason": f"imported from opsgenie override {o.alias}",
        })  # fmt: skip

    def _escalation(self, e: Escalation, name: str) -> None:
        steps: dict[int, dict[str, list[str]]] = {}
        for i, rule in enumerate(e.rules):
            where = f"{e.id}.rules[{i}]"
            rcp = rule.recipient
            if rule.condition != "if-not-acked":
                self.r.skip("escalation", where, f"condition {rule.condition}: steps here stop "
                            "at an acknowledgement", True)  # fmt: skip
            if rule.notifyType != "default":
                self.r.skip("escalation", where, f"notifyType {rule.notifyType} ({rcp.type} "
                            f"{rcp.name or rcp.id}) has no equivalent")  # fmt: skip
                continue
            step = steps.setdefault(rule.delay.seconds, {})
            if rcp.type == "user" and (who := self.person.get(rcp.id or "")
                                       or self.person.get(rcp.username or "")):  # fmt: skip
                step.setdefault("people", []).append(who)
            elif rcp.type == "schedule" and (rot := self.r.schedule_ids.get(rcp.id or "")):
                step.setdefault("rotations", []).append(rot)
            else:
                self.r.skip("escalation", where, f"recipient {rcp.type} {rcp.name or rcp.id} "
                            "has no equivalent (steps page people and rotations)")  # fmt: skip
        body: dict[str, Any] = {"steps": [{"after": span(k) if k else "0s", **v}
                                          for k, v in sorted(steps.items()) if v]}  # fmt: skip
        if not body["steps"]:
            self.r.skip("escalation", e.id, f'"{e.name}": no rule could be imported')
            return
        rep = e.repeat or {}
        if int(rep.get("count", 0) or 0) > 0 and int(rep.get("waitInterval", 0) or 0) > 0:
            body["repeat"] = min(int(rep["count"]), 10)
            body["repeat_every"] = span(60 * int(rep["waitInterval"]))
        self.r.policies[name] = Entry(body, f"opsgenie escalation {e.id} ({e.name})")


def _overlap(layers: list[dict[str, Any]]) -> bool:
    """Whether two layers can be on call at the same time of the week."""
    seen = bytearray(7 * 1440)
    for x in layers:
        try:
            cov = week_coverage(Layer.model_validate(x))
        except ValueError:
            continue
        if any(a and b for a, b in zip(seen, cov, strict=True)):
            return True
        seen = bytearray(a | b for a, b in zip(seen, cov, strict=True))
    return False


def _zone(name: str) -> ZoneInfo:
    try:
        return zone(name)
    except ValueError:
        return ZoneInfo("UTC")


def _hm(h: int, m: int) -> str:
    return f"{h:02d}:{m:02d}"


def week_range(d0: int, m0: int, d1: int, m1: int) -> list[dict[str, Any]]:
    """A weekly range from day d0 minute m0 to day d1 minute m1 (wrapping the week) as
    daily restrictions: the first day's tail, whole days between, the last day's head."""
    short = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    def hm(m: int) -> str:
        return _hm(m // 60, m % 60)

    if d0 == d1 and m0 < m1:
        return [{"days": short[d0], "from": hm(m0), "to": hm(m1)}]
    out = [{"days": short[d0], "from": hm(m0), "to": "24:00"}]
    d = (d0 + 1) % 7
    for _ in range(7):
        if d == d1:
            break
        out.append({"days": short[d], "from": "00:00", "to": "24:00"})
        d = (d + 1) % 7
    if m1 > 0:
        out.append({"days": short[d1], "from": "00:00", "to": hm(m1)})
    return [x for x in out if x["from"] != x["to"]]


def convert(raw: dict[str, Any], now: datetime, allow_unknown: bool = False) -> Result:
    return Converter(raw, now, allow_unknown).run()
