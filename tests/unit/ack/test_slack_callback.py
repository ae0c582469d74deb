"""The Slack button callback's pure decisions: config, who clicked, what was clicked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from receiver.ack.slack import Click, Refusal, SlackActionsConfig, clicked_by, parse_click


@pytest.mark.parametrize(
    ("user", "by"),
    [
        ({"id": "U1", "username": "alice", "name": "alice.w"}, "alice (U1)"),
        ({"id": "U1", "name": "alice.w"}, "alice.w (U1)"),
        ({"id": "U1"}, "U1"),
        ({"username": "alice"}, "alice"),
        ({}, "slack user"),
        (None, "slack user"),
        ({"id": "U1", "username": "x" * 500}, "x" * 128),
        ({"id": "U1", "username": "\uff41\uff4c\uff49\uff43\uff45"}, "alice (U1)"),  # NFKC
        ({"id": "U1", "username": "  "}, "U1"),
    ],
)
def test_clicked_by(user: Any, by: str) -> None:
    assert clicked_by(user) == by


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"id": "U1", "username": "eve\n\x1b[31m"}, "user.username: contains a control "
         "character U+000A; names are shown to other people"),
        ({"id": "U1", "username": "\u202eecila"}, "user.username: contains a format "
         "character U+202E; names are shown to other people"),
        ({"id": "U1", "name": "al\u200bice"}, "user.name: contains a format character "
         "U+200B; names are shown to other people"),
        ({"id": "U1\u2028", "username": "alice"}, "user.id: contains a line separator U+2028;"
         " names are shown to other people"),
    ],
)  # fmt: skip
def test_click_by_a_name_that_displays_as_another_is_refused(user: Any, message: str) -> None:
    payload = {"type": "block_actions", "user": user,
               "actions": [{"action_id": "ack", "value": "0f3ef813eb86bd39"}]}  # fmt: skip
    assert parse_click(body(payload)) == Refusal(400, "invalid_name", message)


def body(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_parse_click_takes_the_ack_action_among_others() -> None:
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "a"},
               "actions": [{"action_id": "link_0"},
                           {"action_id": "ack", "value": "0f3ef813eb86bd39"}]}  # fmt: skip
    assert parse_click(body(payload)) == Click("0f3ef813eb86bd39", "a (U1)")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"type": "block_actions", "actions": []}, "unknown_action"),
        ({"type": "block_actions", "actions": "ack"}, "unknown_action"),
        ({"type": "block_actions", "actions": [{"action_id": "ack", "value": 7}]},
         "invalid_payload"),
        ({"type": "block_actions",
          "actions": [{"action_id": "ack", "value": "0F3EF813EB86BD39"}]}, "invalid_payload"),
        ({"type": "shortcut"}, "unsupported_payload"),
        ([1, 2], "unsupported_payload"),
    ],
)  # fmt: skip
def test_parse_click_refusals(payload: Any, code: str) -> None:
    got = parse_click(body(payload))
    assert isinstance(got, Refusal) and (got.status, got.code) == (400, code)


def test_link_buttons_only_are_not_an_error() -> None:
    payload = {"type": "block_actions", "actions": [{"action_id": "link_1", "url": "x"}]}
    assert parse_click(body(payload)) is None


def test_config(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="signing_secret or signing_secret_file is required"):
        SlackActionsConfig.model_validate({})
    with pytest.raises(ValidationError, match="must not be empty"):
        SlackActionsConfig.model_validate({"signing_secret": "  "})
    with pytest.raises(ValidationError, match="Extra inputs"):
        SlackActionsConfig.model_validate({"signing_secret": "s", "secret": "s"})
    f = tmp_path / "s"
    f.write_text("abc123\n")
    cfg = SlackActionsConfig.model_validate({"signing_secret_file": str(f)})
    assert cfg.secret() == "abc123" and cfg.problems() == []
    gone = SlackActionsConfig.model_validate({"signing_secret_file": str(tmp_path / "x")})
    ((field, msg),) = gone.problems()
    assert field == "signing_secret_file" and "cannot read secret file" in msg
