"""The receiver on its HA Redis modes, against real servers: Sentinel (with failovers) and
Cluster (intake, reads, workers, scheduler, one hash slot). `rediss://` when the binary
has TLS.

Each test builds its own topology on free loopback ports under tmp_path and stops every
process it started; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from aiohttp.test_utils import TestClient

from receiver.api.state import STATE
from receiver.store import connection
from receiver.store.connection import MASTER_CHECK_S
from receiver.store.keys import OUTBOX_GROUP, Keys
from tests.conftest import AppFactory, auth, fixture_body
from tests.helpers import until
from tests.integration.store.redis_topologies import (
    ClusterSetup,
    Node,
    SentinelSetup,
    free_port,
    tls_support,
    wait_until,
)
from tests.servers.recorder import Recorder

K = Keys("ar")
FIRING = fixture_body("critical-group-firing")  # 0f3e… and 1d3f…, both critical, firing
MIXED = fixture_body("critical-group-mixed-resolved")  # 0f3e… resolved, 1d3f… unchanged
WARNING = fixture_body("warning-firing")  # 67cd…, warning
Got = list[dict[str, Any]]
Serve = Callable[..., Awaitable[TestClient[Any, Any]]]


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[SentinelSetup]:
    setup = SentinelSetup(tmp_path / "sentinel")
    setup.start()
    yield setup
    setup.stop()


@pytest.fixture
def cluster_setup(tmp_path: Path) -> Iterator[ClusterSetup]:
    setup = ClusterSetup(tmp_path / "cluster")
    setup.start()
    yield setup
    setup.stop()


@pytest.fixture
def serve(app_client: AppFactory) -> Serve:
    """`await serve(redis_cfg, run_workers=..., **settings)` → a TestClient on a real socket."""

    async def factory(redis_cfg: dict[str, Any], run_workers: bool = False,
                      **overrides: Any) -> TestClient[Any, Any]:  # fmt: skip
        workers = {"concurrency": 4, "visibility_timeout": "30s"}
        settings = {"redis": redis_cfg, "workers": workers} | overrides
        client: TestClient[Any, Any] = await app_client(run_workers=run_workers, **settings)
        return client

    return factory


def hook_settings(url: str, rate: str = "none", burst: int = 1) -> dict[str, Any]:
    return {
        "receivers": {"hook": {"type": "webhook", "url": url, "rate": rate, "burst": burst}},
        "route": {"receivers": ["hook"]},
    }


# --- helpers --------------------------------------------------------------------------


async def post_ok(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200, await resp.text()
    summary: dict[str, Any] = await resp.json()
    return summary


async def post_until_ok(
    client: TestClient[Any, Any], body: dict[str, Any], within: float
) -> tuple[list[int], dict[str, Any]]:
    """Post like Alertmanager retrying: 503 is the only acceptable answer before the 200."""
    statuses: list[int] = []
    deadline = time.monotonic() + within
    while True:
        resp = await client.post("/webhook", json=body, headers=auth())
        statuses.append(resp.status)
        if resp.status == 200:
            return statuses, await resp.json()
        text = await resp.text()
        assert resp.status == 503, f"{resp.status} during a failover: {text}"
        assert json.loads(text)["error"] == "unavailable"
        assert time.monotonic() < deadline, f"still 503 after {within}s: {statuses}"
        await asyncio.sleep(0.1)


async def assert_alert(
    client: TestClient[Any, Any], alert: dict[str, Any], body: dict[str, Any], **expect: Any
) -> dict[str, Any]:
    """GET /api/v1/alerts/{fp} answers the alert as `body` carried it (plus `expect`)."""
    resp = await client.get(f"/api/v1/alerts/{alert['fingerprint']}")
    assert resp.status == 200, await resp.text()
    rec: dict[str, Any] = await resp.json()
    assert rec["status"] == alert["status"]
    assert rec["labels"] == alert["labels"]
    assert rec["annotations"] == alert["annotations"]
    assert rec["groupKey"] == body["groupKey"]
    for k, v in expect.items():
        assert rec[k] == v, (k, rec[k], v)
    return rec


def notified(got: Got) -> Counter[tuple[str, str]]:
    return Counter((g["alert"]["fingerprint"], g["reason"]) for g in got)


def metric(client: TestClient[Any, Any], name: str, **labels: str) -> float:
    app = client.app
    assert app is not None
    value = app[STATE].metrics.registry.get_sample_value(f"alert_receiver_{name}", labels)
    return float(value or 0.0)


def outbox_drained(r: sync_redis.Redis | sync_redis.RedisCluster) -> bool:
    """Every job of the outbox delivered and acknowledged (none waiting, none pending)."""
    if r.xlen(K.outbox) or r.zcard(K.delayed):
        return False
    pending = r.xpending(K.outbox, OUTBOX_GROUP)
    return int(pending["pending"]) == 0


def relabelled(body: dict[str, Any], instance: str) -> dict[str, Any]:
    """`body` with one alert on a new instance and no fingerprint (the receiver computes it)."""
    out: dict[str, Any] = json.loads(json.dumps(body))
    alert = out["alerts"][0]
    alert["labels"]["instance"] = instance
    del alert["fingerprint"]
    out["alerts"] = [alert]
    return out


async def fingerprint_of(client: TestClient[Any, Any], instance: str) -> str:
    resp = await client.get("/api/v1/alerts", params={"instance": instance})
    assert resp.status == 200, await resp.text()
    alerts = (await resp.json())["alerts"]
    assert len(alerts) == 1, alerts
    return str(alerts[0]["fingerprint"])


# --- Sentinel -------------------------------------------------------------------------


def sentinel_cfg(s: SentinelSetup) -> dict[str, Any]:
    return {"sentinels": [f"127.0.0.1:{s.sport}"], "master_name": s.MASTER_NAME}


async def drained_and_replicated(master: Node, replicas: int, what: str) -> None:
    """Every job delivered and acknowledged, and all of it on `replicas` replicas."""
    with master.client() as m:
        await asyncio.to_thread(wait_until, lambda: outbox_drained(m), 15, what)
        assert m.wait(replicas, 2000) >= replicas


async def test_sentinel_intake_survives_switchover_and_master_crash(
    sentinel_setup: SentinelSetup, serve: Serve, recorder: Recorder
) -> None:
    s = sentinel_setup
    old = s.master
    url, got = recorder.url(), recorder.got
    client = await serve(sentinel_cfg(s), run_workers=True, **hook_settings(url))
    health = await (await client.get("/health")).json()
    assert health["redis"]["mode"] == "sentinel" and health["status"] == "ok", health

    # 1. The master sentinel names takes the fixtures; they read back and are delivered.
    assert await post_ok(client, FIRING) == {
        "status": "ok", "accepted": 2, "new": 2, "changed": 0, "unchanged": 0,
        "notifications": 2,
        "digested": 0,
    }  # fmt: skip
    assert (await post_ok(client, WARNING))["new"] == 1
    for alert in FIRING["alerts"]:
        await assert_alert(client, alert, FIRING, receive_count=1)
    await assert_alert(client, WARNING["alerts"][0], WARNING, receive_count=1)
    with old.client() as m:
        assert m.hget(K.alert("0f3ef813eb86bd39"), "status") == "firing"  # really there
    await drained_and_replicated(old, 2, "first deliveries")

    # 2. A planned switchover (SENTINEL FAILOVER). The old master stays up and writable
    # until sentinel demotes it (~10 s later), wiping what it took meanwhile: once
    # sentinel names the new master, the app's pooled connections must follow it.
    await asyncio.to_thread(s.failover)
    new = await asyncio.to_thread(s.wait_new_master, old, 20)
    await asyncio.sleep(MASTER_CHECK_S + 0.1)
    statuses, summary = await post_until_ok(client, MIXED, within=15)
    assert set(statuses[:-1]) <= {503}, statuses
    assert summary | {} == {
        "status": "ok", "accepted": 2, "new": 0, "changed": 1, "unchanged": 1,
        "notifications": 1,
        "digested": 0,
    }, summary  # fmt: skip
    with new.client() as m:  # committed on the new master, not on the one being demoted
        assert m.hget(K.alert("0f3ef813eb86bd39"), "status") == "resolved"
        assert m.hget(K.alert("1d3f58b2d7994044"), "receive_count") == "2"
    resolved = await assert_alert(client, MIXED["alerts"][0], MIXED)
    assert [h["status"] for h in resolved["history"]] == ["resolved", "firing"]
    await assert_alert(client, MIXED["alerts"][1], MIXED, receive_count=2)
    await assert_alert(client, WARNING["alerts"][0], WARNING, receive_count=1)
    other = next(r for r in s.replicas if r is not new)
    await asyncio.to_thread(wait_until, lambda: s.follows(other, new), 15, "replica moved")
    await asyncio.to_thread(s.wait_failover_end, new, 15)
    await drained_and_replicated(new, 1, "resolve delivered")

    # 3. A crash: kill -9 the current master. Sentinel promotes the other replica;
    # meanwhile the webhook answers 503 (Alertmanager retries), then 200 again.
    new.kill9()
    crash = relabelled(WARNING, "after-crash:9100")
    statuses, summary = await post_until_ok(client, crash, within=25)
    assert set(statuses[:-1]) <= {503}, statuses
    assert (summary["new"], summary["notifications"]) == (1, 1), summary
    assert s.master_addr()[1] != new.port
    # What was answered 200 before the crash had been replicated: all still readable.
    resolved = await assert_alert(client, MIXED["alerts"][0], MIXED)
    assert [h["status"] for h in resolved["history"]] == ["resolved", "firing"]
    await assert_alert(client, FIRING["alerts"][1], FIRING, receive_count=2)
    await assert_alert(client, WARNING["alerts"][0], WARNING, receive_count=1)
    fp = await fingerprint_of(client, "after-crash:9100")
    await assert_alert(client, crash["alerts"][0] | {"fingerprint": fp}, crash, receive_count=1)

    # Every notification went out exactly once, across both failovers.
    want = {
        ("0f3ef813eb86bd39", "new"): 1, ("1d3f58b2d7994044", "new"): 1,
        ("67cd633fe23d9d69", "new"): 1, ("0f3ef813eb86bd39", "resolved"): 1, (fp, "new"): 1,
    }  # fmt: skip
    last = next(n for n in s.nodes if n.port == s.master_addr()[1])
    with last.client() as m:
        # Nothing queued, in flight or due: a duplicate would have arrived by now.
        await asyncio.to_thread(wait_until, lambda: outbox_drained(m), 15, "last delivery")
    assert notified(got) == want
    await asyncio.sleep(0.3)  # the scenario's settling time before /health (heartbeats recover)
    assert metric(client, "deliveries_total", destination="hook", outcome="ok") == 5
    health = await (await client.get("/health")).json()
    assert health["status"] == "ok", health


@pytest.mark.parametrize("durability", [{}, {"replicas": 1}], ids=["plain", "replicas_1"])
async def test_sentinel_connection_to_a_demoted_master_moves_on(
    tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch, durability: dict[str, Any]
) -> None:
    """The old master turned replica under the app's pooled connection (not by sentinel,
    which would also kill its clients): the intake script's write is refused there
    (Redis 6 reports READONLY inside a script error). That refusal alone must move the
    connection to the master sentinel names: the periodic check is switched off here.
    With `redis.durability` the script goes in a pipeline with its WAIT: the same holds."""
    monkeypatch.setattr(connection, "MASTER_CHECK_S", 1e9)  # ask sentinel on connect only
    s = SentinelSetup(tmp_path / "sentinel", replicas=1)
    s.start()
    try:
        old = s.master
        client = await serve(sentinel_cfg(s) | {"durability": durability})
        assert (await post_ok(client, FIRING))["new"] == 2
        with old.client() as m:
            assert m.wait(1, 2000) == 1
        await asyncio.to_thread(s.failover)
        new = await asyncio.to_thread(s.wait_new_master, old, 20)
        with old.client() as m:
            assert m.replicaof("127.0.0.1", new.port)
        await asyncio.to_thread(wait_until, lambda: s.follows(old, new), 15, "old follows new")
        statuses, summary = await post_until_ok(client, MIXED, within=10)
        assert statuses == [200]  # moved within the request: redis-py retries the call
        assert (summary["changed"], summary["unchanged"]) == (1, 1), summary
        with new.client() as m:
            assert m.hget(K.alert("0f3ef813eb86bd39"), "status") == "resolved"
        resolved = await assert_alert(client, MIXED["alerts"][0], MIXED)
        assert [h["status"] for h in resolved["history"]] == ["resolved", "firing"]
    finally:
        s.stop()


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        # Redis 6.2, as redis-py reports them (the error code stays inside the message).
        ("Error running script (call to f_87fa): @user_script:1: @user_script: 1: "
         "-READONLY You can't write against a read only replica.", True),
        ("Error running script (call to f_87fa): @user_script:1: @user_script: 1: "
         "-NOREPLICAS Not enough good replicas to write.", True),
        ("NOREPLICAS Not enough good replicas to write.", True),
        ("@user_script: 1: -NOREPLICAS Not enough good replicas to write.", True),
        ("Error running script (call to f_87fa): @user_script:3: user_script:3: "
         "attempt to compare nil with number", False),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", False),
    ],
)  # fmt: skip
def test_refused_write_errors(message: str, refused: bool) -> None:
    assert bool(connection._REFUSED_WRITE.search(message)) is refused


# --- Cluster --------------------------------------------------------------------------


async def test_cluster_intake_delivery_scheduler_and_one_slot(
    cluster_setup: ClusterSetup, serve: Serve, recorder: Recorder
) -> None:
    c = cluster_setup
    url, got = recorder.url(), recorder.got
    # 1/s burst 1: the second critical of a body waits on the delayed set, so the
    # scheduler's scripts (due.lua) run on the cluster too.
    client = await serve({"url": c.url, "cluster": True}, run_workers=True,
                         **hook_settings(url, rate="1/s", burst=1))  # fmt: skip
    health = await (await client.get("/health")).json()
    assert health["redis"]["mode"] == "cluster" and health["status"] == "ok", health

    assert (await post_ok(client, FIRING))["new"] == 2
    assert (await post_ok(client, WARNING))["new"] == 1
    # Two criticals in one body: the second one waits for its slot on the delayed set.
    assert metric(client, "throttled_total", destination="hook", action="delayed") >= 1
    firsts = {
        ("0f3ef813eb86bd39", "new"): 1, ("1d3f58b2d7994044", "new"): 1,
        ("67cd633fe23d9d69", "new"): 1,
    }  # fmt: skip

    async def delivered(n: int) -> bool:
        return sum(notified(got).values()) >= n

    # Delivered before the resolve is posted: a job still waiting when a newer decision
    # is made for its alert is dropped by the worker (superseded), by design.
    await until(lambda: delivered(3), 15, "three notifications at the recorder")
    assert notified(got) == firsts
    assert await post_ok(client, MIXED) | {} == {
        "status": "ok", "accepted": 2, "new": 0, "changed": 1, "unchanged": 1,
        "notifications": 1,
        "digested": 0,
    }  # fmt: skip

    resolved = await assert_alert(client, MIXED["alerts"][0], MIXED, receive_count=2)
    assert [h["status"] for h in resolved["history"]] == ["resolved", "firing"]
    await assert_alert(client, MIXED["alerts"][1], MIXED, receive_count=2)
    await assert_alert(client, WARNING["alerts"][0], WARNING, receive_count=1)
    listed = await (await client.get("/api/v1/alerts", params={"status": "firing"})).json()
    assert sorted(a["fingerprint"] for a in listed["alerts"]) == [
        "1d3f58b2d7994044", "67cd633fe23d9d69",
    ]  # fmt: skip

    want = firsts | {("0f3ef813eb86bd39", "resolved"): 1}
    await until(lambda: delivered(4), 15, "the resolve at the recorder")
    holder = c.nodes[0]
    with sync_redis.RedisCluster(host="127.0.0.1", port=holder.port,
                                 decode_responses=True) as rc:  # fmt: skip
        # Nothing queued, in flight or due: a duplicate would have arrived by now.
        await asyncio.to_thread(wait_until, lambda: outbox_drained(rc), 10, "outbox drained")
    assert notified(got) == want
    assert metric(client, "scheduler_moved_total", kind="due") >= 1
    assert metric(client, "deliveries_total", destination="hook", outcome="ok") == 4
    assert metric(client, "redis_errors_total", op="intake") == 0

    # Every key the receiver wrote, on whichever node holds it: one slot, the `{ar}` tag's.
    keys = c.all_keys()
    for fp in ("0f3ef813eb86bd39", "1d3f58b2d7994044", "67cd633fe23d9d69"):
        assert {K.alert(fp), K.history(fp), K.notified(fp)} <= keys.keys()
    assert {K.index, K.expiry, K.outbox, K.bucket("hook")} <= keys.keys()
    with holder.client() as n:
        slots = {key: int(n.execute_command("CLUSTER KEYSLOT", key)) for key in keys}
        tag_slot = int(n.execute_command("CLUSTER KEYSLOT", "ar"))
    assert set(slots.values()) == {tag_slot}, slots
    assert len(set(keys.values())) == 1, keys  # hence one node holds them all


# --- TLS ------------------------------------------------------------------------------


async def test_rediss_url(tmp_path: Path, serve: Serve) -> None:
    why = tls_support(tmp_path / "probe")
    if why is not None:
        pytest.skip(f"rediss:// not testable here: {why}")
    if shutil.which("openssl") is None:
        pytest.skip("rediss:// not testable here: no openssl to make a certificate")
    tls = tmp_path / "tls"
    tls.mkdir()
    await asyncio.to_thread(
        subprocess.run,
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    port, tls_port = free_port(), free_port()
    node = Node(tls, port, [
        "--port", str(port), "--tls-port", str(tls_port), "--bind", "127.0.0.1",
        "--dir", str(tls), "--save", "", "--tls-cert-file", str(tls / "cert.pem"),
        "--tls-key-file", str(tls / "key.pem"), "--tls-ca-cert-file", str(tls / "cert.pem"),
        "--tls-auth-clients", "no",
    ])  # fmt: skip
    node.start()
    try:
        ca = tls / "cert.pem"
        client = await serve({"url": f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={ca}"})
        assert (await post_ok(client, FIRING))["new"] == 2
        await assert_alert(client, FIRING["alerts"][0], FIRING, receive_count=1)
        with node.client() as plain:  # the same data, seen over the plain port
            assert plain.hget(K.alert("0f3ef813eb86bd39"), "status") == "firing"
    finally:
        node.stop()
