"""URL-safe base64 and context-bound HMAC-SHA256: what signed ack links and console
session cookies share. The context (a constant per use) keeps a value signed for one use
from being accepted as another, even under the same secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The inverse of b64 (binascii.Error / ValueError on bad input)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(secret: str, context: bytes, body: str) -> bytes:
    """HMAC-SHA256 of `context` + `body` (ASCII) under `secret`."""
    return hmac.new(secret.encode(), context + body.encode("ascii"), hashlib.sha256).digest()
