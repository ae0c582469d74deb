"""Templates: built-ins, the override directory, and check_templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.models import Reason
from receiver.notifiers.render import (
    TEMPLATE_NAMES,
    TRUNCATED,
    Renderer,
    check_templates,
    links,
    storm_info,
    summary_line,
    truncate,
)
from receiver.notifiers.samples import sample_notifications
from tests.servers import fixture_alerts, notification


def test_every_template_name_ships() -> None:
    shipped = Path(__file__).resolve().parents[3] / "receiver" / "templates"
    # The digest's templates and the ack link pages are built-in only (receiver/digest/
    # render.py, receiver/api/ack_links.py).
    documents = {
        "digest_body.txt",
        "digest_body.html",
        "ack_base.html",
        "ack_confirm.html",
        "ack_result.html",
    }
    assert sorted(TEMPLATE_NAMES) == sorted(
        p.name for p in shipped.iterdir() if p.is_file() and p.name not in documents
    )


def test_builtin_templates_check_clean() -> None:
    assert check_templates(None) == []


@pytest.mark.parametrize(("limit", "expected"), [(20, "short"), (5, "short")])
def test_truncate_leaves_short_text(limit: int, expected: str) -> None:
    assert truncate("short", limit) == expected


def test_truncate_marks_the_cut() -> None:
    out = truncate("x" * 100, 40)
    assert len(out) == 40 and out.endswith(TRUNCATED) and out.startswith("x" * 27)


def test_summary_falls_back_to_alertname_and_key_labels() -> None:
    alert = fixture_alerts("warning-firing")[0]
    assert summary_line(alert) == "Disk low"
    bare = alert.model_copy(update={"annotations": {}})
    assert summary_line(bare) == "DiskSpaceLow (instance=db-1:9100, job=node, service=db)"


def test_links_skip_empty_and_non_web_urls() -> None:
    alert = fixture_alerts("warning-firing")[0].model_copy(
        update={
            "generatorURL": "",
            "annotations": {"runbook_url": "javascript:alert(1)", "dashboard_url": "https://d/x"},
        }
    )
    assert links(alert) == [("Dashboard", "https://d/x")]


def test_storm_info_counts_alertnames() -> None:
    alerts = fixture_alerts("critical-group-firing") + fixture_alerts("warning-firing")
    n = notification(alerts[2], summary_of=alerts, summary_total=37, route="r")
    info = storm_info(n)
    assert info is not None
    assert info["top"] == [("HighErrorRate", 2), ("DiskSpaceLow", 1)]
    assert info["severity"] == "critical" and info["more"] == 34
    assert storm_info(notification(alerts[0])) is None


def test_status_words() -> None:
    r = Renderer()
    firing = fixture_alerts("critical-group-firing")[0]
    gone = fixture_alerts("critical-group-mixed-resolved")[0]
    assert r.render("email_subject.txt", notification(firing)).startswith("[FIRING] ")
    assert r.render("email_subject.txt", notification(firing, Reason.REPEAT)).startswith(
        "[FIRING] "
    )
    assert r.render("email_subject.txt", notification(gone)).startswith("[RESOLVED] ")
    assert r.render("log_message.txt", notification(firing), acked_by="bob").startswith(
        "[ACKNOWLEDGED] "
    )


def test_html_autoescape_only_for_html() -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(update={"annotations": {"summary": "a < b & c"}})
    r = Renderer()
    assert "a &lt; b &amp; c" in r.render("email_body.html", notification(alert))
    assert "a < b & c" in r.render("email_body.txt", notification(alert))


def test_override_dir_wins_and_includes_still_resolve(tmp_path: Path) -> None:
    (tmp_path / "email_subject.txt").write_text("ALERT {{ alertname }} is {{ status }}\n")
    (tmp_path / "storm_summary.txt").write_text(
        "{% if storm %}STORM of {{ storm.total }}{% endif %}"
    )
    r = Renderer(tmp_path)
    firing = fixture_alerts("warning-firing")[0]
    assert r.render("email_subject.txt", notification(firing)) == "ALERT DiskSpaceLow is firing"
    storm = sample_notifications()[2]
    # slack_title.txt is built in, but its include picks up the override
    assert r.render("slack_title.txt", storm) == "🌩️ STORM of 37"
    assert check_templates(tmp_path) == []


def test_failing_user_template_falls_back_to_builtin(tmp_path: Path) -> None:
    (tmp_path / "email_subject.txt").write_text("{{ labels.severity + 1 }}")
    firing = fixture_alerts("warning-firing")[0]
    subject = Renderer(tmp_path).render("email_subject.txt", notification(firing))
    assert subject == "[FIRING] DiskSpaceLow: Disk low"


def test_check_reports_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "slack_text.txt").write_text("line one\n{% if firing %}unclosed\n")
    errors = check_templates(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'slack_text.txt'}:")
    assert "syntax error" in errors[0]


def test_check_reports_render_errors_and_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "email_body.txt").write_text("{{ summary }} {{ sumary }} {{ 1 // 0 }}")
    (tmp_path / "email_subjet.txt").write_text("typo in the file name")
    (tmp_path / "_macros.txt").write_text("partials are fine")
    errors = check_templates(tmp_path)
    assert any("email_body.txt: unknown variable(s): sumary" in e for e in errors)
    assert any("email_body.txt: render failed" in e and "division" in e for e in errors)
    assert any("email_subjet.txt: unknown template name" in e for e in errors)
    assert not any("_macros" in e for e in errors)


def test_check_missing_directory(tmp_path: Path) -> None:
    assert check_templates(tmp_path / "nope") == [f"{tmp_path / 'nope'}: not a directory"]
