"""build_view: what a digest says, from buffered entries and current state records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from receiver.digest.render import DigestRenderer
from receiver.digest.view import build_view

T0 = 1_795_000_000_000  # ms
WINDOW = (T0 / 1000 - 3600, T0 / 1000)


def rec(status: str, alertname: str, service: str, **annotations: str) -> dict[str, Any]:
    labels = {"alertname": alertname, "service": service, "severity": "warning",
              "instance": f"{service}-1:80"}  # fmt: skip
    return {"status": status, "labels": labels, "annotations": annotations,
            "generatorURL": "http://prom/graph"}  # fmt: skip


STATES = {
    "a1": rec("firing", "HighLatency", "api", summary="p99 high"),
    "a2": rec("resolved", "HighLatency", "api"),
    "b1": rec("resolved", "DiskLow", "db", runbook_url="javascript:alert(1)"),
    "c1": None,  # its record expired
}
BUFFERED = {"a1": (3, T0 - 3_000_000, T0 - 60_000), "a2": (1, T0 - 2_000_000, T0 - 2_000_000),
            "b1": (2, T0 - 1_000_000, T0 - 500_000), "c1": (1, T0 - 100, T0 - 100)}  # fmt: skip


def test_groups_firing_first_with_current_state_and_counts() -> None:
    view = build_view("default", BUFFERED, 4000, STATES, WINDOW, "UTC")
    assert [(g.service, g.alertname, g.firing) for g in view.groups] == [
        ("api", "HighLatency", 1), ("-", "alert", 0), ("db", "DiskLow", 0)]  # fmt: skip
    api = view.groups[0].entries
    assert [(e.fingerprint, e.status, e.count) for e in api] == [
        ("a1", "firing", 3), ("a2", "resolved", 1)]  # newest first  # fmt: skip
    assert api[0].summary == "p99 high" and api[0].where == "instance=api-1:80, service=api"
    assert view.groups[2].entries[0].links == [("Source", "http://prom/graph")]  # no javascript:
    assert view.groups[1].entries[0].status == "expired"
    assert (view.listed, view.more, view.total, view.firing) == (4, 4000, 4004, 1)
    assert view.subject.startswith("[digest default] 4,004 alerts, 1 of the 4 listed still "
                                   "firing — ")  # fmt: skip


def test_resolved_can_be_left_out() -> None:
    view = build_view("d", BUFFERED, 0, STATES, WINDOW, "UTC", include_resolved=False)
    assert [e.fingerprint for g in view.groups for e in g.entries] == ["a1"]


def test_empty_digest_says_all_clear() -> None:
    view = build_view("d", {}, 0, {}, WINDOW, "Europe/Berlin")
    assert view.subject.startswith("[digest d] all clear — ")
    assert "All clear" in DigestRenderer().text(view)


def test_text_and_html_list_everything_and_escape_html() -> None:
    states = dict(STATES, a1=rec("firing", "HighLatency", "api", summary="<b>{{ 7*7 }}</b>"))
    view = build_view("default", BUFFERED, 4000, states, WINDOW, "UTC")
    r = DigestRenderer()
    text, html = r.text(view), r.html(view)
    assert "[FIRING] <b>{{ 7*7 }}</b> (instance=api-1:80, service=api)" in text
    assert text.startswith('4,004 alerts in digest "default", 1 of the 4 listed still firing.')
    assert "...and 4,000 more" in text and "&hellip;and 4,000 more" in html
    assert "&lt;b&gt;{{ 7*7 }}&lt;/b&gt;" in html and "<b>{{" not in html
    assert "javascript:" not in text and "javascript:" not in html
    assert text.count("seen ") == 4 and "seen 3x" in text


def test_window_on_whole_minutes_is_titled_in_minutes() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()
    view = build_view("d", {}, 0, {}, (start, start + 3600), "UTC")
    assert view.subject == "[digest d] all clear — 2026-12-07 09:00-10:00 UTC"


def test_window_not_on_whole_minutes_is_titled_with_seconds() -> None:
    # A `digest flush` ends its window now: under a minute, it would read 14:56-14:56.
    start = datetime(2026, 12, 7, 14, 56, 10, tzinfo=UTC).timestamp()
    view = build_view("d", {}, 0, {}, (start, start + 30.5), "UTC")
    assert view.subject == "[digest d] all clear — 2026-12-07 14:56:10-14:56:40 UTC"
    across = build_view("d", {}, 0, {}, (start - 86400, start), "UTC")
    assert across.window == "2026-12-06 14:56:10 - 2026-12-07 14:56:10 UTC"
