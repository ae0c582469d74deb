"""`type: vonage` receivers: a Vonage application that texts and calls people.

    receivers:
      vonage:
        type: vonage
        application_id: aaaaaaaa-bbbb-cccc-dddd-0123456789ab
        private_key_file: /etc/alert-receiver/vonage.key   # signs the API requests (RS256)
        signature_secret_file: /etc/alert-receiver/vonage-sig   # verifies callbacks (HS256)
        number: "+447700900000"
        public_url: https://alerts.example.com   # where Vonage reaches this service

Callbacks come to `public_url` + /sms/vonage and /voice/vonage.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.notifiers.sms.phone import E164
from receiver.pipeline.throttle import Rate

API_URL = "https://api.nexmo.com"


class VonageConfig(ChannelBase):
    type: Literal["vonage"] = "vonage"
    # The Messages API accepts 30 requests per second per account
    # (https://developer.vonage.com/en/messages/technical-details#throughput).
    default_rate: ClassVar[Rate | None] = Rate(34, 30)
    texts: ClassVar[bool] = True
    calls: ClassVar[bool] = True

    application_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    signature_secret: SecretStr | None = None
    signature_secret_file: Path | None = None
    number: str = Field(pattern=E164.pattern)
    # This service's address as the provider reaches it: callbacks (status, inbound
    # texts, keypad) go to <public_url>/sms/<receiver> and /voice/<receiver>.
    public_url: str
    api_url: str = API_URL
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @field_validator("api_url", "public_url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
            raise ValueError("must be an http(s) URL without query")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _secrets(self) -> VonageConfig:
        exactly_one(self, "private_key", "private_key_file", required=True)
        exactly_one(self, "signature_secret", "signature_secret_file", required=True)
        return self
