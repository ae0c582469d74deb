"""The console in a real browser (headless Debian Chromium): the acceptance of issue #13.

One browser for the module; each test starts its own receiver on a real socket. The
first test also runs the real Alertmanager binary and the local PagerDuty and Slack
servers. The tests save screenshots of the main pages (see tests/web/browser.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receiver.ack.links import sign
from tests.conftest import READ_TOKEN, AppFactory, auth
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager
from tests.helpers import until
from tests.integration.web.console import ACK_TOKEN, ADMIN_TOKEN, alert, body, console_settings
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.web.browser import Browser, require_browser

ROUTING_KEY = "R" * 32


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium, driver = require_browser()
    b = Browser(chromium, driver)
    yield b
    b.quit()


@pytest.fixture
async def fresh(browser: Browser) -> Browser:
    await browser.fresh()
    return browser


def showcase() -> dict[str, Any]:
    """Rotations and a digest, so the on-call and digest pages have something to show."""
    start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    return {
        "oncall": {"rotations": {
            "primary": {"members": [{"name": "alice", "email": "alice@example.com"},
                                    {"name": "bob", "email": "bob@example.com"}],
                        "shift": "1d", "handoff": "09:00", "timezone": "Europe/Berlin",
                        "start": start},
        }},
        "digests": {"hourly": {"receiver": "mail", "oncall": "primary", "every": "1h"}},
    }  # fmt: skip


def receivers(pd: FakePagerDuty, slack: FakeSlack) -> dict[str, Any]:
    return {
        "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
               "rate": "none"},
        "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                 "api_url": slack.api_url, "rate": "none"},
        "mail": {"type": "email", "host": "127.0.0.1", "port": 1, "tls": "none",
                 "from": "alerts@example.com", "to": ["team@example.com"]},
    }  # fmt: skip


async def test_log_in_open_a_critical_from_alertmanager_and_acknowledge_it(
    app_client: AppFactory, fresh: Browser, pd: FakePagerDuty, slack: FakeSlack
) -> None:
    """Acceptance 1 (and the screenshots of the alert list and the alert page)."""
    am_binary = require_alertmanager()
    client = await app_client(
        run_workers=True,
        **console_settings(
            receivers=receivers(pd, slack), route={"receivers": ["pd", "chat"]}, **showcase()
        ),
    )
    base = str(client.make_url("")).rstrip("/")
    labels = {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical",
              "instance": "checkout-1:8080", "job": "checkout"}  # fmt: skip
    notes = {"summary": "Checkout 5xx above 5%", "runbook_url": "https://runbooks.example/co"}
    async with Alertmanager(base + "/webhook", binary=am_binary) as am:
        await am.post_alerts([make_alert(labels, notes, generator_url="http://prom:9090/g")])
        await until(lambda: len(pd.events) == 1 and len(slack.top_level()) == 1)
    (msg,) = slack.top_level()
    b = fresh

    await b.get(base + "/console/alerts")
    assert "/login?next=" in await b.url()
    await b.screenshot("login")
    await b.type_into("#token", ACK_TOKEN)
    await b.click("#login")
    assert (await b.url()).endswith("/console/alerts")
    assert "Checkout 5xx above 5%" in await b.text("main")
    await b.screenshot("alerts")

    await b.click("table.alerts a")
    assert "CheckoutErrors" in await b.text("h1")
    await b.type_into("#comment", "rolling back the deploy")
    await b.click("#ack")
    page = await b.text("main")
    assert "Acknowledged by oncall" in page
    assert "rolling back the deploy" in await b.text("ol.history")
    await b.screenshot("alert")

    await until(lambda: len(pd.events) == 2 and msg.history)
    assert pd.events[1]["event_action"] == "acknowledge"
    assert pd.events[1]["dedup_key"] == pd.events[0]["dedup_key"]
    assert slack.calls("chat.update") and len(slack.top_level()) == 1
    assert "acknowledged by oncall" in msg.blocks[1]["text"]["text"].lower()


async def test_script_in_labels_stays_text_and_opens_no_dialog(
    app_client: AppFactory, fresh: Browser
) -> None:
    """Acceptance 3."""
    client = await app_client(**console_settings())
    evil = alert(
        {
            "alertname": "Evil",
            "severity": "critical",
            "service": "x",
            "note": "<img src=x onerror=alert(1)>",
            "tmpl": "{{ 7*7 }}",
        },
        {"summary": "<script>alert(2)</script>", "runbook_url": "javascript:alert(3)"},
    )
    assert (await client.post("/webhook", json=body([evil]), headers=auth())).status == 200
    base = str(client.make_url("")).rstrip("/")
    b = fresh
    await b.login(base, READ_TOKEN)
    for path in ["/console/alerts", f"/console/alerts/{evil['fingerprint']}"]:
        await b.get(base + path)
        await asyncio.sleep(0.3)  # time for an injected handler to have fired
        assert not await b.call(b.dialog_open), path
        assert "<script>alert(2)</script>" in await b.text("main")
    text = await b.text("main")
    assert "<img src=x onerror=alert(1)>" in text and "{{ 7*7 }}" in text
    assert not await b.call(lambda: b.find_all("main img"))
    assert not await b.call(lambda: b.find_all('a[href^="javascript"]'))


async def test_without_a_session_pages_ask_to_log_in_and_a_reader_gets_no_ack_button(
    app_client: AppFactory, fresh: Browser
) -> None:
    """Acceptance 2 in the browser (the HTTP-level checks are in tests/integration/web)."""
    client = await app_client(**console_settings())
    a = alert({"alertname": "DiskFull", "service": "db", "severity": "warning"},
              {"summary": "Disk 91% full"})  # fmt: skip
    await client.post("/webhook", json=body([a]), headers=auth())
    base = str(client.make_url("")).rstrip("/")
    b = fresh
    for path in ["/console/alerts", f"/console/alerts/{a['fingerprint']}", "/console/dlq"]:
        await b.get(base + path)
        assert "/login?next=" in await b.url() and await b.call(lambda: b.find("#token"))
    await b.type_into("#token", READ_TOKEN)
    await b.click("#login")
    assert (await b.url()).endswith("/console/dlq")
    assert "lacks the admin scope" in await b.text("main")
    await b.get(f"{base}/console/alerts/{a['fingerprint']}")
    assert "Disk 91% full" in await b.text("main")
    assert not await b.call(lambda: b.find_all("#ack"))
    await b.click("button.link")  # log out
    assert "/login" in await b.url()
    await b.get(base + "/console/alerts")
    assert "/login?next=" in await b.url()


async def test_screenshots_of_on_call_digests_dead_letters_and_health(
    app_client: AppFactory, fresh: Browser, pd: FakePagerDuty, slack: FakeSlack
) -> None:
    """Acceptance 5: the pages a user sees, saved as PNGs."""
    client = await app_client(run_workers=True, **console_settings(
        receivers=receivers(pd, slack), route={"receivers": ["pd"], "routes": [
            {"matchers": ['severity="info"'], "receivers": [], "digest": "hourly"}]},
        **showcase()))  # fmt: skip
    alerts = [alert({"alertname": n, "service": s, "severity": sev, "instance": f"{s}-{i}"},
                    {"summary": f"{n} on {s}-{i}"})
              for n, s, sev, k in [("HighLatency", "api", "critical", 3),
                                   ("QueueBacklog", "worker", "warning", 2),
                                   ("CertExpiresSoon", "edge", "info", 2)]
              for i in range(k)]  # fmt: skip
    await client.post("/webhook", json=body(alerts), headers=auth())
    base = str(client.make_url("")).rstrip("/")
    b = fresh
    await b.login(base, ADMIN_TOKEN)
    await b.screenshot("alerts-grouped")
    for path, name, expect in [("/console/oncall", "oncall", "primary"),
                               ("/console/digests", "digests", "hourly"),
                               ("/console/digests/hourly", "digest-preview", "CertExpiresSoon"),
                               ("/console/dlq", "dead-letters", "Dead letters"),
                               ("/console/health", "health", "Components")]:  # fmt: skip
        await b.get(base + path)
        assert expect in await b.text("main"), path
        await b.screenshot(name)


async def test_an_email_ack_link_acknowledges_from_a_real_browser(
    app_client: AppFactory, fresh: Browser
) -> None:
    """The link's own form passes the origin check a browser's POST meets (Chromium sends
    `Origin: null` from a page whose Referrer-Policy is no-referrer: the page must not be)."""
    secret = "browser-link-secret-0123456789abcdef"
    client = await app_client(ack={"links": {"secret": secret, "base_url": "https://x.example"}})
    a = alert({"alertname": "LinkAck", "service": "mail", "severity": "critical"})
    assert (await client.post("/webhook", json=body([a]), headers=auth())).status == 200
    token = sign(a["fingerprint"], a["startsAt"], int(time.time()) + 3600, secret)
    b = fresh
    await b.get(str(client.make_url(f"/ack/{token}")))
    assert "Acknowledge LinkAck?" in await b.text("h1")
    await b.type_into('input[name="name"]', "Dana")
    await b.click('button[type="submit"]')
    assert await b.text("h1") == "Acknowledged"
    rec = await (await client.get(f"/api/v1/alerts/{a['fingerprint']}")).json()
    assert rec["acknowledged"] is True and rec["ack"]["by"] == "Dana (email link)"
