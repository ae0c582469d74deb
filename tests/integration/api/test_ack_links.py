"""GET/POST /ack/{token}: signed ack links against a real Redis; the link in a real email."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from receiver.ack.links import sign
from receiver.models import fingerprint
from tests.conftest import AppFactory, auth, fixture_body
from tests.helpers import until
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.servers.smtp import SMTPServer

SECRET = "current-link-secret-0123456789abcdef"
PREVIOUS = "previous-link-secret-0123456789abcdef"
BASE = "https://alerts.example.org"
FP = "0f3ef813eb86bd39"  # first alert of critical-group-firing
OTHER_FP = "1d3f58b2d7994044"
STARTS = "2026-11-22T05:12:40.615636185Z"
FORM = {"confirm": "yes"}


def settings(**links: Any) -> dict[str, Any]:
    return {"ack": {"links": {"secret": SECRET, "base_url": BASE, **links}}}


def link(fp: str = FP, starts: str = STARTS, expires: float | None = None,
         secret: str = SECRET) -> str:  # fmt: skip
    expires = expires if expires is not None else time.time() + 3600
    return "/ack/" + sign(fp, starts, int(expires), secret)


async def firing(app_client: AppFactory, **extra: Any) -> TestClient[Any, Any]:
    client = await app_client(**settings(), **extra)
    resp = await client.post("/webhook", json=fixture_body("critical-group-firing"),
                             headers=auth())  # fmt: skip
    assert resp.status == 200
    return client


async def ack_of(client: TestClient[Any, Any], fp: str = FP) -> dict[str, Any] | None:
    rec = await (await client.get(f"/api/v1/alerts/{fp}")).json()
    raw = rec.get("ack")
    return json.loads(raw) if isinstance(raw, str) else raw


def assert_page_safe(resp: Any, html: str, path: str) -> None:
    h = resp.headers
    assert h["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in h["Content-Security-Policy"]
    assert "form-action 'self'" in h["Content-Security-Policy"]
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the
    # confirmation form's own POST, which is refused (see the browser test of the link).
    assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "same-origin"
    assert 'content="no-referrer"' not in html or "<form" not in html
    assert h["Cache-Control"] == "no-store"
    assert "<script" not in html.lower()
    assert path.removeprefix("/ack/") not in html  # the token is never echoed


async def test_get_shows_a_confirmation_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await firing(app_client)
    before = await state_snapshot(redis)
    path = link()
    for _ in range(2):  # a link scanner, then the person
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 200, html
        assert_page_safe(resp, html, path)
        assert "Acknowledge HighErrorRate?" in html and "api-1:8080" in html
        assert '<form method="post">' in html and 'name="confirm" value="yes"' in html
    assert (await client.head(path)).status == 200
    assert await state_snapshot(redis) == before
    assert await ack_of(client) is None


async def test_post_acks_via_email_once(app_client: AppFactory, redis: aioredis.Redis) -> None:
    client = await firing(app_client)
    path = link()
    resp = await client.post(path, data={**FORM, "name": "  Bob   Smith ", "comment": "on it"})
    html = await resp.text()
    assert resp.status == 200, html
    assert_page_safe(resp, html, path)
    assert "<h1>Acknowledged</h1>" in html and "Bob Smith (email link)" in html
    ack = await ack_of(client)
    assert ack is not None
    assert (ack["by"], ack["via"], ack["comment"]) == ("Bob Smith (email link)", "email", "on it")
    assert await ack_of(client, OTHER_FP) is None  # only the link's alert

    before = await state_snapshot(redis)
    again = await client.post(path, data=FORM)
    assert again.status == 200 and "Already acknowledged" in await again.text()
    page = await client.get(path)
    text = await page.text()
    assert page.status == 200 and "Already acknowledged" in text and "Bob Smith" in text
    assert "<form" not in text
    assert await state_snapshot(redis) == before


async def test_post_without_a_name_is_anonymous(app_client: AppFactory) -> None:
    client = await firing(app_client)
    resp = await client.post(link(), data=FORM)
    assert resp.status == 200
    ack = await ack_of(client)
    assert ack is not None and ack["by"] == "anonymous (email link)"


def _forged(fp: str) -> str:
    """A real link's signature on another alert's claim."""
    version, _, mac = link().removeprefix("/ack/").split(".")
    body = link(fp=fp).removeprefix("/ack/").split(".")[1]
    return f"/ack/{version}.{body}.{mac}"


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        (_forged(OTHER_FP), 403, "Link not valid"),  # modified fingerprint
        (link(secret="some-other-secret-0123456789abcdef"), 403, "Link not valid"),
        (link(expires=time.time() - 1), 410, "Link expired"),
        (link()[:-12], 400, "Link incomplete"),  # cut by line wrapping
        ("/ack/not-a-token", 400, "Link incomplete"),
        (link(starts="2026-11-21T00:00:00Z"), 410, "Link for an earlier firing"),
        (link(fp="ffffffffffffffff"), 410, "Alert no longer known"),
    ],
    ids=["modified-fingerprint", "wrong-secret", "expired", "cut", "junk", "other-episode",
         "unknown-alert"],
)  # fmt: skip
async def test_bad_links_get_their_page_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, path: str, status: int, title: str
) -> None:
    client = await firing(app_client)
    before = await state_snapshot(redis)
    for method in ("GET", "POST"):
        resp = await client.request(method, path, data=FORM if method == "POST" else None)
        html = await resp.text()
        assert resp.status == status, (method, html)
        assert f"<h1>{title}</h1>" in html
        assert_page_safe(resp, html, path)
    assert await state_snapshot(redis) == before


async def test_link_of_a_resolved_episode(app_client: AppFactory, redis: aioredis.Redis) -> None:
    client = await firing(app_client)
    resp = await client.post("/webhook", json=fixture_body("critical-group-mixed-resolved"),
                             headers=auth())  # fmt: skip
    assert resp.status == 200
    before = await state_snapshot(redis)
    for method in ("GET", "POST"):
        resp = await client.request(method, link(), data=FORM if method == "POST" else None)
        assert resp.status == 410
        assert "<h1>Alert already resolved</h1>" in await resp.text()
    assert await state_snapshot(redis) == before


async def test_rotation_accepts_the_previous_secret(app_client: AppFactory) -> None:
    client = await app_client(**settings(secret=SECRET, previous_secret=PREVIOUS))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    assert (await client.get(link(secret=SECRET))).status == 200
    resp = await client.post(link(secret=PREVIOUS), data=FORM)
    assert resp.status == 200 and "<h1>Acknowledged</h1>" in await resp.text()
    ack = await ack_of(client)
    assert ack is not None and ack["via"] == "email"
    third = "third-link-secret-0123456789abcdef"
    assert (await client.get(link(fp=OTHER_FP, starts=STARTS, secret=third))).status == 403


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        ({}, {}, 400),  # not from the form (no hidden field)
        ({"confirm": "no"}, {}, 400),
        ({**FORM, "name": "x" * 101}, {}, 400),
        ({**FORM, "comment": "c" * 1001}, {}, 400),
        ({**FORM, "name": "bad\x01name"}, {}, 400),
        (FORM, {"Sec-Fetch-Site": "cross-site"}, 403),
        (FORM, {"Sec-Fetch-Site": "same-site"}, 403),
        (FORM, {"Origin": "null"}, 403),  # sandboxed frame, data: URL: no page of ours
        (FORM, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, 403),
        (FORM, {"Origin": "https://evil.example"}, 403),  # a browser without Sec-Fetch-*
        (FORM, {"Origin": "https://alerts.example.org.evil.example"}, 403),
        (FORM, {"Origin": "http://127.0.0.1:1"}, 403),  # our host, another port
        ('{"confirm": "yes"}', {"Content-Type": "application/json"}, 400),
        ({**FORM, "pad": "p" * 20_000}, {}, 413),
    ],
    ids=["empty", "no", "long-name", "long-comment", "control-char", "cross-site",
         "same-site", "null-origin", "null-origin-same-origin-fetch", "foreign-origin",
         "base-url-lookalike", "other-port", "json", "too-large"],
)  # fmt: skip
async def test_posts_not_from_the_form_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, data: Any, headers: dict[str, str],
    status: int,
) -> None:  # fmt: skip
    client = await firing(app_client)
    before = await state_snapshot(redis)
    resp = await client.post(link(), data=data, headers=headers)
    html = await resp.text()
    assert resp.status == status, html
    if status == 403:
        assert "<h1>Not accepted</h1>" in html and "Nothing was acknowledged" in html
    assert await state_snapshot(redis) == before


@pytest.mark.parametrize("own", ["host", BASE, BASE.upper()], ids=["host", "base-url", "case"])
async def test_posts_from_our_own_origin_ack(app_client: AppFactory, own: str) -> None:
    """Origin is ours when it is the Host the request came to, or ack.links.base_url's
    (a proxy that rewrites Host)."""
    client = await firing(app_client)
    origin = f"http://{client.host}:{client.port}" if own == "host" else own
    resp = await client.post(
        link(), data=FORM, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    )
    assert resp.status == 200 and "<h1>Acknowledged</h1>" in await resp.text()


async def test_not_configured(app_client: AppFactory) -> None:
    client = await app_client()
    resp = await client.get(link())
    assert resp.status == 404 and "not enabled" in await resp.text()


async def test_alert_text_is_escaped(app_client: AppFactory) -> None:
    body = fixture_body("warning-firing")
    alert = body["alerts"][0]
    alert["labels"]["instance"] = '<script>alert("x")</script>'
    alert["annotations"]["summary"] = "<b>disk</b> & more"
    alert["fingerprint"] = fingerprint(alert["labels"])
    client = await app_client(**settings())
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    resp = await client.get(link(fp=alert["fingerprint"], starts=alert["startsAt"]))
    html = await resp.text()
    assert resp.status == 200, html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;disk&lt;/b&gt; &amp; more" in html and "<script" not in html


async def test_alert_email_carries_a_working_link(app_client: AppFactory, smtp: SMTPServer) -> None:
    mail = {"type": "email", "host": smtp.host, "port": smtp.port, "tls": "none",
            "from": "alerts@example.org", "to": ["oncall@example.org"], "rate": "none"}  # fmt: skip
    client = await app_client(run_workers=True, receivers={"mail": mail},
                              route={"receivers": ["mail"]}, **settings())  # fmt: skip
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    await until(lambda: len(smtp.messages) >= 2, 10)
    assert len(smtp.messages) == 2
    # The mail about FP's alert (the other one is api-2's).
    msg = next(m for m in smtp.messages if "api-1:8080" in str(m.message.get_body(("plain",))))
    text = str(msg.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    html = str(msg.message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    found = re.search(r"Acknowledge: (\S+)", text)
    assert found is not None, text
    url = found.group(1)
    assert url.startswith(BASE + "/ack/v1.") and f'href="{url}"' in html
    path = url.removeprefix(BASE)

    # (The worker is still recording its sends: the snapshot test of GET is above.)
    assert (await client.get(path)).status == 200
    assert await ack_of(client) is None
    resp = await client.post(path, data={**FORM, "name": "Carol"})
    assert resp.status == 200 and "<h1>Acknowledged</h1>" in await resp.text()
    ack = await ack_of(client)
    assert ack is not None and ack["by"] == "Carol (email link)"

    # The resolve mail carries no link.
    await client.post("/webhook", json=fixture_body("critical-group-mixed-resolved"),
                      headers=auth())  # fmt: skip
    await until(lambda: len(smtp.messages) >= 3, 10)
    last = smtp.messages[-1].message
    assert "[RESOLVED]" in str(last["Subject"])
    assert "Acknowledge" not in str(last.get_body(("plain",)).get_content())  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("name", "alice\u202eecila", "name: contains a format character U+202E"),
        ("name", "ali\u200bce", "name: contains a format character U+200B"),
        ("name", "alice\u2028bob", "name: contains a line separator U+2028"),
        ("comment", "on it\u202e", "comment: contains a format character U+202E"),
    ],
    ids=["rtl-override", "zero-width", "line-separator-in-name", "rtl-in-comment"],
)  # fmt: skip
async def test_names_that_would_not_show_as_typed_are_refused_by_field(
    app_client: AppFactory, redis: aioredis.Redis, field: str, value: str, says: str
) -> None:
    client = await firing(app_client)
    before = await state_snapshot(redis)
    resp = await client.post(link(), data={**FORM, field: value})
    html = await resp.text()
    assert resp.status == 400 and "Nothing was acknowledged" in html and says in html, html
    assert await state_snapshot(redis) == before
