"""`redis.durability` against real redis-server and redis-sentinel processes: a 2xx that
survives the loss of the master (`replicas: 1`), `fsync: always` on the embedded server,
and the start-up refusal of what the server's version cannot do.

Replication is held back with a relay between replica and master (redis_topologies.Relay):
the master's writes are then in no replica when it is SIGKILLed, as when its host is lost
within the second, which is what WAIT is for. Every wait is bounded; every process is
stopped by its own pid.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from receiver.models import fingerprint
from receiver.server.app import create_app
from receiver.store.durability import DurabilityRefused
from receiver.store.keys import Keys
from tests.conftest import (
    ROOT,
    TOKEN,
    AppFactory,
    RedisServer,
    Serve,
    auth,
    fixture_body,
    free_port,
    make_settings,
)
from tests.integration.oncall.test_oncall_api import ONCALL_CONFIG, TOKENS, bearer
from tests.integration.store.redis_topologies import Node, Relay, SentinelSetup, wait_until
from tests.integration.store.test_redis_modes import metric, post_until_ok, relabelled

K = Keys("ar")
WARNING = fixture_body("warning-firing")
TOKEN_OF = {str(t["name"]): str(t["token"]) for t in TOKENS}
ACKER, ADMIN, ONCALL = TOKEN_OF["acker"], TOKEN_OF["ops"], TOKEN_OF["pager-bot"]
Client = TestClient[Any, Any]
# A replica's first sync starts at once (Redis 7 waits 5 s for more replicas to share it).
NO_SYNC_DELAY = ("--repl-diskless-sync-delay", "0")


def one_alert(instance: str) -> dict[str, Any]:
    """A one-alert body of its own (a new fingerprint)."""
    return relabelled(WARNING, instance)


def fp_of(body: dict[str, Any]) -> str:
    return fingerprint(body["alerts"][0]["labels"])


def stored(node: Node, fp: str) -> dict[str, str]:
    with node.client() as c:
        return dict(c.hgetall(K.alert(fp)))


def outbox_jobs(node: Node) -> Counter[str]:
    """Delivery jobs waiting in the outbox, by alert fingerprint."""
    with node.client() as c:
        entries = c.xrange(K.outbox)
    return Counter(json.loads(fields["job"])["alert"]["fingerprint"] for _, fields in entries)


async def post(client: Client, body: dict[str, Any]) -> int:
    resp = await client.post("/webhook", json=body, headers=auth())
    return resp.status


async def health(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/health")).json()
    return body


# --- 1. the loss of the master, shown -------------------------------------------------


@pytest.fixture
def stalled_sentinel(tmp_path: Path) -> Iterator[SentinelSetup]:
    """One master, one replica (through a relay), three sentinels (quorum 2). A long
    failover timeout keeps sentinel from pointing the replica past the relay."""
    s = SentinelSetup(tmp_path / "sentinel", replicas=1, sentinels=3, relay=True,
                      failover_timeout_ms=60_000, extra=NO_SYNC_DELAY)  # fmt: skip
    s.start()
    yield s
    s.stop()


@pytest.mark.parametrize("durable", [False, True], ids=["everysec", "replicas_1"])
async def test_a_2xx_survives_losing_the_master_only_with_replicas(
    stalled_sentinel: SentinelSetup, app_client: AppFactory, durable: bool
) -> None:
    s, relay = stalled_sentinel, stalled_sentinel.relays[0]
    old = s.master
    redis_cfg: dict[str, Any] = {"sentinels": [n.addr for n in s.sentinels],
                                 "master_name": s.MASTER_NAME}  # fmt: skip
    if durable:
        redis_cfg["durability"] = {"replicas": 1, "timeout": "500ms"}
    client = await app_client(redis=redis_cfg)

    # Replication flowing: answered 200 and on the replica.
    before = [one_alert(f"before-{i}:9100") for i in range(3)]
    assert [await post(client, b) for b in before] == [200] * 3
    with old.client() as m:
        assert m.wait(1, 5000) == 1

    # The replica's link held back: the master takes writes no replica has.
    relay.hold()
    stalled = [one_alert(f"stalled-{i}:9100") for i in range(5)]
    codes = await asyncio.gather(*(post(client, b) for b in stalled))
    assert all(stored(old, fp_of(b)) for b in stalled)  # written on the master
    if durable:
        assert codes == [503] * 5  # WAIT found no replica with them: Alertmanager retries
        assert metric(client, "durability_unconfirmed_total", operation="intake",
                      shortfall="replicas") >= 1  # fmt: skip
        h = await health(client)
        assert h["components"]["durability"] == "unconfirmed", h
        assert "acknowledged by 0 of 1 replicas" in h["errors"]["durability"], h
    else:
        assert codes == [200] * 5

    # The master's host is lost; sentinel promotes the replica.
    old.kill9()
    new = await asyncio.to_thread(s.wait_new_master, old, 30)
    answered = [fp_of(b) for b in before] + [
        fp_of(b) for b, code in zip(stalled, codes, strict=True) if 200 <= code < 300
    ]
    missing = [fp for fp in answered if not stored(new, fp)]
    if not durable:
        # The old gap: five alerts answered 200 are gone, and Alertmanager will not send
        # them again before their repeat_interval.
        assert missing == [fp_of(b) for b in stalled]
        return
    assert missing == []  # every 2xx'd alert is on the new master
    assert not any(stored(new, fp_of(b)) for b in stalled)  # the 503'd ones died with it

    # The lost node comes back as a replica of the new master; Alertmanager's retries of
    # the 503'd bodies land, once each.
    back = Node(old.workdir, old.port, [*old.args, "--replicaof", "127.0.0.1", str(new.port)])
    back.start()
    try:
        await asyncio.to_thread(wait_until, lambda: s.follows(back, new), 20, "old node back")
        for b in stalled:
            statuses, summary = await post_until_ok(client, b, within=30)
            assert set(statuses[:-1]) <= {503}, statuses
            assert (summary["new"], summary["notifications"]) == (1, 1), summary
        for b in stalled:
            assert stored(new, fp_of(b))["receive_count"] == "1"
            assert stored(back, fp_of(b))  # and on the replica, as WAIT said
        jobs = outbox_jobs(new)
        assert all(jobs[fp_of(b)] == 1 for b in stalled), jobs
        assert (await health(client))["components"]["durability"] == "ok"
    finally:
        back.stop()


# --- one WAIT per batch; every kind of change confirmed -------------------------------


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[tuple[Node, Relay, Node]]:
    """A master and one replica replicating through a relay (no sentinel: url mode)."""
    from tests.integration.store.redis_topologies import _server_args
    from tests.integration.store.redis_topologies import free_port as port

    mport, rport = port(), port()
    master = Node(tmp_path / "m", mport, [*_server_args(mport, tmp_path / "m"), *NO_SYNC_DELAY])
    relay = Relay(mport)
    replica_args = [*_server_args(rport, tmp_path / "r"), "--replicaof", "127.0.0.1",
                    str(relay.port)]  # fmt: skip
    replica = Node(tmp_path / "r", rport, replica_args)
    relay.start()
    try:
        master.start()
        replica.start()
        wait_until(lambda: SentinelSetup.follows(replica, master, relay.port), 10, "replica up")
        yield master, relay, replica
    finally:
        replica.stop()
        master.stop()
        relay.stop()


def durable_url(master: Node, **durability: Any) -> dict[str, Any]:
    return {"url": f"redis://{master.addr}/0", "socket_timeout": "5s",
            "durability": {"replicas": 1, "timeout": "3s", **durability}}  # fmt: skip


def calls(node: Node, command: str) -> int:
    with node.client() as c:
        stats = c.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_concurrent_webhooks_share_one_wait_per_batch(
    replicated: tuple[Node, Relay, Node], app_client: AppFactory
) -> None:
    """40 webhooks at once while the first batch waits for the replica: they are answered
    by a few script calls, each followed by one WAIT, not by 40 WAITs."""
    master, relay, replica = replicated
    client = await app_client(redis=durable_url(master))
    assert await post(client, one_alert("warm:9100")) == 200
    waits_before = calls(master, "wait")
    relay.hold()
    bodies = [one_alert(f"burst-{i}:9100") for i in range(40)]
    posts = asyncio.gather(*(post(client, b) for b in bodies))

    def blocked() -> bool:
        with master.client() as c:
            return int(c.info("clients")["blocked_clients"]) >= 1

    await asyncio.to_thread(wait_until, blocked, 10, "a batch waiting for its replica")
    relay.release()
    assert await posts == [200] * 40
    waits = calls(master, "wait") - waits_before
    assert 1 <= waits <= 10, waits
    assert all(stored(replica, fp_of(b)) for b in bodies)


async def test_acks_overrides_and_dead_letters_answer_503_until_confirmed(
    replicated: tuple[Node, Relay, Node], app_client: AppFactory
) -> None:
    master, relay, _replica = replicated
    client = await app_client(redis=durable_url(master, timeout="300ms"), api_tokens=TOKENS,
                              oncall=ONCALL_CONFIG)  # fmt: skip
    body = one_alert("acked:9100")
    assert await post(client, body) == 200
    fp = fp_of(body)
    changes = [
        ("ack", "POST", f"/api/v1/alerts/{fp}/ack", {"by": "alice"}, ACKER, 200),
        ("override", "POST", "/api/v1/oncall/primary/overrides", {"who": "bob", "for": "1h"},
         ONCALL, 201),
        ("purge", "DELETE", "/api/v1/dlq", None, ADMIN, 200),
    ]  # fmt: skip
    relay.hold()
    for operation, method, path, payload, token, _ok in changes:
        resp = await client.request(method, path, json=payload, headers=bearer(token))
        assert resp.status == 503, (operation, await resp.text())
        assert metric(client, "durability_unconfirmed_total", operation=operation,
                      shortfall="replicas") == 1, operation  # fmt: skip
    assert stored(master, fp)["ack"]  # applied on the master, not yet confirmed
    relay.release()
    for operation, method, path, payload, token, ok in changes:
        resp = await client.request(method, path, json=payload, headers=bearer(token))
        assert resp.status == ok, (operation, await resp.text())
    assert (await health(client))["components"]["durability"] == "ok"


async def test_the_cli_ack_waits_for_the_replica_like_the_api(
    replicated: tuple[Node, Relay, Node], app_client: AppFactory, tmp_path: Path
) -> None:
    """`alert-receiver ack` is a change its user is told succeeded: held back, it exits 1
    saying the change is not confirmed; released, the same command acks (once)."""
    master, relay, _replica = replicated
    redis_cfg = durable_url(master, timeout="300ms")
    client = await app_client(redis=redis_cfg)
    body = one_alert("cli-acked:9100")
    assert await post(client, body) == 200
    fp = fp_of(body)
    cfg = write_config(tmp_path / "cli.yml", redis_cfg)
    ack = [sys.executable, "-m", "receiver", "ack", fp, "--config", str(cfg), "--by", "alice"]
    relay.hold()
    held = await asyncio.to_thread(subprocess.run, ack, capture_output=True, text=True,
                                   timeout=60, cwd=ROOT)  # fmt: skip
    assert held.returncode == 1 and "not confirmed" in held.stderr, held.stdout + held.stderr
    relay.release()
    done = await asyncio.to_thread(subprocess.run, ack, capture_output=True, text=True,
                                   timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(stored(master, fp)["ack"])["by"] == "alice"


# --- 2. fsync: always on the embedded server ------------------------------------------


def write_config(path: Path, redis: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": [TOKEN]}, "anonymous_read": True, "redis": redis,
        "receivers": {"log": {"type": "log", "rate": "none"}}, "route": {"receivers": ["log"]},
    }))  # fmt: skip
    return path


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_embedded_fsync_always_answers_after_the_fsync(tmp_path: Path, fsync: str) -> None:
    """The embedded server runs with the setting; with `always` Redis fsyncs the AOF in the
    event-loop turn that wrote it, before that turn's replies (the 2xx among them): no
    fsync is ever left to the background thread or postponed (`aof_delayed_fsync`)."""
    import httpx

    cfg = write_config(tmp_path / "c.yml", {"durability": {"fsync": fsync}})
    (tmp_path / "run").mkdir()
    s = Serve(cfg, tmp_path / "run" / "data", free_port())
    s.start()
    try:
        bodies = [one_alert(f"fsync-{i}:9100") for i in range(20)]
        for b in bodies:
            resp = httpx.post(f"{s.url}/webhook", json=b, headers=auth(), timeout=10)
            assert resp.status_code == 200, resp.text
        r = sync_redis.Redis(unix_socket_path=str(tmp_path / "run" / "data" / "redis.sock"),
                             decode_responses=True)  # fmt: skip
        with r:
            assert r.config_get("appendfsync") == {"appendfsync": fsync}
            info = r.info("persistence")
            assert (info["aof_enabled"], info["aof_last_write_status"]) == (1, "ok")
            if fsync == "always":
                assert info["aof_delayed_fsync"] == 0
                assert info["aof_pending_bio_fsync"] == 0  # not handed to the fsync thread
            assert all(r.hget(K.alert(fp_of(b)), "status") == "firing" for b in bodies)
    finally:
        s.kill()


# --- 3. what the server's version cannot do, refused at start-up ----------------------


@pytest.mark.parametrize(
    ("durability", "wanted"),
    [({"fsync": "always"}, "fsync: always"),
     ({"replicas": 1, "replicas_fsync": True}, "replicas_fsync: true")],
)  # fmt: skip
async def test_waitaof_refused_at_start_up_by_a_server_before_7_2(
    redis_server: RedisServer, durability: dict[str, Any], wanted: str
) -> None:
    version = sync_redis.Redis(port=redis_server.port).info("server")["redis_version"]
    if tuple(int(x) for x in str(version).split(".")[:2]) >= (7, 2):
        pytest.skip(f"redis-server {version} has WAITAOF; the refusal is table-tested in "
                    "tests/unit/store/test_durability_policy.py")  # fmt: skip
    settings = make_settings(redis_server.url, redis={"url": redis_server.url,
                                                      "durability": durability})  # fmt: skip
    server = TestServer(create_app(settings), host="127.0.0.1")
    try:
        with pytest.raises(DurabilityRefused) as e:
            await server.start_server()  # the app's startup: before it listens
    finally:
        await server.close()
    assert f"{wanted} needs WAITAOF (Redis >= 7.2); the server runs Redis {version}" in str(e.value)


def test_serve_exits_naming_the_version(tmp_path: Path, redis_server: RedisServer) -> None:
    version = sync_redis.Redis(port=redis_server.port).info("server")["redis_version"]
    if tuple(int(x) for x in str(version).split(".")[:2]) >= (7, 2):
        pytest.skip(f"redis-server {version} has WAITAOF")
    cfg = write_config(tmp_path / "c.yml", {"url": redis_server.url,
                                            "durability": {"fsync": "always"}})  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--config", str(cfg),
         "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert (f"alert-receiver: redis.durability: fsync: always needs WAITAOF (Redis >= 7.2); "
            f"the server runs Redis {version} (redis://127.0.0.1:{redis_server.port}/0)"
            in out.stderr), out.stderr  # fmt: skip
