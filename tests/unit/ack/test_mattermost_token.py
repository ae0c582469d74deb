"""The Mattermost button's token and click parsing (pure): signed per receiver, alert and
episode; tampering, another secret, an ack link's MAC, mangled tokens refused."""

from __future__ import annotations

import json

import pytest

from receiver.ack import links
from receiver.ack.mattermost import Click, Refusal, check_token, clicked_by, parse_click
from receiver.notifiers.mattermost.config import MattermostActions
from receiver.notifiers.mattermost.token import (
    ActionClaim,
    TokenError,
    TokenErrorKind,
    sign,
    unverified_receiver,
    verify,
)
from receiver.signing import b64, mac

SECRET = "0123456789abcdef0123456789abcdef"
OLD = "fedcba9876543210fedcba9876543210"
FP, EPISODE = "0f3ef813eb86bd39", "2026-11-22T05:00:00Z"


def actions(secret: str = SECRET, previous: str | None = None) -> dict[str, MattermostActions]:
    doc = {"base_url": "https://alerts.example.org", "secret": secret}
    if previous:
        doc["previous_secret"] = previous
    return {"mm": MattermostActions.model_validate(doc)}


def test_round_trip_and_rotation() -> None:
    token = sign("mm", FP, EPISODE, SECRET)
    assert unverified_receiver(token) == "mm"
    assert verify(token, [SECRET]) == ActionClaim("mm", FP, EPISODE)
    old = sign("mm", FP, EPISODE, OLD)
    checked = check_token(old, actions(previous=OLD))
    assert not isinstance(checked, Refusal) and checked[0].fingerprint == FP


def _ack_link_mac() -> str:
    """Our body, MACed under the same secret with the ack links' context."""
    body = b64(json.dumps(["mm", FP, EPISODE]).encode())
    return f"mm1.{body}.{b64(mac(SECRET, links.SEAL.context, body))}"


def _tampered(token: str) -> str:
    version, _, mac = token.split(".")
    body = b64(json.dumps(["mm", "1d3f58b2d7994044", EPISODE]).encode())
    return f"{version}.{body}.{mac}"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: sign("mm", FP, EPISODE, OLD), TokenErrorKind.TAMPERED),  # another secret
        (lambda: _tampered(sign("mm", FP, EPISODE, SECRET)), TokenErrorKind.TAMPERED),
        # An ack link signed with the same secret is no button token (domain separation).
        (lambda: _ack_link_mac(), TokenErrorKind.TAMPERED),
        (lambda: sign("mm", FP, EPISODE, SECRET)[:-4], TokenErrorKind.MALFORMED),
        (lambda: "v1.abc.def", TokenErrorKind.MALFORMED),
        (lambda: "mm1." + "A" * 2000 + ".x", TokenErrorKind.MALFORMED),
        (lambda: "", TokenErrorKind.MALFORMED),
    ],
    ids=["other-secret", "other-alert", "ack-link", "cut", "wrong-version", "huge", "empty"],
)  # fmt: skip
def test_bad_tokens_are_refused(make: object, kind: TokenErrorKind) -> None:
    token = make()  # type: ignore[operator]
    result = verify(token, [SECRET])
    assert isinstance(result, TokenError) and result.kind is kind, result


def test_check_token_refuses_unknown_receivers() -> None:
    token = sign("other", FP, EPISODE, SECRET)
    assert check_token(token, actions()) == Refusal(
        403, "bad_token", "not an Acknowledge button of this service"
    )
    forged = check_token(sign("mm", FP, EPISODE, OLD), actions())
    assert isinstance(forged, Refusal) and forged.status == 403


def body(**fields: object) -> bytes:
    doc: dict[str, object] = {"user_id": "u1", "user_name": "alice", "post_id": "p1",
                              "context": {"token": "mm1.a.b"}}  # fmt: skip
    doc.update(fields)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_parse_click() -> None:
    assert parse_click(body()) == Click("mm1.a.b", "alice", "p1")
    assert parse_click(body(user_name="")) == Click("mm1.a.b", "u1", "p1")
    assert parse_click(body(user_name=None, user_id=None)) == Click("mm1.a.b", "mattermost user",
                                                                    "p1")  # fmt: skip
    assert clicked_by("x" * 500, "") == "x" * 128


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "invalid_payload"),
        (b"[]", "invalid_payload"),
        (body(context={}), "invalid_payload"),
        (body(context={"token": 5}), "invalid_payload"),
        (body(user_name="\u202eecila"), "invalid_name"),
    ],
)
def test_parse_click_refusals(raw: bytes, code: str) -> None:
    result = parse_click(raw)
    assert isinstance(result, Refusal) and result.code == code and result.status == 400
