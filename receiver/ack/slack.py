"""The Slack Acknowledge button's callback, decided purely: its config, whether a request
is Slack's, and which alert the click acknowledges as whom. The handler is
receiver/api/slack_actions.py.

Slack signs each request (https://api.slack.com/authentication/verifying-requests-from-slack):
the signature is checked with slack-sdk's SignatureVerifier over the raw body before
anything in it is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from pydantic import SecretStr, model_validator
from slack_sdk.signature import Clock, SignatureVerifier

from receiver.ack.service import MAX_BY
from receiver.config.loader import StrictModel, read_secret_file, secret_file_problems
from receiver.notifiers.base import exactly_one
from receiver.text import TextError, check_name

WINDOW_S = 300  # Slack's advice: refuse requests more than five minutes old (replays)
ACK_ACTION = "ack"  # action_id of the Acknowledge button (notifiers/slack/message.py)
LINK_ACTION = re.compile(r"link_\d+")  # the message's link buttons: nothing to do
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


class SlackActionsConfig(StrictModel):
    """`ack.slack`: the Slack app's signing secret (Basic Information → App Credentials)."""

    signing_secret: SecretStr | None = None
    signing_secret_file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> SlackActionsConfig:
        exactly_one(self, "signing_secret", "signing_secret_file")
        if self.signing_secret is not None and not self.signing_secret.get_secret_value().strip():
            raise ValueError("signing_secret must not be empty")
        return self

    def secret(self) -> str:
        """The signing secret (its file read now: ValueError naming it when unreadable)."""
        if self.signing_secret is not None:
            return self.signing_secret.get_secret_value()
        return read_secret_file(self.signing_secret_file or "")

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) when the secret file cannot be read; skipped by --no-secrets."""
        return secret_file_problems({"signing_secret_file": self.signing_secret_file})


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str


@dataclass(frozen=True)
class Click:
    """A click on an alert's Acknowledge button."""

    fingerprint: str
    by: str  # "alice (U123ABC)"


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def check_signature(
    body: bytes, timestamp: str | None, signature: str | None, secret: str, now: float
) -> Refusal | None:
    """Why the request is not Slack's (None: it is). Each case its own code, for the log."""
    if not timestamp or not signature:
        return Refusal(
            401,
            "missing_signature",
            "X-Slack-Signature and X-Slack-Request-Timestamp are required",
        )
    # The SDK would raise on a non-number (int()); and an absurd length is not a time.
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return Refusal(401, "bad_timestamp", "X-Slack-Request-Timestamp must be Unix seconds")
    if abs(now - int(timestamp)) > WINDOW_S:
        return Refusal(401, "stale_timestamp", "the request is more than 5 minutes old or new")
    verifier = SignatureVerifier(secret, clock=_Clock(lambda: now))
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:  # the SDK decodes the body as UTF-8 before hashing
        valid = False
    if not valid:
        return Refusal(401, "bad_signature", "the request signature does not match")
    return None


def parse_click(body: bytes) -> Click | Refusal | None:
    """The Acknowledge click in a signed body; None for a click on one of the message's
    link buttons (Slack calls back for those too, and shows the user an error unless it
    gets a 200)."""
    try:
        form = parse_qs(body.decode(), strict_parsing=True, max_num_fields=10)
        payload = orjson.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError):
        return Refusal(400, "invalid_payload", "expected a form with a JSON `payload` field")
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else None
        return Refusal(400, "unsupported_payload", f"only block_actions are handled, not {kind!r}")
    actions = payload.get("actions")
    actions = [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []
    ack = next((a for a in actions if a.get("action_id") == ACK_ACTION), None)
    if ack is None:
        if actions and all(LINK_ACTION.fullmatch(str(a.get("action_id"))) for a in actions):
            return None
        return Refusal(400, "unknown_action", f"no action with action_id {ACK_ACTION!r}")
    fp = ack.get("value")
    if not isinstance(fp, str) or not _FINGERPRINT.fullmatch(fp):
        return Refusal(400, "invalid_payload", "the ack button's value must be a fingerprint")
    try:
        by = clicked_by(payload.get("user"))
    except TextError as e:  # a name that would display as someone else's: no ack under it
        return Refusal(400, "invalid_name", str(e))
    return Click(fp, by)


def clicked_by(user: Any) -> str:
    """ "name (ID)" of the clicking user, bounded; "slack user" if unknown. The name and ID
    follow receiver/text.py's rules (NFKC; TextError naming the field for a control or
    format character), since they are shown as who acknowledged."""
    user = user if isinstance(user, dict) else {}
    key = "username" if user.get("username") else "name"

    def shown(field: str) -> str:
        raw = str(user.get(field) or "")
        # Any length here: the whole is cut to MAX_BY below, as it always was.
        return check_name(raw, f"user.{field}", 10 * MAX_BY) if raw.strip() else ""

    name, uid = shown(key), shown("id")
    who = f"{name} ({uid})" if name and uid else name or uid or "slack user"
    return who[:MAX_BY]
