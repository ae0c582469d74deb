"""`ack.alertmanager_silence` config model and the silence notifier's pure decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from receiver.ack.silence import (
    SilenceConfig,
    already_done,
    ends_at_ms,
    gone,
    is_ours,
    matchers,
    rfc3339_ms,
    same_silence,
    silence_body,
)
from receiver.models import AckInfo, Reason
from tests.servers import fixture_alerts, notification

URL = "http://127.0.0.1:9093"


def test_defaults() -> None:
    cfg = SilenceConfig.model_validate({"url": URL + "/"})
    assert cfg.url == URL  # trailing slash dropped: paths are appended
    assert cfg.timeout == 5.0
    assert cfg.max_duration == 24 * 3600
    assert cfg.created_by == "alert-receiver"
    assert cfg.comment_prefix == "Acknowledged in alert-receiver"
    assert cfg.bearer_token is None and cfg.bearer_token_file is None
    assert cfg.problems() == []


def test_duration_syntax_and_route_prefix() -> None:
    cfg = SilenceConfig.model_validate(
        {"url": "https://am.example.org/alertmanager/", "max_duration": "1h30m", "timeout": 2}
    )
    assert cfg.url == "https://am.example.org/alertmanager"
    assert cfg.max_duration == 5400.0


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"url": "ftp://am:9093"}, "url must be http:// or https://"),
        ({"url": "am:9093"}, "url must be http:// or https://"),
        ({"url": "http://"}, "with a host"),
        ({"url": URL + "/?x=1"}, "no query string"),
        ({}, "url\n  Field required"),
        ({"url": URL, "bearer_token": "t", "bearer_token_file": "/t"}, "not both"),
        ({"url": URL, "max_duration": "1 day"}, 'not a valid duration: "1 day"'),
        ({"url": URL, "max_duration": "0s"}, "max_duration must be at least 1s"),
        ({"url": URL, "timeout": 0}, "greater than 0"),
        ({"url": URL, "comment_prefix": ""}, "at least 1 character"),
        ({"url": URL, "created_by": ""}, "at least 1 character"),
        ({"url": URL, "matchers": []}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused_clearly(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        SilenceConfig.model_validate(doc)
    assert message in str(e.value)


def test_token_file_problems(tmp_path: Path) -> None:
    missing = SilenceConfig.model_validate({"url": URL, "bearer_token_file": tmp_path / "nope"})
    assert [f for f, _ in missing.problems()] == ["bearer_token_file"]
    assert "cannot read secret file" in missing.problems()[0][1]
    (tmp_path / "empty").write_text("\n")
    empty = SilenceConfig.model_validate({"url": URL, "bearer_token_file": tmp_path / "empty"})
    assert "is empty" in empty.problems()[0][1]
    (tmp_path / "tok").write_text("s3cret\n")
    good = SilenceConfig.model_validate({"url": URL, "bearer_token_file": tmp_path / "tok"})
    assert good.problems() == []
    inline = SilenceConfig.model_validate({"url": URL, "bearer_token": "s3cret"})
    assert "s3cret" not in repr(inline)


# -- pure decisions -------------------------------------------------------------------------

ACK = AckInfo(by="ana", at_ms=1_700_000_000_000, via="slack", comment=" on it ")


def test_body_one_exact_matcher_per_label_and_the_ack_in_the_comment() -> None:
    alert = fixture_alerts("warning-firing")[0]
    n = notification(alert, Reason.ACKNOWLEDGED, ack=ACK)
    cfg = SilenceConfig(url=URL, max_duration=3600)
    body = silence_body(n, ACK, cfg, now_ms=ACK.at_ms + 5)
    assert {(m["name"], m["value"]) for m in body["matchers"]} == set(alert.labels.items())
    assert all(m["isEqual"] and not m["isRegex"] for m in body["matchers"])
    assert body["startsAt"] == rfc3339_ms(ACK.at_ms + 5) == "2023-11-14T22:13:20.005Z"
    assert body["endsAt"] == rfc3339_ms(ACK.at_ms + 3_600_000)
    assert body["createdBy"] == "ana"
    assert body["comment"] == "Acknowledged in alert-receiver via slack: on it"
    anonymous = ACK.model_copy(update={"by": " ", "comment": ""})
    body = silence_body(n, anonymous, cfg, now_ms=ACK.at_ms)
    assert body["createdBy"] == "alert-receiver"
    assert body["comment"] == "Acknowledged in alert-receiver via slack"


def test_end_is_the_acks_expiry_else_max_duration_after_the_ack() -> None:
    assert ends_at_ms(ACK.model_copy(update={"until_ms": ACK.at_ms + 60_000}), 3600) == (
        ACK.at_ms + 60_000
    )
    assert ends_at_ms(ACK, 3600) == ACK.at_ms + 3_600_000


def test_which_silences_are_ours() -> None:
    labels = {"alertname": "X", "service": "api"}
    mine = {
        "status": {"state": "active"},
        "comment": "Acknowledged in alert-receiver via api",
        "matchers": matchers(labels),
    }
    prefix = "Acknowledged in alert-receiver"
    assert is_ours(mine, labels, prefix)
    assert is_ours({**mine, "status": {"state": "pending"}}, labels, prefix)
    assert not is_ours({**mine, "status": {"state": "expired"}}, labels, prefix)
    assert not is_ours({**mine, "comment": "maintenance"}, labels, prefix)
    assert not is_ours(mine, {**labels, "instance": "a"}, prefix)  # broader than the alert
    regex = [{**m, "isRegex": True} for m in matchers(labels)]
    assert not is_ours({**mine, "matchers": regex}, labels, prefix)


def test_same_silence_tolerates_alertmanagers_rounding() -> None:
    wanted = {"comment": "c", "createdBy": "ana", "endsAt": "2026-01-01T00:00:00.400Z"}
    assert same_silence({**wanted, "endsAt": "2026-01-01T00:00:00.000Z"}, wanted)
    assert not same_silence({**wanted, "endsAt": "2026-01-01T00:00:05.000Z"}, wanted)
    assert not same_silence({**wanted, "comment": "other"}, wanted)
    assert not same_silence({**wanted, "endsAt": "garbage"}, wanted)


def test_already_done_only_for_the_same_ack_of_the_same_episode() -> None:
    alert = fixture_alerts("warning-firing")[0]
    n = notification(alert, Reason.ACKNOWLEDGED, ack=ACK)
    state = {"silence_id": "s1", "starts_at": alert.startsAt, "ack_at_ms": str(ACK.at_ms)}
    assert already_done(state, n, ACK)
    assert not already_done({**state, "silence_id": ""}, n, ACK)  # expired by an unack
    assert not already_done({**state, "starts_at": "2020-01-01T00:00:00Z"}, n, ACK)
    assert not already_done(state, n, ACK.model_copy(update={"at_ms": ACK.at_ms + 1}))


def test_gone() -> None:
    assert gone(404, "")
    assert gone(500, '"silence not found"\n')  # Alertmanager 0.25
    assert not gone(500, "internal error")
    assert not gone(400, "silence not found")
