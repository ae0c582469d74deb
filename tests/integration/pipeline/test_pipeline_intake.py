"""Decision pipeline against real Redis: dedup under concurrency, storms, throttling."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from receiver.delivery.policy import RetryPolicy
from receiver.delivery.scheduler import Scheduler
from receiver.delivery.worker import Worker
from receiver.metrics import Metrics
from receiver.models import Notification
from receiver.notifiers.registry import build_notifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.webhook import WebhookConfig
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts
from tests.conftest import AppFactory, auth, fixture_body
from tests.servers.recorder import Recorder

K = Keys("ar")


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def outbox_jobs(redis: aioredis.Redis) -> list[Notification]:
    return [Notification.from_json(f["job"]) for _id, f in await redis.xrange(K.outbox)]


def receivers(rate: str = "1/s", burst: int = 1) -> dict[str, Any]:
    # Workers are off in these tests: the URL is never called, jobs stay countable.
    return {
        "chat": {"type": "webhook", "url": "http://127.0.0.1:9/chat", "rate": rate, "burst": burst},
        "pager": {"type": "webhook", "url": "http://127.0.0.1:9/pager", "rate": "none"},
    }


def body_of(n: int, severity: str, tag: str, start: int = 0) -> dict[str, Any]:
    body = fixture_body("warning-firing")
    template = body["alerts"][0]
    body["alerts"] = []
    for i in range(start, start + n):
        labels = template["labels"] | {"instance": f"{tag}-{i}", "severity": severity}
        body["alerts"].append({k: v for k, v in template.items() if k != "fingerprint"}
                              | {"labels": labels})  # fmt: skip
    return body


async def test_fifty_concurrent_copies_one_job_per_destination(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    cfg = {"receivers": receivers(rate="none"), "route": {"receivers": ["chat", "pager"]}}
    # Two replicas sharing one Redis, 25 copies each, all at once.
    a, b = await app_client(**cfg), await app_client(**cfg)
    body = fixture_body("critical-group-firing")
    resps = await asyncio.gather(
        *[(a if i % 2 else b).post("/webhook", json=body, headers=auth()) for i in range(50)]
    )
    assert [r.status for r in resps] == [200] * 50
    jobs = await outbox_jobs(redis)
    per = Counter((j.alert.fingerprint, j.destination, j.reason.value) for j in jobs)
    assert per == {
        ("0f3ef813eb86bd39", "chat", "new"): 1, ("0f3ef813eb86bd39", "pager", "new"): 1,
        ("1d3f58b2d7994044", "chat", "new"): 1, ("1d3f58b2d7994044", "pager", "new"): 1,
    }  # fmt: skip
    # Then the resolve, also 50 times concurrently: one resolved job per destination.
    resolved = fixture_body("critical-group-mixed-resolved")
    resps = await asyncio.gather(
        *[(a if i % 2 else b).post("/webhook", json=resolved, headers=auth()) for i in range(50)]
    )
    assert {r.status for r in resps} == {200}
    per = Counter((j.alert.fingerprint, j.destination, j.reason.value)
                  for j in await outbox_jobs(redis))  # fmt: skip
    assert per[("0f3ef813eb86bd39", "chat", "resolved")] == 1
    assert per[("0f3ef813eb86bd39", "pager", "resolved")] == 1
    assert sum(per.values()) == 6
    state = await (await a.get("/api/v1/alerts/1d3f58b2d7994044")).json()
    assert state["receive_count"] == 100


async def test_flapping_and_repeat_through_intake(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    clock = Clock()
    client = await app_client(clock=clock, receivers=receivers(rate="none"),
                              route={"receivers": ["pager"], "repeat_interval": "1h"})  # fmt: skip
    firing = fixture_body("warning-firing")
    post = lambda b: client.post("/webhook", json=b, headers=auth())  # noqa: E731
    await post(firing)
    clock.t += 1800
    await post(firing)  # within repeat_interval: nothing
    clock.t += 1800
    await post(firing)  # exactly at the interval: repeat
    res = json.loads(json.dumps(firing))
    res["alerts"][0] |= {"status": "resolved", "endsAt": "2026-11-22T06:00:00Z"}
    await post(res)
    await post(res)  # AM re-sends resolved alerts for a while: nothing more
    refire = json.loads(json.dumps(firing))
    refire["alerts"][0]["startsAt"] = "2026-11-22T07:00:00Z"
    await post(refire)
    await post(firing)  # a stale retry of the first episode: nothing
    reasons = [j.reason.value for j in await outbox_jobs(redis)]
    assert reasons == ["new", "repeat", "resolved", "new"]


async def test_storm_counts_add_up(app_client: AppFactory, redis: aioredis.Redis) -> None:
    clock = Clock()
    mail = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": ["b@example.com"]}
    client = await app_client(
        clock=clock, receivers=receivers(rate="1/s", burst=1) | {"mail": mail},
        digests={"default": {"receiver": "mail", "to": ["team@example.com"], "every": "1d"}},
        route={"receivers": ["chat"], "digest": "default"},
        storm={"threshold": 300, "window": "5m"},
    )  # fmt: skip
    start = clock.t
    for i in range(50):  # 1,000 warnings in 10 s, 20 per body
        resp = await client.post("/webhook", json=body_of(20, "warning", "storm", i * 20),
                                 headers=auth())  # fmt: skip
        assert resp.status == 200
        clock.t += 0.2
    immediate = await outbox_jobs(redis)
    times = [j.enqueued_at_ms for j in immediate]
    assert all(j.destination == "chat" for j in immediate)
    # 1/s with burst 1: never two within a second.
    assert all(b - a >= 1000 for a, b in itertools.pairwise(times))
    assert len(immediate) == 3  # t=0, 1, 2 s; the 300th alert arrives at t=2.8 s
    # The route's digest lists every alert, once each; chat's 297 over the limit before the
    # storm began are left to it.
    assert await redis.hlen(K.digest("default")) == 1000
    assert await redis.zcard(K.delayed) == 0
    # The storm window closes: one summary job for the rest.
    sched = Scheduler(redis, Scripts.register(redis), K, Metrics(), clock)
    clock.t = start + 300.5
    assert await sched.tick() == 1
    jobs = await outbox_jobs(redis)
    summary = [j for j in jobs if j.summary_total]
    assert len(summary) == 1 and summary[0].summary_total == 700
    assert len(summary[0].summary_of) == 20 and summary[0].destination == "chat"
    # And the metric shows the same split, adding up to the 1,000 alerts routed to chat.
    text = await (await client.get("/metrics")).text()
    counts = {a: _metric(text, "chat", a) for a in ("immediate", "delayed", "digest", "summary")}
    assert counts == {"immediate": 3, "delayed": 0, "digest": 297, "summary": 700}
    assert sum(counts.values()) == 1000


def _metric(text: str, dest: str, action: str) -> int:
    want = f'alert_receiver_throttled_total{{action="{action}",destination="{dest}"}}'
    for line in text.splitlines():
        if line.startswith(want):
            return int(float(line.split()[-1]))
    return 0


async def test_criticals_are_delayed_in_order_and_all_delivered(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    url, got = recorder.url(), recorder.got
    clock = Clock()
    client = await app_client(clock=clock, receivers=receivers(rate="1/s", burst=1),
                              route={"receivers": ["chat"]},
                              storm={"threshold": 10, "window": "5m"})  # fmt: skip
    order = []
    for i in range(10):  # 200 criticals within 1 s
        body = body_of(20, "critical", "crit", i * 20)
        order += [a["labels"]["instance"] for a in body["alerts"]]
        assert (await client.post("/webhook", json=body, headers=auth())).status == 200
        clock.t += 0.1
    assert len(await outbox_jobs(redis)) == 1
    assert await redis.zcard(K.delayed) == 199  # critical: delayed, never digested/folded
    sched = Scheduler(redis, Scripts.register(redis), K, Metrics(), clock)
    clock.t += 250
    assert await sched.tick() == 199
    jobs = await outbox_jobs(redis)
    assert [j.alert.labels["instance"] for j in jobs] == order
    # Deliver them with a real worker and the webhook notifier to a local server.
    async with aiohttp.ClientSession() as session:
        cfg = WebhookConfig(type="webhook", url=url)
        notifier = build_notifier("chat", cfg, session, Renderer())
        worker = Worker(redis, K, {"chat": notifier}, Metrics(), RetryPolicy(), "t", 1, 60)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        for _ in range(200):
            if len(got) >= 200:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    assert [g["alert"]["labels"]["instance"] for g in got] == order
    assert await redis.xlen(K.outbox) == 0
