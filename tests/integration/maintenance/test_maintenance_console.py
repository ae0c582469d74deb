"""The console's maintenance page over HTTP: windows listed with what is in force, and
the "End now" button: CSRF-checked, scope `oncall` only, and it releases what the window
held."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from receiver.store.keys import Keys
from tests.conftest import READ_TOKEN, AppFactory
from tests.helpers import until
from tests.integration.ack.test_ack_api import body
from tests.integration.maintenance.test_maintenance import add_window, iso, post, reasons
from tests.integration.web.console import SECRET, csrf, login
from tests.servers.recorder import Recorder

ONCALL = "oncall-token-0123456789"
TOKENS = [{"name": "reader", "token": READ_TOKEN, "scopes": ["read"]},
          {"name": "oncall", "token": ONCALL, "scopes": ["oncall"]}]  # fmt: skip


async def test_the_page_lists_windows_and_end_now_releases(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    settings = {"run_workers": True, "console": {"session_secret": SECRET}, "api_tokens": TOKENS,
                "anonymous_read": False,
                "receivers": {"hook": {"type": "webhook", "url": recorder.url("hook"),
                                       "rate": "none"}},
                "route": {"receivers": ["hook"]}}  # fmt: skip
    client = await app_client(**settings)
    now = time.time()
    w = await add_window(client, now - 5, now + 3600)
    await post(client, body())
    reader = await app_client(**settings)
    await login(reader, READ_TOKEN)
    page = await (await reader.get("/console/maintenance")).text()
    assert "db-patch" in page and f"in maintenance until {iso(now + 3600)}" in page
    assert "End now" not in page  # a reader has no button
    alert = await (await reader.get("/console/alerts/0f3ef813eb86bd39")).text()
    assert "in maintenance: db-patch until" in alert
    # A reader's post is refused and changes nothing.
    r = await reader.post(f"/console/maintenance/{w['id']}/end",
                          data={"csrf": await csrf(reader, "/console/maintenance")},
                          allow_redirects=False)  # fmt: skip
    assert r.status == 403
    await login(client, ONCALL)
    good = await csrf(client, "/console/maintenance")
    r = await client.post(f"/console/maintenance/{w['id']}/end", data={"csrf": "wrong"},
                          allow_redirects=False)  # fmt: skip
    assert r.status == 403
    assert await redis.exists(Keys().maint_ended) == 0
    assert recorder.got == []
    r = await client.post(f"/console/maintenance/{w['id']}/end", data={"csrf": good},
                          allow_redirects=False)  # fmt: skip
    assert r.status == 303 and r.headers["Location"] == f"/console/maintenance?ended={w['id']}"
    await until(lambda: reasons(recorder) == ["maintenance_ended"])
    page = await (await client.get(r.headers["Location"])).text()
    assert f"Window {w['id']} ended." in page and "End now" not in page
