"""What the console's pages show, decided purely from decoded state records: rows, groups,
safe links, relative times, history lines. Rendering is the templates' job."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from receiver.ack.links import ack_in_force
from receiver.models import AckInfo, Severity
from receiver.notifiers.render import KEY_LABELS, is_web_url

_SEVERITY_ORDER = {s.value: i for i, s in enumerate(Severity)}


def to_ms(text: str | None) -> int:
    """An RFC 3339 time (Alertmanager's, nanoseconds allowed) in ms; 0 when absent,
    Alertmanager's zero time or unreadable."""
    if not text or text.startswith("0001-"):
        return 0
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return 0


def iso(ms: int) -> str:
    """UTC, to the second: what <time datetime> carries and what shows without scripts."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(ms: int, now_ms: int) -> str:
    """ "just now", "5 min ago", "3 h ago", "2 days ago"; "in 4 min" for the future."""
    delta = (now_ms - ms) // 1000
    future, delta = delta < 0, abs(delta)
    if delta < 45:
        return "just now" if not future else "in a moment"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if delta >= size or unit == "min":
            n = max(1, round(delta / size))
            text = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Row:
    """One alert in the list."""

    fingerprint: str
    alertname: str
    severity: str
    status: str
    service: str
    summary: str
    where: str  # key labels, "instance=api-1:8080, job=api"
    starts_ms: int
    ack: AckInfo | None

    @property
    def group(self) -> tuple[str, str]:
        return self.service, self.alertname


@dataclass(frozen=True)
class Group:
    service: str
    alertname: str
    rows: list[Row]
    firing: int
    acked: int


def _labels(rec: Mapping[str, Any]) -> dict[str, str]:
    labels = rec.get("labels")
    return dict(labels) if isinstance(labels, dict) else {}


def service_of(labels: Mapping[str, str]) -> str:
    return labels.get("service") or labels.get("job") or "-"


def row(rec: Mapping[str, Any], now_ms: int) -> Row:
    labels = _labels(rec)
    annotations = rec.get("annotations") or {}
    name = labels.get("alertname") or "alert"
    return Row(
        fingerprint=str(rec.get("fingerprint", "")),
        alertname=name,
        severity=str(Severity.of(labels)),
        status=str(rec.get("status", "")),
        service=service_of(labels),
        summary=str(annotations.get("summary", "")).strip() or name,
        where=", ".join(f"{k}={labels[k]}" for k in KEY_LABELS if labels.get(k)),
        starts_ms=to_ms(rec.get("startsAt")),
        ack=ack_in_force(rec, now_ms),
    )


def group_rows(rows: Iterable[Row]) -> list[Group]:
    """Rows grouped by service and alertname, each group keeping the rows' order; the
    groups with the most severe alerts first, then the most firing, then by name."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    out = [
        Group(service, alertname, rs, sum(r.status == "firing" for r in rs),
              sum(r.ack is not None for r in rs))
        for (service, alertname), rs in groups.items()
    ]  # fmt: skip

    def key(g: Group) -> tuple[int, int, str, str]:
        worst = min(_SEVERITY_ORDER.get(r.severity, 9) for r in g.rows)
        return worst, -g.firing, g.service, g.alertname

    return sorted(out, key=key)


def matches_ack(rec: Mapping[str, Any], acked: str, now_ms: int) -> bool:
    """The list's acknowledged filter: "" any, "yes" an ack in force, "no" none."""
    if not acked:
        return True
    return (ack_in_force(rec, now_ms) is not None) == (acked == "yes")


@dataclass(frozen=True)
class Link:
    title: str
    url: str


def links(rec: Mapping[str, Any]) -> list[Link]:
    """The alert's web links: its source, then every annotation that is an http(s) URL
    (runbook, dashboard, …). Anything else (javascript:, data:, relative) is not a link."""
    out = []
    source = str(rec.get("generatorURL") or "")
    if is_web_url(source):
        out.append(Link("Source", source))
    for key, value in sorted((rec.get("annotations") or {}).items()):
        if isinstance(value, str) and is_web_url(value.strip()):
            out.append(Link(key.removesuffix("_url").replace("_", " ").capitalize(), value.strip()))
    return out


@dataclass(frozen=True)
class HistoryLine:
    at_ms: int
    what: str  # "firing", "resolved", "acknowledged", "unacknowledged", …
    by: str = ""
    via: str = ""
    comment: str = ""
    until_ms: int = 0


def history(entries: Sequence[Mapping[str, Any]]) -> list[HistoryLine]:
    """The alert's history (newest first, as stored): status changes and acks."""
    out = []
    for h in entries:
        event = h.get("event")
        what = {"ack": "acknowledged", "unack": "unacknowledged"}.get(str(event), "")
        what = what or str(event or h.get("status") or "changed")
        out.append(HistoryLine(int(h.get("at") or 0), what, str(h.get("by") or ""),
                               str(h.get("via") or ""), str(h.get("comment") or ""),
                               int(h.get("until_ms") or 0)))  # fmt: skip
    return out


@dataclass(frozen=True)
class Told:
    """What one destination was last told about the alert, and when."""

    destination: str
    status: str
    at_ms: int
    episode: str


def told(notified: Mapping[str, Mapping[str, Any]]) -> list[Told]:
    return sorted(
        (Told(dest, str(r.get("status", "")), int(r.get("n") or 0), str(r.get("starts_at", "")))
         for dest, r in notified.items() if isinstance(r, dict)),
        key=lambda t: t.destination,
    )  # fmt: skip


@dataclass(frozen=True)
class Step:
    level: int
    due_ms: int
    at_ms: int
    to: str


@dataclass(frozen=True)
class Ladder:
    policy: str
    level: int
    steps: list[Step] = field(default_factory=list)
    ended: str | None = None
    next_level: int | None = None
    next_due_ms: int | None = None


def ladder(esc: Mapping[str, Any] | None) -> Ladder | None:
    """The escalation state as the API shows it (after api.alerts.levels())."""
    if not esc:
        return None
    steps = []
    for s in esc.get("steps") or []:
        to = s.get("to") or s.get("targets") or s.get("receivers") or []
        steps.append(Step(int(s.get("level") or 0), int(s.get("due") or 0),
                          int(s.get("at") or 0), _names(to)))  # fmt: skip
    nxt = esc.get("next_step") or {}
    return Ladder(str(esc.get("policy", "")), int(esc.get("level") or 0), steps,
                  esc.get("ended"), nxt.get("level"), nxt.get("due"))  # fmt: skip


def _names(to: Any) -> str:
    if isinstance(to, str):
        return to
    if isinstance(to, list):
        return ", ".join(_names(t) for t in to)
    if isinstance(to, dict):
        return ", ".join(f"{k}: {_names(v)}" for k, v in to.items())
    return str(to)
