"""`type: twilio` receivers: a Twilio account that texts and calls people.

    receivers:
      twilio:
        type: twilio
        account_sid: AC0123456789abcdef0123456789abcdef
        auth_token_file: /etc/alert-receiver/twilio-token   # signs callbacks too
        number: "+15005550006"          # the Twilio number texts and calls come from
        public_url: https://alerts.example.com   # where Twilio reaches this service

Callbacks (status, inbound texts, keypad) come to `public_url` + /sms/twilio and
/voice/twilio; Twilio signs each with the auth token (X-Twilio-Signature).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.notifiers.base import ChannelBase, exactly_one
from receiver.notifiers.sms.phone import E164
from receiver.pipeline.throttle import Rate

API_URL = "https://api.twilio.com"


class TwilioConfig(ChannelBase):
    type: Literal["twilio"] = "twilio"
    # A long code sends 1 message per second (Twilio's documented queueing rate:
    # https://help.twilio.com/articles/115002943027); bursts are queued by Twilio.
    default_rate: ClassVar[Rate | None] = Rate(1000, 10)
    # Capabilities asked by the people runner (like ntfy's `pushes`).
    texts: ClassVar[bool] = True
    calls: ClassVar[bool] = True

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr | None = None
    auth_token_file: Path | None = None
    number: str = Field(pattern=E164.pattern)
    # This service's address as the provider reaches it: callbacks (status, inbound
    # texts, keypad) go to <public_url>/sms/<receiver> and /voice/<receiver>.
    public_url: str
    api_url: str = API_URL  # for a regional edge or a test stand-in
    machine_detection: bool = True  # a call answered by voicemail is "not reached"
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @field_validator("api_url", "public_url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
            raise ValueError("must be an http(s) URL without query")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _token(self) -> TwilioConfig:
        exactly_one(self, "auth_token", "auth_token_file", required=True)
        return self
