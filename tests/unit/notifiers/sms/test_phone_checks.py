"""What check-config refuses about phone providers (table): not built yet while people's
sms/voice rules cannot reach them; no public_url; numbers that are not E.164."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from receiver.notifiers.registry import ChannelConfig
from receiver.people.config import Person
from tests.conftest import make_settings

ADAPTER: TypeAdapter[Any] = TypeAdapter(ChannelConfig)
TWILIO = {"type": "twilio", "account_sid": "AC" + "0" * 32, "auth_token": "t",
          "number": "+15005550006", "public_url": "https://alerts.example.org"}  # fmt: skip
VONAGE = {"type": "vonage", "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
          "private_key": "k", "signature_secret": "s", "number": "+447700900000",
          "public_url": "https://alerts.example.org"}  # fmt: skip


def test_provider_receivers_are_refused_until_rules_reach_them() -> None:
    s = make_settings("redis://127.0.0.1:1", receivers={"log": {"type": "log"},
                      "twilio": TWILIO, "vonage": VONAGE})  # fmt: skip
    issues = {loc: msg for loc, msg in s.reference_issues() if loc[0] == "receivers"}
    assert set(issues) == {("receivers", "twilio", "type"), ("receivers", "vonage", "type")}
    assert all("not built yet" in m and "issue 24" in m for m in issues.values())


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({k: v for k, v in TWILIO.items() if k != "public_url"}, "public_url"),
        ({**TWILIO, "public_url": "alerts.example.org"}, r"http\(s\) URL"),
        ({**TWILIO, "number": "015005550006"}, "pattern"),
        ({**TWILIO, "number": "+0123456789"}, "pattern"),
        ({**TWILIO, "account_sid": "XX" + "0" * 32}, "pattern"),
        ({k: v for k, v in TWILIO.items() if k != "auth_token"}, "auth_token or"),
        ({k: v for k, v in VONAGE.items() if k != "public_url"}, "public_url"),
        ({k: v for k, v in VONAGE.items() if k != "signature_secret"}, "signature_secret or"),
        ({**VONAGE, "number": "447700900000"}, "pattern"),
    ],
)
def test_refused_configs(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ADAPTER.validate_python(doc)


@pytest.mark.parametrize("phone", ["015112345678", "+49 151 1234", "+0151123456", "+1234"])
def test_a_persons_phone_must_be_e164(phone: str) -> None:
    with pytest.raises(ValidationError):
        Person.model_validate({"phone": phone})
