"""Console pages for alerts: the active list, one alert, and its ack / unack forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from receiver.ack.service import MAX_COMMENT, AckOutcome, check_text
from receiver.api.acks import BodyError, parse_expires
from receiver.api.alerts import levels
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.models import SEVERITIES, STATUSES
from receiver.store.alerts import AlertFilter, ReadsBusy
from receiver.text import TextError, check_comment, check_name
from receiver.web import views
from receiver.web.auth import CONSOLE, FORM, VIEWER, page, refuse, render, see_other
from receiver.web.pager import Pager, valid_cursor

_FP = re.compile(r"[0-9a-f]{16}")
LIMITS = (25, 50, 100, 200)
DEFAULT_LIMIT = 50
EXPIRIES = ("", "30m", "1h", "2h", "4h", "8h", "24h")
MAX_NAME = 60  # with "(<session name>)" within the ack service's MAX_BY (128)
# What the alert page says after a form (PRG: the POST redirects with ?done=<outcome>).
DONE = {
    "acked": "Acknowledged: repeat notifications and escalation stop for this firing.",
    "already_acked": "Someone had acknowledged it already; nothing changed.",
    "unacked": "Acknowledgement removed: repeats and escalation resume.",
    "not_acked": "Nobody had acknowledged it; nothing changed.",
    "not_firing": "The alert is resolved: there is nothing to acknowledge.",
    "other_episode": "The alert fired again since; nothing changed.",
}


class QueryError(ValueError):
    """A list query the console refuses (400 page)."""


@dataclass(frozen=True)
class ListQuery:
    status: str  # firing | resolved | all
    severity: str
    acked: str  # "" | yes | no
    labels: tuple[tuple[str, str], ...]
    limit: int
    cursor: str | None

    @property
    def flt(self) -> AlertFilter:
        return AlertFilter(None if self.status == "all" else self.status,
                           self.severity or None, self.labels)  # fmt: skip

    def url(self, **change: Any) -> str:
        """This list's URL with some parameters changed (cursor dropped unless given)."""
        q: dict[str, Any] = {"status": self.status, "severity": self.severity,
                             "acked": self.acked, "limit": self.limit, "cursor": None}  # fmt: skip
        q.update(change)
        pairs = [(k, v) for k, v in q.items() if v not in (None, "")]
        pairs += [("label", f"{k}={v}") for k, v in self.labels]
        return "/console/alerts?" + urlencode(pairs)


