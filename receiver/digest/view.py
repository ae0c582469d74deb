"""What a digest email says, decided purely from the buffered entries and the alerts'
current state records; rendering it is render.py's job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from receiver.ack.links import ack_in_force
from receiver.models import Severity
from receiver.notifiers.render import KEY_LABELS, AckUrl, is_web_url

# What the buffer holds per alert: how often it was buffered, first and last time (ms).
Seen = tuple[int, int, int]


@dataclass(frozen=True)
class Entry:
    """One alert of the digest, in its state at send time."""

    fingerprint: str
    alertname: str
    status: str  # firing | resolved | expired (its record is gone: resolved long ago)
    severity: str
    summary: str
    where: str  # key labels, "instance=api-1:8080, job=api"
    count: int
    first_seen: str  # formatted in the digest's time zone
    last_seen: str
    links: list[tuple[str, str]] = field(default_factory=list)
    ack_url: str = ""  # a signed ack link for a firing alert, when ack.links is configured
    maintenance: str = ""  # "in maintenance: <window> until …" while a window holds it

    @property
    def firing(self) -> bool:
        return self.status == "firing"


@dataclass(frozen=True)
class Group:
    service: str
    alertname: str
    entries: list[Entry]

    @property
    def firing(self) -> int:
        return sum(e.firing for e in self.entries)


@dataclass(frozen=True)
class DigestView:
    name: str
    window: str  # "09:00-10:00" in the digest's time zone
    groups: list[Group]
    more: int  # buffered beyond max_alerts: counted, not listed

    @property
    def listed(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    @property
    def total(self) -> int:
        return self.listed + self.more

    @property
    def firing(self) -> int:
        return sum(g.firing for g in self.groups)

    @property
    def subject(self) -> str:
        if not self.total:
            return f"[digest {self.name}] all clear — {self.window}"
        alerts = "alert" if self.total == 1 else "alerts"
        # Alerts over max_alerts are counted only: their state is not known.
        of = f" of the {self.listed:,} listed" if self.more else ""
        return (f"[digest {self.name}] {self.total:,} {alerts}, {self.firing:,}{of} still "
                f"firing — {self.window}")  # fmt: skip


def _fmt(ms: int, zone: ZoneInfo, with_date: bool = True) -> str:
    t = datetime.fromtimestamp(ms / 1000, zone)
    return t.strftime("%Y-%m-%d %H:%M %Z" if with_date else "%H:%M")


def window_label(start_s: float, end_s: float, zone: ZoneInfo) -> str:
    """ "09:00-10:00" within a day, with dates when the window crosses one, and seconds
    when it does not start and end on whole minutes ("14:56:10-14:56:40")."""
    a, b = datetime.fromtimestamp(start_s, zone), datetime.fromtimestamp(end_s, zone)
    t = "%H:%M" if start_s % 60 == 0 and end_s % 60 == 0 else "%H:%M:%S"
    if a.date() == b.date():
        return f"{a:%Y-%m-%d} {a.strftime(t)}-{b.strftime(t)} {b:%Z}"
    return f"{a.strftime('%Y-%m-%d ' + t)} - {b.strftime('%Y-%m-%d ' + t)} {b:%Z}"


def _entry(
    fp: str,
    seen: Seen,
    rec: Mapping[str, Any] | None,
    zone: ZoneInfo,
    ack_url: AckUrl | None = None,
    now_ms: int = 0,
) -> Entry:
    count, first, last = seen
    rec = rec or {}
    status = str(rec.get("status") or "expired")
    labels: dict[str, str] = rec.get("labels") or {}
    annotations: dict[str, str] = rec.get("annotations") or {}
    where = ", ".join(f"{k}={labels[k]}" for k in KEY_LABELS if labels.get(k))
    name = labels.get("alertname") or "alert"
    candidates = [("Source", str(rec.get("generatorURL") or "")),
                  ("Runbook", annotations.get("runbook_url", ""))]  # fmt: skip
    return Entry(
        fingerprint=fp,
        alertname=name,
        status=status,
        severity=str(Severity.of(labels)),
        summary=annotations.get("summary", "").strip() or name,
        where=where,
        count=count,
        first_seen=_fmt(first, zone),
        last_seen=_fmt(last, zone),
        links=[(t, u) for t, u in candidates if is_web_url(u)],
        ack_url=(
            ack_url(fp, str(rec.get("startsAt") or ""))
            if ack_url is not None and status == "firing" and ack_in_force(rec, now_ms) is None
            else ""
        ),
        maintenance=str((rec.get("maintenance") or {}).get("text", ""))
        if status == "firing"
        else "",
    )


def build_view(
    name: str,
    buffered: Mapping[str, Seen],
    more: int,
    states: Mapping[str, Mapping[str, Any] | None],
    window: tuple[float, float],
    timezone: str,
    include_resolved: bool = True,
    ack_url: AckUrl | None = None,
) -> DigestView:
    """The digest of `buffered` alerts (fingerprint → seen), each in its current state
    (`states`, the decoded state records; None when gone), grouped by service and
    alertname: groups with firing alerts first, then by name; newest entries first.
    With `ack_url`, each firing alert without an ack in force (at the window's end)
    carries its ack link."""
    zone = ZoneInfo(timezone)
    groups: dict[tuple[str, str], list[tuple[int, Entry]]] = {}
    for fp, seen in buffered.items():
        rec = states.get(fp)
        e = _entry(fp, seen, rec, zone, ack_url, int(window[1] * 1000))
        if not include_resolved and not e.firing:
            continue
        labels = (rec or {}).get("labels") or {}
        service = labels.get("service") or labels.get("job") or "-"
        groups.setdefault((service, e.alertname), []).append((seen[2], e))
    out = []
    for (service, alertname), entries in groups.items():
        entries.sort(key=lambda le: (-le[0], le[1].fingerprint))  # newest first
        out.append(Group(service, alertname, [e for _, e in entries]))
    out.sort(key=lambda g: (-g.firing, g.service, g.alertname))
    return DigestView(name, window_label(*window, zone), out, more)
