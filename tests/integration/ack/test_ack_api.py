"""Acknowledging over the API, through the whole pipeline: what PagerDuty and Slack get,
what repeats and escalation steps do afterwards, and what the alert's record says."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from receiver.models import ZERO_TIME
from tests.conftest import READ_TOKEN, AppFactory, auth, fixture_body
from tests.helpers import until, wait_deliveries_idle
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.recorder import Recorder
from tests.servers.slack import FakeSlack

ACK_TOKEN = "acker-token-0123456789"
ROUTING_KEY = "R" * 32
FP = "0f3ef813eb86bd39"  # the fixture alert's fingerprint
STARTS = "2026-11-22T05:12:40.615636185Z"


def body(status: str = "firing", starts: str = STARTS) -> dict[str, Any]:
    """One critical alert (the captured fixture's first) in the given state and episode."""
    d = fixture_body("critical-group-firing")
    alert = {**d["alerts"][0], "status": status, "startsAt": starts}
    alert["endsAt"] = "2026-11-22T06:00:00Z" if status == "resolved" else ZERO_TIME
    return {**d, "status": status, "alerts": [alert]}


def settings(pd: FakePagerDuty, slack: FakeSlack, rec: Recorder, **policy: Any) -> dict[str, Any]:
    steps = policy.pop("steps", [{"after": "3s", "receivers": ["level1"]},
                                 {"after": "4s", "receivers": ["level2"]}])  # fmt: skip
    return {
        "run_workers": True,
        "receivers": {
            "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                   "rate": "none"},
            "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                     "api_url": slack.api_url, "rate": "none"},
            "level1": {"type": "webhook", "url": rec.url("level1"), "rate": "none"},
            "level2": {"type": "webhook", "url": rec.url("level2"), "rate": "none"},
        },
        "route": {"receivers": ["pd", "chat"], "repeat_interval": "1s", "escalation": "p"},
        "escalation_policies": {"p": {"steps": steps, **policy}},
        "api_tokens": [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]},
                       {"name": "reader", "token": READ_TOKEN, "scopes": ["read"]}],
    }  # fmt: skip


def one_step(after: str) -> list[dict[str, Any]]:
    return [{"after": after, "receivers": ["level1"]}]


def ack_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ACK_TOKEN}"}


def levels(rec: Recorder) -> list[str]:
    return [g["path"].strip("/") for g in rec.got]


async def test_ack_acknowledges_pagerduty_updates_slack_and_stops_repeats_and_escalation(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder
) -> None:
    client = await app_client(**settings(pd, slack, recorder))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(pd.events) == 1 and len(slack.top_level()) == 1)
    (msg,) = slack.top_level()

    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(),
                          json={"by": "alice", "comment": "on it"})  # fmt: skip
    assert r.status == 200, await r.text()
    got = await r.json()
    assert got["outcome"] == "acked" and got["ack"]["by"] == "alice"

    # PagerDuty: acknowledge of the very incident; Slack: the same message, updated.
    await until(lambda: len(pd.events) == 2 and msg.history)
    trigger, ack = pd.events
    assert ack["event_action"] == "acknowledge" and ack["dedup_key"] == trigger["dedup_key"]
    assert pd.incidents == {trigger["dedup_key"]: "acknowledged"}
    assert len(slack.top_level()) == 1 and msg.text.startswith("[ACKNOWLEDGED]")
    assert "acknowledged by alice" in msg.blocks[1]["text"]["text"]

    # A second ack changes nothing and tells the caller who has it.
    again = await (await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(),
                                     json={"by": "bob"})).json()  # fmt: skip
    assert again["outcome"] == "already_acked" and again["ack"]["by"] == "alice"

    # Repeats stop: the repeat interval (1 s) passes and Alertmanager re-sends.
    await asyncio.sleep(1.2)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    # Escalation steps (due 3 s and 4 s after the alert started firing) never fire.
    await asyncio.sleep(4.0)
    assert len(pd.events) == 2 and len(slack.top_level()) == 1 and recorder.got == []

    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert rec["ack"]["by"] == "alice" and rec["ack"]["comment"] == "on it"
    assert rec["acknowledged"] is True
    (event,) = [h for h in rec["history"] if h.get("event") == "ack"]
    assert event["by"] == "alice" and event["via"] == "api" and event["comment"] == "on it"
    assert rec["escalation"]["ended"] == "acked" and rec["escalation"]["next_due"] is None
    assert rec["escalation"]["level"] == 0 and rec["escalation"]["next_step"] is None


