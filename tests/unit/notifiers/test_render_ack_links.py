"""Ack links in alert emails and digests: which notifications and entries carry one."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from receiver.digest.render import DigestRenderer
from receiver.digest.view import build_view
from receiver.models import AckInfo, Notification, Reason
from receiver.notifiers.render import Renderer, check_templates
from tests.servers import fixture_alerts, notification, resolved

ALERT = fixture_alerts("critical-group-firing")[0]


def fake_url(fp: str, starts_at: str, via: str = "email") -> str:
    return f"https://alerts.example.org/ack/{fp}.{starts_at}" + (
        "" if via == "email" else f".{via}"
    )


URL = fake_url(ALERT.fingerprint, ALERT.startsAt)
R = Renderer(ack_url=fake_url)
ACK = AckInfo(by="alice", at_ms=1, via="api")


@pytest.mark.parametrize(
    ("n", "acked_by", "linked"),
    [
        (notification(ALERT), "", True),
        (notification(ALERT, Reason.REPEAT), "", True),
        (notification(ALERT, Reason.ESCALATED), "", True),
        (notification(ALERT), "alice", False),  # shown as acknowledged
        (notification(ALERT, Reason.ACKNOWLEDGED, ack=ACK), "", False),
        # an unack's update: the alert can be acknowledged again
        (notification(ALERT, Reason.UNACKNOWLEDGED, ack=ACK), "", True),
        (notification(ALERT, Reason.ESCALATED, ack=ACK), "", False),
        (notification(resolved(ALERT)), "", False),
        (notification(ALERT, Reason.RESOLVED), "", False),
        (notification(ALERT, key="storm:1", summary_of=[ALERT], summary_total=9), "", False),
    ],
)
def test_which_notifications_carry_the_link(n: Notification, acked_by: str, linked: bool) -> None:
    assert R.ack_link(n, acked_by) == (URL if linked else "")


def test_a_chat_message_link_says_its_channel() -> None:
    """The link a chat message shows names its channel: its ack is recorded via that."""
    assert R.ack_link(notification(ALERT), via="discord") == URL + ".discord"
    assert R.bind(notification(ALERT), via="teams").ctx["ack_url"] == URL + ".teams"


def test_email_bodies_show_the_link_only_when_configured() -> None:
    n = notification(ALERT)
    text, html = R.render("email_body.txt", n), R.render("email_body.html", n)
    assert f"Acknowledge: {URL}" in text
    assert f'<a href="{URL}"><b>Acknowledge</b></a>' in html
    plain = Renderer()
    assert "Acknowledge" not in plain.render("email_body.txt", n)
    assert "Acknowledge" not in plain.render("email_body.html", n)
    gone = notification(resolved(ALERT))
    assert "Acknowledge" not in R.render("email_body.txt", gone)


def test_link_is_escaped_in_html() -> None:
    r = Renderer(ack_url=lambda fp, s, via="email": 'https://x.example/ack/a"><script>')
    html = r.render("email_body.html", notification(ALERT))
    assert "<script>" not in html and "&#34;&gt;&lt;script&gt;" in html


def test_user_templates_may_use_ack_url(tmp_path: Any) -> None:
    (tmp_path / "email_body.txt").write_text("{{ summary }} {{ ack_url }}\n")
    assert check_templates(tmp_path) == []


T0 = 1_795_000_000_000
WINDOW = (T0 / 1000 - 3600, T0 / 1000)


def rec(status: str, starts: str, ack: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "startsAt": starts,
                           "labels": {"alertname": "Disk", "service": "db"}}  # fmt: skip
    if ack is not None:
        out["ack"] = orjson.dumps(ack).decode()
    return out


def test_digest_entries_link_firing_unacknowledged_alerts() -> None:
    s = "2026-11-22T05:00:00Z"
    held = {"by": "bob", "at_ms": T0 - 10, "via": "slack", "startsAt": s}
    states = {
        "f1": rec("firing", s),
        "r1": rec("resolved", s),
        "a1": rec("firing", s, {**held, "until_ms": 0}),  # acked until resolved
        "a2": rec("firing", s, {**held, "until_ms": T0 - 1}),  # its ack expired
        "a3": rec("firing", s, {**held, "startsAt": "2026-11-21T00:00:00Z"}),  # an old episode
        "gone": None,
    }
    buffered = {fp: (1, T0 - 1000, T0 - 1000) for fp in states}
    view = build_view("d", buffered, 0, states, WINDOW, "UTC", ack_url=fake_url)
    links = {e.fingerprint: e.ack_url for g in view.groups for e in g.entries}
    assert links == {"f1": fake_url("f1", s), "r1": "", "a1": "", "a2": fake_url("a2", s),
                     "a3": fake_url("a3", s), "gone": ""}  # fmt: skip
    text = DigestRenderer().text(view)
    assert f"Acknowledge: {fake_url('f1', s)}" in text
    assert "Acknowledge: " + fake_url("r1", s) not in text
    without = build_view("d", buffered, 0, states, WINDOW, "UTC")
    assert all(e.ack_url == "" for g in without.groups for e in g.entries)
