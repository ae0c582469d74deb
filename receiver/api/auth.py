"""Webhook authentication as Alertmanager's http_config sends it: Bearer or Basic."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.api.tokens import Decision, read_authorization


@dataclass(frozen=True)
class Credentials:
    """Accepted bearer tokens and basic-auth pairs. `open_` = auth explicitly off."""

    bearer: tuple[bytes, ...] = ()
    basic: tuple[tuple[bytes, bytes], ...] = ()
    open_: bool = False

    def check(self, values: Sequence[str]) -> Decision | None:
        """None when the Authorization header values are accepted, else the refusal:
        400 for two headers, 401 for missing, undecodable or wrong credentials."""
        if self.open_:
            return None
        header = read_authorization(values)
        if header.refusal is not None:
            return header.refusal
        why = self._why(header.scheme, header.value) if header.present else None
        if header.present and why is None:
            return None
        return Decision(401, code="unauthorized", detail=why or "missing Authorization header")

    def _why(self, scheme: str, value: str) -> str | None:
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