async def test_an_expired_ack_resumes_repeats_and_escalation(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, slack: FakeSlack,
    recorder: Recorder,
) -> None:  # fmt: skip
    client = await app_client(**settings(pd, slack, recorder, steps=one_step("1s")))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(pd.events) == 1)
    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(),
                          json={"by": "alice", "expires": "3s"})  # fmt: skip
    assert r.status == 200
    acked_at = time.monotonic()
    await until(lambda: len(pd.events) == 2)  # the acknowledge
    # While it holds: the step due at 1 s waits, a repeat is suppressed.
    await asyncio.sleep(1.2)
    await client.post("/webhook", json=body(), headers=auth())
    await asyncio.sleep(0.5)  # time for the step due at 1 s to (wrongly) fire: a scenario
    await wait_deliveries_idle(redis)  # and a (wrong) repeat or step would be delivered by now
    assert recorder.got == [] and len(pd.events) == 2
    # Once it expired: the overdue step fires, and the next repeat pages again.
    await until(lambda: recorder.got, limit_s=10)
    assert time.monotonic() - acked_at >= 2.9
    assert levels(recorder) == ["level1"] and recorder.got[0]["reason"] == "escalated"
    assert recorder.got[0]["escalation"]["level"] == 1
    await client.post("/webhook", json=body(), headers=auth())
    await until(lambda: len(pd.events) == 3)
    assert pd.events[2]["event_action"] == "trigger"


async def test_resolve_then_refire_is_a_new_incident_with_a_new_ladder(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder
) -> None:
    client = await app_client(**settings(pd, slack, recorder, steps=one_step("1s")))
    await client.post("/webhook", json=body(), headers=auth())
    await until(lambda: len(pd.events) == 1)
    assert (await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth())).status == 200
    await client.post("/webhook", json=body("resolved"), headers=auth())
    await until(lambda: [e["event_action"] for e in pd.events][-1:] == ["resolve"])
    # Acking a resolved alert is refused and changes nothing.
    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth())
    assert r.status == 409 and (await r.json())["error"] == "not_firing"

    later = "2026-11-22T07:00:00Z"
    await client.post("/webhook", json=body(starts=later), headers=auth())
    await until(lambda: recorder.got)  # the new episode escalates: nobody acked it
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert rec["acknowledged"] is False and rec["escalation"]["episode"] == later
    assert rec["escalation"]["fired"] == 1 and rec["escalation"]["level"] == 1
    assert [s["level"] for s in rec["escalation"]["steps"]] == [1]
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve",
                                                      "trigger"]  # fmt: skip


async def test_unack_resumes_escalation_and_restores_the_button(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder
) -> None:
    client = await app_client(**settings(pd, slack, recorder, steps=one_step("2s")))
    await client.post("/webhook", json=body(), headers=auth())
    await until(lambda: len(slack.top_level()) == 1)
    (msg,) = slack.top_level()
    await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(), json={"by": "alice"})
    await until(lambda: len(msg.history) == 1)
    r = await client.post(f"/api/v1/alerts/{FP}/unack", headers=ack_auth(),
                          json={"by": "alice", "comment": "handing back"})  # fmt: skip
    assert r.status == 200 and (await r.json())["outcome"] == "unacked"
    await until(lambda: len(msg.history) == 2)
    assert msg.text.startswith("[FIRING]") and len(slack.top_level()) == 1
    await until(lambda: recorder.got)
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert [h.get("event") for h in rec["history"]][:2] == ["unack", "ack"]
    r = await client.post(f"/api/v1/alerts/{FP}/unack", headers=ack_auth())
    assert (await r.json())["outcome"] == "not_acked"


