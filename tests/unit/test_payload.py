"""The fast webhook decoder (msgspec) and the reference schema (pydantic) agree.

decode_payload takes msgspec's reading of a body only when pydantic would accept it too;
a body msgspec refuses is judged by pydantic. So for every body here: the fast path never
accepts what pydantic refuses, decode_payload accepts exactly what pydantic accepts, and
both read the same values.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pydantic import ValidationError

from receiver.payload import Payload, PayloadError, WebhookPayload, decode_fast, decode_payload

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
    "fingerprint missing": drop("fingerprint"),
    "fingerprint null": alert0("fingerprint", None),
    "fingerprint empty": alert0("fingerprint", ""),
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
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError:
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
