"""Decoding a webhook body: a fast path for good bodies, a descriptive one for bad ones.

Every webhook is decoded by msgspec into `Payload`, several times faster than pydantic
(it matters at thousands of bodies per second). A body msgspec refuses is decoded again
by pydantic's `WebhookPayload` (below), which says field by field what is wrong for
the 400, and which has the last word: a body it accepts is taken. Both schemas declare
the same rules; tests/unit/test_payload.py checks that they agree.

Beyond the shape, both refuse what a real Alertmanager never sends and what would
corrupt the stored state: times that are not on the calendar, empty label names, NaN
and Infinity anywhere (not JSON), and a fingerprint that is not 16 hex digits or is not
the fingerprint of the alert's labels (it would overwrite another alert's record). A
fingerprint is kept in lowercase, as Alertmanager writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from receiver.config.loader import plain_message
from receiver.models import TIMESTAMP_RE, ZERO_TIME, AlertSnapshot, Status, fingerprint

# Times and fingerprints are checked after decoding (see _valid): msgspec's own pattern
# constraints cost twice the whole decoding.
_is_time = re.compile(TIMESTAMP_RE.removeprefix("^").removesuffix("$"), re.ASCII).fullmatch
FINGERPRINT_RE = r"^[0-9A-Fa-f]{16}$"  # Alertmanager's: 16 hex digits (it writes lowercase)
_is_fingerprint = re.compile(FINGERPRINT_RE.removeprefix("^").removesuffix("$")).fullmatch
# Last day of each month; February's 29th is checked against the year.
_LAST_DAY = {"01": "31", "02": "29", "03": "31", "04": "30", "05": "31", "06": "30",
             "07": "31", "08": "31", "09": "30", "10": "31", "11": "30", "12": "31"}  # fmt: skip


class VerifiedFingerprints:
    """Fingerprints already checked against their labels (fingerprint → a copy of those
    labels), and times already found valid, so that a re-sent alert (an HA copy,
    Alertmanager's repeat, a retry: most of the traffic) skips building and hashing its
    labels and parsing its times. A memo of pure functions: it answers exactly what
    `fingerprint(labels) == fp` and `valid_time(t)` answer; bounded, emptied when full."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._labels: dict[str, dict[str, str]] = {}
        self._times: set[str] = set()

    def valid_time(self, t: str) -> bool:
        if t in self._times:
            return True
        if not valid_time(t):
            return False
        if len(self._times) >= self.size:
            self._times.clear()
        self._times.add(t)
        return True

    def matches(self, fp: str, labels: dict[str, str]) -> bool:
        if self._labels.get(fp) == labels:
            return True
        if fingerprint(labels) != fp:
            return False
        if len(self._labels) >= self.size:
            self._labels.clear()
        self._labels[fp] = dict(labels)  # a copy: nothing can change what was checked
        return True


# One per process: it only saves time (a cache of a pure function), so sharing it between
# apps or tests changes no answer.
_verified = VerifiedFingerprints()


def on_calendar(t: str) -> bool:
    """Whether the day of `t` (already matching TIMESTAMP_RE, which keeps every field in
    range) exists in its month: the 29th-31st, and February 29th in leap years only."""
    day = t[8:10]
    if day < "29":  # every month has them (fixed-width digits compare as numbers)
        return True
    month = t[5:7]
    if month == "02":
        year = int(t[:4])
        return day == "29" and not (year % 4 or (year % 100 == 0 and year % 400))
    return day <= _LAST_DAY[month]


def valid_time(t: str) -> bool:
    """RFC 3339 as Alertmanager writes it, and on the calendar."""
    return _is_time(t) is not None and on_calendar(t)


def _check_time(t: str) -> str:
    if not on_calendar(t):
        raise ValueError(f'"{t}" is not a real date and time')
    return t


def _check_names(labels: dict[str, str]) -> dict[str, str]:
    # Alertmanager (UTF-8 names, its default since 0.28) accepts any non-empty name.
    if "" in labels:
        raise ValueError("a label name is empty")
    return labels


def mismatch(fp: str, labels: dict[str, str]) -> str:
    """The 400's text for a fingerprint that is not the fingerprint of its labels."""
    return (f"fingerprint {fp} is not the fingerprint of this alert's labels "
            f"(Alertmanager's would be {fingerprint(labels)})")  # fmt: skip


# Label and annotation names: any non-empty string (see _check_names).
_Name = Annotated[str, msgspec.Meta(min_length=1)]
_Names = dict[_Name, str]


class Alert(msgspec.Struct, kw_only=True):
    """One alert of an Alertmanager v4 webhook body (see WebhookAlert)."""

    status: Status
    labels: Annotated[_Names, msgspec.Meta(min_length=1)]
    annotations: _Names = {}
    startsAt: str  # RFC 3339, checked by _valid
    endsAt: str | None = None  # RFC 3339, checked by _valid
    generatorURL: str = ""
    fingerprint: str | None = None  # 16 hex digits matching the labels, checked by _valid


class Payload(msgspec.Struct, kw_only=True):
    """An Alertmanager v4 webhook body (see WebhookPayload); extra fields ignored."""

    version: str
    groupKey: str
    status: Status
    receiver: str
    alerts: list[Alert]
    groupLabels: _Names = {}
    commonLabels: _Names = {}
    commonAnnotations: _Names = {}
    externalURL: str = ""
    truncatedAlerts: int = 0


@dataclass
class PayloadError(Exception):
    """A body that is not an Alertmanager v4 webhook: the 400's code, text and fields."""

    code: str  # invalid_encoding | invalid_json | invalid_payload
    detail: str
    fields: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail


Timestamp = Annotated[str, Field(pattern=TIMESTAMP_RE), AfterValidator(_check_time)]
LabelSet = Annotated[dict[str, str], AfterValidator(_check_names)]


class WebhookAlert(BaseModel):
    """One alert of an Alertmanager v4 webhook body.

    The reference schema: webhooks are decoded by payload.Alert (msgspec, same rules), and
    by this model when that fails, for its field-by-field errors.
    """

    model_config = ConfigDict(extra="allow")

    # Good bodies take the fast path: this model judges the ones msgspec refused, so its
    # Python validators (times, names, fingerprints) cost nothing on a normal intake.
    status: Status
    labels: LabelSet = Field(min_length=1)  # an alert needs at least one label
    annotations: LabelSet = Field(default_factory=dict)
    # Kept as sent (validated RFC 3339): an alert's episode is identified by its startsAt
    # string, and re-formatting would lose Alertmanager's nanoseconds.
    startsAt: Timestamp
    endsAt: Timestamp | None = None
    generatorURL: str = ""
    fingerprint: str | None = Field(None, pattern=FINGERPRINT_RE)

    @field_validator("fingerprint")
    @classmethod
    def _of_the_labels(cls, fp: str | None, info: ValidationInfo) -> str | None:
        labels = info.data.get("labels")  # absent when the labels were refused
        if fp is None or labels is None:
            return fp
        fp = fp.lower()
        if fingerprint(labels) != fp:
            raise ValueError(mismatch(fp, labels))
        return fp


class WebhookPayload(BaseModel):
    """An Alertmanager v4 webhook body. Unknown extra fields are accepted."""

    model_config = ConfigDict(extra="allow")

    version: str
    groupKey: str
    status: Status
    receiver: str
    alerts: list[WebhookAlert]
    groupLabels: LabelSet = Field(default_factory=dict)
    commonLabels: LabelSet = Field(default_factory=dict)
    commonAnnotations: LabelSet = Field(default_factory=dict)
    externalURL: str = ""
    truncatedAlerts: int = 0

    @field_validator("version")
    @classmethod
    def _v4(cls, v: str) -> str:
        if v != "4":
            raise ValueError(f'unsupported version "{v}": only Alertmanager webhook version "4"')
        return v


_decoder = msgspec.json.Decoder(Payload)


def decode_payload(body: bytes, remember: bool = True) -> Payload:
    """The body as a `Payload`, or PayloadError saying what is wrong with it. `remember`:
    keep what was checked for re-sends (not for a large body's slices: 50,000 remembered
    copies made among its objects would keep the heap it used from being given back)."""
    payload = decode_fast(body, remember)
    return payload if payload is not None else _decode_slowly(body)


def decode_fast(body: bytes, remember: bool = True) -> Payload | None:
    """msgspec's reading of a well-formed body, or None for any body it refuses."""
    try:
        payload = _decoder.decode(body)
    # ValueError: UnicodeDecodeError; RecursionError: nesting deeper than msgspec goes.
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    return payload if _valid(payload, _verified if remember else None) else None


def _valid(p: Payload, memo: VerifiedFingerprints | None) -> bool:
    """The rules of WebhookPayload that `Payload` does not declare; lowercases fingerprints."""
    if p.version != "4":
        return False
    ok = memo.valid_time if memo is not None else valid_time
    for a in p.alerts:
        if not ok(a.startsAt) or (a.endsAt is not None and not ok(a.endsAt)):
            return False
        fp = a.fingerprint
        if fp is not None:
            if not _is_fingerprint(fp):
                return False
            if not fp.islower():  # Alertmanager writes lowercase; keep one key per alert
                fp = a.fingerprint = fp.lower()
            if not (memo.matches(fp, a.labels) if memo else fingerprint(a.labels) == fp):
                return False
    return True


def reference_reading(body: bytes) -> WebhookPayload:
    """The reference schema's reading of a body (strict JSON, then WebhookPayload), or
    PayloadError saying what is wrong with it."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PayloadError("invalid_encoding", f"body is not UTF-8 (byte {e.start})") from None
    try:
        # pydantic's own JSON reading takes NaN and Infinity (not JSON) in fields it does
        # not know; the same parser, strict, refuses them.
        pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as e:
        detail = f"Invalid JSON: {e}"
        raise PayloadError("invalid_json", f"(body): {detail}",
                           [{"field": "(body)", "message": detail}]) from None  # fmt: skip
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError as e:
        raise _error(e) from None


def _decode_slowly(body: bytes) -> Payload:
    ref = reference_reading(body)
    # pydantic accepted what msgspec refused (its lax mode, e.g. "3" for an int): take
    # pydantic's normalised reading.
    return msgspec.convert(ref.model_dump(mode="json"), Payload)


# What this endpoint takes, for a body that is something else altogether.
_EXPECTED = ("this endpoint takes Alertmanager's webhook payload, a JSON object "
             '{"version": "4", "alerts": [...]} (what webhook_configs sends)')  # fmt: skip


def _message(err: ErrorDetails) -> str:
    """pydantic's error in our words (our validators' text without pydantic's prefix)."""
    loc, kind, given = err["loc"], err["type"], err["input"]
    if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
        if isinstance(given, list):
            return (f"{_EXPECTED}; a JSON list of alerts is the body of Alertmanager's own "
                    "API (POST /api/v2/alerts), meant for Alertmanager itself, not its "
                    "receivers")  # fmt: skip
        return _EXPECTED
    if loc == ("alerts",) and kind == "missing" and isinstance(given, dict) and "labels" in given:
        return f"required: {_EXPECTED}; this body looks like one alert, not a webhook payload"
    if kind == "missing":
        return "required, and not in the body"
    return plain_message(err)


def _error(e: ValidationError) -> PayloadError:
    errors = e.errors(include_url=False)
    fields = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": _message(err)}
        for err in errors
    ]
    bad_json = any(err["type"] == "json_invalid" for err in errors)
    code = "invalid_json" if bad_json else "invalid_payload"
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:10])
    return PayloadError(code, detail, fields)


def snapshot_of(a: Alert, p: Payload) -> AlertSnapshot:
    """The snapshot we keep of a webhook's alert. The payload was validated already: it is
    constructed without validating again (hot path)."""
    return AlertSnapshot.model_construct(
        fingerprint=a.fingerprint or fingerprint(a.labels),
        status=a.status,
        labels=a.labels,
        annotations=a.annotations,
        startsAt=a.startsAt,
        endsAt=a.endsAt or ZERO_TIME,
        generatorURL=a.generatorURL,
        receiver=p.receiver,
        groupKey=p.groupKey,
        externalURL=p.externalURL,
    )
