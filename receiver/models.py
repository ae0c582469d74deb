"""The service's record types: severity and status, the alert snapshot we keep, notification
jobs and what each destination was last told. The webhook schema lives in payload.py (and
the snapshot of a webhook's alert, `payload.snapshot_of`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field, field_validator

# Alertmanager sends this for a firing alert's endsAt (Go's zero time).
ZERO_TIME = "0001-01-01T00:00:00Z"
# RFC 3339 as Alertmanager writes times (fractional seconds up to nanoseconds, Z or offset).
# Each field in range (no leap second: Alertmanager never writes one); whether the day
# exists in its month is checked apart (receiver/payload.py, on_calendar).
TIMESTAMP_RE = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF
# Alertmanager's model.LabelsToSignature separates names and values with 0xff.
_SEP = b"\xff"


class Severity(enum.StrEnum):
    """Severity as read from the `severity` label; anything unknown is INFO."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @classmethod
    def of(cls, labels: dict[str, str]) -> Severity:
        value = labels.get("severity", "").lower()
        if value == cls.CRITICAL:
            return cls.CRITICAL
        if value == cls.WARNING:
            return cls.WARNING
        return cls.INFO


class Status(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


# The vocabularies in their order (listings, indexes): plain strings.
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)


# How an ack was made (recorded, shown, a metric label): the API, the CLI, a chat button, a
# signed link shown in an email or a chat message, the console, a push action.
VIAS: tuple[str, ...] = ("api", "cli", "slack", "email", "console", "mattermost", "push",
                         "telegram", "teams", "discord", "sms", "voice")  # fmt: skip


class Verdict(enum.StrEnum):
    """What a worker asks settle.lua to record for a job (store/lua/settle.lua, ARGV[4])."""

    DONE = "done"  # delivered
    RETRY = "retry"  # on the delayed set again (no backpressure)
    FAIL = "fail"  # retryable trouble, counted against the destination's circuit
    THROTTLE = "throttle"  # the destination answered 429: pause it, park the job
    DEAD = "dead"  # dead letter: retries exhausted
    REJECT = "reject"  # dead letter: the destination refused it for good
    ACK = "ack"  # acknowledge only (superseded by a newer decision)


# Record markers. Notification-record fields that are not destinations: the version (also
# `nv` on the state record) and the ack marker ("until_ms|startsAt").
RECORD_VERSION = "_v"
RECORD_ACK = "_ack"
RECORD_META = frozenset({RECORD_VERSION, RECORD_ACK})
# A digest as a destination: `digest:NAME` (also the prefix of a digest job's key).
DIGEST_PREFIX = "digest:"


def fnv1a_64_python(buf: bytes) -> int:
    """64-bit FNV-1a in Python: the reference, and the fallback without fnv-c (~15 µs for
    5 labels, against ~1 µs in C)."""
    h = FNV64_OFFSET
    for byte in buf:
        h = ((h ^ byte) * FNV64_PRIME) & _MASK64
    return h


try:  # fnv-c (a dependency) hashes in C; its result is checked against the above in tests
    from fnv_c import fnv1a_64
except ImportError:  # pragma: no cover - a broken install still computes the right value
    fnv1a_64 = fnv1a_64_python


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: 64-bit FNV-1a over sorted name/value pairs, 16 hex digits.

    Mirrors prometheus/common model.LabelSet.Fingerprint so both sides agree on identity
    (Go sorts names by bytes, Python by code points: the same order for UTF-8).
    """
    # One str, encoded once: "\udcff" becomes the 0xff separator under surrogateescape.
    # Labels hold no lone surrogates (JSON decoders refuse them), so nothing else does.
    text = "".join([f"{name}\udcff{labels[name]}\udcff" for name in sorted(labels)])
    return f"{fnv1a_64(text.encode('utf-8', 'surrogateescape')):016x}"


class AlertSnapshot(BaseModel):
    """What a notification needs to know about one alert at the time of the decision."""

    fingerprint: str
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = ZERO_TIME
    generatorURL: str = ""
    receiver: str = ""
    groupKey: str = ""
    externalURL: str = ""

    @property
    def severity(self) -> Severity:
        return Severity.of(self.labels)

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


def snapshot_from_record(
    fp: str, status: str, starts_at: str, ends_at: str, doc: dict[str, Any]
) -> AlertSnapshot:
    """An alert's snapshot rebuilt from its state record (status, times) and its stored
    descriptive document, for jobs made outside the intake (acks, escalation steps)."""
    return AlertSnapshot.model_validate({
        "fingerprint": fp, "status": status, "labels": doc.get("labels", {}),
        "annotations": doc.get("annotations", {}), "startsAt": starts_at,
        "endsAt": ends_at or ZERO_TIME, "generatorURL": doc.get("generatorURL", ""),
        "receiver": doc.get("receiver", ""), "groupKey": doc.get("groupKey", ""),
        "externalURL": doc.get("externalURL", ""),
    })  # fmt: skip


class Reason(enum.StrEnum):
    """Why a destination is (or is not) notified about an alert. Doubles as a metric label."""

    NEW = "new"
    RESOLVED = "resolved"
    REPEAT = "repeat"
    DUPLICATE = "duplicate"
    SUPPRESSED_ACKED = "suppressed_acked"
    NOT_FIRING = "not_firing"
    # Not intake decisions: jobs made by an acknowledgement and by an escalation step.
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    ESCALATED = "escalated"
    # A maintenance window (receiver/maintenance): muted while it lasts, and the one
    # notification of an alert still firing when it ends.
    MAINTENANCE = "maintenance"
    MAINTENANCE_ENDED = "maintenance_ended"

    @property
    def notifies(self) -> bool:
        return self in (Reason.NEW, Reason.RESOLVED, Reason.REPEAT, Reason.MAINTENANCE_ENDED)


@dataclass(frozen=True)
class MaintenanceMark:
    """The maintenance window occurrence an alert is in, as the intake writes it
    (receiver/maintenance/gate.py makes it): the occurrence id (`window|start_ms`), the
    marker kept on the alert's state record (`id;until_ms;name`), how long the
    occurrence's muted set is kept (ms), and the digest it sends to instead (or None)."""

    occurrence: str
    marker: str
    ttl_ms: int
    digest: str | None = None
    window: str = ""  # the window's name (the muted counter's label)


