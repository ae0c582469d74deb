"""The token in the Acknowledge button's context: which receiver's post, which alert,
which firing episode, HMAC-SHA256-signed with the receiver's `actions.secret`.

Mattermost does not sign the requests it makes when a button is clicked
(https://developers.mattermost.com/integrate/plugins/interactive-messages/): the context
is sent back as it was posted, so a token only this service can make is what proves the
click is for a post of ours. The server keeps a post's action URL and context to itself
(clients click by post and action ID), so the token is not shown to people.

Token: "mm1." + base64url(JSON [receiver, fingerprint, startsAt]) + "." + base64url(MAC),
the MAC over a context of its own, so an ack link's MAC under the same secret is no token.
It has no expiry: it is only good for its own episode, which the ack service checks.
Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.signing import Seal, TokenError, TokenErrorKind, unb64

__all__ = ["ActionClaim", "TokenError", "TokenErrorKind", "sign", "unverified_receiver", "verify"]

SEAL = Seal("mm1", b"alert-receiver mattermost action v1\n", "button's token",
            "not an Acknowledge button of this service")  # fmt: skip
VERSION = SEAL.version
MAX_FIELD = 256


@dataclass(frozen=True)
class ActionClaim:
    """What a valid token vouches for."""

    receiver: str
    fingerprint: str
    starts_at: str


def sign(receiver: str, fp: str, starts_at: str, secret: str) -> str:
    return SEAL.sign([receiver, fp, starts_at], secret)


def unverified_receiver(token: str) -> str:
    """The receiver a token names, before checking it (to pick the secrets to check it
    with); "" when it is not a token of ours."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= SEAL.max_len else []
    if len(parts) != 3 or parts[0] != VERSION:
        return ""
    try:
        fields = orjson.loads(unb64(parts[1]))
    except ValueError:  # binascii.Error is one
        return ""
    return str(fields[0]) if isinstance(fields, list) and _well_formed(fields) else ""


def verify(token: str, secrets: Sequence[str]) -> ActionClaim | TokenError:
    """The claim of `token` when one of `secrets` signed it."""
    opened = SEAL.open(token, secrets, _well_formed)
    if isinstance(opened, TokenError):
        return opened
    receiver, fp, starts_at = opened.fields
    return ActionClaim(receiver, fp, starts_at)


def _well_formed(fields: list[Any]) -> bool:
    return (
        len(fields) == 3
        and all(isinstance(f, str) and len(f) <= MAX_FIELD for f in fields)
        and bool(fields[0])
        and bool(fields[1])
    )
