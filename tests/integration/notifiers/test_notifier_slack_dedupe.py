"""Slack: a job whose earlier attempt may have posted looks for its message (by message
metadata, conversations.history) before posting again. Against the local Slack server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.slack import lookup as slack_lookup
from receiver.notifiers.slack.config import SlackConfig
from receiver.notifiers.slack.lookup import METADATA_EVENT
from receiver.notifiers.slack.notifier import SlackNotifier
from tests.servers import fixture_alerts, notification
from tests.servers.slack import FakeSlack


def make(slack: FakeSlack, session: aiohttp.ClientSession, channel: str) -> SlackNotifier:
    cfg = {"token": "xoxb-test-token", "channel": channel, "api_url": slack.api_url}
    return SlackNotifier("slack", SlackConfig.model_validate(cfg), session, Renderer())


def job(i: int = 0, instance: str = "") -> Any:
    alert = fixture_alerts("critical-group-firing")[i]
    if instance:
        labels = {**alert.labels, "instance": instance}
        alert = alert.model_copy(update={"labels": labels, "fingerprint": f"{instance:0>16}"})
    return notification(alert, enqueued_at_ms=int(time.time() * 1000))


def chatter(slack: FakeSlack, count: int) -> None:
    """`count` other messages in the channel (posted by someone else, no metadata)."""
    for k in range(count):
        answer = slack._call("chat.postMessage", {"channel": "C0ALERTS", "text": f"chat {k}"},
                             "Bearer xoxb-test-token")  # fmt: skip
        assert answer["ok"], answer


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


async def test_a_busy_channel_does_not_hide_the_earlier_post(
    slack: FakeSlack, session: Any
) -> None:
    """5,000 messages after the job's own (a channel posted to at hundreds a second with
    `rate: none`): the walk pages back far enough to find it."""
    n = job()
    posted = await make(slack, session, "C0ALERTS").send(n, {})
    chatter(slack, 5_000)
    again = await make(slack, session, "C0ALERTS").send(n, {UNCERTAIN: "reclaimed"})
    assert again.ok and again.state["ts"] == posted.state["ts"], again.detail
    assert len(slack.calls("chat.postMessage")) == 1  # the job posted once
    assert len(slack.calls("conversations.history")) == 6  # 5,001 messages, pages of 999


async def test_jobs_taken_over_together_share_one_walk(slack: FakeSlack, session: Any) -> None:
    """40 jobs of a dead replica, half of which had posted: one history walk answers all;
    the 20 that had posted are found, the 20 others post once."""
    jobs = [job(instance=f"i{k}") for k in range(40)]
    first = make(slack, session, "C0ALERTS")
    for n in jobs[:20]:
        assert (await first.send(n, {})).ok
    chatter(slack, 100)
    taker = make(slack, session, "C0ALERTS")
    results = await asyncio.gather(*(taker.send(n, {UNCERTAIN: "reclaimed"}) for n in jobs))
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
    assert sum("already posted" in r.detail for r in results) == 20
    assert len(slack.calls("conversations.history")) == 1
    per_alert = [m.metadata["event_payload"]["fingerprint"] for m in slack.top_level()
                 if m.metadata]  # fmt: skip
    assert sorted(per_alert) == sorted(n.alert.fingerprint for n in jobs)  # each once


async def test_beyond_the_walk_bound_the_job_posts(
    slack: FakeSlack, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk's bound (here 2 pages of 5) ends before the job's window: it cannot know,
    and posts: a possible duplicate rather than a missing alert."""
    monkeypatch.setattr(slack_lookup, "LOOKUP_PAGES", 2)
    monkeypatch.setattr(slack_lookup, "LOOKUP_PAGE_SIZE", 5)
    n = job()
    await make(slack, session, "C0ALERTS").send(n, {})
    chatter(slack, 20)
    again = await make(slack, session, "C0ALERTS").send(n, {UNCERTAIN: "reclaimed"})
    assert again.ok and "posted" in again.detail and "already" not in again.detail
    assert len(slack.calls("conversations.history")) == 2
    assert len(slack.calls("chat.postMessage")) == 2
