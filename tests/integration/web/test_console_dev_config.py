"""The quick start's console: config/dev.yml turns it on, and the README says how to log
in (URL and token); logging in with what it says works."""

from __future__ import annotations

import re

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from receiver.server.check import load_settings
from tests.conftest import ROOT, RedisServer


def quick_start() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Quick start") : text.index("\n## ", text.index("## Quick start"))]


def test_the_quick_start_says_where_the_console_is_and_which_token_logs_in() -> None:
    section = quick_start()
    assert re.search(r"<http://127\.0\.0\.1:9095/>", section), section
    tokens = re.findall(r"log in with the\s+dev-only token `([^`]+)`", section)
    assert tokens, section
    dev = (ROOT / "config" / "dev.yml").read_text()
    assert f"token: {tokens[0]}," in dev
    assert re.search(r"^\s+session_secret: dev-only-", dev, re.MULTILINE)  # named dev-only


async def test_the_console_logs_in_on_the_dev_config_with_the_documented_token(
    redis_server: RedisServer, redis: aioredis.Redis
) -> None:
    (token,) = re.findall(r"log in with the\s+dev-only token `([^`]+)`", quick_start())
    # config/dev.yml as run.sh serves it, on the test's Redis instead of an embedded one.
    settings = load_settings(ROOT / "config" / "dev.yml",
                             overrides={"redis": {"url": redis_server.url}})  # fmt: skip
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        r = await client.get("/", allow_redirects=False)  # what a browser opens first
        assert r.status == 303 and r.headers["Location"] == "/console/alerts"
        r = await client.get("/console/alerts", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
        page = await client.get("/login")
        assert page.status == 200 and 'name="token"' in await page.text()
        r = await client.post("/login", data={"token": token}, allow_redirects=False)
        assert r.status == 303 and "ar_console=" in r.headers["Set-Cookie"]
        page = await client.get("/console/alerts")
        assert page.status == 200 and "dev-console" in await page.text()
        assert (await client.get("/console/dlq")).status == 200  # admin: every page
