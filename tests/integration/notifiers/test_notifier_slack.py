"""Slack notifier (its Web API calls on our aiohttp session) against a local Slack Web API."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from receiver.models import AckInfo, Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.render import TRUNCATED, Renderer
from receiver.notifiers.slack.config import SlackConfig
from receiver.notifiers.slack.notifier import SlackNotifier
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.slack import FakeSlack

TOKEN = "xoxb-test-token"


def make(slack: FakeSlack, session: aiohttp.ClientSession, **cfg: Any) -> SlackNotifier:
    if "webhook_url" not in cfg:
        cfg = {"token": TOKEN, "channel": "#alerts", "api_url": slack.api_url, **cfg}
    return SlackNotifier("slack", SlackConfig.model_validate(cfg), session, Renderer())


def button_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_one_message_updated_on_resolve(slack: FakeSlack, session: Any) -> None:
    firing = fixture_alerts("critical-group-firing")[0]
    later = fixture_alerts("critical-group-mixed-resolved")[0]
    notifier = make(slack, session)

    first = await notifier.send(notification(firing), {})
    assert first.outcome is Outcome.OK, first.detail
    assert first.state["channel"] == "C0ALERTS" and first.state["ts"]
    second = await notifier.send(notification(later), first.state)
    assert second.outcome is Outcome.OK, second.detail
    assert second.state["ts"] == first.state["ts"]

    assert len(slack.calls("chat.postMessage")) == 1
    assert len(slack.calls("chat.update")) == 1
    (msg,) = slack.messages.values()
    assert msg.ts == first.state["ts"]
    assert len(msg.history) == 1
    assert "[FIRING]" in msg.history[0]["text"] and "[RESOLVED]" in msg.text
    # No Acknowledge button: this Renderer has no Slack callback (ack.slack) behind it.
    assert "ack" not in button_ids(msg.history[0]["blocks"])
    assert "ack" not in button_ids(msg.blocks)
    assert msg.blocks[0]["text"]["text"].startswith("✅ [RESOLVED]")


async def test_blocks_carry_summary_labels_and_links(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("critical-group-firing")[0].model_copy(
        update={"annotations": {"summary": "Errors <5xx> & more", "runbook_url": "https://rb/x"}}
    )
    result = await make(slack, session).send(notification(alert), {})
    assert result.ok, result.detail
    (msg,) = slack.messages.values()
    header, section, fields, actions = msg.blocks
    assert header["text"]["text"] == "🔴 [FIRING] HighErrorRate"
    assert "*Errors &lt;5xx&gt; &amp; more*" in section["text"]["text"]
    assert {"type": "mrkdwn", "text": "*instance*\napi-1:8080"} in fields["fields"]
    urls = [e.get("url") for e in actions["elements"]]
    assert urls == ["http://prom:9090/graph", "https://rb/x"]  # link buttons only
    assert msg.text.startswith("[FIRING] HighErrorRate: Errors &lt;5xx&gt;")


async def test_long_description_is_truncated_not_refused(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(
        update={"annotations": {"summary": "s" * 5000, "description": "d" * 10_000}}
    )
    result = await make(slack, session).send(notification(alert), {})
    assert result.outcome is Outcome.OK, result.detail
    (msg,) = slack.messages.values()
    section = msg.blocks[1]["text"]["text"]
    assert len(section) == 3000 and section.endswith(TRUNCATED)
    assert len(msg.text) <= 3000 and msg.text.endswith(TRUNCATED)


async def test_redelivered_new_updates_instead_of_reposting(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session)
    first = await notifier.send(notification(alert), {})
    again = await notifier.send(notification(alert), first.state)  # same firing, redelivered
    assert again.ok and again.state["ts"] == first.state["ts"]
    assert len(slack.top_level()) == 1
    # a new firing episode (new startsAt) is a new message
    refired = alert.model_copy(update={"startsAt": "2026-11-22T09:00:00Z"})
    third = await notifier.send(notification(refired), again.state)
    assert third.ok and third.state["ts"] != first.state["ts"]
    assert len(slack.top_level()) == 2


async def test_stale_state_from_an_old_episode_is_not_updated(
    slack: FakeSlack, session: Any
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session)
    old = await notifier.send(notification(alert), {})
    refired = alert.model_copy(update={"startsAt": "2026-11-22T09:00:00Z"})
    # the NEW of the new episode failed for good; its resolve arrives with the old state
    result = await notifier.send(notification(resolved(refired)), old.state)
    assert result.ok and result.state["ts"] != old.state["ts"]
    assert slack.calls("chat.update") == []
    assert slack.messages[("C0ALERTS", old.state["ts"])].text.startswith("[FIRING]")


async def test_storm_summary_posts_without_state(slack: FakeSlack, session: Any) -> None:
    alerts = fixture_alerts("critical-group-firing")
    notifier = make(slack, session)
    first = await notifier.send(notification(alerts[0]), {})
    storm = notification(alerts[0], key="storm:1", summary_of=alerts, summary_total=9)
    result = await notifier.send(storm, first.state)
    assert result.ok and result.state == {}
    assert len(slack.top_level()) == 2 and slack.calls("chat.update") == []


async def test_thread_replies(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session, thread_replies=True)
    first = await notifier.send(notification(alert), {})
    await notifier.send(notification(alert, Reason.REPEAT), first.state)
    await notifier.send(notification(resolved(alert)), first.state)
    assert len(slack.top_level()) == 1
    replies = slack.replies(first.state["ts"])
    assert [r.text.split("]")[0] for r in replies] == ["[FIRING", "[RESOLVED"]


async def test_deleted_message_gets_a_new_one(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session)
    first = await notifier.send(notification(alert), {})
    slack.messages.clear()  # someone deleted it
    result = await notifier.send(notification(resolved(alert)), first.state)
    assert result.ok and result.state["ts"] != first.state["ts"]
    assert [m.text.split("]")[0] for m in slack.top_level()] == ["[RESOLVED"]


async def test_acknowledge_updates_the_message(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session)
    first = await notifier.send(notification(alert), {})
    ack = AckInfo(by="alice", at_ms=1, via="api")
    result = await notifier.send(notification(alert, Reason.ACKNOWLEDGED, ack=ack), first.state)
    assert result.ok, result.detail
    assert result.state == first.state  # the same message, still this episode's
    (msg,) = slack.messages.values()
    assert msg.text.startswith("[ACKNOWLEDGED]")
    assert "acknowledged by alice" in msg.blocks[1]["text"]["text"]
    assert "ack" not in button_ids(msg.blocks)
    assert len(msg.history) == 1
    # The unack shows the firing message again; still one message, never a new post.
    again = await notifier.send(notification(alert, Reason.UNACKNOWLEDGED, ack=ack), first.state)
    assert again.ok and len(slack.messages) == 1
    assert msg.text.startswith("[FIRING]") and len(msg.history) == 2


async def test_ack_without_a_message_posts_nothing(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    ack = AckInfo(by="alice", at_ms=1, via="api")
    result = await make(slack, session).send(notification(alert, Reason.ACKNOWLEDGED, ack=ack), {})
    assert result.ok and not slack.messages and not slack.requests


@pytest.mark.parametrize(
    ("cfg", "error"),
    [
        ({"token": "xoxb-revoked"}, "invalid_auth"),
        ({"channel": "#nowhere"}, "channel_not_found"),
    ],
)
async def test_configuration_errors_are_final(
    slack: FakeSlack, session: Any, cfg: dict[str, str], error: str
) -> None:
    result = await make(slack, session, **cfg).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable
    assert error in result.detail
    assert slack.requests[-1].error == error


@pytest.mark.parametrize(
    ("status", "error", "outcome", "retryable"),
    [
        (200, "fatal_error", Outcome.SERVER_ERROR, True),
        (200, "internal_error", Outcome.SERVER_ERROR, True),
        (503, "service_unavailable", Outcome.SERVER_ERROR, True),
        (200, "not_in_channel", Outcome.INVALID_CONFIG, False),
        (200, "token_revoked", Outcome.INVALID_CONFIG, False),
        (200, "invalid_arguments", Outcome.CLIENT_ERROR, False),
        (200, "msg_too_long", Outcome.CLIENT_ERROR, False),
    ],
)
async def test_error_mapping(
    slack: FakeSlack,
    session: Any,
    status: int,
    error: str,
    outcome: Outcome,
    retryable: bool,
) -> None:
    slack.fail_next(1, status=status, error=error)
    result = await make(slack, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert (result.outcome, result.retryable) == (outcome, retryable)
    assert error in result.detail
    assert len(slack.requests) == 1


@pytest.mark.parametrize(
    ("status", "outcome", "retryable"),
    [(502, Outcome.SERVER_ERROR, True), (200, Outcome.CLIENT_ERROR, False)],
)
async def test_an_answer_that_is_not_slack_json_is_classified(
    session: Any, status: int, outcome: Outcome, retryable: bool
) -> None:
    """A proxy in front of Slack answering HTML: a 5xx is retried, anything else is not."""
    seen: list[str] = []

    async def gateway(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.Response(
            status=status, text="<html>Bad Gateway</html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_post("/api/{method}", gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        cfg = {"token": TOKEN, "channel": "#alerts", "api_url": f"http://{host}:{port}/api"}
        notifier = SlackNotifier("slack", SlackConfig.model_validate(cfg), session, Renderer())
        result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    finally:
        await runner.cleanup()
    assert (result.outcome, result.retryable) == (outcome, retryable)
    assert f"HTTP {status}" in result.detail and "Bad Gateway" in result.detail
    assert seen == [f"Bearer {TOKEN}"]  # one call, the token as a Bearer header


async def test_short_rate_limit_is_waited_out_once(slack: FakeSlack, session: Any) -> None:
    slack.rate_limit_next(1, retry_after=1)
    result = await make(slack, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.ok, result.detail
    first, second = slack.requests
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0  # nothing within Retry-After


async def test_persistent_rate_limit_comes_back(slack: FakeSlack, session: Any) -> None:
    slack.rate_limit_next(2, retry_after=1)
    result = await make(slack, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.RATE_LIMITED and result.retryable
    assert result.retry_after_s == 1
    assert len(slack.requests) == 2
    assert slack.requests[1].at - slack.requests[0].at >= 1.0


async def test_long_retry_after_is_left_to_the_pipeline(slack: FakeSlack, session: Any) -> None:
    slack.rate_limit_next(1, retry_after=30)
    started = time.monotonic()
    result = await make(slack, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.RATE_LIMITED and result.retry_after_s == 30
    assert len(slack.requests) == 1 and time.monotonic() - started < 5


async def test_hang_times_out(slack: FakeSlack, session: Any) -> None:
    slack.hang_next(1)
    notifier = make(slack, session, timeout=0.3, max_inline_retry_after=0)
    started = time.monotonic()
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.TIMEOUT and result.retryable
    assert time.monotonic() - started < 3


async def test_unreachable_is_network_error(session: Any) -> None:
    slack = FakeSlack()
    await slack.start()
    await slack.stop()
    result = await make(slack, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable


async def test_incoming_webhook_posts(slack: FakeSlack, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(slack, session, webhook_url=slack.webhook_url())
    first = await notifier.send(notification(alert), {})
    second = await notifier.send(notification(resolved(alert)), first.state)
    assert first.ok and second.ok, (first.detail, second.detail)
    assert [p["text"].split("]")[0] for p in slack.webhook_posts] == ["[FIRING", "[RESOLVED"]
    assert slack.webhook_posts[0]["blocks"][0]["type"] == "header"


@pytest.mark.parametrize(
    ("fault", "outcome", "retryable"),
    [
        ("unknown_hook", Outcome.INVALID_CONFIG, False),
        ("rate_limit", Outcome.RATE_LIMITED, True),
        ("server_error", Outcome.SERVER_ERROR, True),
        ("bad_request", Outcome.CLIENT_ERROR, False),
    ],
)
async def test_incoming_webhook_errors(
    slack: FakeSlack, session: Any, fault: str, outcome: Outcome, retryable: bool
) -> None:
    url = slack.webhook_url("T000/B999/NOPE" if fault == "unknown_hook" else "T000/B000/XXXX")
    if fault == "rate_limit":
        slack.rate_limit_next(1, retry_after=60)
    elif fault == "server_error":
        slack.fail_next(1, status=500, error="internal_error")
    elif fault == "bad_request":
        slack.fail_next(1, status=400, error="invalid_payload")
    result = await make(slack, session, webhook_url=url).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert (result.outcome, result.retryable) == (outcome, retryable)
    if fault == "rate_limit":
        assert result.retry_after_s == 60
    assert slack.webhook_posts == []
