"""The ntfy notifier against the stand-in over real HTTP: what arrives, auth, and how each
answer is classified (429 pauses the destination, 5xx retries, 4xx is final)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from receiver.models import Notification, PersonPage
from receiver.notifiers.base import Outcome
from receiver.notifiers.ntfy.config import NtfyConfig
from receiver.notifiers.ntfy.notifier import NtfyNotifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.samples import sample_notifications
from tests.servers.ntfy import FakeNtfy

TOKEN = "tk_0123456789abcdefghijklmnopqrs"


@pytest.fixture
async def server() -> AsyncIterator[FakeNtfy]:
    s = FakeNtfy(token=TOKEN)
    await s.start()
    yield s
    await s.stop()


def page(topic: str = "alice-pager") -> Notification:
    n = sample_notifications()[0]
    person = PersonPage(name="alice", ack_url="https://a.example.org/push/ack/p1.x.y")
    return n.model_copy(update={"recipients": [f"alice@{topic}"], "person": person})


async def test_a_page_arrives_on_the_persons_topic_with_bearer_auth(server: FakeNtfy) -> None:
    async with aiohttp.ClientSession() as session:
        n = NtfyNotifier("ntfy", NtfyConfig(url=server.base_url, token=TOKEN), session,
                         Renderer(None))  # fmt: skip
        result = await n.send(page(), {})
        assert result.ok, result.detail
        bad = NtfyNotifier("ntfy", NtfyConfig(url=server.base_url, token="tk_wrong"),
                           session, Renderer(None))  # fmt: skip
        refused = await bad.send(page(), {})
    assert len(server.messages) == 1
    m = server.messages[0]
    assert m.topic == "alice-pager" and m.priority == 5
    assert m.action("Acknowledge") is not None
    assert refused.outcome is Outcome.CLIENT_ERROR and not refused.retryable
    assert "401" in refused.detail


async def test_429_is_rate_limited_5xx_retryable_and_no_topic_is_a_config_error(
    server: FakeNtfy,
) -> None:
    async with aiohttp.ClientSession() as session:
        n = NtfyNotifier("ntfy", NtfyConfig(url=server.base_url, token=TOKEN), session,
                         Renderer(None))  # fmt: skip
        server.faults.rate_limit = 1
        limited = await n.send(page(), {})
        server.faults.fail = [503]
        failed = await n.send(page(), {})
        ok = await n.send(page(), {})
        routed = sample_notifications()[0]  # a route's notification, no topic configured
        no_topic = await n.send(routed, {})
        team_cfg = NtfyConfig(url=server.base_url, token=TOKEN, topic="team-alerts")
        own = NtfyNotifier("ntfy", team_cfg, session, Renderer(None))
        team = await own.send(routed, {})
    assert limited.outcome is Outcome.RATE_LIMITED and limited.retryable
    assert failed.outcome is Outcome.SERVER_ERROR and failed.retryable
    assert ok.ok and team.ok
    assert no_topic.outcome is Outcome.INVALID_CONFIG
    assert [m.topic for m in server.messages] == ["alice-pager", "team-alerts"]
    assert "actions" not in server.messages[1].body or all(
        a["label"] != "Acknowledge" for a in server.messages[1].body["actions"]
    )
