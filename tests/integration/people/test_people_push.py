"""People paged through a rotation: a push with an Acknowledge action, the email rule
after it, one chain for a person on call in two rotations, the resolve reaching every
contact method used; against the ntfy stand-in, SMTP, PagerDuty and a real Redis."""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis

from receiver.store.keys import Keys
from tests.conftest import AppFactory, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import FP, body
from tests.integration.people.common import TOPIC, ntfy, people_config
from tests.integration.slo.test_slo_intake import NOW, Clock
from tests.servers.ntfy import FakeNtfy
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.smtp import SMTPServer

__all__ = ["ntfy"]
BASE = "https://alerts.example.org"
KEYS = Keys()


async def chain(redis: aioredis.Redis, person: str = "alice") -> dict[str, str]:
    found = await redis.hgetall(KEYS.person_chain(FP, person))
    return {str(k): str(v) for k, v in found.items()}


async def test_pressing_acknowledge_acks_as_the_person_and_the_email_rule_never_fires(
    app_client: AppFactory,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    cfg = people_config(ntfy, smtp, pd, BASE, "4s")
    client = await app_client(run_workers=True, **cfg)
    here = str(client.make_url("")).rstrip("/")
    resp = await client.post("/webhook", json=body(), headers=auth())
    assert resp.status == 200
    await until(lambda: len(ntfy.messages) == 1)
    push = ntfy.messages[0]
    assert push.topic == TOPIC and push.priority == 5
    assert [a["label"] for a in push.body["actions"]][:2] == ["Acknowledge", "Open"]
    assert push.body["click"].endswith(f"/console/alerts/{FP}")
    status, answer = await ntfy.press(push, via=(BASE, here))
    assert status == 200 and answer["outcome"] == "acked" and answer["by"] == "alice"
    alert = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert alert["ack"]["by"] == "alice" and alert["ack"]["via"] == "push"
    await until(lambda: [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"])

    # The email rule comes due at 4 s and is stopped by the ack, not sent.
    async def stopped() -> bool:
        return (await chain(redis)).get("ended") == "acked"

    await until(stopped, limit_s=20)
    await wait_deliveries_idle(redis)
    assert smtp.messages == [] and len(ntfy.messages) == 1
    c = await chain(redis)
    assert c["fired"] == "1" and c["used"] == "push"
    metrics = await (await client.get("/metrics")).text()
    assert 'alert_receiver_person_notifications_total{outcome="sent",via="push"} 1.0' in metrics
    assert (
        'alert_receiver_person_notifications_total{outcome="cancelled",via="email"} 1.0' in metrics
    )
    assert 'alert_receiver_person_time_to_acknowledge_seconds_count{person="alice"} 1.0' in metrics


async def test_not_acked_the_email_rule_fires_once_at_30s_and_the_resolve_reaches_both(
    app_client: AppFactory,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    clock = Clock(NOW)
    cfg = people_config(ntfy, smtp, pd, BASE, "30s")
    client = await app_client(run_workers=True, clock=clock, **cfg)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(ntfy.messages) == 1)
    started = int((await chain(redis))["started"])
    assert started == int(NOW * 1000)
    # Paged through both rotations, alice has one chain, and got one push.
    assert await redis.zcard(KEYS.people_due) == 1
    clock.t = NOW + 29

    async def next_due() -> float | None:
        score: float | None = await redis.zscore(KEYS.people_due, f"{FP}:alice")
        return score

    # Not before 30 s: the next rule waits for exactly started + 30 s.
    await until(lambda: next_due(), limit_s=5)
    assert await next_due() == started + 30_000
    assert smtp.messages == []
    clock.t = NOW + 30
    await until(lambda: len(smtp.messages) == 1, limit_s=10)
    rule = orjson.loads((await chain(redis))["rule:1"])
    assert rule["due"] == started + 30_000 and 0 <= rule["at"] - rule["due"] <= 1000
    mail = smtp.messages[0]
    assert mail.rcpt_tos == ["alice@example.com"]
    await wait_deliveries_idle(redis)
    assert len(smtp.messages) == 1 and len(ntfy.messages) == 1
    # The resolve reaches the push topic (low priority, no Acknowledge) and the email.
    clock.t = NOW + 40
    assert (await client.post("/webhook", json=body("resolved"), headers=auth())).status == 200
    await until(lambda: len(ntfy.messages) == 2 and len(smtp.messages) == 2, limit_s=10)
    follow = ntfy.messages[1]
    assert follow.topic == TOPIC and follow.priority == 2
    assert all(a["label"] != "Acknowledge" for a in follow.body.get("actions", []))
    assert smtp.messages[1].message["X-Alert-Status"] == "resolved"
    assert smtp.messages[1].rcpt_tos == ["alice@example.com"]
    # Threaded under the page it follows up.
    assert smtp.messages[1].message["In-Reply-To"] == mail.message["Message-ID"]
    await wait_deliveries_idle(redis)
    assert len(ntfy.messages) == 2 and len(smtp.messages) == 2


async def test_a_push_refused_with_429_is_sent_again_once_and_counted(
    app_client: AppFactory,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    cfg = people_config(ntfy, smtp, pd, BASE, "1h")
    cfg["workers"] = {"backoff_base": "1s", "backoff_max": "2s"}
    del cfg["console"]  # off: no Open action (it would lead nowhere)
    ntfy.faults.rate_limit = 1
    client = await app_client(run_workers=True, **cfg)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(ntfy.messages) == 1, limit_s=30)
    await wait_deliveries_idle(redis)
    assert len(ntfy.messages) == 1 and ntfy.refused == [(429, "gate")]
    labels = [a["label"] for a in ntfy.messages[0].body["actions"]]
    assert "Acknowledge" in labels and "Open" not in labels
    metrics = await (await client.get("/metrics")).text()
    assert (
        'alert_receiver_deliveries_total{destination="ntfy",outcome="rate_limited"} 1.0' in metrics
    )


async def test_an_ack_stops_the_rules_at_once_and_an_unack_resumes_them_where_they_were(
    app_client: AppFactory,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    """The ack stops alice's chain at once (not at her next rule's due time); the unack
    resumes it: the email rule follows. A later step paging her again while the chain
    runs adds nothing (one chain per episode and person)."""
    from tests.integration.ack.test_ack_api import ack_auth

    cfg = people_config(ntfy, smtp, pd, BASE, "2s")
    cfg["escalation_policies"]["p0"]["steps"].append({"after": "4s", "people": ["alice"]})
    client = await app_client(run_workers=True, **cfg)
    here = str(client.make_url("")).rstrip("/")
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(ntfy.messages) == 1)
    status, _ = await ntfy.press(ntfy.messages[0], via=(BASE, here))
    assert status == 200

    async def state() -> tuple[str, float | None]:
        c = await chain(redis)
        return c.get("ended", ""), await redis.zscore(KEYS.people_due, f"{FP}:alice")

    async def stopped() -> bool:
        return await state() == ("acked", None)

    await until(stopped, limit_s=10)
    metrics = await (await client.get("/metrics")).text()
    assert 'alert_receiver_person_time_to_acknowledge_seconds_count{person="alice"} 1.0' in metrics
    resp = await client.post(f"/api/v1/alerts/{FP}/unack", headers=ack_auth())
    assert resp.status == 200 and (await resp.json())["outcome"] == "unacked"
    await until(lambda: len(smtp.messages) == 1, limit_s=15)  # the email rule, resumed
    assert smtp.messages[0].rcpt_tos == ["alice@example.com"]

    async def step_two() -> bool:
        rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
        return len(rec["escalation"]["steps"]) == 2

    await until(step_two, limit_s=15)
    await wait_deliveries_idle(redis)
    c = await chain(redis)
    assert c["ended"] == "" and c["fired"] == "2" and c["used"] == "push,email"
    assert len(ntfy.messages) == 1 and len(smtp.messages) == 1
