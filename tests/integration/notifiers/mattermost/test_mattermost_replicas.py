"""Two `serve` replicas on one Redis with the local Mattermost server and PagerDuty:
firing → one post per alert; the Acknowledge button (answered by the other replica) → the
same post edited and PagerDuty acknowledged; resolve → the same post edited. A replica
SIGKILLed after its posts reached Mattermost but before it recorded them: the other one
takes the jobs over, finds the posts by their props, and every alert is still one post."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import redis.asyncio as aioredis

from receiver.store.keys import Keys
from tests.conftest import RedisServer, Serve, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.delivery.faults import body, replica
from tests.servers.mattermost import CHANNEL, TOKEN, FakeMattermost
from tests.servers.pagerduty import FakePagerDuty

SECRET = "0123456789abcdef0123456789abcdef"
ROUTING_KEY = "R" * 32


def receivers(mm: FakeMattermost, pd: FakePagerDuty, actions_url: str) -> dict[str, Any]:
    return {
        "mm": {"type": "mattermost", "url": mm.base_url, "token": TOKEN, "channel_id": CHANNEL,
               "rate": "none", "actions": {"base_url": actions_url, "secret": SECRET}},
        "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
               "rate": "none"},
    }  # fmt: skip


def pair(tmp: Path, redis_url: str, mm: FakeMattermost, pd: FakePagerDuty,
         **extra: Any) -> tuple[Serve, Serve]:  # fmt: skip
    """Replicas a and b; the button's URL names b (a load balancer would pick either)."""
    b = replica(tmp, "b", redis_url, {}, **extra)
    a = replica(tmp, "a", redis_url, receivers(mm, pd, b.url), **extra)
    b.config.write_text(a.config.read_text())  # one config for both
    return a, b


def posts_per_alert(mm: FakeMattermost) -> Counter[str]:
    return Counter(p.props["alert_receiver"]["fingerprint"] for p in mm.posts.values())


async def test_two_replicas_post_once_ack_by_button_and_resolve_edit(
    tmp_path: Path, redis: aioredis.Redis, redis_server: RedisServer,
    pd: FakePagerDuty, mattermost: FakeMattermost,
) -> None:  # fmt: skip
    a, b = pair(tmp_path, redis_server.url, mattermost, pd)
    try:
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        firing = body("mm", 0, 3)
        async with httpx.AsyncClient() as c:
            r = await c.post(a.url + "/webhook", json=firing, headers=auth())
            assert r.status_code == 200
            await until(lambda: len(mattermost.posts) == 3 and len(pd.incidents) == 3,
                        20, "posts and incidents")  # fmt: skip
            await wait_deliveries_idle(redis)
            assert sorted(posts_per_alert(mattermost).values()) == [1, 1, 1]
            post = next(iter(mattermost.posts.values()))
            fp = post.props["alert_receiver"]["fingerprint"]
            async with aiohttp.ClientSession() as s:
                status, answer = await mattermost.press(post.id, s, user_name="carol")
            assert status == 200 and "ACKNOWLEDGED" in answer["update"]["message"], answer
            await until(lambda: sorted(pd.incidents.values()) == ["acknowledged", "open", "open"],
                        20, "PagerDuty acknowledged")  # fmt: skip
            await wait_deliveries_idle(redis)
            ack = json.loads(await redis.hget(Keys().alert(fp), "ack") or "{}")
            assert (ack["by"], ack["via"]) == ("carol", "mattermost")
            assert "ACKNOWLEDGED" in post.message and post.buttons == []
            # Resolve all three through the other replica: each post edited, none added.
            done = body("mm", 0, 3)
            for al in done["alerts"]:
                al["status"], al["endsAt"] = "resolved", "2026-11-22T06:00:00Z"
            done["status"] = "resolved"
            r = await c.post(b.url + "/webhook", json=done, headers=auth())
            assert r.status_code == 200
            await until(lambda: all("RESOLVED" in p.message for p in mattermost.posts.values()),
                        20, "resolve edits")  # fmt: skip
            await wait_deliveries_idle(redis)
        assert sorted(posts_per_alert(mattermost).values()) == [1, 1, 1]
        assert len(mattermost.calls("POST")) == 3
    finally:
        for s_ in (a, b):
            if s_.proc is not None:
                s_.kill()


async def test_sigkill_between_post_and_record_still_one_post_per_alert(
    tmp_path: Path, redis: aioredis.Redis, redis_server: RedisServer,
    pd: FakePagerDuty, mattermost: FakeMattermost,
) -> None:  # fmt: skip
    n = 8
    a, b = pair(tmp_path, redis_server.url, mattermost, pd,
                workers={"concurrency": 64, "visibility_timeout": 3})  # fmt: skip
    mattermost.hang_next(10_000)  # every answer held until released
    try:
        await asyncio.to_thread(a.start)
        async with httpx.AsyncClient() as c:
            r = await c.post(a.url + "/webhook", json=body("kill", 0, n), headers=auth())
            assert r.status_code == 200
        await until(lambda: len(mattermost.calls("POST")) == n, 20, "A's posts in flight")
        await asyncio.to_thread(b.start)
        a.kill()  # SIGKILL while A's posts are in flight, unrecorded
        mattermost.release()  # the posts reach Mattermost all the same
        await until(lambda: len(mattermost.posts) == n, 20, "A's posts made")
        # Forget the pending_post_ids (their 30 s window, or another app server in a
        # cluster): B must find A's posts by their props, not by that de-duplication.
        mattermost._pending.clear()
        await until(lambda: len(pd.incidents) == n, 30, "B's takeover")
        await wait_deliveries_idle(redis, limit_s=30)
        assert len(mattermost.calls("GET")) >= 1  # B looked before posting
        assert sorted(posts_per_alert(mattermost).values()) == [1] * n
        assert len(mattermost.calls("POST")) == n
    finally:
        mattermost.release()
        for s_ in (a, b):
            if s_.proc is not None:
                s_.kill()
