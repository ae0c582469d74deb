"""What an import produces, whatever the source: people, rotations, escalation policies and
overrides as config-shaped dicts, each with the source's id, plus what was not mapped.

Rendered deterministically (same input → byte-identical output): entries sorted by name,
each preceded by a comment naming the source object (`# opsgenie schedule 0b1f…`), so a
re-import can be diffed against the last one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from receiver.oncall.config import Rotation, has_gaps

# Names the config accepts for people, rotations and policies (receiver/people/config.py
# PERSON_NAME, receiver/oncall/config.py ROTATION_NAME).
_NAME_OK = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class VendorModel(BaseModel):
    """A vendor's JSON object: an unknown key is an error (SourceError "shape") unless
    the import is told to allow them, and then it is listed in the report."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True, order=True)
class Unmapped:
    """Something of the source the config has no equivalent for (or only an approximate
    one: `approximated`), named by its kind and id."""

    kind: str
    source_id: str
    what: str
    approximated: bool = False

    def line(self) -> str:
        tag = "approximated" if self.approximated else "not imported"
        return f"{tag}: {self.kind} {self.source_id}: {self.what}"


@dataclass
class Entry:
    """One config entry and the source object it came from (for the comment)."""

    body: dict[str, Any]
    source: str  # e.g. "opsgenie user 4513b7ea"


@dataclass
class Result:
    source: str  # "opsgenie" | "grafana-oncall"
    people: dict[str, Entry] = field(default_factory=dict)
    rotations: dict[str, Entry] = field(default_factory=dict)
    policies: dict[str, Entry] = field(default_factory=dict)
    # rotation → override request bodies (as `POST /api/v1/oncall/{rotation}/overrides`
    # takes them: who, email, from, until, reason), with the source id in `reason`.
    overrides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    # source schedule id → rotation name (for the comparison)
    schedule_ids: dict[str, str] = field(default_factory=dict)
    # source user id (and Opsgenie username) → person name (for the comparison)
    person_ids: dict[str, str] = field(default_factory=dict)

    def skip(self, kind: str, source_id: str, what: str, approximated: bool = False) -> None:
        self.unmapped.append(Unmapped(kind, source_id, what, approximated))


class Names:
    """Config names for source objects: the source's name made valid, unique, stable
    (objects are named in the order of their ids, so the same input gives the same names)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def make(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", wanted.strip()).strip("-.")[:60] or "unnamed"
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}-{i}", i + 1
        assert _NAME_OK.fullmatch(name)
        self.taken.add(name)
        return name


def _section(title: str, entries: dict[str, Entry]) -> list[str]:
    if not entries:
        return [f"{title}: {{}}"]
    lines = [f"{title}:"]
    for name in sorted(entries):
        e = entries[name]
        lines.append(f"  # {e.source}")
        dumped = yaml.safe_dump({name: e.body}, sort_keys=False, allow_unicode=True,
                                default_flow_style=None, width=100)  # fmt: skip
        lines += ["  " + line for line in dumped.splitlines()]
    return lines


def render_yaml(r: Result, header: str) -> str:
    """The config fragment: `people`, `oncall.rotations`, `escalation_policies`."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += _section("people", r.people)
    lines.append("oncall:")
    lines += ["  " + line for line in _section("rotations", r.rotations)]
    lines += _section("escalation_policies", r.policies)
    return "\n".join(lines) + "\n"


def render_overrides(r: Result) -> str:
    """The overrides to load: {"overrides": {rotation: [request body, …]}} (JSON)."""
    body = {rot: sorted(items, key=lambda o: (o["from"], o["until"], o["who"]))
            for rot, items in sorted(r.overrides.items())}  # fmt: skip
    return json.dumps({"source": r.source, "overrides": body}, indent=2, sort_keys=True) + "\n"


def render_report(r: Result) -> str:
    """Everything not mapped (or only approximately), one per line, sorted."""
    items = sorted(set(r.unmapped))
    if not items:
        return f"{r.source}: everything was imported\n"
    lines = [f"{r.source}: {len(items)} item{'s' if len(items) != 1 else ''} not (fully) mapped:"]
    return "\n".join([*lines, *("  " + u.line() for u in items)]) + "\n"


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def span(seconds: int) -> str:
    """A config duration for whole minutes: 1w, 2d, 5h, 90m."""
    for unit, n in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % n == 0:
            return f"{seconds // n}{unit}"
    return f"{seconds}s"


def layer_start(local: datetime, weekly: bool) -> dict[str, str]:
    """`start` and `handoff` of a layer whose first hand-off is `local` (naive)."""
    hhmm = local.strftime("%H:%M")
    handoff = f"{DAY_NAMES[local.weekday()]} {hhmm}" if weekly else hhmm
    return {"start": local.date().isoformat(), "handoff": handoff}


def add_rotation(r: Result, source_id: str, label: str, name: str, entry: Entry) -> None:
    """Adds the rotation if the config accepts it; notes a schedule with gaps (check-config
    asks for a `fallback` there: the import cannot know who that is)."""
    try:
        rot = Rotation.model_validate(entry.body)
    except ValidationError as e:
        first = e.errors()[0]
        r.skip("schedule", source_id, f"{label}: not importable ({'.'.join(map(str, first['loc']))}"
               f": {first['msg']})")  # fmt: skip
        return
    if has_gaps(rot):
        r.skip("schedule", source_id, f"{label} has times with nobody on call: set "
               f"oncall.rotations.{name}.fallback (check-config asks for it)")  # fmt: skip
    r.rotations[name] = entry
