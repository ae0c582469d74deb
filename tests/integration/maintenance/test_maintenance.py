"""Maintenance windows end to end on an injected clock: two replicas sharing one Redis,
real HTTP to a recording webhook destination. Inside a window nothing is sent (repeats
neither); at its end each alert still firing is told once, one that resolved inside never;
a ladder running when the window starts is paused and resumes after it; bad windows and
the wrong scopes are refused and change nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import redis.asyncio as aioredis

from receiver.api.state import SERVICES
from receiver.digest.render import DigestRenderer
from receiver.digest.view import build_view
from receiver.maintenance.runner import MaintenanceRunner
from receiver.metrics import Metrics
from receiver.store.keys import Keys
from tests.conftest import READ_TOKEN, AppFactory, auth, read_auth
from tests.helpers import metric, until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import FP, STARTS, body
from tests.integration.slo.test_slo_intake import Clock
from tests.servers.recorder import Recorder

ONCALL_TOKEN = "oncall-token-0123456789"
TOKENS = [{"name": "oncall", "token": ONCALL_TOKEN, "scopes": ["oncall"]},
          {"name": "reader", "token": READ_TOKEN, "scopes": ["read"]}]  # fmt: skip
BERLIN = ZoneInfo("Europe/Berlin")
NOW = 1_796_000_000.0  # 2026-11-30, a fixed instant for the injected clock


def oncall_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ONCALL_TOKEN}"}


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def other_alert(status: str = "firing") -> dict[str, Any]:
    """A second alert of the same service (another instance), in `status`."""
    b = body(status)
    b["alerts"][0] = {**b["alerts"][0], "labels": {**b["alerts"][0]["labels"],
                                                   "instance": "other:9100"}}  # fmt: skip
    b["alerts"][0].pop("fingerprint", None)
    return b


def settings(rec: Recorder, **extra: Any) -> dict[str, Any]:
    receivers = {n: {"type": "webhook", "url": rec.url(n), "rate": "none"}
                 for n in ("hook", "level1", "level2")}  # fmt: skip
    return {"run_workers": True, "api_tokens": TOKENS, "receivers": receivers,
            "route": {"receivers": ["hook"]}, **extra}  # fmt: skip


async def add_window(client: Any, start: float, end: float, **extra: Any) -> dict[str, Any]:
    window = {"name": "db-patch", "matchers": ['alertname="HighErrorRate"'],
              "reason": "patching", "from": iso(start), "until": iso(end), **extra}  # fmt: skip
    resp = await client.post("/api/v1/maintenance", json=window, headers=oncall_auth())
    assert resp.status == 201, await resp.text()
    got: dict[str, Any] = await resp.json()
    return got


async def post(client: Any, b: dict[str, Any]) -> None:
    resp = await client.post("/webhook", json=b, headers=auth())
    assert resp.status == 200, await resp.text()


def reasons(rec: Recorder, name: str = "hook") -> list[str]:
    return [g["reason"] for g in rec.got if g["path"] == f"/{name}"]


async def settle(redis: aioredis.Redis, clock: Clock, seconds: float = 1.0) -> None:
    """Lets every loop run a few ticks at the current time, then waits for idle."""
    deadline = time.monotonic() + seconds
    await until(lambda: time.monotonic() > deadline, seconds + 5)
    await wait_deliveries_idle(redis)


async def test_two_replicas_mute_inside_a_window_and_tell_once_at_its_end(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock(NOW)
    replicas = [await app_client(clock=clock, **settings(recorder)) for _ in range(2)]
    w = await add_window(replicas[0], NOW - 60, NOW + 600)
    assert w["in_force"] == {"start": iso(NOW - 60), "end": iso(NOW + 600)}
    assert w["created_by"] == "oncall" and w["id"].startswith("rt-")
    # Known on the other replica within a tick; then an alert fires there, repeats on both.
    await settle(redis, clock)
    await post(replicas[1], body())
    clock.t += 30
    await post(replicas[0], body())
    await post(replicas[1], other_alert())
    clock.t += 30
    await post(replicas[0], other_alert("resolved"))  # fired and resolved inside
    await settle(redis, clock)
    assert recorder.got == []
    shown = await (await replicas[1].get(f"/api/v1/alerts/{FP}")).json()
    assert shown["maintenance"] == {
        "window": "db-patch",
        "until": iso(NOW + 600),
        "text": f"in maintenance: db-patch until {iso(NOW + 600)}",
    }
    text = await (await replicas[0].get("/metrics")).text()
    assert metric(text, "alert_receiver_maintenance_active", window="db-patch") == 1
    assert metric(text, "alert_receiver_decisions_total", destination="hook",
                  reason="maintenance") >= 1  # fmt: skip
    # Three firing arrivals inside the window (the resolve is not one), each counted once,
    # by the replica whose intake applied it.
    muted = 0.0
    for r in replicas:
        page = await (await r.get("/metrics")).text()
        muted += metric(page, "alert_receiver_maintenance_muted_total", window="db-patch",
                        mode="mute")  # fmt: skip
    assert muted == 3
    # The end: one notification for the alert still firing, none for the resolved one.
    clock.t = NOW + 601
    await until(lambda: len(recorder.got) >= 1)
    await settle(redis, clock)
    clock.t += 15  # past the second pass (the sweep)
    await settle(redis, clock)
    assert reasons(recorder) == ["maintenance_ended"]
    assert recorder.got[0]["alert"]["fingerprint"] == FP
    # Nothing left muted, no marker on the alert, and a repeat now is a plain duplicate.
    keys = Keys()
    assert await redis.hexists(keys.alert(FP), "maint") == 0
    assert [k async for k in redis.scan_iter(keys.tag + ":maint:muted:*")] == []
    await post(replicas[1], body())
    await settle(redis, clock)
    assert reasons(recorder) == ["maintenance_ended"]
    released = resolved = 0.0
    for r in replicas:
        text = await (await r.get("/metrics")).text()
        resolved += metric(text, "alert_receiver_maintenance_released_total",
                           window="db-patch", outcome="resolved")  # fmt: skip
        released += metric(text, "alert_receiver_maintenance_released_total",
                           window="db-patch", outcome="notified")  # fmt: skip
        assert metric(text, "alert_receiver_maintenance_active", window="db-patch") == 0
    assert released == 1 and resolved == 1  # the one that resolved inside: counted


async def test_a_ladder_at_step_one_is_paused_by_a_window_and_resumes_after(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock(NOW)
    policy = {"p": {"steps": [{"after": "0s", "receivers": ["level1"]},
                              {"after": "60s", "receivers": ["level2"]}]}}  # fmt: skip
    client = await app_client(clock=clock, escalation_policies=policy,
                              **{**settings(recorder), "route": {"receivers": ["hook"],
                                                                  "escalation": "p"}})  # fmt: skip
    await post(client, body())
    await until(lambda: len(reasons(recorder, "level1")) == 1)
    clock.t += 10
    await add_window(client, NOW + 10, NOW + 310)
    await post(client, body())  # a repeat inside: muted
    clock.t = NOW + 120  # step 2 was due at +60, inside the window
    await settle(redis, clock)
    assert reasons(recorder, "level2") == []
    esc = (await (await client.get(f"/api/v1/alerts/{FP}")).json())["escalation"]
    assert esc["level"] == 1
    # The end: the route hears once; step 2 keeps the 50 s it had left when the window began.
    clock.t = NOW + 311
    await until(lambda: reasons(recorder) == ["new", "maintenance_ended"])
    await settle(redis, clock)
    assert reasons(recorder, "level2") == []
    clock.t = NOW + 361
    await until(lambda: len(reasons(recorder, "level2")) == 1)
    clock.t += 600
    await settle(redis, clock)
    assert reasons(recorder, "level2") == ["escalated"]
    assert reasons(recorder, "level1") == ["escalated"]
    assert reasons(recorder) == ["new", "maintenance_ended"]


async def test_ending_a_window_early_releases_at_once_and_the_feed_lists_what_comes(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock(NOW)
    weekly = {"db-weekly": {"matchers": ['service="db"'], "reason": "patching",
                            "created_by": "dba", "rrule": "FREQ=WEEKLY;BYDAY=SA;BYHOUR=2",
                            "duration": "2h", "timezone": "Europe/Berlin"}}  # fmt: skip
    client = await app_client(clock=clock, maintenance={"windows": weekly}, **settings(recorder))
    w = await add_window(client, NOW - 10, NOW + 3600)
    await post(client, body())
    await settle(redis, clock)
    assert recorder.got == []
    resp = await client.delete(f"/api/v1/maintenance/{w['id']}", headers=oncall_auth())
    assert resp.status == 200, await resp.text()
    await until(lambda: reasons(recorder) == ["maintenance_ended"])
    again = await client.delete(f"/api/v1/maintenance/{w['id']}", headers=oncall_auth())
    assert again.status == 409
    listed = await (await client.get("/api/v1/maintenance", headers=read_auth())).json()
    by_id = {x["id"]: x for x in listed["windows"]}
    assert by_id[w["id"]]["in_force"] is None and by_id["db-weekly"]["source"] == "config"
    resp = await client.get(f"/api/v1/maintenance.ics?token={READ_TOKEN}")
    assert resp.status == 200 and resp.content_type == "text/calendar"
    cal = icalendar.Calendar.from_ical(await resp.read())
    starts = [e.decoded("DTSTART").astimezone(BERLIN) for e in cal.walk("VEVENT")]
    # The weekly window's next 8 Saturdays at 02:00 Berlin time (the ended one is gone).
    assert len(starts) == 8
    assert {(s.weekday(), s.hour, s.minute) for s in starts} == {(5, 2, 0)}
    assert await redis.hlen(Keys().maint_windows) == 1
    await settle(redis, clock)
    assert reasons(recorder) == ["maintenance_ended"]


async def test_bad_windows_and_other_scopes_are_refused_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock(NOW)
    client = await app_client(clock=clock, **settings(recorder))
    good: dict[str, Any] = {
        "name": "w",
        "matchers": ['service="db"'],
        "from": iso(NOW),
        "until": iso(NOW + 60),
    }
    bad: list[tuple[dict[str, Any], str]] = [
        ({**good, "from": None, "until": None, "rrule": "FREQ=NEVER", "duration": "1h"}, "rrule"),
        ({**good, "matchers": []}, "at least one matcher"),
        ({**good, "until": iso(NOW - 60)}, "`until` must be after `from`"),
        (
            {**good, "from": None, "until": None, "rrule": "FREQ=DAILY", "duration": "2d"},
            "shortest interval",
        ),
        ({**good, "digest": "nope"}, "undefined digest"),
        ({**good, "name": "no spaces"}, "name"),
    ]
    for given, says in bad:
        window = {k: v for k, v in given.items() if v is not None}
        resp = await client.post("/api/v1/maintenance", json=window, headers=oncall_auth())
        assert resp.status == 400, window
        got = await resp.json()
        assert got["error"] == "invalid_window" and says in got["detail"], got
        assert got["fields"]
    resp = await client.post("/api/v1/maintenance", data=b"{", headers=oncall_auth())
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    for headers in (read_auth(), auth(), {}):
        resp = await client.post("/api/v1/maintenance", json=good, headers=headers)
        assert resp.status in (401, 403), headers
    assert await redis.exists(Keys().maint_windows) == 0
    # A window in force cannot be ended by a reader either.
    w = await add_window(client, NOW - 1, NOW + 60)
    resp = await client.delete(f"/api/v1/maintenance/{w['id']}", headers=read_auth())
    assert resp.status == 403
    assert await redis.exists(Keys().maint_ended) == 0
    missing = await client.delete("/api/v1/maintenance/rt-000000000000", headers=oncall_auth())
    assert missing.status == 404
    await post(client, body())
    await settle(redis, clock)
    assert recorder.got == []  # still in force
    assert STARTS  # the fixture alert's episode (used by body())


async def test_a_digest_window_sends_matching_alerts_to_its_digest_which_says_so(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock(NOW)
    mail = {"type": "email", "host": "127.0.0.1", "from": "a@example.com",
            "to": ["b@example.com"]}  # fmt: skip
    client = await app_client(
        clock=clock,
        digests={"nightly": {"receiver": "mail", "to": ["t@example.com"], "every": "1d"}},
        **{**settings(recorder), "receivers": {**settings(recorder)["receivers"], "mail": mail}},
    )  # fmt: skip
    # The flusher's first tick claims the window that ended at midnight (empty): wait for
    # it, or it would send what this test buffers as a missed window's.
    midnight = Keys().digest_done("nightly", int(NOW - NOW % 86400) * 1000)

    async def first_tick() -> bool:
        return bool(await redis.exists(midnight))

    await until(first_tick, 10, "the digest flusher's first tick")
    await add_window(client, NOW - 10, NOW + 600, digest="nightly")
    await post(client, body())
    await post(client, body())  # a repeat: listed once
    await settle(redis, clock)
    assert recorder.got == []
    buffered = await redis.hgetall(Keys().digest("nightly"))
    assert list(buffered) == [FP]
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    view = build_view("nightly", {FP: (1, int(NOW * 1000), int(NOW * 1000))}, 0, {FP: rec},
                      (NOW - 3600, NOW), "UTC")  # fmt: skip
    text = DigestRenderer().text(view)
    assert f"in maintenance: db-patch until {iso(NOW + 600)}" in text
    # At the end its own destinations hear of it once.
    clock.t = NOW + 601
    await until(lambda: reasons(recorder) == ["maintenance_ended"])
    await settle(redis, clock)
    assert reasons(recorder) == ["maintenance_ended"]


async def test_two_releases_at_once_tell_each_alert_once(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    """Two releases of one occurrence racing (a claim whose lease ran out under a slow
    release, the end and the sweep overlapping): the intake's step lets only the one that
    still finds the alert in the muted set tell it."""
    clock = Clock(NOW)
    client = await app_client(clock=clock, **settings(recorder))
    await add_window(client, NOW - 10, NOW + 600)
    await post(client, body())
    await settle(redis, clock)
    services = client.app[SERVICES]
    m, intake = services.maintenance, services.intake
    (occ,) = m.gate.in_force(int(NOW * 1000))
    runners = [MaintenanceRunner(m.store, m.gate, intake, Metrics(), f"r{i}", clock)
               for i in range(2)]  # fmt: skip
    counts = await asyncio.gather(*(r._release("end", occ) for r in runners))
    await until(lambda: len(recorder.got) >= 1)
    await settle(redis, clock)
    assert reasons(recorder) == ["maintenance_ended"]
    assert sorted(c["notified"] for c in counts) == [0, 1]
