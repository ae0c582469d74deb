"""Webhook authentication as Alertmanager's http_config sends it: Bearer or Basic."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    """Accepted bearer tokens and basic-auth pairs. `open_` = auth explicitly off."""

    bearer: tuple[bytes, ...] = ()
    basic: tuple[tuple[bytes, bytes], ...] = ()
    open_: bool = False

    def check(self, header: str | None) -> str | None:
        """None when the Authorization header is accepted, else why not (for the 401)."""
        if self.open_:
            return None
        if not header:
            return "missing Authorization header"
        scheme, _, value = header.partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.bearer:
            ok = False
            for token in self.bearer:
                # Every token is compared, in constant time, whatever matched before.
                ok |= hmac.compare_digest(value.encode(), token)
            return None if ok else "invalid bearer token"
        if scheme == "basic" and self.basic:
            try:
                user, _, pw = base64.b64decode(value, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return "malformed basic credentials"
            ok = False
            for u, p in self.basic:
                ok |= hmac.compare_digest(user, u) & hmac.compare_digest(pw, p)
            return None if ok else "invalid basic credentials"
        return f"unsupported authorization scheme {scheme!r}"
