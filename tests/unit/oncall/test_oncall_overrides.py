"""Override requests checked purely: every problem named by field, nothing half-built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receiver.oncall.config import OncallConfig
from receiver.oncall.overrides import OverrideError, Request, build_override, from_record, to_record

NOW = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
CONFIG = OncallConfig.model_validate({"rotations": {
    "primary": {"members": [{"name": "alice", "email": "alice@example.com"},
                            {"name": "bob", "email": "bob@example.com"}],
                "timezone": "Europe/Berlin"},
    "secondary": {"members": [{"name": "erin", "email": "erin@example.com"}]},
}})  # fmt: skip
REQ = Request(CONFIG, "primary", "ops", NOW)


@pytest.mark.parametrize(("case", "body", "fields"), [
    ("not an object", ["who"], [""]),
    ("no who", {"until": "2026-03-26T00:00:00Z"}, ["who"]),
    ("empty who", {"who": " ", "until": "2026-03-26T00:00:00Z"}, ["who"]),
    ("stand-in without email", {"who": "zed", "until": "2026-03-26T00:00:00Z"}, ["who"]),
    ("bad email", {"who": "zed", "email": "zed", "until": "2026-03-26T00:00:00Z"}, ["email"]),
    ("no end", {"who": "bob"}, ["until"]),
    ("both ends", {"who": "bob", "until": "2026-03-26T00:00:00Z", "for": "1h"}, ["until"]),
    ("bad time", {"who": "bob", "until": "tomorrow"}, ["until"]),
    ("far time", {"who": "bob", "until": "9999-12-31T23:59:59+14:00"}, ["until"]),
    ("time not a string", {"who": "bob", "until": 1774483200}, ["until"]),
    ("bad duration", {"who": "bob", "for": "1 hour"}, ["for"]),
    ("zero duration", {"who": "bob", "for": "0s"}, ["for"]),
    ("until before from", {"who": "bob", "from": "2026-03-27T00:00:00Z",
                           "until": "2026-03-26T00:00:00Z"}, ["until"]),
    ("already over", {"who": "bob", "from": "2026-03-20T00:00:00Z",
                      "until": "2026-03-21T00:00:00Z"}, ["until"]),
    ("too long", {"who": "bob", "for": "400d"}, ["until"]),
    ("unknown field", {"who": "bob", "for": "1h", "untill": "x"}, ["untill"]),
    ("reason not text", {"who": "bob", "for": "1h", "reason": 5}, ["reason"]),
    ("reason too long", {"who": "bob", "for": "1h", "reason": "x" * 501}, ["reason"]),
    ("several at once", {"who": 3, "from": "x", "for": "1h"}, ["who", "from"]),
])  # fmt: skip
def test_refused(case: str, body: Any, fields: list[str]) -> None:
    with pytest.raises(OverrideError) as e:
        build_override(body, REQ)
    assert [f["field"] for f in e.value.fields] == fields
    assert all(f["message"] for f in e.value.fields)


def test_member_gets_their_email_and_times_are_read_in_the_rotations_zone() -> None:
    o = build_override({"who": "erin", "from": "2026-03-26 09:00", "until": "2026-03-27T09:00",
                        "reason": "swap"}, REQ)  # fmt: skip
    assert (o.who, o.email, o.reason, o.created_by, o.created_at) == (
        "erin",
        "erin@example.com",
        "swap",
        "ops",
        NOW,
    )
    assert o.start == datetime(2026, 3, 26, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert o.end == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert from_record(to_record(o)) == o


def test_stand_in_from_now_for_a_duration() -> None:
    o = build_override({"who": "zed", "email": "zed@ext.example", "for": "8h"}, REQ)
    assert (o.start, o.end - o.start, o.email) == (NOW, timedelta(hours=8), "zed@ext.example")
    assert len(o.id) == 16 and o.id != build_override({"who": "bob", "for": "1h"}, REQ).id
