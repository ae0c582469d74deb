"""The words of texts and calls, reply parsing, phone job recipients: pure."""

from __future__ import annotations

import pytest

from receiver.models import PersonPage
from receiver.notifiers.sms.job import keypad_fields, keypad_query, phone_job
from receiver.notifiers.sms.phone import Kind, parse_recipient, recipient
from receiver.notifiers.sms.text import (
    MAX_TEXT,
    Reply,
    ReplyKind,
    alert_text,
    bundle_text,
    parse_reply,
)
from tests.servers import fixture_alerts, notification, resolved

ALERT = fixture_alerts("critical-group-firing")[0]


def test_a_text_names_the_alert_and_its_reply_code() -> None:
    text = alert_text(ALERT, "4821")
    assert text.startswith("AR-4821 CRITICAL " + ALERT.alertname)
    assert text.endswith("Reply 4821 to acknowledge.")
    assert len(text) <= MAX_TEXT
    long = ALERT.model_copy(update={"annotations": {"summary": "x" * 5000}})
    cut = alert_text(long, "4821")
    assert len(cut) <= MAX_TEXT and cut.endswith("Reply 4821 to acknowledge.")
    assert alert_text(ALERT, "4821", test=True).startswith("[TEST] AR-4821")


def test_a_bundle_counts_every_alert_and_gives_one_code() -> None:
    alerts = [ALERT.model_copy(update={"fingerprint": f"f{i}"}) for i in range(300)]
    text = bundle_text(alerts, "77")
    assert text.startswith("AR-77 300 alerts:") and text.endswith("Reply 77 to acknowledge all.")
    assert "more." in text and len(text) <= MAX_TEXT
    assert "more" not in bundle_text(alerts[:3], "77")


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("4821", Reply(ReplyKind.ACK, "4821")),
        ("  AR-4821 \n", Reply(ReplyKind.ACK, "4821")),
        ("ar4821", Reply(ReplyKind.ACK, "4821")),
        ("STOP", Reply(ReplyKind.STOP)),
        ("unsubscribe", Reply(ReplyKind.STOP)),
        ("Start", Reply(ReplyKind.START)),
        ("help", Reply(ReplyKind.HELP)),
        ("4821 E", Reply(ReplyKind.UNKNOWN)),  # escalate-now is not offered (not built)
        ("ok thanks", Reply(ReplyKind.UNKNOWN)),
        ("1", Reply(ReplyKind.UNKNOWN)),
        ("", Reply(ReplyKind.UNKNOWN)),
    ],
)
def test_replies(body: str, reply: Reply) -> None:
    assert parse_reply(body) == reply


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("sms:+4915112345678#4821", (Kind.SMS, "+4915112345678", "4821")),
        ("voice:+4915112345678", (Kind.VOICE, "+4915112345678", "")),
        ("sms:4915112345678", None),  # not E.164
        ("sms:+4915112345678#48a1", None),
        ("push:+4915112345678", None),
        ("alice@topic", None),
    ],
)
def test_recipients(text: str, parsed: tuple[Kind, str, str] | None) -> None:
    assert parse_recipient(text) == parsed
    if parsed:
        assert recipient(*parsed) == text


def test_phone_jobs() -> None:
    page = PersonPage(name="alice")
    n = notification(ALERT, destination="twilio", recipients=[recipient(Kind.SMS,
                     "+4915112345678", "4821")], person=page)  # fmt: skip
    job = phone_job(n)
    assert not isinstance(job, str)
    assert job.person == "alice" and "Reply 4821" in job.text and not job.resolved
    gone = notification(resolved(ALERT), destination="twilio", recipients=n.recipients)
    job = phone_job(gone)
    assert not isinstance(job, str) and job.text.startswith("RESOLVED") and job.resolved
    assert isinstance(phone_job(notification(ALERT, recipients=[])), str)


def test_keypad_query_vouches_for_itself() -> None:
    n = notification(ALERT, destination="twilio")
    q = dict(p.split("=", 1) for p in keypad_query(n, "alice", "s3cret").split("&"))
    from urllib.parse import unquote

    q = {k: unquote(v) for k, v in q.items()}
    assert keypad_fields(q, "s3cret") == (ALERT.fingerprint, ALERT.startsAt, "alice")
    assert keypad_fields(q, "other") is None
    assert keypad_fields({**q, "person": "mallory"}, "s3cret") is None
    assert keypad_fields({**q, "ep": "2026-01-01T00:00:00Z"}, "s3cret") is None
    assert keypad_fields({k: v for k, v in q.items() if k != "sig"}, "s3cret") is None
