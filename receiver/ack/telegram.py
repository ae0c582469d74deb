"""The Telegram Acknowledge button's callback queries, decided purely: which update is a
press of our button, who pressed it, which delivery state (alert, episode, message) it
belongs to, whether a webhook request is Telegram's, and what the presser is told. The
handler is receiver/api/telegram_webhook.py (webhook and polling alike).

- A webhook request is Telegram's when its X-Telegram-Bot-Api-Secret-Token is the
  secret_token given to setWebhook (https://core.telegram.org/bots/api#setwebhook),
  compared in constant time against every bot's.
- "Be aware that a bad client can send arbitrary data" in callback_data
  (https://core.telegram.org/bots/api#callbackquery): data names an alert's fingerprint and
  a nonce (an HMAC under the bot token) that only the alert's delivery state holds, and the
  press must come from the chat that message is in.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.ack.service import MAX_BY, AckOutcome
from receiver.notifiers.telegram.message import parse_callback_data
from receiver.text import TextError, check_name

# answerCallbackQuery text: 0-200 characters (https://core.telegram.org/bots/api#answercallbackquery).
ANSWERS = {
    AckOutcome.ACKED: "Acknowledged",
    AckOutcome.ALREADY: "Already acknowledged",
    AckOutcome.NOT_FIRING: "This alert has resolved",
    AckOutcome.OTHER_EPISODE: "This message is about an earlier firing of the alert",
    AckOutcome.NOT_FOUND: "This alert is no longer known",
}
UNKNOWN_BUTTON = "This button is no longer valid"
NOT_ALLOWED = "You may not acknowledge alerts here"
REFUSED_NAME = "Your name cannot be shown as who acknowledged"


@dataclass(frozen=True)
class Press:
    """A press of an Acknowledge button, as Telegram reported it."""

    update_id: int
    callback_id: str
    fingerprint: str
    nonce: str
    chat: str  # the chat of the message the button is on
    message_id: str
    by: str  # "alice (12345)"; "" when the name is refused (by_error says why)
    by_error: str = ""
    user_id: str = ""  # from.id
    username: str = ""  # from.username, as given


@dataclass(frozen=True)
class Other:
    """An update that is not a press of our button: nothing to do but answer it, if it is
    a callback query (`callback_id`), so the presser's client stops waiting."""

    update_id: int
    callback_id: str = ""


def parse_update(update: Any) -> Press | Other | None:
    """The press in one Update object (https://core.telegram.org/bots/api#update); None
    when it is not an update at all (no integer update_id)."""
    if not isinstance(update, dict) or type(update.get("update_id")) is not int:
        return None
    uid = update["update_id"]
    q = update.get("callback_query")
    if not isinstance(q, dict) or not isinstance(q.get("id"), str) or not q["id"]:
        return Other(uid)
    parsed = parse_callback_data(q.get("data"))
    message: dict[str, Any] = q["message"] if isinstance(q.get("message"), dict) else {}
    chat: dict[str, Any] = message["chat"] if isinstance(message.get("chat"), dict) else {}
    if parsed is None or "id" not in chat or "message_id" not in message:
        return Other(uid, q["id"])
    try:
        by, by_error = pressed_by(q.get("from")), ""
    except TextError as e:
        by, by_error = "", str(e)
    user: dict[str, Any] = q["from"] if isinstance(q.get("from"), dict) else {}
    return Press(uid, q["id"], parsed[0], parsed[1], str(chat["id"]),
                 str(message["message_id"]), by, by_error, str(user.get("id") or ""),
                 str(user.get("username") or ""))  # fmt: skip


def parse_body(body: bytes) -> Any:
    """A webhook body as JSON; None when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def pressed_by(user: Any) -> str:
    """ "username (id)", else "first last (id)", bounded; checked by receiver/text.py's
    rules (TextError for a control or format character: never shown as someone else)."""
    user = user if isinstance(user, dict) else {}
    uid = str(user.get("id") or "")
    raw = str(user.get("username") or "").strip()
    if not raw:
        raw = " ".join(str(user.get(k) or "").strip() for k in ("first_name", "last_name"))
    name = check_name(raw.strip(), "from.username", 10 * MAX_BY) if raw.strip() else ""
    who = f"{name} ({uid})" if name and uid else name or uid or "telegram user"
    return who[:MAX_BY]


def match_secret(header: str | None, secrets: Mapping[str, str]) -> str | None:
    """The name whose secret the header carries, or None. Every secret is compared (no
    early exit), each in constant time."""
    if not header:
        return None
    given = header.encode()
    found = None
    for name, secret in secrets.items():
        if hmac.compare_digest(given, secret.encode()) and found is None:
            found = name
    return found


def press_target(
    states: Mapping[str, str], press: Press, destinations: set[str]
) -> tuple[str, dict[str, str]] | None:
    """(destination, state) of the message the press is about: a Telegram destination's
    delivery state (`states`: destination → state JSON, Keys.delivery) holding the press's
    nonce, in the chat the press came from. None: an unknown (or forged) button."""
    for dest, raw in states.items():
        if dest not in destinations:
            continue
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(state, dict):
            continue
        nonce = str(state.get("cb", ""))
        if nonce and hmac.compare_digest(nonce.encode(), press.nonce.encode()):
            if str(state.get("chat", "")) == press.chat:
                return dest, {k: str(v) for k, v in state.items()}
    return None


def answer_for(outcome: AckOutcome) -> str:
    return ANSWERS.get(outcome, "")