async def test_ack_needs_the_ack_scope_and_a_sound_request(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder,
    redis: aioredis.Redis,
) -> None:  # fmt: skip
    client = await app_client(**settings(pd, slack, recorder, steps=one_step("1h")))
    await client.post("/webhook", json=body(), headers=auth())
    await until(lambda: len(pd.events) == 1)
    await wait_deliveries_idle(redis)  # every outcome recorded: the state holds still
    before = await state_snapshot(redis)
    url = f"/api/v1/alerts/{FP}/ack"
    unack, group = f"/api/v1/alerts/{FP}/unack", "/api/v1/groups/ack"
    gk = fixture_body("critical-group-firing")["groupKey"]
    shown = "are shown to other people"
    cases: list[tuple[str, dict[str, str], Any, int, str, str]] = [
        (url, {}, None, 401, "unauthorized", ""),
        (url, {"Authorization": f"Bearer {READ_TOKEN}"}, None, 403, "forbidden", ""),
        (url, auth(), None, 403, "forbidden", ""),  # the webhook's token acks nothing
        (url, ack_auth(), {"expires": "soon"}, 400, "invalid_body", ""),
        (url, ack_auth(), {"expires": "-5m"}, 400, "invalid_body", ""),
        (url, ack_auth(), {"by": ""}, 400, "invalid_body", "by: must not be empty"),
        (url, ack_auth(), {"who": "x"}, 400, "invalid_body", ""),
        (url, ack_auth(), [], 400, "invalid_body", ""),
        ("/api/v1/alerts/0000000000000000/ack", ack_auth(), None, 404, "not_found", ""),
        ("/api/v1/alerts/NOT-A-FP/ack", ack_auth(), None, 400, "invalid_fingerprint", ""),
        # Names and comments others are shown: nothing that displays as someone else
        # ("\u202eecila" shows as "alice") or hides itself; a comment may keep newlines.
        (url, ack_auth(), {"by": "\u202eecila"}, 400, "invalid_body",
         f"by: contains a format character U+202E; names {shown}"),
        (url, ack_auth(), {"by": "al\u200bice"}, 400, "invalid_body",
         f"by: contains a format character U+200B; names {shown}"),
        (url, ack_auth(), {"by": "alice\nbob"}, 400, "invalid_body",
         f"by: contains a control character U+000A; names {shown}"),
        (url, ack_auth(), {"by": "\u2028alice"}, 400, "invalid_body",
         f"by: contains a line separator U+2028; names {shown}"),
        (url, ack_auth(), {"by": " \u3000 "}, 400, "invalid_body", "by: must not be empty"),
        (url, ack_auth(), {"by": "alice", "comment": "ok \u202e"}, 400, "invalid_body",
         f"comment: contains a format character U+202E; comments {shown}"),
        (url, ack_auth(), {"comment": "a\rb"}, 400, "invalid_body",
         f"comment: contains a control character U+000D; comments {shown}"),
        (unack, ack_auth(), {"comment": "\ufeffhanding back"}, 400, "invalid_body",
         f"comment: contains a format character U+FEFF; comments {shown}"),
        (group, ack_auth(), {"groupKey": gk, "by": "\u202eecila"}, 400, "invalid_body",
         f"by: contains a format character U+202E; names {shown}"),
    ]  # fmt: skip
    for path, headers, payload, status, code, detail in cases:
        r = await client.post(path, headers=headers, json=payload)
        assert r.status == status, (path, headers, payload, await r.text())
        answer = await r.json()
        assert answer["error"] == code and detail in answer["detail"], answer
        if detail.startswith(("by:", "comment:")):
            assert answer["field"] == detail.split(":")[0]
    r = await client.post(url, headers={**ack_auth(), "Content-Type": "application/json"},
                          data=b"{not json")  # fmt: skip
    assert r.status == 400
    assert await state_snapshot(redis) == before
    assert len(pd.events) == 1 and len(slack.top_level()[0].history) == 0


async def test_names_and_comments_are_stored_as_they_display(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder
) -> None:
    client = await app_client(**settings(pd, slack, recorder, steps=one_step("1h")))
    await client.post("/webhook", json=body(), headers=auth())
    fullwidth = " \uff41\uff4c\uff49\uff43\uff45 "  # NFKC: "alice"
    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(),
                          json={"by": fullwidth, "comment": "on it,\r\nback in 5"})  # fmt: skip
    assert r.status == 200, await r.text()
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert (rec["ack"]["by"], rec["ack"]["comment"]) == ("alice", "on it,\nback in 5")


async def test_ack_a_whole_group_by_its_group_key(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, recorder: Recorder
) -> None:
    client = await app_client(**settings(pd, slack, recorder))
    group = fixture_body("critical-group-firing")
    await client.post("/webhook", json=group, headers=auth())
    await until(lambda: len(pd.events) == len(group["alerts"]))
    r = await client.post("/api/v1/groups/ack", headers=ack_auth(),
                          json={"groupKey": group["groupKey"], "by": "alice"})  # fmt: skip
    got = await r.json()
    assert r.status == 200 and got["acked"] == len(group["alerts"]) == 2
    await until(lambda: sum(e["event_action"] == "acknowledge" for e in pd.events) == 2)
    r = await client.post("/api/v1/groups/ack", headers=ack_auth(), json={"groupKey": "{}:{x}"})
    assert r.status == 404
