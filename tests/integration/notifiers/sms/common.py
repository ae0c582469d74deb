"""The Twilio and Vonage stand-ins as fixtures, and the config the phone tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.ack.test_ack_api import ACK_TOKEN, ROUTING_KEY
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.twilio import FakeTwilio
from tests.servers.vonage import APP_ID, SIGNATURE_SECRET, FakeVonage

PUBLIC = "https://alerts.example.org"  # what the providers are told this service is at
ALICE = "+4915112345678"
BOB = "+4915187654321"
TWILIO_NUMBER = "+15005550006"
VONAGE_NUMBER = "+447700900000"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()  # fmt: skip
PUBLIC_PEM = _KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo,
                                            ).decode()  # fmt: skip


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio(numbers=(TWILIO_NUMBER,))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def vonage() -> AsyncIterator[FakeVonage]:
    server = FakeVonage(PUBLIC_PEM)
    await server.start()
    yield server
    await server.stop()


def phone_config(pd: FakePagerDuty, twilio: FakeTwilio, vonage: FakeVonage) -> dict[str, Any]:
    """PagerDuty on the route; the two providers; alice and bob with phones."""
    return {
        "run_workers": True,
        "receivers": {
            "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                   "rate": "none"},
            "twilio": {"type": "twilio", "account_sid": twilio.account_sid,
                       "auth_token": twilio.auth_token, "number": TWILIO_NUMBER,
                       "api_url": twilio.base_url, "public_url": PUBLIC, "rate": "none"},
            "vonage": {"type": "vonage", "application_id": APP_ID, "private_key": PRIVATE_PEM,
                       "signature_secret": SIGNATURE_SECRET, "number": VONAGE_NUMBER,
                       "api_url": vonage.base_url, "public_url": PUBLIC, "rate": "none"},
        },
        "route": {"receivers": ["pd"]},
        "people": {
            "alice": {"phone": ALICE, "notify": [{"after": "0s", "via": "sms"}]},
            "bob": {"phone": BOB, "notify": [{"after": "0s", "via": "sms"}]},
        },
        "api_tokens": [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
    }  # fmt: skip
