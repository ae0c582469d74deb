"""What the notifiers build before sending: Slack blocks, email ids, PagerDuty keys."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.models import Reason
from receiver.notifiers.email.message import message_ids
from receiver.notifiers.pagerduty import dedup_key, pd_severity
from receiver.notifiers.render import TRUNCATED, Renderer
from receiver.notifiers.slack.message import build_message
from receiver.notifiers.webhook import signature
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.slack import block_errors

R = Renderer()


def actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_slack_blocks_for_a_firing_alert() -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    text, blocks = build_message(notification(alert), R, ack_button=True)
    assert block_errors(blocks) == []
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[0]["text"] == {
        "type": "plain_text", "text": "🔴 [FIRING] HighErrorRate", "emoji": True,
    }  # fmt: skip
    ack, source = actions(blocks)
    assert (ack["action_id"], ack["value"], ack["text"]["text"]) == (
        "ack",
        alert.fingerprint,
        "Acknowledge",
    )
    assert source["url"] == alert.generatorURL
    assert text == "[FIRING] HighErrorRate: High error rate · instance=api-1:8080 · job=api"


def test_slack_no_ack_button_when_resolved_or_disabled() -> None:
    alert = fixture_alerts("warning-firing")[0]
    _, gone = build_message(notification(resolved(alert)), R, ack_button=True)
    _, off = build_message(notification(alert), R, ack_button=False)
    assert actions(gone) == [] and actions(off) == []  # the fixture has no links either
    assert gone[0]["text"]["text"] == "✅ [RESOLVED] DiskSpaceLow"


def test_slack_limits_with_huge_input() -> None:
    alert = fixture_alerts("warning-firing")[0].model_copy(
        update={
            "labels": {"alertname": "A" * 500, "instance": "i" * 3000, "severity": "warning"},
            "annotations": {"summary": "<&>" * 2000, "description": "d" * 10_000},
        }
    )
    text, blocks = build_message(notification(alert), R, ack_button=True)
    assert block_errors(blocks) == []
    assert len(blocks[0]["text"]["text"]) == 150 and blocks[0]["text"]["text"].endswith(TRUNCATED)
    assert len(blocks[1]["text"]["text"]) == 3000 and blocks[1]["text"]["text"].endswith(TRUNCATED)
    assert blocks[2]["fields"][0]["text"].endswith(TRUNCATED)
    assert len(text) <= 3000 and text.endswith(TRUNCATED)


def test_slack_storm_summary() -> None:
    alerts = fixture_alerts("critical-group-firing") + fixture_alerts("warning-firing")
    n = notification(alerts[0], summary_of=alerts * 20, summary_total=300, route="team-api")
    text, blocks = build_message(n, R, ack_button=True)
    assert block_errors(blocks) == []
    assert actions(blocks) == []  # one Ack button cannot stand for 300 alerts
    assert text.startswith("[FIRING] 300 more alerts on route team-api: top alertnames")
    assert "…and 280 more" in blocks[1]["text"]["text"]


def test_slack_acknowledged_view() -> None:
    alert = fixture_alerts("warning-firing")[0]
    n = notification(alert, Reason.SUPPRESSED_ACKED)
    text, blocks = build_message(n, R, ack_button=True, acked_by="<alice>")
    assert text.startswith("[ACKNOWLEDGED]")
    assert "acknowledged by &lt;alice&gt;" in blocks[1]["text"]["text"]
    assert actions(blocks) == []


def test_email_message_ids() -> None:
    alert = fixture_alerts("warning-firing")[0]
    new_id, parent = message_ids(notification(alert), "example.org")
    assert parent is None
    assert new_id == "<67cd633fe23d9d69.1795324360@example.org>"
    assert message_ids(notification(alert, attempt=5), "example.org")[0] == new_id
    resolved_id, parent = message_ids(notification(resolved(alert)), "example.org")
    assert parent == new_id and resolved_id == "<67cd633fe23d9d69.1795324360.resolved@example.org>"
    r1, p1 = message_ids(notification(alert, Reason.REPEAT, key="a"), "example.org")
    r2, _ = message_ids(notification(alert, Reason.REPEAT, key="b"), "example.org")
    assert p1 == new_id and len({r1, r2, new_id}) == 3
    refired = alert.model_copy(update={"startsAt": "2026-11-23T00:00:00Z"})
    assert message_ids(notification(refired), "example.org")[0] != new_id


def test_email_message_ids_of_escalation_steps_and_their_resolves() -> None:
    """Each step mail has an id of its own (not the firing mail's); the resolve sent to
    what a step mailed replies to that step's mail."""
    alert = fixture_alerts("warning-firing")[0]
    firing, _ = message_ids(notification(alert), "example.org")
    s1, p1 = message_ids(notification(alert, Reason.ESCALATED, key="step-1"), "example.org")
    s2, _ = message_ids(notification(alert, Reason.ESCALATED, key="step-2"), "example.org")
    assert p1 is None and len({firing, s1, s2}) == 3
    assert s1.startswith("<67cd633fe23d9d69.1795324360.e") and s1.endswith("@example.org>")
    r1, parent = message_ids(notification(resolved(alert), thread_key="step-1"), "example.org")
    assert parent == s1 and r1 == s1.replace("@", ".resolved@")
    r2, parent = message_ids(notification(resolved(alert), thread_key="step-2"), "example.org")
    assert parent == s2 and r2 not in {r1, s2}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", "critical"),
        ("CRITICAL", "critical"),
        ("error", "error"),
        ("warning", "warning"),
        ("warn", "warning"),
        ("info", "info"),
        ("page", "critical"),
        ("whatever", "info"),
        ("", "info"),
    ],
)
def test_pagerduty_severity(label: str, expected: str) -> None:
    assert pd_severity({"severity": label}) == expected


def test_pagerduty_dedup_key_stays_within_255() -> None:
    assert dedup_key("alert-receiver/", "0f3ef813eb86bd39") == "alert-receiver/0f3ef813eb86bd39"
    long = dedup_key("p/", "storm/" + "k" * 400)
    assert len(long) <= 255 and long.startswith("p/")
    assert long == dedup_key("p/", "storm/" + "k" * 400)  # stable
    assert long != dedup_key("p/", "storm/" + "k" * 401)


def test_webhook_signature_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
