"""Vonage signed webhooks (https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks):
`Authorization: Bearer <JWT>`, HS256 with the account's signature secret, whose
`payload_hash` claim is the SHA-256 (hex) of the body; a token older than `MAX_AGE_S`
(by `iat`) is refused as a replay."""

from __future__ import annotations

import hashlib
import hmac

import jwt

MAX_AGE_S = 300


def valid(secret: str, authorization: str, body: bytes, now: float) -> bool:
    scheme, _, token = authorization.partition(" ")
    if not secret or scheme.lower() != "bearer" or not token:
        return False
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["iat"], "verify_iat": False})  # fmt: skip
    except jwt.PyJWTError:
        return False
    given = claims.get("payload_hash")
    iat = claims.get("iat")
    if not isinstance(given, str) or not isinstance(iat, int | float):
        return False
    if abs(now - iat) > MAX_AGE_S:
        return False
    return hmac.compare_digest(given, hashlib.sha256(body).hexdigest())


def sign(secret: str, body: bytes, now: float, api_key: str = "test") -> str:
    """The Authorization header Vonage would send (for the test stand-in)."""
    claims = {"iat": int(now), "jti": hashlib.sha256(body + str(now).encode()).hexdigest(),
              "api_key": api_key, "payload_hash": hashlib.sha256(body).hexdigest()}  # fmt: skip
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")
