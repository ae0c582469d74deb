"""Escalation ladders end to end: on-call people reached by email with the level named, an
ack that lands between a step's claim and its sending, two replicas and a restart of both."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import redis.asyncio as aioredis
import yaml

from receiver.escalation.config import EscalationPolicy
from receiver.escalation.runner import EscalationRunner
from receiver.metrics import Metrics
from receiver.oncall.config import OncallConfig
from receiver.oncall.store import OnCallLookup, OverrideStore
from receiver.store.keys import Keys
from tests.conftest import TOKEN, AppFactory, RedisServer, Serve, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import ACK_TOKEN, FP, ack_auth, body
from tests.integration.slo.test_slo_intake import Clock
from tests.servers.recorder import Recorder
from tests.servers.smtp import SMTPServer

ONCALL = {"rotations": {
    "primary": {"members": [{"name": "alice", "email": "alice@example.com"}]},
    "secondary": {"members": [{"name": "bob", "email": "bob@example.com"}]},
}}  # fmt: skip


async def test_rotation_steps_mail_whoever_is_on_call_and_name_the_level(
    app_client: AppFactory, smtp: SMTPServer, recorder: Recorder
) -> None:
    client = await app_client(
        run_workers=True,
        receivers={
            "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                     "from": "alerts@example.com", "to": ["team@example.com"], "rate": "none"},
            "hook": {"type": "webhook", "url": recorder.url(), "rate": "none"},
        },
        route={"receivers": ["hook"], "escalation": "p0"},
        oncall=ONCALL,
        escalation_policies={"p0": {
            "steps": [{"after": "0s", "rotations": ["primary"]},
                      {"after": "3s", "rotations": ["secondary"]}],
            "email_receiver": "mail"}},
    )  # fmt: skip
    await client.post("/webhook", json=body(), headers=auth())
    await until(lambda: len(smtp.messages) == 1)
    rec = (await (await client.get(f"/api/v1/alerts/{FP}")).json())["escalation"]
    assert rec["level"] == 1 and rec["next_step"]["level"] == 2
    assert rec["next_step"]["due"] == rec["started"] + 3000
    await until(lambda: len(smtp.messages) == 2)
    first, second = smtp.messages
    assert first.rcpt_tos == ["alice@example.com"] and second.rcpt_tos == ["bob@example.com"]
    assert first.message["To"] == "alice@example.com"
    assert second.message["Subject"].startswith("[ESCALATED] [FIRING] HighErrorRate")
    text = second.message.get_body(("plain",)).get_content()
    assert "Escalation level 2 of 2 (p0): not acknowledged by alice (primary)" in text
    rec = (await (await client.get(f"/api/v1/alerts/{FP}")).json())["escalation"]
    assert [s["to"] for s in rec["steps"]] == [["alice (primary)"], ["bob (secondary)"]]
    assert rec["ended"] == "done" and rec["next_due"] is None
    # The resolve reaches the people escalated to, not only the route's receivers.
    await client.post("/webhook", json=body("resolved"), headers=auth())
    await until(lambda: any(g["reason"] == "resolved" for g in recorder.got))
    await until(lambda: len(smtp.messages) == 4)
    resolves = smtp.messages[2:]
    assert {r.message["X-Alert-Status"] for r in resolves} == {"resolved"}
    assert sorted(r.rcpt_tos[0] for r in resolves) == ["alice@example.com", "bob@example.com"]


async def test_the_resolve_reaches_each_person_a_step_mailed_threaded_under_their_mail(
    app_client: AppFactory, redis: aioredis.Redis, smtp: SMTPServer
) -> None:
    """Three steps mail three people (two rotations' members, a manager's address); on
    resolve each gets one resolve mail, threaded under the step mail they got, across two
    replicas. The email receiver's own `to` gets only what the route sends it: the firing
    mail and its resolve."""
    clock = Clock()
    replicas = [await app_client(
        run_workers=True, clock=clock,
        receivers={"mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                            "tls": "none", "from": "alerts@example.com",
                            "to": ["team@example.com"], "rate": "none"}},
        route={"receivers": ["mail"], "escalation": "p0"},
        oncall=ONCALL,
        escalation_policies={"p0": {"steps": [
            {"after": "0s", "rotations": ["primary"]},
            {"after": "5m", "rotations": ["secondary"]},
            {"after": "15m", "emails": ["manager@example.com"]}],
            "email_receiver": "mail"}},
    ) for _ in range(2)]  # fmt: skip
    assert (await replicas[0].post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(smtp.messages) == 2)  # the route's mail, step 1
    clock.t += 300
    await until(lambda: len(smtp.messages) == 3)
    clock.t += 600
    await until(lambda: len(smtp.messages) == 4)
    resp = await replicas[1].post("/webhook", json=body("resolved"), headers=auth())
    assert resp.status == 200
    await until(lambda: len(smtp.messages) == 8)

    # No delivery queued, in flight or due and no escalation step left: nothing doubled comes.
    async def ladder_ended() -> bool:
        return await redis.zcard(Keys().escalation_due) == 0

    await until(ladder_ended, 20, "no escalation step left")
    await wait_deliveries_idle(redis)
    mails: dict[str, list[EmailMessage]] = {}
    for r in smtp.messages:
        assert len(r.rcpt_tos) == 1
        mails.setdefault(r.rcpt_tos[0], []).append(r.message)
    people = ["alice@example.com", "bob@example.com", "manager@example.com"]
    assert sorted(mails) == sorted([*people, "team@example.com"])
    for addr in people:
        step, resolve = mails[addr]
        assert step["Subject"].startswith("[ESCALATED] [FIRING] HighErrorRate")
        assert resolve["Subject"].startswith("[RESOLVED] HighErrorRate")
        assert resolve["X-Alert-Status"] == "resolved" and resolve["To"] == addr
        assert resolve["In-Reply-To"] == step["Message-ID"] == resolve["References"]
    firing, resolve = mails["team@example.com"]
    assert firing["Subject"].startswith("[FIRING]") and resolve["Subject"].startswith("[RESOLVED]")
    assert resolve["In-Reply-To"] == firing["Message-ID"]
    assert len({m["Message-ID"] for ms in mails.values() for m in ms}) == 8
    lines = [mails[a][0].get_body(("plain",)).get_content().splitlines() for a in people]
    assert "Escalation level 1 of 3 (p0)" in lines[0]
    assert "Escalation level 2 of 3 (p0): not acknowledged by alice (primary) after 5m" in lines[1]
    assert ("Escalation level 3 of 3 (p0): not acknowledged by alice (primary), "
            "bob (secondary) after 15m") in lines[2]  # fmt: skip


async def test_an_ack_landing_after_the_claim_wins(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    """A step claimed when the ack lands is not sent (the apply re-checks the ack)."""
    policies = {"p": EscalationPolicy.model_validate(
        {"steps": [{"after": "0s", "receivers": ["hook"]}]})}  # fmt: skip
    client = await app_client(
        receivers={"hook": {"type": "webhook", "url": recorder.url(), "rate": "none"}},
        route={"receivers": [], "escalation": "p"},
        escalation_policies={"p": {"steps": [{"after": "0s", "receivers": ["hook"]}]}},
        api_tokens=[{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
    )  # fmt: skip
    await client.post("/webhook", json=body(), headers=auth())
    keys = Keys()
    oncall = OnCallLookup(OverrideStore(redis, keys, time.time), lambda: OncallConfig())
    runner = EscalationRunner(redis, keys, lambda: policies, lambda: {}, oncall, Metrics(),
                              "test")  # fmt: skip
    claim, rows = await runner.claim()
    assert [r.fp for r in rows] == [FP]
    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(), json={"by": "al"})
    assert r.status == 200
    assert await runner.apply(claim, rows) == ["acked"]
    assert await redis.xlen(keys.outbox) == 0  # no job for the step
    ladder = await redis.hgetall(keys.escalation(FP))
    assert ladder["ended"] == "acked" and ladder["fired"] == "0"
    assert await redis.zscore(keys.escalation_due, FP) is None
    # A stale claim (another replica's, or this one's after its lease ran out) does nothing.
    assert await runner.apply("someone-else:0", rows) == ["lost"]
    # A due entry whose ladder is gone (its state expired) is dropped, not claimed forever.
    await redis.delete(keys.escalation(FP))
    await redis.zadd(keys.escalation_due, {FP: 0})
    claim, rows = await runner.claim()
    assert await runner.apply(claim, rows) == ["gone"]
    assert await redis.zcard(keys.escalation_due) == 0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_two_replicas_fire_each_step_once_in_order_across_a_restart(
    tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis, recorder: Recorder
) -> None:
    cfg = {
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
        "receivers": {n: {"type": "webhook", "url": recorder.url(n), "rate": "none"}
                      for n in ("level1", "level2", "level3")},
        "route": {"receivers": [], "escalation": "p"},
        "escalation_policies": {"p": {"steps": [
            {"after": "2s", "receivers": ["level1"]}, {"after": "4s", "receivers": ["level2"]},
            {"after": "7s", "receivers": ["level3"]}]}},
        "api_tokens": [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
    }  # fmt: skip
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    replicas = []
    for i in range(2):
        (tmp_path / f"data{i}").mkdir()
        replicas.append(Serve(path, tmp_path / f"data{i}", _port()))
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
        async with httpx.AsyncClient() as http:
            posted = time.monotonic()
            r = await http.post(replicas[0].url + "/webhook", json=body(), headers=auth())
            assert r.status_code == 200
            # A second alert, acked by the on-call person after its first step.
            other = body()
            other["alerts"][0]["labels"] = {**other["alerts"][0]["labels"], "instance": "b"}
            del other["alerts"][0]["fingerprint"]
            r = await http.post(replicas[1].url + "/webhook", json=other, headers=auth())
            assert r.status_code == 200
            arrived: dict[str, float] = {}

            async def ladders_ended() -> bool:
                return await redis.zcard(Keys().escalation_due) == 0

            def seen() -> None:
                for g in recorder.got:
                    key = g["alert"]["labels"]["instance"] + "/" + g["path"].strip("/")
                    arrived.setdefault(key, time.monotonic() - posted)

            await until(lambda: (seen(), len(recorder.got) >= 2)[1], limit_s=10)
            fp_b = next(g["alert"]["fingerprint"] for g in recorder.got
                        if g["alert"]["labels"]["instance"] == "b")  # fmt: skip
            r = await http.post(f"{replicas[1].url}/api/v1/alerts/{fp_b}/ack",
                                headers={"Authorization": f"Bearer {ACK_TOKEN}"})  # fmt: skip
            assert r.status_code == 200
            # Both replicas die between the second and the third step, and come back.
            await until(lambda: (seen(), len(recorder.got) >= 3)[1], limit_s=10)
            # Killed with the second step's send recorded: a kill between a send and its
            # record repeats that send after the takeover (at-least-once, invariant 4),
            # which is the delivery tests' subject; here it is the ladder's steps.
            await wait_deliveries_idle(redis)
            for rep in replicas:
                rep.kill(signal.SIGKILL)
            await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
            await until(lambda: (seen(), len(recorder.got) >= 4)[1], limit_s=15)
            # Nothing more may come: no step left on any ladder, no delivery queued or due.
            await until(ladders_ended, 20, "no escalation step left")
            await wait_deliveries_idle(redis)
            seen()
    finally:
        for rep in replicas:
            if rep.proc is not None:
                rep.kill(signal.SIGTERM)
    steps = [(g["alert"]["labels"]["instance"], g["path"].strip("/")) for g in recorder.got]
    inst_a = body()["alerts"][0]["labels"]["instance"]
    # Each step once, in order; the acked alert stopped after its first.
    assert [s for s in steps if s[0] == inst_a] == [(inst_a, "level1"), (inst_a, "level2"),
                                                    (inst_a, "level3")]  # fmt: skip
    assert [s for s in steps if s[0] == "b"] == [("b", "level1")]
    # At their due times (2 s, 4 s), within a second; the third after the restart, late by
    # the restart at most.
    assert 1.5 <= arrived[f"{inst_a}/level1"] <= 3.5
    assert 3.5 <= arrived[f"{inst_a}/level2"] <= 5.5
    assert arrived[f"{inst_a}/level3"] >= 6.5
    levels = [g["escalation"]["level"] for g in recorder.got if g["alert"]["labels"]
              ["instance"] == inst_a]  # fmt: skip
    assert levels == [1, 2, 3]
    assert {g["reason"] for g in recorder.got} == {"escalated"}
