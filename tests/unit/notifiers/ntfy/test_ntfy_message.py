"""The ntfy publish body: priority by severity, actions (≤ 3), limits, the resolve."""

from __future__ import annotations

from receiver.models import Notification, PersonPage, Reason, Status
from receiver.notifiers.ntfy.config import NtfyConfig
from receiver.notifiers.ntfy.message import MAX_MESSAGE_BYTES, cut_bytes, publish_body, topic_of
from receiver.notifiers.render import Renderer
from receiver.notifiers.samples import sample_notifications
from tests.servers.ntfy import validate

CFG = NtfyConfig(url="https://ntfy.example.org")


def paged(n: Notification) -> Notification:
    page = PersonPage(name="alice", ack_url="https://a.example.org/push/ack/p1.x.y",
                      open_url="https://a.example.org/console/alerts/0f3e")  # fmt: skip
    return n.model_copy(update={"person": page, "recipients": ["alice@alice-pager"]})


def test_a_critical_page_is_priority_5_with_acknowledge_open_and_runbook() -> None:
    n = paged(sample_notifications()[0])
    assert topic_of(n, CFG) == "alice-pager"
    body = publish_body(n, CFG, Renderer(None), "alice-pager")
    assert validate(body) is None
    assert body["priority"] == 5 and "rotating_light" in body["tags"]
    assert [a["label"] for a in body["actions"]] == ["Acknowledge", "Open", "Runbook"]
    assert body["actions"][0] == {
        "action": "http",
        "label": "Acknowledge",
        "method": "POST",
        "url": "https://a.example.org/push/ack/p1.x.y",
        "clear": True,
    }
    assert body["click"] == "https://a.example.org/console/alerts/0f3e"
    assert "Paged: alice" in body["message"]


def test_warning_and_info_priorities_and_the_low_priority_resolve() -> None:
    n = sample_notifications()[0]
    warn = n.model_copy(update={"alert": n.alert.model_copy(
        update={"labels": {**n.alert.labels, "severity": "warning"}})})  # fmt: skip
    info = n.model_copy(update={"alert": n.alert.model_copy(
        update={"labels": {**n.alert.labels, "severity": "info"}})})  # fmt: skip
    assert publish_body(warn, CFG, Renderer(None), "t")["priority"] == 4
    assert publish_body(info, CFG, Renderer(None), "t")["priority"] == 3
    res = paged(sample_notifications()[1]).model_copy(update={"reason": Reason.RESOLVED})
    assert res.alert.status is Status.RESOLVED
    body = publish_body(res, CFG, Renderer(None), "t")
    assert body["priority"] == 2 and body["tags"][0] == "white_check_mark"
    assert all(a["label"] != "Acknowledge" for a in body.get("actions", []))


def test_a_long_message_is_cut_to_4096_bytes_on_a_character_boundary() -> None:
    n = sample_notifications()[0]
    long = n.model_copy(update={"alert": n.alert.model_copy(
        update={"annotations": {"summary": "é" * 5000}})})  # fmt: skip
    body = publish_body(long, CFG, Renderer(None), "t")
    assert len(body["message"].encode()) <= MAX_MESSAGE_BYTES
    assert body["message"].endswith("(truncated)")
    assert validate(body) is None
    assert cut_bytes("abc", 10) == "abc"
