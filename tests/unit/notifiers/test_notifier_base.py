"""Result classification shared by the notifiers."""

from __future__ import annotations

from email.utils import formatdate

import aiohttp
import aiosmtplib
import pytest

from receiver.notifiers.base import (
    DeliveryResult,
    Outcome,
    classify_exception,
    classify_http,
    parse_retry_after,
)
from receiver.notifiers.email.pool import classify_smtp
from receiver.notifiers.slack.api import SlackApiError
from receiver.notifiers.slack.notifier import classify_slack_error


def test_outcome_values_are_metric_labels() -> None:
    assert [str(o) for o in Outcome] == [
        "ok", "network_error", "timeout", "server_error",
        "rate_limited", "client_error", "invalid_config",
    ]  # fmt: skip
    assert DeliveryResult(Outcome.OK, False).state == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == 90.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize(
    ("status", "outcome", "retryable"),
    [
        (200, Outcome.OK, False),
        (202, Outcome.OK, False),
        (301, Outcome.CLIENT_ERROR, False),
        (400, Outcome.CLIENT_ERROR, False),
        (401, Outcome.CLIENT_ERROR, False),
        (404, Outcome.CLIENT_ERROR, False),
        (429, Outcome.RATE_LIMITED, True),
        (500, Outcome.SERVER_ERROR, True),
        (502, Outcome.SERVER_ERROR, True),
        (503, Outcome.SERVER_ERROR, True),
    ],
)
def test_classify_http(status: int, outcome: Outcome, retryable: bool) -> None:
    result = classify_http(status, {"Retry-After": "4"}, "body text", "vendor")
    assert (result.outcome, result.retryable) == (outcome, retryable)
    assert result.detail.startswith(f"vendor: HTTP {status}")
    if status == 429:
        assert result.retry_after_s == 4.0


def test_detail_is_short() -> None:
    result = classify_http(500, {}, "x" * 10_000, "vendor")
    assert len(result.detail) < 400


@pytest.mark.parametrize(
    ("exc", "outcome", "retryable"),
    [
        (TimeoutError(), Outcome.TIMEOUT, True),
        (aiohttp.ServerTimeoutError("read"), Outcome.TIMEOUT, True),
        (aiohttp.ClientConnectionError("refused"), Outcome.NETWORK_ERROR, True),
        (ConnectionResetError(), Outcome.NETWORK_ERROR, True),
        (ValueError("bug"), Outcome.CLIENT_ERROR, False),
    ],
)
def test_classify_exception(exc: BaseException, outcome: Outcome, retryable: bool) -> None:
    result = classify_exception(exc, "vendor")
    assert (result.outcome, result.retryable) == (outcome, retryable)


@pytest.mark.parametrize(
    ("exc", "outcome", "retryable"),
    [
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), Outcome.INVALID_CONFIG, False),
        (aiosmtplib.SMTPNotSupported("STARTTLS not offered"), Outcome.INVALID_CONFIG, False),
        (aiosmtplib.SMTPSenderRefused(553, "no", "a@b"), Outcome.INVALID_CONFIG, False),
        (aiosmtplib.SMTPSenderRefused(451, "later", "a@b"), Outcome.SERVER_ERROR, True),
        (aiosmtplib.SMTPDataError(552, "too big"), Outcome.CLIENT_ERROR, False),
        (aiosmtplib.SMTPDataError(421, "shutting down"), Outcome.SERVER_ERROR, True),
        (aiosmtplib.SMTPServerDisconnected("gone"), Outcome.NETWORK_ERROR, True),
        (aiosmtplib.SMTPConnectError("refused"), Outcome.NETWORK_ERROR, True),
        (aiosmtplib.SMTPReadTimeoutError("slow"), Outcome.TIMEOUT, True),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), Outcome.TIMEOUT, True),
    ],
)
def test_classify_smtp(exc: BaseException, outcome: Outcome, retryable: bool) -> None:
    result = classify_smtp(exc)
    assert (result.outcome, result.retryable) == (outcome, retryable)


def slack_error(status: int, data: object, headers: dict[str, str] | None = None) -> SlackApiError:
    return SlackApiError(status, data, headers or {})


@pytest.mark.parametrize(
    ("status", "data", "outcome", "retryable"),
    [
        (200, {"ok": False, "error": "invalid_auth"}, Outcome.INVALID_CONFIG, False),
        (200, {"ok": False, "error": "account_inactive"}, Outcome.INVALID_CONFIG, False),
        (200, {"ok": False, "error": "request_timeout"}, Outcome.SERVER_ERROR, True),
        (200, {"ok": False, "error": "invalid_blocks"}, Outcome.CLIENT_ERROR, False),
        (200, {"ok": False, "error": "ratelimited"}, Outcome.RATE_LIMITED, True),
        (502, "<html>Bad Gateway</html>", Outcome.SERVER_ERROR, True),
        (404, "", Outcome.CLIENT_ERROR, False),
    ],
)
def test_classify_slack(status: int, data: object, outcome: Outcome, retryable: bool) -> None:
    result = classify_slack_error(slack_error(status, data))
    assert (result.outcome, result.retryable) == (outcome, retryable)


def test_slack_429_carries_retry_after() -> None:
    err = slack_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "12"})
    result = classify_slack_error(err)
    assert result.outcome is Outcome.RATE_LIMITED and result.retry_after_s == 12.0
