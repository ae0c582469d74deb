"""Discord's rate-limit answers and embed limits, decided purely (table tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.notifiers.discord.limits import Bucket, is_global, retry_after, wait_after
from receiver.notifiers.discord.message import (
    MAX_DESCRIPTION,
    MAX_TOTAL,
    build_embed,
    embed_size,
    md_escape,
)
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification


@pytest.mark.parametrize(
    ("headers", "data", "expected"),
    [
        ({}, {"retry_after": 1.5, "global": False}, 1.5),
        ({"Retry-After": "3"}, {"retry_after": 2.25}, 3.0),
        ({"X-RateLimit-Reset-After": "4.5"}, {"retry_after": 0.5}, 4.5),
        ({}, None, None),
        ({"Retry-After": "soon"}, {"retry_after": "nan"}, None),
        ({}, {"retry_after": -1}, None),
    ],
)
def test_retry_after_takes_the_longest_hint(headers: dict[str, str], data: object,
                                            expected: float | None) -> None:  # fmt: skip
    assert retry_after(headers, data) == expected


@pytest.mark.parametrize(
    ("status", "headers", "data", "expected"),
    [
        (200, {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset-After": "1.0"}, None, 0.0),
        (200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.25"}, None, 1.25),
        (204, {"X-RateLimit-Remaining": "0"}, None, 0.0),
        (429, {}, {"retry_after": 7.5}, 7.5),
        (429, {}, {}, 1.0),  # a 429 without any hint still waits a little
        (500, {}, None, 0.0),
    ],
)
def test_wait_after_one_answer(status: int, headers: dict[str, str], data: object,
                               expected: float) -> None:  # fmt: skip
    assert wait_after(status, headers, data) == expected


def test_global_from_the_header_or_the_body() -> None:
    assert is_global({"X-RateLimit-Global": "true"}, None)
    assert is_global({}, {"global": True})
    assert not is_global({}, {"global": False}) and not is_global({}, None)


def test_bucket_keeps_the_latest_bound() -> None:
    b = Bucket()
    b.note(100.0, 5.0)
    b.note(101.0, 1.0)  # a shorter wait learnt later does not shorten the first
    assert b.wait(102.0) == 3.0 and b.wait(106.0) == 0.0


def test_markdown_escaped_so_alert_text_shows_as_is() -> None:
    assert md_escape("a*b_c~d`e|f") == r"a\*b\_c\~d\`e\|f"
    assert md_escape("[x](y) <@1>") == r"\[x\](y) \<@1\>"
    assert md_escape("# head\n- item\nnot-a-list") == "\\# head\n\\- item\nnot-a-list"


def test_every_embed_stays_within_the_limits() -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    big = {k: "x" * 5000 for k in ("instance", "job", "service", "namespace", "pod",
                                   "cluster", "env")}  # fmt: skip
    alert = alert.model_copy(update={"labels": {**alert.labels, **big},
                                     "annotations": {"description": "d" * 9000}})  # fmt: skip
    ack = Renderer(ack_url=lambda fp, s, via="email": "https://a.example/ack/" + "t" * 200)
    embed = build_embed(notification(alert), ack)
    assert embed_size(embed) <= MAX_TOTAL and len(embed["description"]) <= MAX_DESCRIPTION
    assert (
        embed["description"].endswith(")")
        and "[Acknowledge](https://a.example/ack/" in (embed["description"])
    )
    assert all(len(f["value"]) <= 1024 for f in embed.get("fields", []))


def test_the_title_follows_a_templates_dir_override(tmp_path: Path) -> None:
    (tmp_path / "slack_title.txt").write_text(
        "{{ emoji }} {{ alertname }} on {{ labels.instance }}\n"
    )
    embed = build_embed(
        notification(fixture_alerts("critical-group-firing")[0]), Renderer(tmp_path)
    )
    assert embed["title"] == "🔴 HighErrorRate on api-1:8080"
