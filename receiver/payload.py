"""Decoding a webhook body: a fast path for good bodies, a descriptive one for bad ones.

Every webhook is decoded by msgspec into `Payload`, several times faster than pydantic
(it matters at thousands of bodies per second). A body msgspec refuses is decoded again
by pydantic's `WebhookPayload` (below), which says field by field what is wrong for
the 400, and which has the last word: a body it accepts is taken. Both schemas declare
the same rules; tests/unit/test_payload.py checks that they agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from receiver.models import TIMESTAMP_RE, Status

# Times and fingerprints are checked after decoding (see _valid): msgspec's own pattern
# constraints cost twice the whole decoding.
_is_time = re.compile(TIMESTAMP_RE.removeprefix("^").removesuffix("$"), re.ASCII).fullmatch


class Alert(msgspec.Struct, kw_only=True):
    """One alert of an Alertmanager v4 webhook body (see WebhookAlert)."""

    status: Status
    labels: Annotated[dict[str, str], msgspec.Meta(min_length=1)]
    annotations: dict[str, str] = {}
    startsAt: str  # RFC 3339, checked by _valid
    endsAt: str | None = None  # RFC 3339, checked by _valid
    generatorURL: str = ""
    fingerprint: str | None = None  # 1-64 ASCII letters and digits, checked by _valid


class Payload(msgspec.Struct, kw_only=True):
    """An Alertmanager v4 webhook body (see WebhookPayload); extra fields ignored."""

    version: str
    groupKey: str
    status: Status
    receiver: str
    alerts: list[Alert]
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
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


Timestamp = Annotated[str, Field(pattern=TIMESTAMP_RE)]


class WebhookAlert(BaseModel):
    """One alert of an Alertmanager v4 webhook body.

    The reference schema: webhooks are decoded by payload.Alert (msgspec, same rules), and
    by this model when that fails, for its field-by-field errors.
    """

    model_config = ConfigDict(extra="allow")

    # Constraints are declared (not Python validators) so pydantic-core checks them in
    # Rust: this runs for every alert of every body.
    status: Status
    labels: dict[str, str] = Field(min_length=1)  # an alert needs at least one label
    annotations: dict[str, str] = Field(default_factory=dict)
    # Kept as sent (validated RFC 3339): an alert's episode is identified by its startsAt
    # string, and re-formatting would lose Alertmanager's nanoseconds.
    startsAt: Timestamp
    endsAt: Timestamp | None = None
    generatorURL: str = ""
    fingerprint: str | None = Field(None, pattern=r"^[0-9A-Za-z]{1,64}$")


class WebhookPayload(BaseModel):
    """An Alertmanager v4 webhook body. Unknown extra fields are accepted."""

    model_config = ConfigDict(extra="allow")

    version: str
    groupKey: str
    status: Status
    receiver: str
    alerts: list[WebhookAlert]
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    truncatedAlerts: int = 0

    @field_validator("version")
    @classmethod
    def _v4(cls, v: str) -> str:
        if v != "4":
            raise ValueError(f'unsupported version "{v}": only Alertmanager webhook version "4"')
        return v


_decoder = msgspec.json.Decoder(Payload)


def decode_payload(body: bytes) -> Payload:
    """The body as a `Payload`, or PayloadError saying what is wrong with it."""
    payload = decode_fast(body)
    return payload if payload is not None else _decode_slowly(body)


def decode_fast(body: bytes) -> Payload | None:
    """msgspec's reading of a well-formed body, or None for any body it refuses."""
    try:
        payload = _decoder.decode(body)
    # ValueError: UnicodeDecodeError; RecursionError: nesting deeper than msgspec goes.
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    return payload if _valid(payload) else None


def _valid(p: Payload) -> bool:
    """The rules of WebhookPayload that `Payload` does not declare."""
    if p.version != "4":
        return False
    for a in p.alerts:
        if not _is_time(a.startsAt) or (a.endsAt is not None and not _is_time(a.endsAt)):
            return False
        fp = a.fingerprint
        if fp is not None and not (fp.isascii() and fp.isalnum() and len(fp) <= 64):
            return False
    return True


def _decode_slowly(body: bytes) -> Payload:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PayloadError("invalid_encoding", f"body is not UTF-8 (byte {e.start})") from None
    try:
        ref = WebhookPayload.model_validate_json(body)
    except ValidationError as e:
        raise _error(e) from None
    # pydantic accepted what msgspec refused (its lax mode, e.g. "3" for an int): take
    # pydantic's normalised reading.
    return msgspec.convert(ref.model_dump(mode="json"), Payload)


def _error(e: ValidationError) -> PayloadError:
    errors = e.errors(include_url=False)
    fields = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in errors
    ]
    bad_json = any(err["type"] == "json_invalid" for err in errors)
    code = "invalid_json" if bad_json else "invalid_payload"
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:10])
    return PayloadError(code, detail, fields)
