"""Slack: a job whose earlier attempt may have posted looks for its message (by message
metadata, conversations.history) before posting again. Against the local Slack server."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.slack import METADATA_EVENT, SlackConfig, SlackNotifier
from tests.servers import fixture_alerts, notification
from tests.servers.slack import FakeSlack


def make(slack: FakeSlack, session: aiohttp.ClientSession, channel: str) -> SlackNotifier:
    cfg = {"token": "xoxb-test-token", "channel": channel, "api_url": slack.api_url}
    return SlackNotifier("slack", SlackConfig.model_validate(cfg), session, Renderer())


def job(i: int = 0) -> Any:
    alert = fixture_alerts("critical-group-firing")[i]
    return notification(alert, enqueued_at_ms=int(time.time() * 1000))


async def test_posts_carry_metadata_with_the_job_key(slack: FakeSlack, session: Any) -> None:
    n = job()
    result = await make(slack, session, "#alerts").send(n, {})
    assert result.ok, result.detail
    (msg,) = slack.top_level()
    assert msg.metadata == {"event_type": METADATA_EVENT,
                            "event_payload": {"key": n.key,
                                              "fingerprint": n.alert.fingerprint}}  # fmt: skip


async def test_uncertain_job_finds_its_earlier_post_and_does_not_post_again(
    slack: FakeSlack, session: Any
) -> None:
    n, other = job(0), job(1)
    first = make(slack, session, "#alerts")
    posted = await first.send(n, {})
    await first.send(other, {})  # another alert's message in the same channel
    # A fresh process (no channel ID learned yet; the config names the channel) takes the
    # job over without the earlier outcome: it finds the message instead of posting.
    again = await make(slack, session, "#alerts").send(n, {UNCERTAIN: "reclaimed"})
    assert again.outcome is Outcome.OK, again.detail
    assert again.state["ts"] == posted.state["ts"] and again.state["channel"] == "C0ALERTS"
    assert "already posted" in again.detail
    assert len(slack.top_level()) == 2 and len(slack.calls("chat.postMessage")) == 2
    assert len(slack.calls("conversations.history")) == 1


async def test_uncertain_job_that_never_posted_posts_once(slack: FakeSlack, session: Any) -> None:
    n = job()
    result = await make(slack, session, "C0ALERTS").send(n, {UNCERTAIN: "retry"})
    assert result.ok, result.detail
    assert len(slack.top_level()) == 1
    assert len(slack.calls("conversations.history")) == 1
    assert not slack.calls("conversations.list")  # an ID in the config is used as it is


async def test_lookup_failing_for_now_is_retried_not_posted(slack: FakeSlack, session: Any) -> None:
    """Slack down for the lookup: the attempt fails retryably; no possible second message."""
    slack.fail_next(1, status=503, error="service_unavailable")
    result = await make(slack, session, "C0ALERTS").send(job(), {UNCERTAIN: "reclaimed"})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    assert "looking for an earlier post" in result.detail
    assert not slack.calls("chat.postMessage") and not slack.top_level()


async def test_lookup_impossible_posts_anyway(slack: FakeSlack, session: Any) -> None:
    """A token without history access can never look: post (at-least-once, never lost)."""
    slack.history_error = "missing_scope"
    result = await make(slack, session, "C0ALERTS").send(job(), {UNCERTAIN: "reclaimed"})
    assert result.ok, result.detail
    assert len(slack.top_level()) == 1
