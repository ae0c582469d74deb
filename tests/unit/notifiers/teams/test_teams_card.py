"""The Teams Adaptive Card, built purely: its shape, and always under 28 KB."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from receiver.models import Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.teams.card import CONTENT_TYPE, MAX_BYTES, build_card
from receiver.notifiers.teams.notifier import classify
from tests.servers import fixture_alerts, notification, resolved

ACK = Renderer(ack_url=lambda fp, starts, via="email": f"https://alerts.example.org/ack/{fp}")


def test_the_message_is_one_adaptive_card_with_an_acknowledge_link() -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    title, message = build_card(notification(alert), ACK)
    assert title == "🔴 [FIRING] HighErrorRate"
    (attachment,) = message["attachments"]
    assert message["type"] == "message" and attachment["contentType"] == CONTENT_TYPE
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Acknowledge",
                                  "url": f"https://alerts.example.org/ack/{alert.fingerprint}",
                                  "style": "positive"}  # fmt: skip
    assert card["body"][0]["color"] == "Attention"


def test_resolve_has_no_acknowledge_and_names_the_first() -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    title, message = build_card(notification(resolved(alert)), ACK, follows="Follows up “x”")
    card = message["attachments"][0]["content"]
    assert title.startswith("✅ [RESOLVED]") and card["body"][0]["color"] == "Good"
    assert card["body"][1]["text"] == "Follows up “x”"
    assert "Acknowledge" not in [a["title"] for a in card.get("actions", [])]


@pytest.mark.parametrize("size", [1_000, 30_000, 200_000, 2_000_000])
def test_every_card_fits_28_kb(size: int) -> None:
    alert = fixture_alerts("warning-firing")[0]
    keys = ("instance", "job", "service", "namespace", "pod", "cluster", "env")
    labels = {**alert.labels, **{k: "€" * (size // 10) for k in keys}}
    notes = {"summary": "s" * (size // 4), "description": "d" * size}
    alert = alert.model_copy(update={"labels": labels, "annotations": notes})
    for n in (notification(alert), notification(alert, Reason.REPEAT)):
        _, message = build_card(n, ACK, follows="Follows up “y”")
        assert len(orjson.dumps(message)) <= MAX_BYTES


@pytest.mark.parametrize(
    ("status", "outcome", "retryable"),
    [(202, Outcome.OK, False), (200, Outcome.OK, False), (429, Outcome.RATE_LIMITED, True),
     (502, Outcome.SERVER_ERROR, True), (401, Outcome.INVALID_CONFIG, False),
     (403, Outcome.INVALID_CONFIG, False), (404, Outcome.INVALID_CONFIG, False),
     (400, Outcome.CLIENT_ERROR, False)],
)  # fmt: skip
def test_answers_are_classified(status: int, outcome: Outcome, retryable: bool) -> None:
    body = '{"error": {"code": "WorkflowNotFound", "message": "gone"}}'
    result = classify(status, {"Retry-After": "4"}, body)
    assert (result.outcome, result.retryable) == (outcome, retryable)
    if status == 429:
        assert result.retry_after_s == 4.0
    if status >= 400:
        assert "WorkflowNotFound gone" in result.detail


def test_the_title_follows_a_templates_dir_override(tmp_path: Path) -> None:
    (tmp_path / "slack_title.txt").write_text(
        "{{ emoji }} {{ alertname }} on {{ labels.instance }}\n"
    )
    title, message = build_card(notification(fixture_alerts("critical-group-firing")[0]),
                                Renderer(tmp_path))  # fmt: skip
    assert title == "🔴 HighErrorRate on api-1:8080"
    assert message["attachments"][0]["content"]["body"][0]["text"] == title
