import pytest
from pydantic import BaseModel, ValidationError

from receiver.config.durations import Duration, format_duration, parse_duration, within


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4h", 14400.0),
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1y", 365 * 86400.0),
        ("1d2h3m4s5ms", 86400 + 7200 + 180 + 4 + 0.005),
        ("0s", 0.0),
        ("0", 0.0),
        ("90", 90.0),
        ("1.5", 1.5),
        (" 5m ", 300.0),
        (60, 60.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad",
    ["", " ", "h", "5x", "1m1h", "-5s", "1.5h", "4 h", "4H", "ms", "1hh", True, -1, float("nan")],
)
def test_parse_duration_rejects(bad: str | int | float) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (14400, "4h"),
        (5400, "1h30m"),
        (10, "10s"),
        (0.5, "500ms"),
        (0, "0s"),
        (90, "1m30s"),
        (86400, "1d"),
        (604800 + 3600, "1w1h"),
        (3605.5, "1h5s500ms"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


class _Cfg(BaseModel):
    repeat_interval: Duration


def test_duration_annotated_type_in_pydantic() -> None:
    assert _Cfg.model_validate({"repeat_interval": "1h30m"}).repeat_interval == 5400.0
    assert _Cfg.model_validate({"repeat_interval": 30}).repeat_interval == 30.0
    with pytest.raises(ValidationError, match="not a valid duration"):
        _Cfg.model_validate({"repeat_interval": "soon"})


@pytest.mark.parametrize(
    ("value", "ok"),
    [(59.999, False), (60, True), (3600, True), (30 * 86400, True), (30 * 86400 + 0.001, False)],
)
def test_within_keeps_the_bounds_inclusive(value: float, ok: bool) -> None:
    if ok:
        assert within(value, "1m", "30d", "ttl") == value
    else:
        with pytest.raises(ValueError, match=r"^ttl must be between 1m and 30d \(got it\)$"):
            within(value, "1m", "30d", "ttl", "(got it)")


def test_within_without_a_name_says_only_the_range() -> None:
    with pytest.raises(ValueError, match=r"^must be between 1s and 1d$"):
        within(0, "1s", "1d")
