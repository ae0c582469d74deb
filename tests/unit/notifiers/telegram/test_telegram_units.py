"""Telegram's pure parts: config, message (HTML, sizes, keyboard), callback data, updates,
who pressed, the webhook secret, the classification of Bot API answers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.ack.service import AckOutcome
from receiver.ack.telegram import (
    Other,
    Press,
    answer_for,
    match_secret,
    parse_update,
    press_target,
    pressed_by,
)
from receiver.models import AckInfo, Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.telegram.api import TelegramError, bot_id, classify, webhook_secret
from receiver.notifiers.telegram.config import TelegramConfig, shared_bot_issues
from receiver.notifiers.telegram.message import (
    MAX_TEXT,
    build_message,
    button_nonce,
    callback_data,
    parse_callback_data,
    visible_length,
)
from receiver.text import TextError
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.telegram import html_errors, markup_errors

FP = "0f3ef813eb86bd39"
R = Renderer()
NONCE = "AbCdEfGhIjKlMnOp"


def cfg(**kw: Any) -> TelegramConfig:
    return TelegramConfig.model_validate({"type": "telegram", "token": "1:x",
                                          "chat_id": "-100123", **kw})  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"chat_id": "-100123"}, "token or token_file is required"),
        ({"token": "1:x", "token_file": "/t", "chat_id": "1"}, "not both"),
        ({"token": "1:x", "chat_id": "general"}, "numeric id"),
        ({"token": "1:x", "chat_id": "1", "updates": "webhook"}, "needs webhook_base_url"),
        (
            {
                "token": "1:x",
                "chat_id": "1",
                "updates": "webhook",
                "webhook_base_url": "http://a.example",
            },
            "https URL",
        ),
        (
            {
                "token": "1:x",
                "chat_id": "1",
                "updates": "webhook",
                "webhook_base_url": "https://a.example:9095",
            },
            "ports 443, 80, 88 or 8443",
        ),
        (
            {"token": "1:x", "chat_id": "1", "webhook_base_url": "https://a.example"},
            "only used with updates: webhook",
        ),
        ({"token": "1:x", "chat_id": "1", "poll_timeout": 90}, "less than or equal to 50"),
    ],
)
def test_invalid_configs(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TelegramConfig.model_validate({"type": "telegram", **doc})


def test_config_shapes() -> None:
    c = cfg(chat_id=-1001234567890, updates="webhook", webhook_base_url="https://a.example/")
    assert c.chat_id == "-1001234567890" and c.acts_on_ack
    assert c.webhook_url == "https://a.example/telegram/webhook"
    assert cfg(chat_id="@alerts_channel").chat_id == "@alerts_channel"
    rate = cfg().limit()
    assert rate is not None and rate.interval_ms == 3000  # 20 per minute per group


def test_callback_data_round_trip_and_refusals() -> None:
    data = callback_data(FP, NONCE)
    assert len(data.encode()) <= 64 and parse_callback_data(data) == (FP, NONCE)
    for bad in ("", "ack:" + FP, f"ack:{FP.upper()}:{NONCE}", f"nak:{FP}:{NONCE}",
                f"ack:{FP}:short", f"ack:{FP}:{NONCE}:x", None, 5, "a" * 65):  # fmt: skip
        assert parse_callback_data(bad) is None, bad


def test_message_escapes_html_and_carries_the_button() -> None:
    alert = fixture_alerts("critical-group-firing")[0].model_copy(
        update={"annotations": {"summary": "Errors <5xx> & more", "runbook_url": "https://rb/x"}}
    )
    text, markup = build_message(notification(alert), R, NONCE)
    assert html_errors(text) == ""
    assert "Errors &lt;5xx&gt; &amp; more" in text and "<b>🔴 [FIRING] HighErrorRate</b>" in text
    (ack_row, links_row) = markup["inline_keyboard"]
    assert ack_row == [{"text": "Acknowledge", "callback_data": f"ack:{FP}:{NONCE}"}]
    assert [b["url"] for b in links_row] == ["http://prom:9090/graph", "https://rb/x"]
    assert markup_errors(markup) == ""


def test_no_button_when_acked_resolved_storm_or_without_nonce() -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    ack = AckInfo(by="alice (4242)", at_ms=1, via="telegram")
    acked, m1 = build_message(notification(alert, Reason.ACKNOWLEDGED, ack=ack), R, NONCE,
                              acked_by="alice (4242)")  # fmt: skip
    assert "Acknowledged by <b>alice (4242)</b>" in acked and "[ACKNOWLEDGED]" in acked
    done, m2 = build_message(notification(resolved(alert)), R, NONCE)
    assert "[RESOLVED]" in done
    storm = notification(alert, key="storm:1", summary_of=[alert], summary_total=9)
    st, m3 = build_message(storm, R, NONCE)
    assert "9 more alerts on route" in st
    _, m4 = build_message(notification(alert), R, "")
    for m in (m1, m2, m3, m4):
        assert all("callback_data" not in b for row in m["inline_keyboard"] for b in row)


def test_huge_annotations_stay_within_4096_and_valid_html() -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(update={
        "annotations": {"summary": "<&>" * 3000, "description": "😀" * 9000},
        "labels": {**alert.labels, **{k: "v&" * 500 for k in ("job", "pod", "env", "cluster")}},
    })  # fmt: skip
    text, _ = build_message(notification(alert), R, NONCE)
    assert visible_length(text) <= MAX_TEXT and html_errors(text) == ""
    assert "… (truncated)" in text


def update(data: str = f"ack:{FP}:{NONCE}", **q: Any) -> dict[str, Any]:
    query = {"id": "77", "from": {"id": 4242, "first_name": "Alice", "username": "alice"},
             "data": data, "message": {"message_id": 9, "chat": {"id": -100123}}, **q}  # fmt: skip
    return {"update_id": 5, "callback_query": query}


def test_parse_update() -> None:
    p = parse_update(update())
    assert p == Press(5, "77", FP, NONCE, "-100123", "9", "alice (4242)", "", "4242", "alice")
    assert parse_update(update(data="something else")) == Other(5, "77")
    assert parse_update({"update_id": 6, "message": {"text": "hi"}}) == Other(6)
    assert parse_update({"update_id": "6"}) is None and parse_update([]) is None
    forged = parse_update(update(**{"from": {"id": 1, "username": "bob\u202e"}}))
    assert isinstance(forged, Press) and forged.by == "" and "format character" in forged.by_error


def test_pressed_by() -> None:
    assert pressed_by({"id": 1, "username": "alice", "first_name": "A"}) == "alice (1)"
    assert pressed_by({"id": 2, "first_name": "Ann", "last_name": "Lee"}) == "Ann Lee (2)"
    assert pressed_by({}) == "telegram user"
    assert len(pressed_by({"id": 3, "first_name": "x" * 500})) == 128
    with pytest.raises(TextError):
        pressed_by({"id": 1, "first_name": "evil\u200b"})


def test_press_target_needs_nonce_and_chat() -> None:
    state = '{"chat":"-100123","message_id":"9","starts_at":"t1","cb":"' + NONCE + '"}'
    p = parse_update(update())
    assert isinstance(p, Press)
    assert press_target({"tg": state}, p, {"tg"}) == ("tg", {
        "chat": "-100123", "message_id": "9", "starts_at": "t1", "cb": NONCE})  # fmt: skip
    assert press_target({"tg": state}, p, {"other"}) is None  # not a telegram destination
    assert press_target({"tg": state.replace(NONCE, "Z" * 16)}, p, {"tg"}) is None
    assert press_target({"tg": state.replace("-100123", "-999")}, p, {"tg"}) is None
    assert press_target({"tg": "not json"}, p, {"tg"}) is None


def test_secret_token_and_match() -> None:
    s = webhook_secret("123:abc")
    assert s == webhook_secret("123:abc") != webhook_secret("123:abd")
    assert len(s) == 43 and s.replace("-", "").replace("_", "").isalnum()
    assert match_secret(s, {"a": webhook_secret("9:z"), "b": s}) == "b"
    assert match_secret(s + "x", {"b": s}) is None and match_secret(None, {"b": s}) is None
    assert bot_id("123456:ABC") == "123456"


def test_answers() -> None:
    assert answer_for(AckOutcome.ACKED) == "Acknowledged"
    assert answer_for(AckOutcome.ALREADY) == "Already acknowledged"
    assert answer_for(AckOutcome.NOT_FIRING) == "This alert has resolved"


@pytest.mark.parametrize(
    ("status", "data", "outcome", "retry"),
    [
        (
            429,
            {
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
            Outcome.RATE_LIMITED,
            True,
        ),
        (502, "<html>bad gateway</html>", Outcome.SERVER_ERROR, True),
        (401, {"error_code": 401, "description": "Unauthorized"}, Outcome.INVALID_CONFIG, False),
        (
            403,
            {"error_code": 403, "description": "Forbidden: bot was kicked"},
            Outcome.INVALID_CONFIG,
            False,
        ),
        (
            400,
            {"error_code": 400, "description": "Bad Request: chat not found"},
            Outcome.INVALID_CONFIG,
            False,
        ),
        (
            400,
            {
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -100555},
            },
            Outcome.INVALID_CONFIG,
            False,
        ),
        (
            400,
            {"error_code": 400, "description": "Bad Request: can't parse entities"},
            Outcome.CLIENT_ERROR,
            False,
        ),
    ],
)
def test_classify(status: int, data: Any, outcome: Outcome, retry: bool) -> None:
    r = classify(TelegramError(status, data))
    assert (r.outcome, r.retryable) == (outcome, retry)
    if outcome is Outcome.RATE_LIMITED:
        assert r.retry_after_s == 7
    if "migrate_to_chat_id" in str(data):
        assert "-100555" in r.detail


def test_button_nonce_is_per_job_and_secret() -> None:
    a = button_nonce("123:abc", "fp/tg/new/1")
    assert a == button_nonce("123:abc", "fp/tg/new/1") and len(a) == 16
    assert a != button_nonce("123:abc", "fp/tg/new/2") != button_nonce("123:abd", "fp/tg/new/1")
    assert parse_callback_data(callback_data(FP, a)) == (FP, a)


def test_a_user_template_names_the_title(tmp_path: Any) -> None:
    (tmp_path / "slack_title.txt").write_text("{{ emoji }} <{{ alertname }}> & co")
    text, _ = build_message(notification(fixture_alerts("warning-firing")[0]),
                            Renderer(tmp_path), NONCE)  # fmt: skip
    assert text.startswith("<b>🟠 &lt;") and html_errors(text) == ""


def test_allowed_users() -> None:
    anyone = cfg()
    assert anyone.may_ack("1", "") and anyone.may_ack("2", "bob")
    some = cfg(allowed_users=["@Alice", 4242, "carol_ops"])
    assert some.allowed_users == ["alice", "4242", "carol_ops"]
    assert (
        some.may_ack("1", "ALICE") and some.may_ack("4242", "") and some.may_ack("9", "carol_ops")
    )
    assert not some.may_ack("5", "bob") and not some.may_ack("5", "")
    with pytest.raises(ValidationError, match="not a Telegram username"):
        cfg(allowed_users=["bob smith"])
    with pytest.raises(ValidationError, match="needs ack_button"):
        cfg(allowed_users=["alice"], ack_button=False)


def _tg(**over: Any) -> TelegramConfig:
    doc = {"token": "123456789:AAHtestTokenForTheLocalBotApi_0123456", "chat_id": "-100123"}
    return TelegramConfig.model_validate({**doc, **over})


WEBHOOK = {"updates": "webhook", "webhook_base_url": "https://alerts.example.org"}


@pytest.mark.parametrize(
    ("receivers", "refused"),
    [
        ({"a": _tg(), "b": _tg(chat_id="-100456")}, []),  # one bot, two chats, polled
        ({"a": _tg(), "b": _tg(**WEBHOOK)}, ["b"]),  # one bot, polled and by webhook
        ({"a": _tg(), "b": _tg(api_url="http://127.0.0.1:1", ack_button=True)}, ["b"]),
        ({"a": _tg(), "b": _tg(**WEBHOOK, ack_button=False)}, []),  # b takes no presses
        (
            {"a": _tg(), "b": _tg(token="987654321:AAHanotherBotToken_0123456789abcd", **WEBHOOK)},
            [],
        ),  # two bots
        (
            {
                "a": _tg(token=None, token_file="/run/t"),
                "b": _tg(token=None, token_file="/run/t", **WEBHOOK),
            },
            ["b"],
        ),
    ],
)
def test_receivers_sharing_a_bot_must_agree_on_its_updates(
    receivers: dict[str, TelegramConfig], refused: list[str]
) -> None:
    issues = list(shared_bot_issues(receivers))
    assert [loc[1] for loc, _ in issues] == refused
    assert all("shares its bot with receiver a" in msg for _, msg in issues)
