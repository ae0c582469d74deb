"""`alert-receiver people test alice --via push` and GET /api/v1/people."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

from tests.conftest import READ_TOKEN, TOKEN, AppFactory, RedisServer, read_auth
from tests.integration.people.common import TOPIC, ntfy, people_config
from tests.servers.ntfy import FakeNtfy
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.smtp import SMTPServer

__all__ = ["ntfy"]


async def test_people_test_sends_one_marked_push(
    tmp_path: Path, redis_server: RedisServer, ntfy: FakeNtfy, smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:  # fmt: skip
    cfg = {"auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
           **people_config(ntfy, smtp, pd, "https://alerts.example.org", "30s")}  # fmt: skip
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "receiver", "people", "test", "alice", "--via", "push",
        "--config", str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "push to alice through ntfy: ok" in out.decode()
    assert len(ntfy.messages) == 1
    m = ntfy.messages[0]
    assert m.topic == TOPIC and m.body["title"].startswith("[TEST] ")
    assert "TEST notification for alice" in m.body["message"]
    assert all(a["label"] != "Acknowledge" for a in m.body.get("actions", []))
    # Someone without that contact method: a clear refusal, nothing sent.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "receiver", "people", "test", "nobody", "--via", "push",
        "--config", str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 2 and "no person 'nobody'" in err.decode()
    assert len(ntfy.messages) == 1


async def test_people_api_masks_phones_and_says_who_is_on_call_where(
    app_client: AppFactory, ntfy: FakeNtfy, smtp: SMTPServer, pd: FakePagerDuty
) -> None:
    cfg = people_config(ntfy, smtp, pd, "https://alerts.example.org", "30s")
    cfg["api_tokens"].append({"name": "reader", "token": READ_TOKEN, "scopes": ["read"]})
    client = await app_client(anonymous_read=False, **cfg)
    assert (await client.get("/api/v1/people")).status == 401
    resp = await client.get("/api/v1/people", headers=read_auth())
    assert resp.status == 200
    (alice,) = (await resp.json())["people"]
    assert alice["contact"]["phone"] == "+49•••••••5678"
    assert "15112345678" not in await resp.text()
    assert alice["notify"] == [{"after": "0s", "via": "push"}, {"after": "30s", "via": "email"}]
    assert alice["rotations"] == ["primary", "secondary"]
    assert alice["on_call_now"] == ["primary", "secondary"]


async def test_the_console_people_page_shows_rules_and_on_call_with_the_phone_masked(
    app_client: AppFactory, ntfy: FakeNtfy, smtp: SMTPServer, pd: FakePagerDuty
) -> None:
    from tests.integration.web.console import console_settings, login

    cfg = people_config(ntfy, smtp, pd, "https://alerts.example.org", "30s")
    del cfg["api_tokens"]
    client = await app_client(**console_settings(**cfg))
    r = await client.get("/console/people", allow_redirects=False)
    assert r.status in (302, 303)  # no session: to the login page
    await login(client, READ_TOKEN)
    r = await client.get("/console/people")
    html = await r.text()
    assert r.status == 200
    assert "alice" in html and "push after 0s, then email after 30s" in html
    assert "+49•••••••5678" in html and "15112345678" not in html
    assert "primary, secondary" in html
    assert 'href="/console/people"' in html