def maintenance_marker(occurrence: str, until_ms: int, name: str) -> str:
    """The state record's `maint` field (MaintenanceMark.marker)."""
    return f"{occurrence};{until_ms};{name}"


def maintenance_view(raw: str | None) -> dict[str, str] | None:
    """How the API and the console show a `maint` field: the window, until when (RFC
    3339), and the line "in maintenance: <window> until <time>"; None if none."""
    if not raw:
        return None
    _occ, _, rest = raw.partition(";")
    until, _, name = rest.partition(";")
    try:
        at = datetime.fromtimestamp(int(until) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return {"window": name, "until": at, "text": f"in maintenance: {name} until {at}"}


class AckInfo(BaseModel):
    """Who acknowledged an alert's current episode, when, how and until when."""

    by: str
    at_ms: int
    via: str  # api | cli | slack | email | console
    comment: str = ""
    until_ms: int = 0  # 0: until the alert resolves


def ack_active(ack: AckInfo | None, ack_starts: str, starts_at: str, now_ms: int) -> bool:
    """Whether an ack stored for the episode `ack_starts` is in force for the alert's
    firing episode `starts_at` now."""
    if ack is None or ack_starts != starts_at:
        return False
    return ack.until_ms == 0 or ack.until_ms > now_ms


class EscalationInfo(BaseModel):
    """Which escalation level a notification is, and who did not answer before it."""

    policy: str
    level: int  # 1-based
    levels: int
    unanswered: list[str] = Field(default_factory=list)  # people notified earlier, no ack
    since_ms: int = 0  # when the ladder started (the first step)
    after_ms: int = 0  # when this step came due, counted from since_ms


class PersonPage(BaseModel):
    """Set on a job a person's notification rule made (receiver/people): whom it pages and
    the signed links its push actions carry ("" when none)."""

    name: str
    rule: int = 0  # the rule's index in the person's notify list
    ack_url: str = ""  # POST acknowledges as this person (receiver/ack/push.py)
    open_url: str = ""  # the alert's console page


class Notification(BaseModel):
    """One delivery job: everything a worker needs to notify one destination once.

    `key` is the idempotency key: stable for the same (alert, destination, decision), so a
    redelivery after a crash is recognisable at the far end (PagerDuty dedup_key is derived
    from the fingerprint, email Message-ID from `key`).
    """

    key: str
    destination: str
    reason: Reason
    alert: AlertSnapshot
    route: str = ""
    # Filled for storm summaries: alerts folded into this one notification.
    summary_of: list[AlertSnapshot] = Field(default_factory=list)
    summary_total: int = 0
    enqueued_at_ms: int = 0
    # When the intake decided this notification; never changed by retries or replays, so a
    # worker can tell that a newer decision for the same alert and destination superseded it.
    decided_at_ms: int = 0
    attempt: int = 0
    # Set on ACKNOWLEDGED / UNACKNOWLEDGED jobs, and on an escalation step's when acked.
    ack: AckInfo | None = None
    # Set on ESCALATED jobs.
    escalation: EscalationInfo | None = None
    # Overrides the receiver's recipients for this one job (an on-call member's address).
    recipients: list[str] = Field(default_factory=list)
    # The key of the notification this one follows up (the escalation step whose resolve
    # this is): an email threads under that mail.
    thread_key: str = ""
    # Set on a person's notification rule's job (receiver/people/runner.py).
    person: PersonPage | None = None

    @field_validator("recipients", mode="before")
    @classmethod
    def _lua_empty_list(cls, v: Any) -> Any:
        # Lua's cjson writes an empty array it decoded and encoded again (storm.lua) as {}.
        return [] if v == {} else v

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Notification:
        return cls.model_validate_json(raw)


@dataclass(frozen=True)
class NotifyRecord:
    """What we last told ONE destination about ONE alert."""

    status: Status  # status we last notified (or recorded) for that destination
    starts_at: str  # the alert's startsAt at that time (RFC 3339)
    notified_at_ms: int  # when we last produced a notification (0 if never notified)

    def to_json(self) -> str:
        return orjson.dumps(
            {"status": self.status.value, "starts_at": self.starts_at, "n": self.notified_at_ms}
        ).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> NotifyRecord:
        try:
            d = orjson.loads(raw)
            return cls(Status(d["status"]), str(d["starts_at"]), int(d["n"]))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"corrupt notify record {raw!r}: {e}") from e
