"""A person's rule `via: slack`: a direct message from the Slack bot, not a post in the
receiver's channel; the resolve edits that message. Against the Slack stand-in (a bot
posting to a user ID posts in its DM channel with them), PagerDuty and a real Redis."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from tests.conftest import AppFactory, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import ROUTING_KEY, body
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack

USER = "U012ALICE"
DM = "D012ALICE"  # the stand-in's DM channel with USER


def config(slack: FakeSlack, pd: FakePagerDuty) -> dict[str, Any]:
    return {
        "receivers": {
            "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                   "rate": "none"},
            "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                     "api_url": slack.api_url, "rate": "none"},
        },
        "route": {"receivers": ["pd"], "escalation": "p0"},
        "oncall": {"rotations": {"primary": {"members": ["alice"]}}},
        "escalation_policies": {"p0": {"steps": [{"after": "0s", "rotations": ["primary"]}]}},
        "people": {"alice": {"slack": USER, "notify": [{"after": "0s", "via": "slack"}]}},
    }  # fmt: skip


async def test_a_slack_rule_messages_the_person_directly_and_the_resolve_edits_it(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack, pd: FakePagerDuty
) -> None:
    client = await app_client(run_workers=True, **config(slack, pd))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(slack.messages) == 1 and pd.events, what="direct message")
    ((channel, ts), msg) = next(iter(slack.messages.items()))
    assert channel == DM and "HighErrorRate" in msg.text  # not the receiver's channel
    await wait_deliveries_idle(redis)
    metrics = await (await client.get("/metrics")).text()
    assert 'alert_receiver_person_notifications_total{outcome="sent",via="slack"} 1.0' in metrics

    assert (await client.post("/webhook", json=body("resolved"), headers=auth())).status == 200
    await until(lambda: len(msg.history) == 1, what="the direct message edited")
    await wait_deliveries_idle(redis)
    assert list(slack.messages) == [(DM, ts)]  # edited in place, nothing posted anew
    assert "RESOLVED" in msg.text.upper()
