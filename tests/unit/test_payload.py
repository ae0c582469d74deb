"""The fast webhook decoder (msgspec) and the reference schema (pydantic) agree.

decode_payload takes msgspec's reading of a body only when the reference (strict JSON,
then pydantic's WebhookPayload) would accept it too; a body msgspec refuses is judged by
the reference. So for every body here: the fast path never accepts what the reference
refuses, decode_payload accepts exactly what the reference accepts, and both read the
same values.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from receiver.models import fingerprint
from receiver.payload import (
    Payload,
    PayloadError,
    WebhookPayload,
    decode_fast,
    decode_payload,
    reference_reading,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"
BASE = json.loads((FIXTURES / "critical-group-mixed-resolved.json").read_text())

Edit = Callable[[dict[str, Any]], Any]


def alert0(key: str, value: Any) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["alerts"][0][key] = value

    return edit


def top(key: str, value: Any) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body[key] = value

    return edit


def labels0(labels: dict[str, Any], fp: str | None = None) -> Edit:
    """Alert 0 with these labels and their own fingerprint (or `fp`)."""

    def edit(body: dict[str, Any]) -> None:
        body["alerts"][0]["labels"] = labels
        body["alerts"][0]["fingerprint"] = fp or fingerprint(labels)

    return edit


def deep(value: Any) -> Edit:
    """`value` inside fields nobody reads: top level, in an alert, deep in a list."""

    def edit(body: dict[str, Any]) -> None:
        body["alerts"][0]["extra"] = {"v": [1, value]}

    return edit


def drop(key: str) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        del body["alerts"][0][key]

    return edit


EDITS: dict[str, Edit] = {
    "unchanged": lambda b: None,
    "time without fraction": alert0("startsAt", "2026-11-22T05:12:40Z"),
    "time with offset": alert0("startsAt", "2026-11-22T05:12:40.5+02:00"),
    "time lowercase t and z": alert0("startsAt", "2026-11-22t05:12:40z"),
    "time with space": alert0("startsAt", "2026-11-22 05:12:40Z"),
    "time with 10 fraction digits": alert0("startsAt", "2026-11-22T05:12:40.1234567890Z"),
    "time with trailing newline": alert0("startsAt", "2026-11-22T05:12:40Z\n"),
    "time with leading space": alert0("startsAt", " 2026-11-22T05:12:40Z"),
    "time in full-width digits": alert0("startsAt", "\uff12\uff10\uff12\uff16-11-22T05:12:40Z"),
    "time without zone": alert0("startsAt", "2026-11-22T05:12:40"),
    "time as a number": alert0("startsAt", 1795000000),
    "time empty": alert0("startsAt", ""),
    "endsAt null": alert0("endsAt", None),
    "endsAt missing": drop("endsAt"),
    "endsAt garbage": alert0("endsAt", "soon"),
    "startsAt missing": drop("startsAt"),
    "time month 13": alert0("startsAt", "2026-13-22T05:12:40Z"),
    "time month 00": alert0("startsAt", "2026-00-22T05:12:40Z"),
    "time day 45": alert0("startsAt", "2026-11-45T05:12:40Z"),
    "time day 00": alert0("startsAt", "2026-11-00T05:12:40Z"),
    "time april 31": alert0("startsAt", "2026-04-31T05:12:40Z"),
    "time feb 29 of a common year": alert0("startsAt", "2026-02-29T05:12:40Z"),
    "time feb 29 of 1900": alert0("startsAt", "1900-02-29T05:12:40Z"),
    "time feb 29 of a leap year": alert0("startsAt", "2028-02-29T05:12:40Z"),
    "time feb 29 of 2000": alert0("startsAt", "2000-02-29T05:12:40Z"),
    "time hour 24": alert0("startsAt", "2026-11-22T24:00:00Z"),
    "time minute 60": alert0("startsAt", "2026-11-22T05:60:40Z"),
    "time second 60": alert0("startsAt", "2026-11-22T05:12:60Z"),
    "time all impossible": alert0("startsAt", "2026-13-45T25:61:61Z"),
    "time last instant of a year": alert0("startsAt", "2026-12-31T23:59:59.999999999Z"),
    "time offset hour 24": alert0("startsAt", "2026-11-22T05:12:40+24:00"),
    "time offset minute 60": alert0("startsAt", "2026-11-22T05:12:40-05:60"),
    "time offset -23:59": alert0("startsAt", "2026-11-22T05:12:40-23:59"),
    "endsAt impossible": alert0("endsAt", "2026-11-31T05:13:04Z"),
    "endsAt zero time": alert0("endsAt", "0001-01-01T00:00:00Z"),
    "label name empty": labels0({"alertname": "X", "": "v"}),
    "label name utf-8": labels0({"alertname": "X", "région.name": "eu-west ☃"}),
    "label name with dots and dashes": labels0({"alertname": "X", "k8s.io/app-name": "y"}),
    "label value empty": labels0({"alertname": "X", "team": ""}),
    "annotation name empty": alert0("annotations", {"": "x"}),
    "common label name empty": top("commonLabels", {"": "x"}),
    "NaN in an unknown field": deep(float("nan")),
    "Infinity in an unknown field": deep(float("inf")),
    "-Infinity in an unknown field": deep(float("-inf")),
    "NaN at the top level": top("tenant", float("nan")),
    "huge number in an unknown field": deep(1e308),
    "fingerprint missing": drop("fingerprint"),
    "fingerprint null": alert0("fingerprint", None),
    "fingerprint empty": alert0("fingerprint", ""),
    "fingerprint upper case": alert0("fingerprint", "0F3EF813EB86BD39"),
    "fingerprint 15 hex": alert0("fingerprint", "0f3ef813eb86bd3"),
    "fingerprint 17 hex": alert0("fingerprint", "0f3ef813eb86bd390"),
    "fingerprint 16 not hex": alert0("fingerprint", "0f3ef813eb86bdzz"),
    "fingerprint of the other alert": alert0("fingerprint", "1d3f58b2d7994044"),
    "fingerprint of other labels": labels0({"alertname": "X"}, fp="0f3ef813eb86bd39"),
    "fingerprint 64 chars": alert0("fingerprint", "a" * 64),
    "fingerprint 65 chars": alert0("fingerprint", "a" * 65),
    "fingerprint with dash": alert0("fingerprint", "ab-cd"),
    "fingerprint non-ascii letter": alert0("fingerprint", "abcä"),
    "fingerprint newline": alert0("fingerprint", "abc\n"),
    "labels empty": alert0("labels", {}),
    "labels value a number": alert0("labels", {"alertname": 5}),
    "labels null": alert0("labels", None),
    "annotations null": alert0("annotations", None),
    "annotations missing": drop("annotations"),
    "generatorURL null": alert0("generatorURL", None),
    "status pending": alert0("status", "pending"),
    "status upper case": alert0("status", "FIRING"),
    "extra alert field": alert0("silencedBy", ["x"]),
    "version 3": top("version", "3"),
    "version a number": top("version", 4),
    "groupKey missing": lambda b: b.pop("groupKey"),
    "receiver null": top("receiver", None),
    "alerts not a list": top("alerts", {}),
    "alerts empty": top("alerts", []),
    "alert not an object": top("alerts", ["x"]),
    "truncatedAlerts as text": top("truncatedAlerts", "3"),
    "truncatedAlerts float": top("truncatedAlerts", 3.0),
    "truncatedAlerts fraction": top("truncatedAlerts", 3.5),
    "truncatedAlerts bool": top("truncatedAlerts", True),
    "externalURL missing": lambda b: b.pop("externalURL"),
    "extra top-level field": top("tenant", {"deep": [1, 2, {"x": None}]}),
}


def raw_bodies() -> dict[str, bytes]:
    out = {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))}
    for name, edit in EDITS.items():
        body = copy.deepcopy(BASE)
        edit(body)
        out[name] = json.dumps(body, ensure_ascii=False).encode()
    out["top-level array"] = b"[]"
    out["not json"] = b"{"
    out["not utf-8"] = b'{"version": "\xff"}'
    out["nested too deep"] = b'{"version": "4", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    return out


BODIES = raw_bodies()


def pydantic_reading(body: bytes) -> WebhookPayload | None:
    """The reference reading: strict JSON, then WebhookPayload."""
    try:
        return reference_reading(body)
    except PayloadError:
        return None


def same_values(ours: Payload, ref: WebhookPayload) -> None:
    assert msgspec.to_builtins(ours) == {
        k: v for k, v in ref.model_dump(mode="json").items() if k in Payload.__struct_fields__
    } | {
        "alerts": [
            {k: v for k, v in a.items() if k in ours.alerts[0].__struct_fields__}
            for a in ref.model_dump(mode="json")["alerts"]
        ]
    }


def test_the_table_covers_both_answers() -> None:
    accepted = [n for n, b in BODIES.items() if pydantic_reading(b) is not None]
    assert 15 < len(accepted) < len(BODIES) - 15, accepted


@pytest.mark.parametrize("name", list(BODIES))
def test_fast_path_never_accepts_what_pydantic_refuses(name: str) -> None:
    body = BODIES[name]
    if decode_fast(body) is not None:
        assert pydantic_reading(body) is not None


@pytest.mark.parametrize("name", list(BODIES))
def test_decode_payload_accepts_exactly_what_pydantic_accepts(name: str) -> None:
    body, ref = BODIES[name], pydantic_reading(BODIES[name])
    if ref is None:
        with pytest.raises(PayloadError) as e:
            decode_payload(body)
        assert e.value.code in ("invalid_json", "invalid_payload", "invalid_encoding")
        assert e.value.detail
    else:
        same_values(decode_payload(body), ref)


def test_good_bodies_take_the_fast_path() -> None:
    for name in [p.stem for p in FIXTURES.glob("*.json")] + ["time with offset", "endsAt null"]:
        assert decode_fast(BODIES[name]) is not None, name


def test_refusal_names_the_field() -> None:
    with pytest.raises(PayloadError) as e:
        decode_payload(BODIES["time with trailing newline"])
    assert e.value.code == "invalid_payload"
    assert [f["field"] for f in e.value.fields] == ["alerts.0.startsAt"]


# What Alertmanager can send is accepted; what it cannot, and what would corrupt the
# stored state, is refused, naming the field.
ACCEPTED = [
    "time feb 29 of a leap year", "time feb 29 of 2000", "time last instant of a year",
    "time offset -23:59", "endsAt zero time", "label name utf-8",
    "label name with dots and dashes", "label value empty", "fingerprint upper case",
    "huge number in an unknown field",
]  # fmt: skip
REFUSED = {
    "time month 13": "alerts.0.startsAt", "time month 00": "alerts.0.startsAt",
    "time day 45": "alerts.0.startsAt", "time day 00": "alerts.0.startsAt",
    "time april 31": "alerts.0.startsAt", "time feb 29 of a common year": "alerts.0.startsAt",
    "time feb 29 of 1900": "alerts.0.startsAt", "time hour 24": "alerts.0.startsAt",
    "time minute 60": "alerts.0.startsAt", "time second 60": "alerts.0.startsAt",
    "time all impossible": "alerts.0.startsAt", "time offset hour 24": "alerts.0.startsAt",
    "time offset minute 60": "alerts.0.startsAt", "endsAt impossible": "alerts.0.endsAt",
    "label name empty": "alerts.0.labels", "annotation name empty": "alerts.0.annotations",
    "common label name empty": "commonLabels",
    "fingerprint 15 hex": "alerts.0.fingerprint", "fingerprint 17 hex": "alerts.0.fingerprint",
    "fingerprint 16 not hex": "alerts.0.fingerprint",
    "fingerprint of the other alert": "alerts.0.fingerprint",
    "fingerprint of other labels": "alerts.0.fingerprint",
    "fingerprint 64 chars": "alerts.0.fingerprint", "fingerprint empty": "alerts.0.fingerprint",
}  # fmt: skip
NOT_JSON = [
    "NaN in an unknown field", "Infinity in an unknown field", "-Infinity in an unknown field",
    "NaN at the top level",
]  # fmt: skip


@pytest.mark.parametrize("name", ACCEPTED)
def test_what_alertmanager_can_send_is_accepted(name: str) -> None:
    assert decode_payload(BODIES[name]).alerts


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_alertmanager_cannot_send_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(PayloadError) as e:
        decode_payload(BODIES[name])
    assert e.value.code == "invalid_payload"
    assert [f["field"] for f in e.value.fields] == [REFUSED[name]], e.value.fields


@pytest.mark.parametrize("name", NOT_JSON)
def test_nan_and_infinity_anywhere_are_not_json(name: str) -> None:
    assert b"NaN" in BODIES[name] or b"Infinity" in BODIES[name]
    with pytest.raises(PayloadError) as e:
        decode_payload(BODIES[name])
    assert e.value.code == "invalid_json"
    assert e.value.fields == [{"field": "(body)", "message": e.value.fields[0]["message"]}]


def test_fingerprint_is_kept_lowercase() -> None:
    body = BODIES["fingerprint upper case"]
    assert decode_fast(body) is not None
    assert decode_payload(body).alerts[0].fingerprint == "0f3ef813eb86bd39"
    assert reference_reading(body).alerts[0].fingerprint == "0f3ef813eb86bd39"


def test_a_borrowed_fingerprint_is_refused_naming_the_alert() -> None:
    body = copy.deepcopy(BASE)
    body["alerts"][1]["fingerprint"] = body["alerts"][0]["fingerprint"]
    with pytest.raises(PayloadError) as e:
        decode_payload(json.dumps(body).encode())
    assert [f["field"] for f in e.value.fields] == ["alerts.1.fingerprint"]
    assert "fingerprint 0f3ef813eb86bd39 is not the fingerprint" in e.value.detail
    assert "Alertmanager's would be 1d3f58b2d7994044" in e.value.detail


def test_a_borrowed_fingerprint_is_refused_after_the_real_one_was_seen() -> None:
    # Nothing remembered from the first body vouches for other labels in the second.
    assert decode_fast(BODIES["unchanged"]) is not None
    assert decode_fast(BODIES["fingerprint of other labels"]) is None
    with pytest.raises(PayloadError):
        decode_payload(BODIES["fingerprint of other labels"])


def test_verified_fingerprints_answer_what_the_hash_answers() -> None:
    import random

    from receiver.models import fingerprint
    from receiver.payload import VerifiedFingerprints

    rng = random.Random(11)
    memo = VerifiedFingerprints(size=50)
    seen = [{"alertname": f"A{rng.randrange(40)}", "instance": f"i{rng.randrange(40)}"}
            for _ in range(120)]  # fmt: skip
    for _ in range(2000):
        labels = dict(rng.choice(seen))
        fp = fingerprint(labels) if rng.random() < 0.7 else fingerprint(rng.choice(seen))
        assert memo.matches(fp, labels) == (fingerprint(labels) == fp)
    assert len(memo._labels) <= 50
    # What was checked cannot be changed afterwards through the caller's dict.
    labels = {"alertname": "A", "instance": "x"}
    fp = fingerprint(labels)
    assert memo.matches(fp, labels)
    labels["instance"] = "y"
    assert not memo.matches(fp, labels)