def parse_query(q: Mapping[str, str], label_items: list[str]) -> ListQuery:
    status = q.get("status") or "firing"
    if status not in (*STATUSES, "all"):
        raise QueryError("status must be firing, resolved or all")
    severity = q.get("severity", "")
    if severity not in ("", *SEVERITIES):
        raise QueryError("severity must be critical, warning or info")
    acked = q.get("acked", "")
    if acked not in ("", "yes", "no"):
        raise QueryError("acknowledged must be yes or no")
    try:
        limit = int(q.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise QueryError("limit must be a number") from None
    if limit not in LIMITS:
        raise QueryError(f"limit must be one of {', '.join(map(str, LIMITS))}")
    cursor = q.get("cursor") or None
    if cursor is not None and not valid_cursor(cursor):
        raise QueryError("cursor must come from a Next link")
    labels = []
    for item in label_items:
        item = item.strip()
        if not item:
            continue
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise QueryError("a label filter is name=value")
        labels.append((k.strip(), v.strip().strip('"')))
    return ListQuery(status, severity, acked, tuple(labels[:8]), limit, cursor)


@page(Scope.READ)
async def alert_list(request: web.Request) -> web.StreamResponse:
    """Active alerts: filters, groups with counts, pages by cursor."""
    try:
        query = parse_query(request.query, request.query.getall("label", []))
    except QueryError as e:
        return refuse(request, 400, "Cannot show that list", str(e))
    now_ms = int(request.app[CONSOLE].clock() * 1000)
    services = request.app[SERVICES]
    pager = Pager(services.reader, services.intake.keys)
    check = None
    if query.acked:
        acked = query.acked

        def check(rec: Mapping[str, Any]) -> bool:
            return views.matches_ack(rec, acked, now_ms)

    try:
        got = await pager.page(query.flt, check, query.limit, query.cursor)
    except ReadsBusy:
        return refuse(request, 503, "Busy", "Too many lists at once; reload in a moment.")
    totals = await pager.totals()
    rows = [views.row(a, now_ms) for a in got.alerts]
    return render(
        request, "alerts.html", q=query, rows=rows, groups=views.group_rows(rows),
        totals=totals, next_url=query.url(cursor=got.next_cursor) if got.next_cursor else "",
        first_url=query.url() if query.cursor else "", scanned=got.scanned,
        severities=SEVERITIES, limits=LIMITS, refresh=True,
    )  # fmt: skip


@page(Scope.READ)
async def alert_page(request: web.Request) -> web.StreamResponse:
    """One alert: labels, annotations, links, ack, escalation, history, destinations."""
    fp = request.match_info["fingerprint"]
    rec = await request.app[SERVICES].reader.get(fp) if _FP.fullmatch(fp) else None
    if rec is None:
        return refuse(request, 404, "No such alert",
                      "No alert with this fingerprint (a resolved one is kept for the "
                      "retention period only).")  # fmt: skip
    if rec.get("escalation"):
        levels(rec["escalation"], request.app[STATE].settings.escalation_policies)
    now_ms = int(request.app[CONSOLE].clock() * 1000)
    rec.setdefault("fingerprint", fp)
    return render(
        request, "alert.html", a=rec, r=views.row(rec, now_ms), links=views.links(rec),
        history=views.history(rec.get("history") or []), told=views.told(rec["notified"]),
        ladder=views.ladder(rec.get("escalation")), done=DONE.get(request.query.get("done", "")),
        expiries=EXPIRIES, max_comment=MAX_COMMENT, max_name=MAX_NAME,
    )  # fmt: skip


def _by(request: web.Request, typed: str) -> str:
    """Who acks: the viewer, with the name typed in the form when there is one (a token
    shared by a team names the team, not the person). TextError for a name that would not
    show as typed (receiver/text.py), named after the form's field."""
    viewer = request[VIEWER]
    # Checked as typed, before whitespace is folded: split() would drop some refused
    # characters (U+2028, U+0085) instead of refusing them.
    name = " ".join(check_name(typed, "name", MAX_NAME).split()) if typed.strip() else ""
    return f"{name} ({viewer.name})" if name and name != viewer.name else viewer.name


async def _change(request: web.Request, op: str) -> web.StreamResponse:
    fp = request.match_info["fingerprint"]
    if not _FP.fullmatch(fp):
        return refuse(request, 404, "No such alert", "Not an alert fingerprint.")
    form = request[FORM]
    acks = request.app[SERVICES].acks
    try:
        by = _by(request, form.get("name", ""))
        comment = check_comment(form.get("comment", "").strip(), "comment", MAX_COMMENT)
    except TextError as e:
        return refuse(request, 400, "Not changed", str(e))
    try:
        until_ms = parse_expires(form.get("expires") or None, acks.clock()) if op == "ack" else 0
    except BodyError as e:
        return refuse(request, 400, "Not changed", str(e))
    problem = check_text(by, comment, "console")
    if problem:
        return refuse(request, 400, "Not changed", problem)
    if op == "ack":
        result = await acks.ack(fp, by, "console", comment, until_ms)
    else:
        result = await acks.unack(fp, by, "console", comment)
    if result.outcome is AckOutcome.NOT_FOUND:
        return refuse(request, 404, "No such alert", "No alert with this fingerprint.")
    return see_other(f"/console/alerts/{fp}?done={result.outcome.value}")


@page(Scope.ACK)
async def ack(request: web.Request) -> web.StreamResponse:
    return await _change(request, "ack")


@page(Scope.ACK)
async def unack(request: web.Request) -> web.StreamResponse:
    return await _change(request, "unack")
