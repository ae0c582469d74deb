"""POST /mattermost/actions: the Acknowledge button, clicked through the local Mattermost
server, against the app with its workers and a real Redis; PagerDuty alongside. Refused
clicks (forged or tampered token, another receiver's, an old episode, an unknown alert)
change nothing in Redis."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from receiver.notifiers.mattermost.token import sign
from receiver.server.app import create_app
from tests.conftest import RedisServer, auth, fixture_body, make_settings
from tests.helpers import free_port, until, wait_deliveries_idle
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.servers.mattermost import CHANNEL, TOKEN, FakeMattermost, Post
from tests.servers.pagerduty import FakePagerDuty

SECRET = "0123456789abcdef0123456789abcdef"
FP = "0f3ef813eb86bd39"  # first alert of critical-group-firing
ROUTING_KEY = "R" * 32

App = Callable[..., Awaitable[TestClient[Any, Any]]]


def receivers(mm: FakeMattermost, pd: FakePagerDuty | None, base_url: str,
              actions: bool = True) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"mm": {"type": "mattermost", "url": mm.base_url, "token": TOKEN,
                                  "channel_id": CHANNEL, "rate": "none"}}  # fmt: skip
    if actions:
        out["mm"]["actions"] = {"base_url": base_url, "secret": SECRET}
    if pd is not None:
        out["pd"] = {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                     "rate": "none"}  # fmt: skip
    return out


@pytest.fixture
async def app(redis: aioredis.Redis, redis_server: RedisServer) -> AsyncIterator[App]:
    """`await app(receivers)` → the app with workers on a port known before it starts (the
    button's URL names it)."""
    clients: list[TestClient[Any, Any]] = []

    async def factory(port: int, recv: dict[str, Any], **extra: Any) -> TestClient[Any, Any]:
        settings = make_settings(redis_server.url, receivers=recv,
                                 route={"receivers": sorted(recv)}, **extra)  # fmt: skip
        client = TestClient(TestServer(create_app(settings, run_workers=True),
                                       host="127.0.0.1", port=port))  # fmt: skip
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for c in clients:
        await c.close()


def post_of(mm: FakeMattermost, fp: str) -> Post:
    (post,) = [p for p in mm.posts.values() if p.props["alert_receiver"]["fingerprint"] == fp]
    return post


async def fire(client: TestClient[Any, Any], name: str = "critical-group-firing",
               starts_at: str | None = None) -> None:  # fmt: skip
    body = fixture_body(name)
    if starts_at is not None:
        for a in body["alerts"]:
            a["startsAt"] = starts_at
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200, await resp.text()


async def test_click_acks_as_the_user_edits_the_post_and_pagerduty(
    app: App, mattermost: FakeMattermost, pd: FakePagerDuty, redis: aioredis.Redis,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    port = free_port()
    client = await app(port, receivers(mattermost, pd, f"http://127.0.0.1:{port}"))
    await fire(client)
    await until(lambda: len(mattermost.posts) == 2 and len(pd.incidents) == 2, 10, "posts")
    post = post_of(mattermost, FP)
    assert [b["name"] for b in post.buttons] == ["Acknowledge"]

    status, answer = await mattermost.press(post.id, session, user_name="alice")
    assert status == 200, answer
    # The answer is the updated post, applied by the server at once.
    assert "ACKNOWLEDGED" in answer["update"]["message"] and post.buttons == []
    assert "acknowledged by alice" in post.attachment["text"]
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    ack = rec["ack"] if isinstance(rec["ack"], dict) else json.loads(rec["ack"])
    assert (ack["by"], ack["via"]) == ("alice", "mattermost")
    # The ack job edits the same post again (same content) and acknowledges PagerDuty.
    await until(lambda: "acknowledged" in pd.incidents.values(), 10, "PagerDuty ack")
    await wait_deliveries_idle(redis)
    assert sorted(pd.incidents.values()) == ["acknowledged", "open"]
    assert len(mattermost.calls("POST")) == 2 and len(mattermost.posts) == 2
    assert "ACKNOWLEDGED" in post.message and post.buttons == []
    other = next(p for p in mattermost.posts.values() if p is not post)
    assert other.history == [] and len(other.buttons) == 1

    # A second click (another user) changes nothing: the ack stays alice's.
    before = await state_snapshot(redis)
    status, answer = await mattermost.press(post.id, session, user_name="bob",
                                            context=post.history[0][1]["attachments"][0]
                                            ["actions"][0]["integration"]["context"])  # fmt: skip
    assert status == 200 and answer["ephemeral_text"] == "Already acknowledged by alice."
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before

    # The resolve edits the same post.
    await fire(client, "critical-group-mixed-resolved")
    await until(lambda: "RESOLVED" in post.message, 10, "resolve edit")
    await wait_deliveries_idle(redis)
    assert len(mattermost.calls("POST")) == 2 and len(mattermost.posts) == 2


def _forged(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


@pytest.mark.parametrize(
    ("make_context", "status", "code"),
    [
        (lambda t: {"token": sign("mm", FP, "2026-11-22T05:12:40.615636185Z", "x" * 32)},
         403, "bad_token"),  # another secret
        (lambda t: {"token": _forged(t)}, 403, "bad_token"),
        (lambda t: {"token": sign("other", FP, "x", SECRET)}, 403, "bad_token"),
        (lambda t: {"token": "mm1.not.atoken"}, 400, "bad_token"),
        (lambda t: {"token": t + "x"}, 400, "bad_token"),
        (lambda t: {}, 400, "invalid_payload"),
    ],
    ids=["other-secret", "tampered", "unknown-receiver", "garbage", "cut", "no-token"],
)  # fmt: skip
async def test_refused_clicks_change_nothing(
    app: App, mattermost: FakeMattermost, redis: aioredis.Redis, session: aiohttp.ClientSession,
    make_context: Callable[[str], dict[str, Any]], status: int, code: str,
) -> None:  # fmt: skip
    port = free_port()
    client = await app(port, receivers(mattermost, None, f"http://127.0.0.1:{port}"))
    await fire(client)
    await until(lambda: len(mattermost.posts) == 2, 10, "posts")
    await wait_deliveries_idle(redis)
    post = post_of(mattermost, FP)
    token = post.buttons[0]["integration"]["context"]["token"]
    before, shown = await state_snapshot(redis), copy.deepcopy(post.props)
    got, answer = await mattermost.press(post.id, session, context=make_context(token))
    assert (got, answer["error"]) == (status, code)
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before and post.props == shown


async def test_old_episode_and_unknown_alert_are_refused(
    app: App, mattermost: FakeMattermost, redis: aioredis.Redis, session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    port = free_port()
    client = await app(port, receivers(mattermost, None, f"http://127.0.0.1:{port}"))
    await fire(client)
    await until(lambda: len(mattermost.posts) == 2, 10, "posts")
    first = post_of(mattermost, FP)
    old = copy.deepcopy(first.buttons[0]["integration"]["context"])
    # It resolves and fires again: a new episode, a new post.
    await fire(client, "critical-group-mixed-resolved")
    await fire(client, starts_at="2026-11-22T06:00:00Z")
    # (A changed startsAt is a new episode for both alerts: a new post each.)
    await until(lambda: len(mattermost.posts) == 4, 10, "the new episodes' posts")
    await wait_deliveries_idle(redis)
    before = await state_snapshot(redis)
    status, answer = await mattermost.press(first.id, session, context=old)
    assert status == 200 and "earlier firing" in answer["ephemeral_text"]
    assert "update" not in answer
    unknown = {"token": sign("mm", "ffffffffffffffff", "2026-11-22T06:00:00Z", SECRET)}
    status, answer = await mattermost.press(first.id, session, context=unknown)
    assert status == 200 and "no longer known" in answer["ephemeral_text"]
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before


async def test_without_actions_no_button_and_the_route_is_404(
    app: App, mattermost: FakeMattermost, redis: aioredis.Redis, session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    port = free_port()
    client = await app(port, receivers(mattermost, None, "", actions=False))
    await fire(client)
    await until(lambda: len(mattermost.posts) == 2, 10, "posts")
    assert all(p.buttons == [] for p in mattermost.posts.values())
    body = {"context": {"token": sign("mm", FP, "x", SECRET)}, "user_name": "alice"}
    resp = await client.post("/mattermost/actions", json=body)
    assert resp.status == 404 and (await resp.json())["error"] == "not_configured"


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "reset-only"])
async def test_rate_limited_posts_wait_for_the_hint_then_arrive_once(
    app: App, mattermost: FakeMattermost, redis: aioredis.Redis, retry_after: bool,
) -> None:  # fmt: skip
    """Mattermost's 429 with X-Ratelimit-Reset 7 s (and Retry-After, or not): no request
    before it (the pipeline's own pause without a hint is 5 s, its first backoff 1-2 s);
    then every alert posted once."""
    port = free_port()
    client = await app(port, receivers(mattermost, None, f"http://127.0.0.1:{port}"),
                       workers={"concurrency": 1})  # fmt: skip
    mattermost.rate_limit_next(1, reset_s=7, retry_after=retry_after)
    await fire(client)
    await until(lambda: len(mattermost.posts) == 2, 30, "posts after the 429")
    await wait_deliveries_idle(redis)
    limited = [r for r in mattermost.requests if r.status == 429]
    (first,) = limited
    later = [r for r in mattermost.requests if r.at > first.at]
    assert later and all(r.at - first.at >= 7.0 for r in later), [r.at - first.at for r in later]
    fps = sorted(p.props["alert_receiver"]["fingerprint"] for p in mattermost.posts.values())
    assert fps == ["0f3ef813eb86bd39", "1d3f58b2d7994044"]
