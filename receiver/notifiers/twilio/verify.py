"""X-Twilio-Signature on callbacks (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
HMAC-SHA1 over the full public URL Twilio called plus the sorted POST parameters, keyed by
the auth token; checked with twilio.request_validator.RequestValidator (constant time)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]


def valid(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (for the test stand-in and the CLI)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
