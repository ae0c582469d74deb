"""The console over HTTP against a real Redis: sessions, CSRF, scopes, headers, escaping,
paging, and the switch that removes it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import READ_TOKEN, AppFactory, auth
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.integration.web.console import (
    ACK_TOKEN,
    ADMIN_TOKEN,
    SECRET,
    alert,
    body,
    console_settings,
    critical,
    csrf,
    login,
)

PAGES = ["/console/alerts", "/console/alerts/0f3ef813eb86bd39", "/console/oncall",
         "/console/digests", "/console/dlq", "/console/health"]  # fmt: skip


async def test_every_console_url_without_a_session_goes_to_the_login_page(
    app_client: AppFactory,
) -> None:
    client = await app_client(**console_settings())
    for path in PAGES:
        r = await client.get(path + "?x=1", allow_redirects=False)
        assert r.status == 303, path
        assert r.headers["Location"].startswith("/login?next=/console"), path
    r = await client.get("/", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/console/alerts"
    for path in ["/console/alerts/0f3ef813eb86bd39/ack", "/console/dlq/replay", "/logout"]:
        r = await client.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/login?next="), path
    page = await client.get("/login")
    assert page.status == 200 and 'name="token"' in await page.text()


async def test_login_sets_a_strict_httponly_expiring_cookie_and_follows_only_local_next(
    app_client: AppFactory,
) -> None:
    client = await app_client(**console_settings())
    r = await login(client, READ_TOKEN, next_="/console/oncall")
    assert r.status == 303 and r.headers["Location"] == "/console/oncall"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie  # plain http here
    assert (await client.get("/console/oncall", allow_redirects=False)).status == 200
    for evil in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]:
        r = await login(client, READ_TOKEN, next_=evil)
        assert r.headers["Location"] == "/console/alerts", evil
    # Behind a TLS-terminating proxy the cookie is Secure.
    r = await client.post("/login", data={"token": READ_TOKEN}, allow_redirects=False,
                          headers={"X-Forwarded-Proto": "https"})  # fmt: skip
    assert "Secure" in r.headers["Set-Cookie"]


async def test_a_wrong_token_or_the_webhook_token_gets_no_session(app_client: AppFactory) -> None:
    client = await app_client(**console_settings())
    for token in ["wrong-token-0123456789", "s3cret-token", ""]:
        r = await login(client, token)
        assert r.status == 401 and "Set-Cookie" not in r.headers
        assert "not valid" in await r.text()
    assert (await client.get("/console/alerts", allow_redirects=False)).status == 303
    # A forged or tampered cookie is no session either.
    client.session.cookie_jar.update_cookies({"ar_console": "s1.e30.AAAA"})
    assert (await client.get("/console/alerts", allow_redirects=False)).status == 303


# Where a state-changing form may come from (guard.foreign_form): each row is refused on
# every console form, the login and the logout, with the 403 page, and changes nothing.
FOREIGN = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame or data: URL posting a valid token (login CSRF)
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://127.0.0.1:1"},  # our host, another port: another origin
    {"Origin": "http://127.0.0.1.evil.example"},
]
FOREIGN_IDS = ["cross-site", "same-site", "evil-origin", "null-origin", "null-same-origin",
               "other-port", "lookalike"]  # fmt: skip


@pytest.mark.parametrize("headers", FOREIGN, ids=FOREIGN_IDS)
async def test_forms_posted_from_elsewhere_are_refused_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, headers: dict[str, str]
) -> None:
    client = await app_client(**console_settings())
    a = critical()
    fp = a["fingerprint"]
    assert (await client.post("/webhook", json=body([a]), headers=auth())).status == 200
    await login(client, ADMIN_TOKEN)
    good = await csrf(client)
    before = await state_snapshot(redis)
    stranger = await app_client(**console_settings())
    r = await stranger.post("/login", data={"token": READ_TOKEN}, headers=headers,
                            allow_redirects=False)  # fmt: skip
    assert r.status == 403 and "Set-Cookie" not in r.headers
    assert "Not accepted" in await r.text()
    for path in [f"/console/alerts/{fp}/ack", "/console/dlq/replay", "/logout"]:
        r = await client.post(path, data={"csrf": good, "comment": "x"}, headers=headers,
                              allow_redirects=False)  # fmt: skip
        assert r.status == 403, path
        assert "Not accepted" in await r.text() and "Nothing was changed" in await r.text()
    assert await state_snapshot(redis) == before
    # The refused logout ended nothing.
    assert (await client.get("/console/alerts", allow_redirects=False)).status == 200


async def test_forms_posted_from_our_own_origin_are_accepted(app_client: AppFactory) -> None:
    client = await app_client(**console_settings())
    own = {"Origin": f"http://{client.host}:{client.port}", "Sec-Fetch-Site": "same-origin"}
    r = await client.post("/login", data={"token": ADMIN_TOKEN}, headers=own,
                          allow_redirects=False)  # fmt: skip
    assert r.status == 303 and "Set-Cookie" in r.headers
    r = await client.post(
        "/console/dlq/replay",
        data={"csrf": await csrf(client)},
        headers={**own, "Sec-Fetch-Site": "none"},
        allow_redirects=False,
    )
    assert r.status == 303
    # No Origin and no Sec-Fetch-Site (curl, an old browser): the CSRF token decides.
    r = await client.post("/logout", data={"csrf": await csrf(client)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"


async def test_pages_carry_the_security_headers(app_client: AppFactory) -> None:
    client = await app_client(**console_settings())
    await login(client, ADMIN_TOKEN)
    for path in [*PAGES, "/login", "/console/static/console.css"]:
        r = await client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = await (await client.get("/console/alerts")).text()
    assert "<script>" not in html and " on" + "click=" not in html  # no inline script


async def test_a_form_without_or_with_a_wrong_csrf_token_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(**console_settings())
    a = critical()
    assert (await client.post("/webhook", json=body([a]), headers=auth())).status == 200
    await login(client, ADMIN_TOKEN)
    good = await csrf(client)
    before = await state_snapshot(redis)
    fp = a["fingerprint"]
    for form in ({"comment": "x"}, {"comment": "x", "csrf": "wrong"}, {"csrf": good[:-2]}):
        r = await client.post(f"/console/alerts/{fp}/ack", data=form, allow_redirects=False)
        assert r.status == 403 and "Nothing was changed" in await r.text()
        r = await client.post("/console/dlq/replay", data=form, allow_redirects=False)
        assert r.status == 403
    # A JSON body (not a form) carries no token either.
    r = await client.post(f"/console/alerts/{fp}/ack", json={"csrf": good})
    assert r.status == 403
    assert await state_snapshot(redis) == before
    # Another session's token is no good: tokens are per session.
    other = await app_client(**console_settings())
    await login(other, ADMIN_TOKEN)
    r = await other.post(f"/console/alerts/{fp}/ack", data={"csrf": good},
                         allow_redirects=False)  # fmt: skip
    assert r.status == 403 and await state_snapshot(redis) == before


async def _on_a_critical_with_the_ack_token(app_client: AppFactory) -> tuple[Any, str, str]:
    """A console logged in with the ack token on a firing critical's page: the client, the
    alert's fingerprint and the page's CSRF token."""
    client = await app_client(**console_settings())
    a = critical()
    fp = a["fingerprint"]
    await client.post("/webhook", json=body([a]), headers=auth())
    await login(client, ACK_TOKEN)
    return client, fp, await csrf(client, f"/console/alerts/{fp}")


async def test_ack_and_unack_from_the_console_are_recorded_with_who_and_comment(
    app_client: AppFactory,
) -> None:
    client, fp, token = await _on_a_critical_with_the_ack_token(app_client)
    r = await client.post(f"/console/alerts/{fp}/ack", allow_redirects=False,
                          data={"csrf": token, "comment": "on it", "name": "alice"})  # fmt: skip
    assert r.status == 303 and r.headers["Location"] == f"/console/alerts/{fp}?done=acked"
    page = await (await client.get(r.headers["Location"])).text()
    assert "Acknowledged by alice (oncall)" in page and "on it" in page
    rec = await (await client.get(f"/api/v1/alerts/{fp}", headers=_bearer(ACK_TOKEN))).json()
    assert rec["acknowledged"] is True and rec["ack"]["via"] == "console"
    (event,) = [h for h in rec["history"] if h.get("event") == "ack"]
    assert event["by"] == "alice (oncall)" and event["comment"] == "on it"
    r = await client.post(f"/console/alerts/{fp}/unack", data={"csrf": token, "comment": "no"},
                          allow_redirects=False)  # fmt: skip
    assert r.headers["Location"].endswith("done=unacked")
    rec = await (await client.get(f"/api/v1/alerts/{fp}", headers=_bearer(ACK_TOKEN))).json()
    assert rec["acknowledged"] is False


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"name": "alice\u202eecila"}, "name: contains a format character U+202E"),
        ({"name": "alice\u2028bob"}, "name: contains a line separator U+2028"),
        ({"name": "x" * 61}, "name: must be at most 60 characters"),
        ({"comment": "on it\u200b"}, "comment: contains a format character U+200B"),
        ({"comment": "\x1b[2J"}, "comment: contains a control character U+001B"),
    ],
    ids=["rtl-override", "line-separator", "long-name", "zero-width-comment", "escape"],
)  # fmt: skip
async def test_ack_form_text_that_would_not_show_as_typed_is_refused_by_field(
    app_client: AppFactory, redis: aioredis.Redis, form: dict[str, str], says: str
) -> None:
    client, fp, token = await _on_a_critical_with_the_ack_token(app_client)
    before = await state_snapshot(redis)
    for op in ("ack", "unack"):
        r = await client.post(f"/console/alerts/{fp}/{op}", data={"csrf": token, **form},
                              allow_redirects=False)  # fmt: skip
        assert r.status == 400 and says in await r.text(), (op, await r.text())
    assert await state_snapshot(redis) == before


async def test_a_read_token_sees_no_ack_button_and_its_post_is_refused(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(**console_settings())
    a = critical()
    fp = a["fingerprint"]
    await client.post("/webhook", json=body([a]), headers=auth())
    await login(client, READ_TOKEN)
    page = await (await client.get(f"/console/alerts/{fp}")).text()
    assert "High" in page or "HighErrorRate" in page
    assert 'id="ack"' not in page and "/ack" not in page
    token = await csrf(client, f"/console/alerts/{fp}")  # the logout form's
    before = await state_snapshot(redis)
    r = await client.post(f"/console/alerts/{fp}/ack", data={"csrf": token},
                          allow_redirects=False)  # fmt: skip
    assert r.status == 403 and "lacks the ack scope" in await r.text()
    assert await state_snapshot(redis) == before
    # Dead letters are for admins only, and not even in a reader's menu.
    assert (await client.get("/console/dlq")).status == 403
    assert 'href="/console/dlq"' not in page


async def test_labels_and_annotations_render_as_text_and_only_web_links_are_links(
    app_client: AppFactory,
) -> None:
    client = await app_client(**console_settings())
    a = alert({"alertname": "Evil", "severity": "critical", "service": "<b>svc</b>",
               "note": "<img src=x onerror=alert(1)>", "tmpl": "{{ 7*7 }}"},
              {"summary": "<script>alert(2)</script>", "runbook_url": "javascript:alert(3)",
               "dashboard_url": "https://grafana.example/d/1?a=1&b=2"})  # fmt: skip
    await client.post("/webhook", json=body([a]), headers=auth())
    await login(client, READ_TOKEN)
    for path in [f"/console/alerts/{a['fingerprint']}", "/console/alerts"]:
        html = await (await client.get(path)).text()
        assert "<img src=x" not in html and "<script>alert" not in html and "<b>svc" not in html
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "onerror" not in html
    page = await (await client.get(f"/console/alerts/{a['fingerprint']}")).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # The label's value as text, never evaluated: no cell holds 49 (the page's clock may).
    assert "{{ 7*7 }}" in page and not re.search(r">\s*49\s*<", page)
    assert 'href="javascript:' not in page
    assert 'href="https://grafana.example/d/1?a=1&amp;b=2"' in page


async def test_firing_alerts_are_listed_newest_first_in_pages_without_repeats(
    app_client: AppFactory,
) -> None:
    client = await app_client(**console_settings())
    # One body of 40 (one intake step: the same millisecond) and 20 bodies after it.
    batch = [critical(instance=f"batch-{i:02}") for i in range(40)]
    await client.post("/webhook", json=body(batch), headers=auth())
    singles = []
    for i in range(20):
        a = critical("Later", instance=f"later-{i:02}")
        singles.append(a["fingerprint"])
        await client.post("/webhook", json=body([a]), headers=auth())
    await login(client, READ_TOKEN)
    seen: list[str] = []
    url = "/console/alerts?limit=25"
    for _ in range(5):
        html = await (await client.get(url)).text()
        seen += re.findall(r'href="/console/alerts/([0-9a-f]{16})"', html)
        nxt = re.search(r'href="([^"]+)" rel="next"', html)
        if not nxt:
            break
        url = nxt[1].replace("&amp;", "&")
    assert len(seen) == 60 and len(set(seen)) == 60
    # Newest first: every later single before the batch (within a page, rows are grouped).
    assert set(seen[:20]) == set(singles)
    assert "60</strong> firing" in html


async def test_filters_by_severity_label_and_acknowledged(app_client: AppFactory) -> None:
    client = await app_client(**console_settings())
    crit = critical(instance="a")
    warn = alert({"alertname": "Slow", "service": "web", "severity": "warning"})
    await client.post("/webhook", json=body([crit, warn]), headers=auth())
    await client.post(f"/api/v1/alerts/{crit['fingerprint']}/ack", json={"by": "bob"},
                      headers=_bearer(ACK_TOKEN))  # fmt: skip
    await login(client, READ_TOKEN)

    async def listed(query: str) -> set[str]:
        html = await (await client.get("/console/alerts?" + query)).text()
        return set(re.findall(r'href="/console/alerts/([0-9a-f]{16})"', html))

    both = {crit["fingerprint"], warn["fingerprint"]}
    assert await listed("") == both
    assert await listed("severity=warning") == {warn["fingerprint"]}
    assert await listed("label=service%3Dapi") == {crit["fingerprint"]}
    assert await listed("acked=yes") == {crit["fingerprint"]}
    assert await listed("acked=no") == {warn["fingerprint"]}
    assert await listed("status=resolved") == set()
    r = await client.get("/console/alerts?severity=bogus")
    assert r.status == 400 and "severity must be" in await r.text()


async def test_an_expired_session_or_a_removed_token_logs_out(app_client: AppFactory) -> None:
    now = [1_800_000_000.0]
    client = await app_client(clock=lambda: now[0], **console_settings())
    await login(client, READ_TOKEN)
    assert (await client.get("/console/alerts", allow_redirects=False)).status == 200
    now[0] += 12 * 3600 + 1
    assert (await client.get("/console/alerts", allow_redirects=False)).status == 303


async def test_a_trusted_proxy_user_needs_no_login_and_others_cannot_claim_to_be_one(
    app_client: AppFactory,
) -> None:
    proxied = {"header": "X-Forwarded-User", "from": ["127.0.0.1/32"], "scopes": ["ack"]}
    client = await app_client(**console_settings(
        console={"session_secret": SECRET, "trusted_proxy": proxied}))  # fmt: skip
    r = await client.get("/console/alerts", headers={"X-Forwarded-User": "carol"})
    assert r.status == 200 and "carol" in await r.text()
    assert "HttpOnly" in r.headers["Set-Cookie"]
    # Without the header, the proxy's address alone is no one.
    fresh = await app_client(**console_settings(
        console={"session_secret": SECRET, "trusted_proxy": proxied}))  # fmt: skip
    assert (await fresh.get("/console/alerts", allow_redirects=False)).status == 303
    # From an address that is not the proxy's, the header is ignored.
    elsewhere = {**proxied, "from": ["10.0.0.0/8"]}
    other = await app_client(**console_settings(
        console={"session_secret": SECRET, "trusted_proxy": elsewhere}))  # fmt: skip
    r = await other.get("/console/alerts", headers={"X-Forwarded-User": "carol"},
                        allow_redirects=False)  # fmt: skip
    assert r.status == 303


async def test_switched_off_the_console_has_no_urls(app_client: AppFactory) -> None:
    for console in ({}, {"enabled": False, "session_secret": SECRET}):
        client = await app_client(**console_settings(console=console))
        for path in ["/", "/login", "/console/alerts", "/console/static/console.css"]:
            assert (await client.get(path, allow_redirects=False)).status == 404, path
        assert (await client.post("/login", data={"token": READ_TOKEN})).status in (404, 405)


async def test_admin_sees_dead_letters_and_health(app_client: AppFactory) -> None:
    client = await app_client(**console_settings())
    await login(client, ADMIN_TOKEN)
    dlq = await client.get("/console/dlq")
    assert dlq.status == 200 and "No dead letters" in await dlq.text()
    health = await (await client.get("/console/health")).text()
    assert "Health" in health and "redis" in health
    assert (await client.get("/console/dlq/1-0")).status == 404
    assert (await client.get("/console/dlq/nonsense")).status == 404


def _bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_an_unknown_console_url_is_a_page_for_browsers_and_json_for_scripts(
    app_client: AppFactory,
) -> None:
    client = await app_client(**console_settings())
    for path in ["/console/nope", "/console/static/missing.css", "/console/alerts/a/b"]:
        r = await client.get(path, headers=BROWSER)
        assert r.status == 404 and r.content_type == "text/html", path
        assert "Not Found" in await r.text() and "There is no such page" in await r.text()
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        r = await client.get(path)  # curl, a probe: no text/html in Accept
        assert r.status == 404 and (await r.json())["error"] == "not_found", path
    # A wrong method on a console page: the page, with Allow kept.
    r = await client.put("/login", headers=BROWSER)
    assert r.status == 405 and r.content_type == "text/html"
    assert set(r.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    r = await client.put("/login")
    assert r.status == 405 and (await r.json())["error"] == "method_not_allowed"
    assert set(r.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    # Outside the console a browser gets the API's JSON.
    r = await client.get("/api/v1/nope", headers=BROWSER)
    assert r.status == 404 and (await r.json())["error"] == "not_found"
