"""Digests end to end: real `serve` processes on one real Redis, a real SMTP server.

Exactly one email per window across replicas, to whoever is on call, every buffered alert
once in its current state; a replica killed while it holds the send → still exactly one
email; 5,000 warnings into a 1,000-alert digest; `digest preview` equals what `digest flush`
sends; the example config's info alerts reach an email.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
import yaml

from receiver.store.keys import OUTBOX_GROUP, Keys
from tests import helpers
from tests.conftest import ROOT, TOKEN, RedisServer, Serve, auth
from tests.helpers import free_port, wait_until
from tests.servers.smtp import Received, RecordingHandler, SMTPServer

ALICE = "alice@example.com"


class StallingHandler(RecordingHandler):
    """Holds the first MAIL command for `stall` seconds: the sender is mid-send then."""

    stall: float = 0.0
    stalled: bool = False

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:  # fmt: skip
        if self.stall and not self.stalled:
            self.stalled = True
            await asyncio.sleep(self.stall)
        envelope.mail_from = address
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.handler = StallingHandler()
    server.start()
    yield server
    server.stop()


def config(redis_url: str, prefix: str, smtp_port: int, **digest: Any) -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "redis": {"url": redis_url, "key_prefix": prefix},
        "receivers": {"mail": {"type": "email", "host": "127.0.0.1", "port": smtp_port,
                               "tls": "none", "from": "alerts@example.com",
                               "to": ["unused@example.com"], "rate": "none"}},
        "oncall": {"rotations": {"primary": {
            "members": [{"name": "alice", "email": ALICE}], "shift": "1w",
            "handoff": "Mon 09:00"}}},
        "digests": {"default": {"receiver": "mail", "oncall": "primary", "every": "1d",
                                **digest}},
        "route": {"digest": "default"},
        "workers": {"visibility_timeout": "2s", "backoff_base": "1s", "backoff_max": "2s"},
    }  # fmt: skip


def alerts(tag: str, n: int, severity: str = "warning") -> list[dict[str, Any]]:
    return [{"status": "firing", "startsAt": "2026-11-28T09:00:00Z",
             "labels": {"alertname": f"Digest{tag}", "instance": f"host-{i}",
                        "severity": severity, "service": "api"},
             "annotations": {"summary": f"{tag} alert {i}"}} for i in range(n)]  # fmt: skip


def post(url: str, items: list[dict[str, Any]]) -> None:
    body = {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "r",
            "alerts": items}  # fmt: skip
    r = httpx.post(url + "/webhook", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text


def summaries(msg: Received) -> list[str]:
    text = msg.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.findall(r"^- \[(\w+)\] (.+?) \(", text, re.M)


def digest_mails(smtp: SMTPServer, name: str = "default") -> list[Received]:
    return [m for m in smtp.messages if m.message["X-Alert-Digest"] == name]


READER = "reader-token-0123456789"


@pytest.fixture
def start_pair(tmp_path: Path, redis_server: RedisServer, smtp: SMTPServer) -> Iterator[Any]:
    """`start_pair(**digest)` → (two serve processes on one Redis, key prefix, config)."""
    procs: list[Serve] = []

    def start(**digest: Any) -> tuple[list[Serve], str, Path]:
        prefix = "dg" + uuid.uuid4().hex[:8]
        cfg = tmp_path / "config.yml"
        data = config(redis_server.url, prefix, smtp.port, **digest)
        data["api_tokens"] = [{"name": "reader", "token": READER, "scopes": ["read"]}]
        cfg.write_text(yaml.safe_dump(data))
        for i in range(2):
            (tmp_path / f"d{i}").mkdir()
            s = Serve(cfg, tmp_path / f"d{i}" / "data", free_port())
            s.start()
            procs.append(s)
        return procs, prefix, cfg

    yield start
    for s in procs:
        if s.proc is not None:
            s.kill(signal.SIGTERM)


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "receiver", "digest", *args, "--config", str(cfg)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)


def body_text(mail: Received) -> str:
    """The text part as written (SMTP carries it with CRLF line ends)."""
    text: str = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n")


def test_two_replicas_send_each_window_once(
    start_pair: Any, smtp: SMTPServer, redis_server: RedisServer
) -> None:
    (a, b), prefix, _cfg = start_pair(every="2s")
    for i in range(4):  # over a few windows, half through each replica
        post((a, b)[i % 2].url, alerts(f"w{i}", 10))
        post((b, a)[i % 2].url, alerts(f"w{i}", 10))  # the HA copy: a duplicate
        time.sleep(1.0)
    time.sleep(4.5)  # the last window ends and is sent; a second copy would arrive too
    mails = digest_mails(smtp)
    assert mails, "no digest arrived"
    ids = [m.message["Message-ID"] for m in mails]
    assert len(ids) == len(set(ids)), ids  # one email per window
    assert all(m.rcpt_tos == [ALICE] for m in mails)  # whoever is on call
    listed = [s for m in mails for s in summaries(m)]
    assert sorted(listed) == sorted(("FIRING", f"w{i} alert {j}") for i in range(4)
                                    for j in range(10))  # fmt: skip
    r = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert not r.exists(Keys(prefix).digest("default"))  # nothing left behind
    assert not r.keys(f"{Keys(prefix).tag}:digest:default:batch:*")


def test_replica_killed_mid_send_still_one_email(
    start_pair: Any, smtp: SMTPServer, redis_server: RedisServer
) -> None:
    (a, b), prefix, cfg = start_pair()
    handler = smtp.handler
    assert isinstance(handler, StallingHandler)
    handler.stall = 8.0  # the first send hangs at MAIL FROM
    post(a.url, alerts("k", 10))
    flush = subprocess.Popen([sys.executable, "-m", "receiver", "digest", "flush", "default",
                              "--wait", "40", "--config", str(cfg)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_until(lambda: handler.stalled, timeout=20)
    # Whoever holds the job (the consumer is named host-pid) dies in the middle of the send.
    r = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    pending = r.xpending_range(Keys(prefix).outbox, OUTBOX_GROUP, "-", "+", 10)
    (holder,) = {p["consumer"] for p in pending}
    pid = int(holder.rsplit("-", 1)[1])
    victim, survivor = (a, b) if a.proc is not None and a.proc.pid == pid else (b, a)
    assert victim.proc is not None and victim.proc.pid == pid
    victim.kill(signal.SIGKILL)
    _out, err = flush.communicate(timeout=60)
    assert flush.returncode == 0, err
    time.sleep(3)
    (mail,) = digest_mails(smtp)
    assert len(summaries(mail)) == 10
    assert survivor.proc is not None and survivor.proc.poll() is None


def test_preview_is_the_text_that_flush_sends_with_current_states(
    start_pair: Any, smtp: SMTPServer
) -> None:
    (a, b), _prefix, cfg = start_pair()
    post(a.url, alerts("p", 5) + alerts("q", 2, severity="info"))
    post(b.url, alerts("p", 5))  # again, through the other replica: a duplicate
    first = alerts("q", 1, severity="info")[0]
    resolved = first | {"status": "resolved", "endsAt": "2026-11-28T09:05:00Z"}
    post(b.url, [resolved])  # resolved before the send: shown as resolved
    refired = alerts("p", 1)[0] | {"startsAt": "2026-11-28T09:10:00Z"}
    post(a.url, [alerts("p", 1)[0] | {"status": "resolved", "endsAt": "2026-11-28T09:05:00Z"}])
    post(a.url, [refired])  # fired again in the window: one entry, seen twice
    preview = cli(cfg, "preview", "default")
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith('7 alerts in digest "default", 6 still firing.')
    flushed = cli(cfg, "flush", "default")
    assert flushed.returncode == 0, flushed.stderr
    (mail,) = wait_until(lambda: digest_mails(smtp), timeout=20)
    assert body_text(mail) == preview.stdout
    assert ("RESOLVED", "q alert 0") in summaries(mail)
    assert body_text(mail).count("seen 2x") == 1 and body_text(mail).count("seen 1x") == 6
    assert mail.message["Subject"].startswith("[digest default] 7 alerts, 6 still firing — ")
    # Nothing buffered now: a second flush sends nothing.
    again = cli(cfg, "flush", "default")
    assert again.returncode == 0 and "nothing to send" in again.stdout
    time.sleep(1)
    assert len(digest_mails(smtp)) == 1


def test_api_lists_each_digest(start_pair: Any) -> None:
    (a, _b), _prefix, _cfg = start_pair()
    post(a.url, alerts("api", 3))
    assert httpx.get(a.url + "/api/v1/digests").status_code == 401
    r = httpx.get(a.url + "/api/v1/digests", headers={"Authorization": f"Bearer {READER}"})
    assert r.status_code == 200, r.text
    (d,) = r.json()["digests"]
    assert (d["name"], d["pending"], d["over_max"], d["oncall"]) == ("default", 3, 0, "primary")
    assert d["schedule"] == {"every": 86400.0, "timezone": "UTC"} and d["next_due"]


def test_example_config_mails_info_alerts_within_a_window(
    tmp_path: Path, redis_server: RedisServer, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load((ROOT / "config" / "example.yml").read_text())
    mail = data["receivers"]["oncall-email"]
    mail.update(host="127.0.0.1", port=smtp.port, tls="none")
    del mail["username"], mail["password"]
    data["digests"]["hourly"]["every"] = "2s"  # the same digest, a shorter window
    data["listen"] = "127.0.0.1:9095"
    del data["redis"]["durability"]  # the test Redis has no replica to confirm a write
    cfg = tmp_path / "example.yml"
    cfg.write_text(yaml.safe_dump(data))
    for k, v in {"WEBHOOK_TOKEN": TOKEN, "PAGERDUTY_ROUTING_KEY": "k" * 32,
                 "SLACK_BOT_TOKEN": "xoxb-test", "ADMIN_API_TOKEN": "admin-token-0123456789",
                 "REDIS_URL": redis_server.url}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    (tmp_path / "d").mkdir()
    s = Serve(cfg, tmp_path / "d" / "data", free_port())
    s.start()
    try:
        post(s.url, alerts("info", 1, severity="info"))
        (got,) = wait_until(lambda: digest_mails(smtp, "hourly"), timeout=15)
    finally:
        s.kill(signal.SIGTERM)
    assert summaries(got) == [("FIRING", "info alert 0")]
    assert got.rcpt_tos[0] in ("alice@example.com", "bob@example.com")  # on call now


def test_5000_warnings_into_a_1000_alert_digest(
    start_pair: Any, smtp: SMTPServer, redis_server: RedisServer
) -> None:
    (a, _b), prefix, cfg = start_pair(max_alerts=1000)
    for i in range(10):
        body = alerts(f"m{i}", 500)
        r = httpx.post(a.url + "/webhook", json={"version": "4", "groupKey": "{}:{}",
                       "status": "firing", "receiver": "r", "alerts": body}, headers=auth(),
                       timeout=60)  # fmt: skip
        assert r.status_code == 200 and r.json()["digested"] == 500, r.text
        assert r.json()["notifications"] == 0
    r = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    key = Keys(prefix).digest("default")
    assert r.hlen(key) == 1001 and r.hget(key, "_more") == "4000"  # bounded: 1,000 kept
    assert 0 < r.ttl(key) <= 3 * 86400  # and nothing in it lives forever
    size = r.memory_usage(key)
    assert size is not None and size < 200_000, size
    flushed = cli(cfg, "flush", "default")
    assert flushed.returncode == 0, flushed.stderr
    (mail,) = wait_until(lambda: digest_mails(smtp), timeout=30)
    assert len(summaries(mail)) == 1000
    text = body_text(mail)
    assert "...and 4,000 more" in text
    assert mail.message["Subject"].startswith(
        "[digest default] 5,000 alerts, 1,000 of the 1,000 listed still firing — "
    )
    assert not r.exists(key)  # the buffer is empty after the send
    assert not r.keys(f"{Keys(prefix).tag}:digest:default:batch:*")


def test_an_empty_window_sends_all_clear_only_when_asked(start_pair: Any, smtp: SMTPServer) -> None:
    (_a, _b), _prefix, cfg = start_pair(send_empty=True)
    flushed = cli(cfg, "flush", "default")
    assert flushed.returncode == 0, flushed.stderr
    (mail,) = wait_until(lambda: digest_mails(smtp), timeout=20)
    assert mail.message["Subject"].startswith("[digest default] all clear — ")
    assert body_text(mail).startswith("All clear: nothing was buffered")


def test_smtp_trouble_is_retried_and_the_digest_arrives_once(
    start_pair: Any, smtp: SMTPServer, redis_server: RedisServer
) -> None:
    (a, b), prefix, cfg = start_pair()
    smtp.handler.tempfail = {ALICE}  # 450 for the on-call person: try again later
    post(a.url, alerts("t", 3))
    flush = subprocess.Popen([sys.executable, "-m", "receiver", "digest", "flush", "default",
                              "--wait", "40", "--config", str(cfg)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    r = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    wait_until(lambda: r.zcard(Keys(prefix).delayed) == 1, timeout=20)  # a retry is scheduled
    assert digest_mails(smtp) == []
    smtp.handler.tempfail = set()
    _out, err = flush.communicate(timeout=60)
    assert flush.returncode == 0, err
    (mail,) = digest_mails(smtp)
    assert len(summaries(mail)) == 3 and mail.rcpt_tos == [ALICE]
    sent = sum(metric(s.url, "alert_receiver_digests_sent_total", digest="default")
               for s in (a, b))  # fmt: skip
    assert sent == 1


def metric(url: str, name: str, **labels: str) -> float:
    return helpers.metric(httpx.get(url + "/metrics").text, name, **labels)
