"""Mattermost posts built from notifications (pure): the attachment, the button only while
the alert fires unacknowledged, Markdown escaping, limits, the marker, rate-limit hints."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.models import AckInfo, Reason
from receiver.notifiers.mattermost.api import retry_hint
from receiver.notifiers.mattermost.lookup import Query, matches, query_of
from receiver.notifiers.mattermost.message import (
    MAX_MESSAGE,
    MAX_TEXT,
    PROPS_KEY,
    Button,
    build_post,
    md_escape,
)
from receiver.notifiers.mattermost.notifier import pending_post_id
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification, resolved

BUTTON = Button("https://alerts.example.org/mattermost/actions", "mm1.x.y")


def firing(**annotations: str) -> Any:
    alert = fixture_alerts("critical-group-firing")[0]
    if annotations:
        alert = alert.model_copy(update={"annotations": {**alert.annotations, **annotations}})
    return notification(alert, destination="mm")


def test_firing_post_has_the_button_and_the_marker() -> None:
    n = firing()
    message, props = build_post(n, Renderer(), BUTTON)
    assert message.startswith("🔴 \\[FIRING\\]")
    (att,) = props["attachments"]
    assert att["color"] == "#d0021b" and att["fallback"].startswith("🔴 [FIRING]")
    (action,) = att["actions"]
    assert action["id"] == "ack" and action["name"] == "Acknowledge"
    assert action["integration"] == {"url": BUTTON.url, "context": {"token": BUTTON.token}}
    assert props[PROPS_KEY] == {"key": n.key, "destination": "mm",
                                "fingerprint": n.alert.fingerprint,
                                "starts_at": n.alert.startsAt}  # fmt: skip
    assert props["disable_group_highlight"] is True
    assert {f["title"] for f in att.get("fields", [])} <= {
        "instance",
        "job",
        "service",
        "namespace",
        "pod",
        "cluster",
        "env",
    }


@pytest.mark.parametrize("case", ["acked", "resolved", "storm", "no-button"])
def test_no_button_unless_firing_unacknowledged(case: str) -> None:
    n, acked_by = firing(), ""
    button: Button | None = BUTTON
    if case == "acked":
        acked_by = "alice"
    elif case == "resolved":
        n = notification(resolved(n.alert), destination="mm")
    elif case == "storm":
        n = n.model_copy(update={"summary_total": 40, "summary_of": [n.alert]})
    else:
        button = None
    message, props = build_post(n, Renderer(), button, acked_by)
    att = props["attachments"][0]
    assert "actions" not in att
    if case == "acked":
        assert "ACKNOWLEDGED" in message and "acknowledged by alice" in att["text"]
    if case == "resolved":
        assert "RESOLVED" in message and att["color"] == "#2eb886"
    if case == "storm":
        assert "40 more alerts" in message


def test_signed_ack_link_only_without_a_button() -> None:
    renderer = Renderer(ack_url=lambda fp, s, via="email": f"https://alerts.example.org/ack/{fp}")
    _, props = build_post(firing(), renderer, None)
    assert "[Acknowledge](https://alerts.example.org/ack/" in props["attachments"][0]["text"]
    _, props = build_post(firing(), renderer, BUTTON)
    assert "/ack/" not in props["attachments"][0]["text"]


def test_alert_text_is_shown_as_written_not_as_markdown() -> None:
    n = firing(summary="[click](https://evil.example) **bold** @channel | table",
               description="# heading\n<script>")  # fmt: skip
    message, props = build_post(n, Renderer(), None)
    text = props["attachments"][0]["text"]
    assert "\\[click\\]\\(https://evil.example\\)" in text and "\\*\\*bold\\*\\*" in text
    assert "\\# heading" in text and "\\<script\\>" in text and "\\|" in message
    assert md_escape("a_b*c`d~e") == "a\\_b\\*c\\`d\\~e"


def test_long_text_is_cut_within_the_limits() -> None:
    n = firing(summary="s" * 40_000, description="d" * 40_000)
    message, props = build_post(n, Renderer(), BUTTON)
    assert len(message) <= MAX_MESSAGE and message.endswith("… (truncated)")
    assert len(props["attachments"][0]["text"]) <= MAX_TEXT


def test_ack_update_keeps_the_episode_marker() -> None:
    n = firing().model_copy(update={"reason": Reason.ACKNOWLEDGED,
                                    "ack": AckInfo(by="bob", at_ms=1, via="api")})  # fmt: skip
    _, props = build_post(n, Renderer(), BUTTON, acked_by="bob")
    q = query_of(firing())
    assert matches(q, {"id": "p", "props": props})


def test_lookup_matches_by_episode_and_storms_by_key() -> None:
    n = firing()
    _, props = build_post(n, Renderer(), None)
    post = {"id": "p1", "props": props, "create_at": 1}
    assert matches(query_of(n), post)
    other_episode = n.model_copy(update={"alert": n.alert.model_copy(
        update={"startsAt": "2027-01-01T00:00:00Z"})})  # fmt: skip
    assert not matches(query_of(other_episode), post)
    other_dest = n.model_copy(update={"destination": "mm2"})
    assert not matches(query_of(other_dest), post)
    assert not matches(query_of(n), {**post, "delete_at": 5})
    storm = n.model_copy(update={"summary_total": 9, "key": "storm-1"})
    assert not matches(query_of(storm), post)
    _, storm_props = build_post(storm, Renderer(), None)
    assert matches(query_of(storm), {"id": "s", "props": storm_props})
    assert query_of(storm) == Query("storm-1", "mm", "", "", 0)


def test_pending_post_id_is_stable_and_id_shaped() -> None:
    a, b = pending_post_id("k1"), pending_post_id("k2")
    assert a == pending_post_id("k1") and a != b
    assert len(a) == 26 and a.isalnum() and a.islower()


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({"Retry-After": "3", "X-Ratelimit-Reset": "9"}, 3.0),
        ({"X-Ratelimit-Reset": "7"}, 7.0),
        ({"X-Ratelimit-Reset": "1000000060"}, 60.0),  # a Unix time, against now=1e9
        ({"X-Ratelimit-Reset": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_hint(headers: dict[str, str], hint: float | None) -> None:
    assert retry_hint(headers, now=1_000_000_000.0) == hint
