"""URL-safe base64 and context-bound HMAC-SHA256: what signed tokens (ack links, push
actions, chat buttons) and console session cookies share. The context (a constant per use)
keeps a value signed for one use from being accepted as another, even under the same
secret. Pure."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

_MAC_LEN = hashlib.sha256().digest_size


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The inverse of b64 (binascii.Error / ValueError on bad input)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(secret: str, context: bytes, body: str) -> bytes:
    """HMAC-SHA256 of `context` + `body` (ASCII) under `secret`."""
    return hmac.new(secret.encode(), context + body.encode("ascii"), hashlib.sha256).digest()


class TokenErrorKind(enum.StrEnum):
    """Why a signed token was refused. Doubles as a metric/log label."""

    MALFORMED = "malformed"  # not a token of ours at all (cut off, mangled)
    TAMPERED = "tampered"  # well formed, but no accepted secret signed it
    EXPIRED = "expired"  # signed by us, past its expiry (checked by the token's owner)


@dataclass(frozen=True)
class TokenError:
    kind: TokenErrorKind
    detail: str


@dataclass(frozen=True)
class Opened:
    """A token's fields once its MAC matched; `mac` (its base64 text) names the token."""

    fields: list[Any]
    mac: str


@dataclass(frozen=True)
class Seal:
    """One kind of signed token: "<version>." + base64url(JSON list) + "." + base64url(MAC),
    the MAC over `context` + body. Ack links, push actions and chat buttons each have one
    (their own version and context, so no token passes for another kind)."""

    version: str
    context: bytes
    noun: str  # "link", "token": what the refusals call it
    not_ours: str  # the refusal of something that is not such a token at all
    max_len: int = 1024  # longer is not ours: refused before any decoding

    def sign(self, fields: Sequence[object], secret: str) -> str:
        body = b64(orjson.dumps(list(fields)))
        return f"{self.version}.{body}.{b64(mac(secret, self.context, body))}"

    def open(
        self, token: object, secrets: Sequence[str], well_formed: Callable[[list[Any]], bool]
    ) -> Opened | TokenError:
        """The fields of `token` when they are `well_formed` and one of `secrets` signed
        them. Every secret is tried (no early exit): the time taken says nothing of which."""
        ok = isinstance(token, str) and len(token) <= self.max_len and token.isascii()
        parts = token.split(".") if isinstance(token, str) and ok else []
        if len(parts) != 3 or parts[0] != self.version:
            return TokenError(TokenErrorKind.MALFORMED, self.not_ours)
        _, body, mac_text = parts
        damaged = TokenError(TokenErrorKind.MALFORMED, f"the {self.noun} is damaged or incomplete")
        try:
            given = unb64(mac_text)
            fields = orjson.loads(unb64(body))
        except (binascii.Error, ValueError):
            return damaged
        if not isinstance(fields, list) or not well_formed(fields) or len(given) != _MAC_LEN:
            return damaged
        matches = [hmac.compare_digest(mac(s, self.context, body), given) for s in secrets if s]
        if not any(matches):
            detail = f"the {self.noun}'s signature does not match"
            return TokenError(TokenErrorKind.TAMPERED, detail)
        return Opened(fields, mac_text)
