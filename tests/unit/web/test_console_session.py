"""Console sessions, CSRF tokens, `next` targets and what pages show: the pure parts."""

from __future__ import annotations

import pytest

from receiver.web import session as S
from receiver.web import views

SECRET = "s" * 40


def test_a_signed_session_verifies_until_it_expires_and_not_with_another_secret() -> None:
    s = S.new_session("oncall", "token", now=1000.0, ttl_s=600)
    cookie = S.sign(s, SECRET)
    assert S.verify(cookie, SECRET, 1599.0) == s
    assert S.verify(cookie, SECRET, 1600.0) is None  # expired
    assert S.verify(cookie, "t" * 40, 1000.0) is None  # another secret
    head, _body, mac = cookie.split(".")
    forged = S.sign(S.Session("ops", "token", 99999, s.sid), "t" * 40).split(".")[1]
    assert S.verify(f"{head}.{forged}.{mac}", SECRET, 1000.0) is None  # body swapped
    for junk in ["", "s1", "s1..", "x.y.z", "s1.!!.!!", cookie + "A" * 2000]:
        assert S.verify(junk, SECRET, 1000.0) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    a = S.new_session("oncall", "token", 0, 600)
    b = S.new_session("oncall", "token", 0, 600)
    token = S.csrf_token(a, SECRET)
    assert S.csrf_ok(a, SECRET, token)
    assert not S.csrf_ok(b, SECRET, token)
    assert not S.csrf_ok(a, SECRET, "") and not S.csrf_ok(a, SECRET, "é")


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/oncall", "/console/oncall"),
    ("/console/alerts?status=resolved", "/console/alerts?status=resolved"),
    (None, "/home"), ("", "/home"), ("https://evil.example/", "/home"),
    ("//evil.example/", "/home"), ("/\\evil.example", "/home"), ("javascript:alert(1)", "/home"),
    ("/x\r\nSet-Cookie: a=b", "/home"),
])  # fmt: skip
def test_next_is_only_ever_a_path_on_this_site(target: str | None, expected: str) -> None:
    assert S.safe_next(target, "/home") == expected


@pytest.mark.parametrize(("delta_s", "text"), [
    (0, "just now"), (44, "just now"), (60, "1 min ago"), (300, "5 min ago"),
    (3 * 3600, "3 h ago"), (2 * 86400, "2 days ago"), (86400, "1 day ago"),
    (-240, "in 4 min"),
])  # fmt: skip
def test_relative_times(delta_s: int, text: str) -> None:
    now_ms = 1_800_000_000_000
    assert views.ago(now_ms - delta_s * 1000, now_ms) == text


def test_only_http_links_become_links() -> None:
    rec = {"generatorURL": "javascript:alert(1)",
           "annotations": {"runbook_url": "https://runbooks.example/x", "summary": "text",
                           "dashboard_url": "JAVASCRIPT:alert(2)", "other": "data:text/html,x",
                           "logs_url": " http://logs.example/q "}}  # fmt: skip
    assert [(link.title, link.url) for link in views.links(rec)] == [
        ("Logs", "http://logs.example/q"),
        ("Runbook", "https://runbooks.example/x"),
    ]


def test_groups_put_the_most_severe_first_and_count_firing_and_acked() -> None:
    def rec(name: str, sev: str, i: int) -> dict[str, object]:
        return {
            "fingerprint": f"{i:016x}",
            "status": "firing",
            "startsAt": "2026-01-01T00:00:00Z",
            "labels": {"alertname": name, "severity": sev, "service": "api"},
        }

    rows = [views.row(rec("Slow", "warning", 1), 0), views.row(rec("Down", "critical", 2), 0),
            views.row(rec("Slow", "warning", 3), 0)]  # fmt: skip
    groups = views.group_rows(rows)
    assert [(g.alertname, len(g.rows), g.firing, g.acked) for g in groups] == [
        ("Down", 1, 1, 0),
        ("Slow", 2, 2, 0),
    ]


def test_a_session_is_bound_to_the_value_of_its_token() -> None:
    bind = S.token_binding(SECRET, b"reader-token-0123456789")
    s = S.new_session("reader", "token", 1000.0, 600, bind)
    back = S.verify(S.sign(s, SECRET), SECRET, 1000.0)
    assert back == s and back is not None
    assert S.bound_to(back, SECRET, b"reader-token-0123456789")
    assert not S.bound_to(back, SECRET, b"rotated-token-0123456789")
    assert not S.bound_to(back, "t" * 40, b"reader-token-0123456789")  # another secret
    assert b"reader-token" not in S.sign(s, SECRET).encode()  # the value never leaves
    # A proxy session carries no binding; an old (s1, unbound) cookie is no session.
    assert S.new_session("carol", "proxy", 0, 600).bind == ""
    old = "s1." + S.sign(s, SECRET).split(".", 1)[1]
    assert S.verify(old, SECRET, 1000.0) is None
