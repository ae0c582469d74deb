"""Signed ack links: tokens made and checked (pure), their config refused when unsafe."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from receiver.ack.links import (
    MAX_TOKEN,
    LinkClaim,
    LinkError,
    LinkErrorKind,
    LinkMaker,
    LinksConfig,
    sign,
    verify,
)

CURRENT = "c" * 40
PREVIOUS = "p" * 40
OTHER = "o" * 40
FP = "0f3ef813eb86bd39"
STARTS = "2026-11-22T05:12:40.615636Z"
NOW = 1_800_000_000
EXPIRES = NOW + 3600
TOKEN = sign(FP, STARTS, EXPIRES, CURRENT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_body(token: str, fields: Any) -> str:
    """`token` with its signed part replaced (its MAC kept): what a forger would try."""
    version, _, mac = token.split(".")
    return f"{version}.{_b64(orjson.dumps(fields))}.{mac}"


def test_round_trip() -> None:
    assert verify(TOKEN, [CURRENT], NOW) == LinkClaim(FP, STARTS, EXPIRES)


def test_a_chat_link_names_its_channel_and_an_email_link_none() -> None:
    chat = sign(FP, STARTS, EXPIRES, CURRENT, via="teams")
    assert verify(chat, [CURRENT], NOW) == LinkClaim(FP, STARTS, EXPIRES, "teams")
    assert sign(FP, STARTS, EXPIRES, CURRENT, via="email") == TOKEN  # links in mailboxes


def test_token_is_url_safe() -> None:
    assert all(c.isalnum() or c in "-_." for c in TOKEN)


@pytest.mark.parametrize(
    ("secrets", "now", "expected"),
    [
        ([CURRENT, PREVIOUS], NOW, None),  # current accepted while rotating
        ([OTHER, CURRENT], NOW, None),  # signed with what is now the previous secret
        ([OTHER], NOW, LinkErrorKind.TAMPERED),  # no accepted secret signed it
        ([], NOW, LinkErrorKind.TAMPERED),
        ([""], NOW, LinkErrorKind.TAMPERED),  # an empty secret never verifies
        ([CURRENT], EXPIRES - 1, None),
        ([CURRENT], EXPIRES, LinkErrorKind.EXPIRED),
        ([CURRENT], EXPIRES + 86400, LinkErrorKind.EXPIRED),
        ([OTHER], EXPIRES + 1, LinkErrorKind.TAMPERED),  # signature is checked first
    ],
)
def test_secrets_and_expiry(secrets: list[str], now: int, expected: LinkErrorKind | None) -> None:
    got = verify(TOKEN, secrets, now)
    if expected is None:
        assert got == LinkClaim(FP, STARTS, EXPIRES)
    else:
        assert isinstance(got, LinkError) and got.kind is expected


@pytest.mark.parametrize(
    "fields",
    [
        ["1d3f58b2d7994044", STARTS, EXPIRES],  # another alert
        [FP, "2026-11-23T00:00:00Z", EXPIRES],  # another episode
        [FP, STARTS, EXPIRES + 86400],  # a longer life
        [FP, STARTS, EXPIRES, "discord"],  # another channel named
    ],
)
def test_changed_claim_is_tampered(fields: list[Any]) -> None:
    got = verify(_with_body(TOKEN, fields), [CURRENT, PREVIOUS], NOW)
    assert isinstance(got, LinkError) and got.kind is LinkErrorKind.TAMPERED


def test_changed_mac_is_tampered() -> None:
    version, body, mac = TOKEN.split(".")
    flipped = _b64(bytes([base64.urlsafe_b64decode(mac + "=")[0] ^ 1])
                   + base64.urlsafe_b64decode(mac + "=")[1:])  # fmt: skip
    got = verify(f"{version}.{body}.{flipped}", [CURRENT], NOW)
    assert isinstance(got, LinkError) and got.kind is LinkErrorKind.TAMPERED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1..",
        TOKEN[:-10],  # cut off by a mail client's line wrapping
        TOKEN.replace("v1.", "v2.", 1),
        TOKEN + ".extra",
        "v1.!!!.???",
        "x" * (MAX_TOKEN + 1),
        _with_body(TOKEN, {"fp": FP}),
        _with_body(TOKEN, [FP, STARTS]),
        _with_body(TOKEN, [FP, STARTS, "1800003600"]),  # expiry must be an int
        _with_body(TOKEN, [FP, STARTS, True]),
        _with_body(TOKEN, [FP, STARTS, -5]),
        _with_body(TOKEN, ["", STARTS, EXPIRES]),
        _with_body(TOKEN, ["f" * 300, STARTS, EXPIRES]),
        _with_body(TOKEN, [FP, 12, EXPIRES]),
        _with_body(TOKEN, [FP, STARTS, EXPIRES, "pigeon"]),  # no such via
        _with_body(TOKEN, [FP, STARTS, EXPIRES, "email"]),  # an email's token names none
        _with_body(TOKEN, [FP, STARTS, EXPIRES, "teams", "x"]),
    ],
)
def test_malformed(token: str) -> None:
    got = verify(token, [CURRENT], NOW)
    assert isinstance(got, LinkError) and got.kind is LinkErrorKind.MALFORMED


def test_signatures_differ_per_episode_and_expiry() -> None:
    tokens = {
        sign(FP, STARTS, EXPIRES, CURRENT),
        sign(FP, "2026-11-23T00:00:00Z", EXPIRES, CURRENT),
        sign(FP, STARTS, EXPIRES + 1, CURRENT),
        sign(FP, STARTS, EXPIRES, PREVIOUS),
    }
    assert len(tokens) == 4


def _config(**kw: Any) -> LinksConfig:
    return LinksConfig.model_validate({"base_url": "https://alerts.example.org/", **kw})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "secret or secret_file is required"),
        ({"secret": CURRENT, "secret_file": "/x"}, "not both"),
        ({"secret": "short"}, "at least 32 characters"),
        ({"secret": CURRENT, "previous_secret": "short"}, "at least 32 characters"),
        ({"secret": CURRENT, "previous_secret": PREVIOUS, "previous_secret_file": "/x"},
         "not both"),
        ({"secret": CURRENT, "base_url": "alerts.example.org"}, "http(s) URL"),
        ({"secret": CURRENT, "base_url": "ftp://alerts.example.org"}, "http(s) URL"),
        ({"secret": CURRENT, "base_url": "https://a.example.org/?x=1"}, "query"),
        ({"secret": CURRENT, "ttl": "10s"}, "between 1m and 30d"),
        ({"secret": CURRENT, "ttl": "60d"}, "between 1m and 30d"),
        ({"secret": CURRENT, "ttl": "soon"}, "not a valid duration"),
        ({"secret": CURRENT, "colour": "red"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_config_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _config(**doc)


def test_config_base_url_required() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        LinksConfig.model_validate({"secret": CURRENT})


def test_config_secret_files(tmp_path: Path) -> None:
    cur, prev, short = tmp_path / "cur", tmp_path / "prev", tmp_path / "short"
    cur.write_text(CURRENT + "\n")
    prev.write_text(PREVIOUS)
    short.write_text("abc")
    cfg = _config(secret_file=str(cur), previous_secret_file=str(prev))
    assert cfg.problems() == []
    assert cfg.secrets() == [CURRENT, PREVIOUS]
    assert cfg.ttl == 86400 and cfg.base_url == "https://alerts.example.org"
    bad = _config(secret_file=str(tmp_path / "missing"), previous_secret_file=str(short))
    problems = dict(bad.problems())
    assert "cannot read secret file" in problems["secret_file"]
    assert "at least 32 characters" in problems["previous_secret_file"]


def test_maker_signs_with_current_secret_for_ttl() -> None:
    cfg = _config(secret=CURRENT, previous_secret=PREVIOUS, ttl="2h")
    url = LinkMaker(cfg, clock=lambda: NOW + 0.7).url(FP, STARTS)
    base, _, token = url.rpartition("/")
    assert base == "https://alerts.example.org/ack"
    assert verify(token, [CURRENT], NOW) == LinkClaim(FP, STARTS, NOW + 7200)


def test_maker_without_readable_secret_makes_no_links(tmp_path: Path) -> None:
    cfg = _config(secret_file=str(tmp_path / "gone"))
    assert LinkMaker(cfg, clock=lambda: NOW).url(FP, STARTS) == ""
